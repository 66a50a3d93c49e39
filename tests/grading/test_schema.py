"""The bundle's lab.json: typed, versioned, and refused with a message that says what is wrong where."""

from __future__ import annotations

import json
import shutil

import pytest

from cnnlab.grading.bundle import Bundle, BundleError
from cnnlab.grading import schema
from cnnlab.grading.schema import FORMAT_VERSION, LabFile, Limits, SchemaError, read_lab, to_json


def _lab_json(bundle_dir) -> dict:
    return json.loads((bundle_dir / "lab.json").read_text(encoding="utf-8"))


def _broken_copy(bundle_dir, tmp_path, change):
    copy = tmp_path / "bundle"
    shutil.copytree(bundle_dir, copy)
    data = _lab_json(copy)
    change(data)
    (copy / "lab.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return copy


def test_a_built_bundle_loads_as_typed_data(bundle_dir):
    bundle = Bundle.load(bundle_dir)
    assert isinstance(bundle.lab, LabFile) and isinstance(bundle.lab.limits, Limits)
    assert bundle.lab.format_version == FORMAT_VERSION == _lab_json(bundle_dir)["format_version"]
    assert all(isinstance(t, schema.Test) for t in bundle.tests) and bundle.lab_id == "lab2_conv_pool"
    assert bundle.max_score == sum(q.points for q in bundle.questions) > 0
    assert _lab_json(bundle_dir)["lab"] == bundle.lab_id  # the file's key for the lab's id is still "lab"
    assert to_json(bundle.lab) == _lab_json(bundle_dir)   # read and written back: the same file


@pytest.mark.parametrize("old", [{"format": 1}, {"format_version": 1}, {"format_version": FORMAT_VERSION + 1}])
def test_a_bundle_of_another_format_is_refused_with_the_way_to_rebuild_it(bundle_dir, tmp_path, old):
    def change(data):
        del data["format_version"]
        data.update(old)
    copy = _broken_copy(bundle_dir, tmp_path, change)
    with pytest.raises(BundleError) as error:
        Bundle.load(copy)
    message = str(error.value)
    version = next(iter(old.values()))
    assert str(copy / "lab.json") in message
    assert f"bundle format {version}, this grader reads {FORMAT_VERSION}" in message
    assert "cnnlab-grade generate" in message


@pytest.mark.parametrize("change, field, expected, got", [
    (lambda d: d.pop("title"), "title", "missing (expected a string)", None),
    (lambda d: d["questions"][1].pop("points"), "questions[1].points", "missing (expected a number)", None),
    (lambda d: d["tests"][2].update(rtol="1e-5"), "tests[2].rtol", "expected a number", "got str '1e-5'"),
    (lambda d: d["tests"][0].update(hidden=1), "tests[0].hidden", "expected true or false", "got int 1"),
    (lambda d: d["tests"][0].update(name=3), "tests[0].name", "expected a string", "got int 3"),
    (lambda d: d["limits"].update(memory_mb=1.5), "limits.memory_mb", "expected an integer", "got float 1.5"),
    (lambda d: d.update(questions={}), "questions", "expected a list", "got dict {}"),
    (lambda d: d.update(forbidden_imports=["torch", None]), "forbidden_imports[1]", "expected a string",
     "got NoneType None"),
    (lambda d: d["tests"][0].update(colour="red"), "tests[0].colour", "not a field of Test", None),
    (lambda d: d["tests"][0].update(question="q9"), "tests[0].question", "expected one of q1", "got 'q9'"),
    (lambda d: d.update(hidden_visibility="sometimes"), "hidden_visibility", "expected one of hidden",
     "got 'sometimes'"),
])
def test_a_malformed_bundle_is_refused_naming_the_file_the_field_and_what_came(bundle_dir, tmp_path, change, field,
                                                                              expected, got):
    copy = _broken_copy(bundle_dir, tmp_path, change)
    with pytest.raises(BundleError) as error:
        Bundle.load(copy)
    message = str(error.value)
    assert message.startswith(f"{copy / 'lab.json'}: field {field}: "), message
    assert expected in message and (got is None or got in message), message


def test_a_bundle_without_a_reference_output_is_refused(bundle_dir, tmp_path):
    import numpy as np

    copy = tmp_path / "bundle"
    shutil.copytree(bundle_dir, copy)
    with np.load(copy / "arrays.npz") as npz:
        arrays = {k: npz[k] for k in npz.files if k != "out/q1.1"}
    np.savez(copy / "arrays.npz", **arrays)
    with pytest.raises(BundleError, match=r"arrays\.npz: no reference output out/q1\.1"):
        Bundle.load(copy)


def test_read_lab_refuses_what_is_not_an_object():
    for data in ([], "lab", None):
        with pytest.raises(SchemaError, match="expected an object"):
            read_lab(data)


def test_the_command_line_refuses_an_old_bundle_with_the_message(bundle_dir, tmp_path, capsys):
    from cnnlab.grading.cli import main

    def change(data):
        data["format"] = data.pop("format_version") - 1
    copy = _broken_copy(bundle_dir, tmp_path, change)
    (tmp_path / "submissions").mkdir()
    assert main(["grade", str(tmp_path / "submissions"), "--lab", str(copy), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"cnnlab-grade grade: {copy / 'lab.json'}: bundle format {FORMAT_VERSION - 1}, "
                            f"this grader reads {FORMAT_VERSION}: rebuild it with cnnlab-grade generate")


def test_the_limits_in_a_source_notebook_are_checked_like_the_bundle():
    from cnnlab.grading.authoring import AuthoringError, lab_limits

    assert lab_limits({"limits": {"call_timeout": 2}}) == Limits(call_timeout=2)
    assert lab_limits({}) == Limits()
    for limits, message in [({"call_timeout": "fast"}, "field metadata.cnnlab.limits.call_timeout: expected a number, "
                                                        "got str 'fast'"),
                            ({"memory": 1}, "field metadata.cnnlab.limits.memory: not a field of Limits"),
                            ([1], "field metadata.cnnlab.limits: expected an object, got list [1]")]:
        with pytest.raises(AuthoringError) as error:
            lab_limits({"limits": limits})
        assert message in str(error.value)
