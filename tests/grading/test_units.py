"""The small pieces: test specs, the wire protocol, verdicts, notebook reading, the time guard."""

from __future__ import annotations

import io
import json
import struct
import time

import numpy as np
import pytest

from cnnlab.grading import _guard, notebook
from cnnlab.grading.compare import explain, judge
from cnnlab.grading.protocol import (
    BadOutput,
    ProtocolError,
    array_from_bytes,
    array_to_bytes,
    decode_value,
    encode_record,
    encode_value,
    read_records,
    to_output,
)
from cnnlab.grading.specs import SpecError, arange, array, parse_test_calls, randint, randn

# ----------------------------------------------------------------------------- specs


def test_inputs_are_reproducible_and_readable():
    a, b = randn(2, 3, seed=7).materialize(), randn(2, 3, seed=7).materialize()
    assert a.shape == (2, 3) and a.dtype == np.float64 and np.array_equal(a, b)
    assert np.array_equal(a, np.round(a, 3))  # short numbers in the feedback
    assert not np.array_equal(a, randn(2, 3, seed=8).materialize())
    assert arange(2, 2).materialize().tolist() == [[0, 1], [2, 3]]
    assert array([[1, 2], [3, 4]]).materialize().dtype == np.float64
    r = randint(0, 5, 10, seed=1).materialize()
    assert r.min() >= 0 and r.max() < 5 and r.dtype == np.float64
    assert repr(randn(2, 3, seed=7)) == "randn(2, 3, seed=7)"
    assert repr(array([[1, 0], [0, -1]])) == "array([[1, 0], [0, -1]])"


def test_test_lines_are_parsed_as_data_never_executed():
    source = ('test("q1", "f", randn(3, seed=1), -2, kernel_size=(2, 3), bias=None, name="名字", rtol=1e-3)\n'
              'check("q1")\n')
    [(stmt, spec)] = parse_test_calls(source)
    assert spec.function == "f" and spec.args[1] == -2 and spec.kwargs == {"kernel_size": (2, 3), "bias": None}
    assert spec.name == "名字" and spec.rtol == 1e-3
    assert spec.call_text() == "f(randn(3, seed=1), -2, kernel_size=(2, 3), bias=None)"
    for bad in ['test("q1", "f", __import__("os").system("true"))', 'test("q1", "f", x)',
                'test("q1", "f", *args)', 'test("q1", "f", randn(3, seed=lambda: 1))', 'test("q1", "f")',
                'test("q1", "not an identifier", randn(3))', 'test("q1", "f", array([[1, 2], [3]]))']:
        with pytest.raises(SpecError):
            parse_test_calls(bad)


# ----------------------------------------------------------------------------- protocol


def test_records_round_trip_and_stop_at_garbage():
    data = encode_record({"kind": "a"}, b"xyz") + encode_record({"kind": "b"})
    records, clean = read_records(data)
    assert records == [({"kind": "a"}, b"xyz"), ({"kind": "b"}, b"")] and clean
    for tail in [b"garbage", b"CNLB" + struct.pack("<II", 10**6, 10**9), b"CNLB" + struct.pack("<II", 3, 0) + b"[1]",
                 b"CNLB" + struct.pack("<II", 2, 0) + b"\xff\xfe", encode_record({"kind": "c"}, b"123")[:-1]]:
        records, clean = read_records(data + tail)
        assert len(records) == 2 and not clean


def test_arrays_cross_the_boundary_as_plain_numbers_only():
    a = np.arange(6.0).reshape(2, 3)
    assert np.array_equal(array_from_bytes(array_to_bytes(a)), a)
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ProtocolError):
        array_from_bytes(buffer.getvalue())  # an object array would unpickle: refused before reading
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(2, dtype=[("a", "f8")]))
    with pytest.raises(ProtocolError):
        array_from_bytes(buffer.getvalue())
    for junk in [b"", b"\x93NUMPY", b"not npy at all"]:
        with pytest.raises(ProtocolError):
            array_from_bytes(junk)
    huge = b"\x93NUMPY\x01\x00" + struct.pack("<H", 118) + b"{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 100000), }".ljust(117) + b"\n"
    with pytest.raises(ProtocolError):
        array_from_bytes(huge)


def test_values_round_trip():
    for value in [None, True, 3, -1.5, "s", (1, 2), [1, (2, 3)], float("inf")]:
        assert decode_value(json.loads(json.dumps(encode_value(value)))) == value


def test_to_output_accepts_numbers_and_refuses_the_rest():
    assert to_output(np.float32(2)).shape == ()
    assert to_output([[1, 2], [3, 4]]).shape == (2, 2)
    sub = np.ma.masked_array([1.0, 2.0])
    assert type(to_output(sub)) is np.ndarray
    for bad in [None, "12", {"a": 1}, [[1, 2], [3]], np.array(["a"]), np.array([1 + 2j]), object()]:
        with pytest.raises(BadOutput):
            to_output(bad)


# ----------------------------------------------------------------------------- verdicts


def _ok(a):
    return ({"status": "ok"}, array_to_bytes(np.asarray(a)))


