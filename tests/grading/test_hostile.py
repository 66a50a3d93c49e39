"""Hostile submissions, graded in ONE batch beside honest ones.

For each: the batch completes, the submission gets what it deserves (nothing for a cheat), and the
honest submissions graded in the same batch, before and after it, get full marks.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import resource
import tempfile
import time
from pathlib import Path

import pytest
from grading_helpers import FAST, SOURCE, make_submission, needs_root, write

from cnnlab.grading.authoring import read_source
from cnnlab.grading.grade import grade_class
from cnnlab.grading.sandbox import (DEFAULT_UID_BASE, MAX_GRADERS, UIDS_PER_GRADER, SandboxUnavailable,
                                    _claim_uid_block)

FULL = sum(q.points for q in read_source(SOURCE).questions)
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

ALL_WRONG = {
    "conv2d_single": "def conv2d_single(x, kernel):\n    return np.zeros((1, 1))\n",
    "conv2d": "def conv2d(x, weight, bias=None, stride=1, padding=0):\n    return np.zeros((1, 1, 1, 1))\n",
    "max_pool2d": "def max_pool2d(x, kernel_size, stride=None):\n    return np.zeros((1, 1, 1, 1))\n",
    "avg_pool2d": "def avg_pool2d(x, kernel_size, stride=None):\n    return np.zeros((1, 1, 1, 1))\n",
    "im2col": "def im2col(x, kh, kw, stride=1, padding=0):\n    return np.zeros((1, 1, 1))\n"  # one cell holds both
              "def conv2d_fast(x, weight, bias=None, stride=1, padding=0):\n    return np.zeros((1, 1, 1, 1))\n",
    "sobel_edges": "def sobel_edges(img):\n    return np.zeros((1, 1))\n",
}

CONV2D_NO_STRIDE_NO_PAD = '''
def conv2d(x, weight, bias=None, stride=1, padding=0):
    N, C, H, W = x.shape
    O, _, kh, kw = weight.shape
    out = np.zeros((N, O, H - kh + 1, W - kw + 1))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = np.tensordot(x[:, :, i:i + kh, j:j + kw], weight, axes=([1, 2, 3], [1, 2, 3]))
    if bias is not None:
        out += bias.reshape(1, -1, 1, 1)
    return out
'''


def _leak_probe(bundle_dir: Path) -> str:
    """Tries to read and delete the hidden tests and the source; its q1 answer says what it got:
    [bytes of the bundle read, bytes of the source notebook read]."""
    return f'''
import os, shutil, glob
LEAKED = [0, 0]
targets = [({str(bundle_dir / "lab.json")!r}, 0), ({str(bundle_dir / "arrays.npz")!r}, 0), ({str(SOURCE)!r}, 1)]
targets += [(p, 0) for pattern in ["/tmp/cnnlab-*/*/*", "/tmp/cnnlab-*/*", "/autograder/source/bundle/*"]
            for p in glob.glob(pattern)]
for path, kind in targets:
    try:
        with open(path, "rb") as fh:
            LEAKED[kind] += len(fh.read())
    except OSError:
        pass
    try:
        os.remove(path)
    except OSError:
        pass
shutil.rmtree({str(bundle_dir)!r}, ignore_errors=True)

def conv2d_single(x, kernel):
    return np.array(LEAKED, dtype=float)
'''


#: finds the child's fds and its request (a local of its main()) from inside a cell
_CHILD_FDS = (
    "import os, struct, sys\n"
    "cmd = open('/proc/self/cmdline', 'rb').read().split(b'\\0')\n"
    "rfd, hfd = (int(cmd[cmd.index(flag) + 1]) for flag in (b'--result-fd', b'--hidden-fd'))\n"
    "def record(raw):\n"
    "    return b'CNLB' + struct.pack('<II', len(raw), 0) + raw\n"
    "frame = sys._getframe()\n"
    "while frame is not None and 'request' not in frame.f_locals:\n"
    "    frame = frame.f_back\n"
    "public_ids = {c['id'] for c in frame.f_locals['request']['calls']}\n")


def submissions(lab, bundle_dir: Path, results_dir: Path) -> dict:
    s = {}
    s["a_good"] = make_submission(lab)
    s["m_good"] = make_submission(lab)
    s["z_good"] = make_submission(lab)
    s["blank"] = make_submission(lab, solutions=False)
    s["partial_q2"] = make_submission(lab, replace={"conv2d": CONV2D_NO_STRIDE_NO_PAD})
    s["loop_cell"] = make_submission(lab, append=["while True:\n    pass\n"])
    s["loop_function"] = make_submission(lab, replace={"conv2d_single": "def conv2d_single(x, kernel):\n"
                                                                        "    while True:\n        pass\n"})
    s["loop_swallowing"] = make_submission(lab, append=[
        "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass\n"])
    s["loop_unstoppable"] = make_submission(lab, append=[
        "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass\n"])
    s["os_exit"] = make_submission(lab, append=["import os\nos._exit(0)\n"])
    s["exit_in_function"] = make_submission(lab, replace={"max_pool2d": (
        "import os\ndef max_pool2d(x, kernel_size, stride=None):\n    os._exit(1)\n")})
    s["sys_exit"] = make_submission(lab, prepend=["import sys\nsys.exit()\n"])
    s["import_error"] = make_submission(lab, prepend=["import this_module_does_not_exist\n"])
    s["forbidden_import"] = make_submission(lab, replace={"conv2d": (
        "import cnnlab.numpy as cnp\n\ndef conv2d(x, weight, bias=None, stride=1, padding=0):\n"
        "    return cnp.conv2d(x, weight, bias, stride, padding)\n")})
    s["monkeypatch_numpy"] = make_submission(lab, replace=ALL_WRONG, prepend=[
        "np.allclose = lambda *a, **k: True\nnp.isclose = lambda a, b, *r, **k: np.ones(np.shape(b), bool)\n"
        "np.array_equal = lambda *a, **k: True\nnp.testing.assert_allclose = lambda *a, **k: None\n"])
    s["monkeypatch_cnnlab"] = make_submission(lab, replace=ALL_WRONG, prepend=[
        "import cnnlab.grading.compare as c, cnnlab.grading.protocol as p, cnnlab.grading.student as st\n"
        "c.judge = lambda *a, **k: c.Verdict('passed')\np.array_from_bytes = lambda *a, **k: None\n"
        "st.Lab.check = lambda self, q: print('全部通过')\n"])
    s["fake_results"] = make_submission(lab, replace=ALL_WRONG, append=[
        "import json, os, struct\n"
        "fake = {'score': 11, 'max_score': 11, 'tests': [], 'output': 'FAKE-RESULTS'}\n"
        "print(json.dumps(fake))\n"
        "cmd = open('/proc/self/cmdline', 'rb').read().split(b'\\0')\n"
        "fd = int(cmd[cmd.index(b'--result-fd') + 1])\n"
        "for tid in [f'q{q}.{n}' for q in range(1, 5) for n in range(1, 7)]:\n"
        "    h = json.dumps({'kind': 'call', 'id': tid, 'status': 'passed', 'verdict': 'passed'}).encode()\n"
        "    os.write(fd, b'CNLB' + struct.pack('<II', len(h), 0) + h)\n"
        "os.write(fd, b'CNLB' + struct.pack('<II', 10**6, 10**9))\n"])
    s["own_results_json"] = make_submission(lab, replace=ALL_WRONG, append=[
        "import json, os\n"
        "fake = json.dumps({'score': 11, 'max_score': 11, 'tests': [], 'output': 'FAKE-RESULTS'})\n"
        f"for path in ['results.json', '../results.json', {str(results_dir / 'own_results_json' / 'results.json')!r},\n"
        f"             {str(results_dir / 'gradebook.csv')!r}, '/autograder/results/results.json']:\n"
        "    try:\n"
        "        os.makedirs(os.path.dirname(path) or '.', exist_ok=True)\n"
        "        open(path, 'w').write(fake)\n"
        "    except OSError:\n"
        "        pass\n"])
    s["read_hidden"] = make_submission(lab, replace={"conv2d_single": _leak_probe(bundle_dir)})
    s["huge_output"] = make_submission(lab, append=[
        "print('x' * 50_000_000)\nfor i in range(200_000):\n    print('spam', i)\n",
        "import os\nos.write(1, b'y' * 100_000_000)\n"])
    s["memory_bomb"] = make_submission(lab, append=[
        "big = np.ones((40000, 40000))\n", "blobs = [bytearray(10**8) for _ in range(100)]\n"])
    s["memory_bomb_function"] = make_submission(lab, replace={"max_pool2d": (
        "def max_pool2d(x, kernel_size, stride=None):\n    return np.ones((50000, 50000, 8))\n")})
    s["delete_workdir"] = make_submission(lab, append=[
        "import os, shutil, signal\nopen('junk.txt', 'w').write('junk')\n"
        "shutil.rmtree(os.getcwd(), ignore_errors=True)\n"
        "for p in ['/tmp', os.path.expanduser('~')]:\n    shutil.rmtree(p, ignore_errors=True)\n"
        "try:\n    os.kill(os.getppid(), signal.SIGKILL)\nexcept OSError:\n    pass\n"
        "try:\n    input()\nexcept EOFError:\n    pass\n"])
    s["wrong_types"] = make_submission(lab, replace={
        "conv2d_single": "def conv2d_single(x, kernel):\n"
                         "    kh, kw = kernel.shape\n"
                         "    return [[float(np.sum(x[i:i + kh, j:j + kw] * kernel)) for j in range(x.shape[1] - kw + 1)]\n"
                         "            for i in range(x.shape[0] - kh + 1)]\n",
        "conv2d": "def conv2d(x, weight, bias=None, stride=1, padding=0):\n    pass\n",
        "max_pool2d": "def max_pool2d(x, kernel_size, stride=None):\n    return 'a string'\n",
        "avg_pool2d": "class Weird:\n    def __array__(self, *a, **k):\n        raise RuntimeError('no')\n"
                      "def avg_pool2d(x, kernel_size, stride=None):\n    return {'not': 'an array'}\n"})
    s["wrong_shapes_nan"] = make_submission(lab, append=[
        "_max = max_pool2d\ndef max_pool2d(x, kernel_size, stride=None):\n    return _max(x, kernel_size, stride)[..., :-1]\n",
        "_avg = avg_pool2d\ndef avg_pool2d(x, kernel_size, stride=None):\n"
        "    out = _avg(x, kernel_size, stride)\n    out.flat[0] = np.nan\n    return out\n"])
    s["edited_tests"] = make_submission(lab, replace={"avg_pool2d": ALL_WRONG["avg_pool2d"]}, append=[
        "def check(q):\n    print(q, '通过！全部正确')\n", "check('q4')\n"])
    s["exception_leak"] = make_submission(lab, replace={"conv2d_single": (
        "def conv2d_single(x, kernel):\n    raise ValueError('INPUT-LEAK ' + repr(x.tolist()))\n")})
    s["slow_sleep"] = make_submission(lab, replace={"avg_pool2d": (
        "import time\ndef avg_pool2d(x, kernel_size, stride=None):\n    time.sleep(100)\n")})
    removed = make_submission(lab)
    removed["cells"] = [c for c in removed["cells"] if "check(" not in "".join(c["source"])]
    s["removed_tests"] = removed
    if IS_ROOT:  # without a uid of its own, a setsid'ed daemon could not be found and killed
        s["background_processes"] = make_submission(lab, append=[
            "import os, subprocess, time\n"
            "procs = [subprocess.Popen(['sleep', '300']) for _ in range(3)]\n"
            "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        while True:\n"
            "            time.sleep(1)\n    os._exit(0)\n"])
    # 62 records of 1 MiB of JSON `[{}, {}, ...]` each: ~1.5 GB of Python objects if the grader kept them
    s["record_flood"] = make_submission(lab, append=[
        _CHILD_FDS +
        "body = b'{\"kind\": \"cell\", \"index\": 1, \"status\": \"ok\", \"x\": [' + b'{},' * 340000 + b'{}]}'\n"
        "for _ in range(62):\n    os.write(rfd, record(body))\n"])
    # run 1 claims its public results are final, takes the hidden inputs and leaves; a rerun (it has fewer
    # public calls) computes public results, which could show what run 1 kept (uid-only: in the host's /tmp)
    s["hidden_then_rerun"] = make_submission(lab, append=[
        _CHILD_FDS + "if 'q1.1' in public_ids:\n"
        "    os.write(rfd, record(b'{\"kind\": \"public_done\"}'))\n"
        "    while os.read(hfd, 1 << 20):\n        pass\n"
        "    os._exit(0)\n"])
    s["html_in_feedback"] = make_submission(lab, replace={"conv2d_single": (
        "def conv2d_single(x, kernel):\n"
        "    raise ValueError('<img src=https://evil.example/p.png><a href=https://evil.example>x</a>')\n")})
    for name in ("=HYPERLINK(\"http:evil.example\",\"x\")", "+1+1", "-1+1", "@SUM(1)"):
        s[name] = make_submission(lab)
    s["magics"] = make_submission(lab, prepend=["%matplotlib inline\n!pip install nothing\nx = 1\n",
                                                "%%bash\necho hello\n", "%%time\ny = sum(range(10))\n"])
    s["syntax_error"] = make_submission(lab, prepend=["def broken(:\n    pass\n"])
    dup = make_submission(lab)
    for cell in dup["cells"]:
        cell["id"] = "same-id"
    s["duplicate_ids"] = dup
    s["not_json"] = "this is not a notebook {"
    s["json_not_notebook"] = json.dumps({"hello": "world", "cells": "no"})
    s["cells_garbage"] = json.dumps({"cells": [1, None, {"cell_type": "code", "source": 42},
                                               {"cell_type": "code", "source": ["x = 1\n"]}], "nbformat": 4})
    return s


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def batch(source_lab, bundle_dir, tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    subs, out = base / "submissions", base / "results"
    subs.mkdir()
    for name, nb in submissions(source_lab, bundle_dir, out).items():
        write(nb, subs / f"{name}.ipynb")
    before = {p.name: (_sha(p), p.stat().st_mtime_ns) for p in subs.iterdir()}
    bundle_before = {p.name: _sha(p) for p in bundle_dir.iterdir()}
    started = time.time()
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = grade_class(subs, bundle_dir, out, jobs=2, overrides=FAST)
    peak_growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    results = {p.parent.name: json.loads(p.read_text(encoding="utf-8")) for p in out.glob("*/results.json")}
    return {"report": report, "results": results, "subs": subs, "out": out, "before": before,
            "bundle_before": bundle_before, "bundle_dir": bundle_dir, "started": started,
            "peak_growth_mb": peak_growth_mb}


def q(res, question):
    return res["extra_data"]["questions"][question]["score"]


def outputs(res, prefix=""):
    return [t["output"] for t in res["tests"] if t["number"].startswith(prefix)]


def test_every_submission_gets_a_valid_results_json(batch):
    names = {p.stem for p in batch["subs"].glob("*.ipynb")}
    assert set(batch["results"]) == names
    for name, res in batch["results"].items():
        assert set(res) >= {"score", "max_score", "tests", "output", "execution_time", "visibility"}, name
        assert res["max_score"] == FULL
        assert res["score"] == pytest.approx(sum(t["score"] for t in res["tests"]), abs=1e-3)
        assert len(res["tests"]) == len(read_source(SOURCE).tests)
        for t in res["tests"]:
            assert t["status"] in ("passed", "failed")
            assert t["visibility"] in ("visible", "after_published")
            assert set(t) >= {"name", "score", "max_score", "status", "output", "visibility"}
    rows = (batch["out"] / "gradebook.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("student,score,max_score,q1,q2,q3,q4")
    assert len(rows) == 1 + len(names)


def test_honest_submissions_are_unaffected(batch):
    for name in ("a_good", "m_good", "z_good", "duplicate_ids", "magics", "removed_tests", "record_flood", "+1+1"):
        assert batch["results"][name]["score"] == FULL, (name, batch["results"][name]["output"])


def test_blank_notebook_gets_zero_with_not_implemented(batch):
    res = batch["results"]["blank"]
    assert res["score"] == 0
    assert all("还没有实现" in o for o in outputs(res))


def test_partially_wrong_gets_partial_credit(batch):
    res = batch["results"]["partial_q2"]
    # stride/padding ignored: q2.1 (no stride) and hidden q2.3, q2.6 pass; the others fail
    assert q(res, "q2") == pytest.approx(4 * 3 / 6)
    assert res["score"] == pytest.approx(FULL - 2)
    failed = [t for t in res["tests"] if t["number"] == "q2.2"][0]
    assert "数值不对" in failed["output"] and "期望" in failed["output"] and "提示" in failed["output"]


def test_infinite_loop_in_a_cell_is_stopped_and_the_rest_graded(batch):
    res = batch["results"]["loop_cell"]
    assert res["score"] == FULL
    assert "已中止" in res["output"]


def test_infinite_loop_in_a_function_times_out_that_question_only(batch):
    res = batch["results"]["loop_function"]
    assert q(res, "q1") == 0 and res["score"] == FULL - 3
    assert all("仍未结束" in o for o in outputs(res, "q1."))


@pytest.mark.parametrize("name", ["loop_unstoppable", "loop_swallowing", "os_exit"])
def test_a_cell_that_kills_the_process_is_skipped_on_a_rerun(batch, name):
    """The watchdog (or the student's exit) ends the run; the run is repeated without that cell."""
    res = batch["results"][name]
    assert res["score"] == FULL, res["output"]
    assert "跳过了这个单元格" in res["output"]
    assert res["extra_data"]["reruns"] == 1
    assert res["execution_time"] < 2 * FAST["total_timeout"] + 10


def test_a_function_that_kills_the_process_fails_its_tests_only(batch):
    res = batch["results"]["exit_in_function"]
    assert q(res, "q3") == 0 and res["score"] == FULL - 2
    assert all("退出或崩溃" in o for o in outputs(res, "q3."))
    assert res["extra_data"]["reruns"] == 1


def test_sys_exit_and_import_errors_are_cell_errors(batch):
    assert batch["results"]["sys_exit"]["score"] == FULL
    res = batch["results"]["import_error"]
    assert res["score"] == FULL
    assert "ModuleNotFoundError" in res["output"]
    assert batch["results"]["syntax_error"]["score"] == FULL
    assert "SyntaxError" in batch["results"]["syntax_error"]["output"]


def test_forbidden_import_is_refused(batch):
    res = batch["results"]["forbidden_import"]
    assert q(res, "q2") == 0 and res["score"] == FULL - 4
    assert "不允许导入" in res["output"]


@pytest.mark.parametrize("name", ["monkeypatch_numpy", "monkeypatch_cnnlab", "fake_results", "own_results_json"])
def test_cheats_get_nothing(batch, name):
    res = batch["results"][name]
    assert res["score"] == 0, res["output"]
    assert res["extra_data"]["grader"] == "cnnlab-grade"
    assert "FAKE-RESULTS" not in json.dumps(res, ensure_ascii=False)


def test_own_results_json_did_not_land_in_the_results(batch):
    text = (batch["out"] / "own_results_json" / "results.json").read_text(encoding="utf-8")
    assert "FAKE" not in text
    assert "FAKE" not in (batch["out"] / "gradebook.csv").read_text(encoding="utf-8")


@needs_root
def test_hidden_tests_cannot_be_read_or_deleted(batch):
    res = batch["results"]["read_hidden"]
    assert q(res, "q1") == 0
    public = [t for t in res["tests"] if t["number"] == "q1.1"][0]["output"]
    got = public.split("得到 形状 (2,)：\n")[1].split("\n")[0]
    bundle_bytes, source_bytes = (float(v) for v in got.strip("[]").split())
    assert bundle_bytes == 0  # the bundle is root-only, whatever the kernel allows
    if not any("mount namespace" in w for w in batch["report"].warnings):
        assert source_bytes == 0  # the world-readable source is covered by an empty mount
    assert {p.name: _sha(p) for p in batch["bundle_dir"].iterdir()} == batch["bundle_before"]
    assert SOURCE.exists()
    assert batch["results"]["z_good"]["score"] == FULL  # graded after it, with the same bundle


def test_huge_output_and_memory_bombs_are_contained(batch):
    assert batch["results"]["huge_output"]["score"] == FULL
    assert len(json.dumps(batch["results"]["huge_output"])) < 100_000
    res = batch["results"]["memory_bomb"]
    assert res["score"] == FULL and "MemoryError" in res["output"]
    res = batch["results"]["memory_bomb_function"]
    assert q(res, "q3") == 0 and res["score"] == FULL - 2


def test_deleting_files_hurts_nobody(batch):
    assert batch["results"]["delete_workdir"]["score"] == FULL
    assert all(p.exists() for p in batch["subs"].iterdir())


def test_wrong_types_shapes_and_nan(batch):
    res = batch["results"]["wrong_types"]
    assert q(res, "q1") == 3  # a nested list of the right numbers converts to the right array
    assert q(res, "q2") == q(res, "q3") == q(res, "q4") == 0
    assert any("忘了 return" in o for o in outputs(res, "q2."))
    assert any("str" in o for o in outputs(res, "q3."))
    assert any("dict" in o for o in outputs(res, "q4."))
    res = batch["results"]["wrong_shapes_nan"]
    assert q(res, "q3") == 0 and q(res, "q4") == 0 and res["score"] == FULL - 4
    assert any("NaN" in o for o in outputs(res, "q4."))


def test_edited_test_cells_change_nothing(batch):
    res = batch["results"]["edited_tests"]
    assert q(res, "q4") == 0 and res["score"] == FULL - 2


def test_hidden_feedback_leaks_nothing(batch):
    res = batch["results"]["exception_leak"]
    assert q(res, "q1") == 0
    for t in res["tests"]:
        if t["visibility"] != "visible":
            assert "INPUT-LEAK" not in t["output"] and "[" not in t["output"], t["output"]
            assert t["output"] in ("通过。", "运行时抛出了异常（ValueError）。")
    # and no hidden test of any submission names its inputs or expected values
    for res in batch["results"].values():
        for t in res["tests"]:
            if t["visibility"] != "visible":
                assert "randn(" not in t["output"] and "期望" not in t["output"]


def test_slow_function_times_out(batch):
    res = batch["results"]["slow_sleep"]
    assert q(res, "q4") == 0 and res["score"] == FULL - 2


@needs_root
def test_no_process_survives_the_batch(batch):
    sandbox_uids = batch["report"].uids  # other graders (other tests) may be running now, with their own
    assert sandbox_uids and all(DEFAULT_UID_BASE <= u < DEFAULT_UID_BASE + MAX_GRADERS * UIDS_PER_GRADER
                                for u in sandbox_uids)
    alive = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:
            continue
        if int(fields["Uid"].split()[0]) in sandbox_uids and not fields["State"].strip().startswith("Z"):
            alive.append(status.parent.name)
    assert alive == []
    assert batch["results"]["background_processes"]["score"] == FULL


def test_broken_files_are_invalid_not_fatal(batch):
    for name in ("not_json", "json_not_notebook"):
        res = batch["results"][name]
        assert res["score"] == 0 and res["extra_data"]["status"] == "invalid"
        assert "无法评分" in res["output"]
    assert batch["results"]["cells_garbage"]["score"] == 0


def test_submissions_are_never_modified(batch):
    after = {p.name: (_sha(p), p.stat().st_mtime_ns) for p in batch["subs"].iterdir()}
    assert after == batch["before"]


def test_no_temporary_files_left(batch):
    leftovers = [p for p in batch["out"].rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]
    assert leftovers == []
    # ours are named cnnlab-grade-<pid>-...: after the batch this process holds none (other graders may run)
    mine = [p for p in Path(tempfile.gettempdir()).glob(f"cnnlab-grade-{os.getpid()}-*")]
    assert mine == []


def test_a_flood_of_records_does_not_fill_the_graders_memory(batch):
    """The grader keeps a few known fields of at most one record per cell and per call."""
    assert batch["results"]["record_flood"]["score"] == FULL
    assert batch["peak_growth_mb"] < 600, batch["peak_growth_mb"]


def test_no_public_result_is_computed_after_the_hidden_inputs_were_sent(batch):
    res = batch["results"]["hidden_then_rerun"]
    assert res["extra_data"]["reruns"] >= 1
    public = [t for t in res["tests"] if t["visibility"] == "visible"]
    assert public and all(t["score"] == 0 for t in public), [t["output"] for t in public]


def test_test_feedback_is_plain_text(batch):
    for t in batch["results"]["html_in_feedback"]["tests"]:
        assert t["output_format"] == "text"  # Gradescope renders test output as simple_format (HTML) otherwise


def test_the_gradebook_holds_no_formula(batch):
    """Student ids are file names students chose: a spreadsheet must not run =HYPERLINK(...) from one."""
    with (batch["out"] / "gradebook.csv").open(encoding="utf-8") as fh:
        cells = [cell for row in csv.reader(fh) for cell in row]
    assert "'=HYPERLINK(\"http:evil.example\",\"x\")" in cells and "'@SUM(1)" in cells
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]


@needs_root
def test_links_planted_in_the_temp_directory_do_not_stop_later_graders(tmp_path, monkeypatch):
    """What a uid-only submission can leave in the machine's /tmp (world-writable, sticky) under the names of
    the uid locks: links, and a look-alike lock folder of its own uid."""
    shared = tmp_path / "tmp"
    shared.mkdir(mode=0o1777)
    os.chmod(shared, 0o1777)
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    for k in range(MAX_GRADERS):
        os.symlink("/etc/passwd", shared / f".cnnlab-grade-uids-{k}.lock")
    uid_base, fd = _claim_uid_block()
    os.close(fd)
    assert DEFAULT_UID_BASE <= uid_base < DEFAULT_UID_BASE + MAX_GRADERS * UIDS_PER_GRADER
    (shared / ".cnnlab-grade-uids").rename(shared / "ours")
    os.symlink(shared / "ours", shared / ".cnnlab-grade-uids")
    with pytest.raises(SandboxUnavailable, match="remove it"):
        _claim_uid_block()