def test_judge_kinds():
    ref = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert judge(ref, _ok(ref + 1e-9), 1e-5, 1e-6).passed
    assert judge(ref, _ok(ref.astype(np.float32)), 1e-5, 1e-6).passed
    assert judge(ref, _ok(ref.T), 1e-5, 1e-6).kind == "wrong"
    assert judge(ref, _ok(ref[:1]), 1e-5, 1e-6).kind == "shape"
    assert judge(ref, _ok(np.where(ref > 3, np.nan, ref)), 1e-5, 1e-6).kind == "nonfinite"
    assert judge(ref, None, 1e-5, 1e-6).kind == "no_result"
    assert judge(ref, ({"status": "error", "error_type": "NotImplementedError", "builtin": True}, b""),
                 1e-5, 1e-6).kind == "not_implemented"
    # a student's own class named NotImplementedError is just an error
    assert judge(ref, ({"status": "error", "error_type": "NotImplementedError", "builtin": False}, b""),
                 1e-5, 1e-6).kind == "error"
    assert judge(ref, ({"status": "ok"}, b"junk"), 1e-5, 1e-6).kind == "invalid_output"
    assert judge(ref, ({"status": "passed"}, b""), 1e-5, 1e-6).kind == "invalid_output"


def test_public_feedback_explains_and_hidden_feedback_does_not():
    ref = np.array([[1.0, 2.0], [3.0, 4.0]])
    test = {"function": "f", "call": "f(randn(2, 2, seed=1))", "hint": "看看公式"}  # as the public data has it
    verdict = judge(ref, _ok(ref * 2), 1e-5, 1e-6)
    public = explain(verdict, **test, public=True, expected=ref)
    assert "数值不对" in public and "期望" in public and "得到" in public and "看看公式" in public and "randn" in public
    hidden = explain(verdict, **test, public=False, expected=ref)
    assert hidden == "数值不对。"
    error = ({"status": "error", "error_type": "ValueError", "builtin": True, "message": "secret 1.234"}, b"")
    assert "secret" in explain(judge(ref, error, 1e-5, 1e-6), **test, public=True)
    assert explain(judge(ref, error, 1e-5, 1e-6), **test, public=False) == "运行时抛出了异常（ValueError）。"
    custom = ({"status": "error", "error_type": "LEAK_0_123", "builtin": False, "message": "x"}, b"")
    assert "LEAK" not in explain(judge(ref, custom, 1e-5, 1e-6), **test, public=False)


# ----------------------------------------------------------------------------- notebooks


@pytest.mark.parametrize("data", [b"", b"\xff\xfe\x00", b"[1, 2]", b'{"cells": 3}', b"[" * 100_000,
                                  b" " * (notebook.MAX_NOTEBOOK_BYTES + 1)])
def test_unreadable_notebooks_get_a_message(data):
    with pytest.raises(notebook.NotebookError):
        notebook.loads(data)


def test_code_cells_tolerate_odd_cells():
    nb = {"cells": [None, 3, {"cell_type": "code", "source": 5}, {"cell_type": "code", "source": ["a\n", "b"]},
                    {"cell_type": "markdown", "source": "x"}, {"cell_type": "code", "source": "c"}]}
    assert notebook.code_cells(nb) == ["a\nb", "c"]


def test_magics_become_pass():
    src = "%matplotlib inline\nfor i in range(2):\n    !echo hi\nx = 1\n"
    out = notebook.strip_magics(src)
    compile(out, "<t>", "exec")
    assert out.splitlines()[2] == "    pass  # !echo hi"
    assert notebook.strip_magics("%%bash\nls\n").startswith("# %%bash")
    compile(notebook.strip_magics("%%time\nx = 1\n"), "<t>", "exec")


# ----------------------------------------------------------------------------- time guard


def test_guard_stops_loops_even_when_they_catch_exceptions():
    def stubborn():
        try:
            while True:
                pass
        except Exception:  # noqa: BLE001 - the Timeout is a BaseException and passes through
            return "caught"
    started = time.monotonic()
    assert _guard.guarded(stubborn, 0.3) == ("timeout", None)
    assert time.monotonic() - started < 2
    assert _guard.guarded(lambda: 5, 1) == ("ok", 5)
    status, error = _guard.guarded(lambda: 1 / 0, 1)
    assert status == "error" and isinstance(error, ZeroDivisionError)
    status, error = _guard.guarded(lambda: exit(), 1)
    assert status == "error" and isinstance(error, SystemExit)


def test_gradescope_finds_a_notebook_by_its_lab_id_or_the_old_id_of_a_renamed_lab(tmp_path):
    from cnnlab.grading.gradescope import _find_notebook

    for name in ("notes.ipynb", "lab1_conv_pool.ipynb"):  # a student's scratch notebook beside the lab
        (tmp_path / name).write_text("{}", encoding="utf-8")
    assert _find_notebook(tmp_path, "lab2_conv_pool").name == "lab1_conv_pool.ipynb"
    (tmp_path / "lab2_conv_pool.ipynb").write_text("{}", encoding="utf-8")
    assert _find_notebook(tmp_path, "lab2_conv_pool").name in ("lab1_conv_pool.ipynb", "lab2_conv_pool.ipynb")
    assert _find_notebook(tmp_path, "lab3_backprop").name == "lab1_conv_pool.ipynb"  # none named: the first
    (tmp_path / "empty").mkdir()
    assert _find_notebook(tmp_path / "empty", "lab2_conv_pool") is None
