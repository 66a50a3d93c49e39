"""The sandbox against a class that read the grader's source (issue 10), graded in one batch beside honest
students, then again in a second batch (state that outlives a run would show there).

Each probe reports what it got through the one channel a student has: the value its ``conv2d_single``
returns, which the public feedback of test q1.1 shows ("得到 ..."). Each attack class of the issue has
its probe here; the honest students graded before, between and after them must keep full marks.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
from pathlib import Path

import pytest
from grading_helpers import SOURCE, make_submission, needs_root, processes_in_cgroups_of, write

from cnnlab.grading.authoring import read_source
from cnnlab.grading.grade import grade_class

pytestmark = needs_root

FULL = sum(q.points for q in read_source(SOURCE).questions)
LIMITS = {"cell_timeout": 40.0, "call_timeout": 2.0, "total_timeout": 90.0, "memory_mb": 1024, "nproc": 64}
HONEST = ("a_honest", "k_honest", "n_honest", "z_honest")
SHM_KEY, MQ_NAME = 0x0C4A11AB, "/cnnlab-probe"


def probe(code: str) -> str:
    """A solved notebook whose conv2d_single returns the list RESULT that ``code`` (one extra cell) fills."""
    return code + "\n\ndef conv2d_single(x, kernel):\n    return np.array(RESULT, dtype=float)\n"


def reported(res) -> list[float]:
    """The numbers a probe reported (its q1.1 output: 得到 形状 (n,)：[...])."""
    text = next(t["output"] for t in res["tests"] if t["number"] == "q1.1")
    found = re.search(r"得到 形状 \(\d*,?\)：\n\[([^\]]*)\]", text)
    assert found, text
    return [float(v) for v in found.group(1).split()]


DAEMON = """
import ctypes, os, signal, threading, time
RESULT = [1]
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        def killer():  # kills everything it may, forever: in the old sandbox, later students of its uid
            while True:
                try:
                    os.kill(-1, signal.SIGKILL)
                except OSError:
                    pass
                time.sleep(0.01)
        threading.Thread(target=killer).start()
        time.sleep(0.3)
        ctypes.CDLL(None).pthread_exit(None)  # the main thread leaves: a zombie with a live thread
    os._exit(0)
os.wait()
"""

FORK_BOMB = """
import os, time
RESULT = [0]
started = time.monotonic()
while time.monotonic() - started < 3:  # a new process every ~0.1 ms, each of which stays
    try:
        if os.fork() == 0:
            time.sleep(1000)
            os._exit(0)
        RESULT[0] += 1
    except OSError:
        pass
"""

MEMORY = """
import os, select, time
children, reported = {}, set()
r, w = os.pipe()
for i in range(4):  # four processes of 400 MiB each: 1.6 GiB in all, the limit is 1 GiB
    pid = os.fork()
    if pid == 0:
        with open("/proc/self/oom_score_adj", "w") as fh:
            fh.write("1000")  # if the kernel must kill, it kills a child, not the student's main process
        block = np.ones(50 * 2**20)  # 400 MiB, every page written
        os.write(w, bytes([i]))
        time.sleep(120)
        os._exit(0)
    children[i] = pid
dead = set()
deadline = time.monotonic() + 30
while len(reported | dead) < 4 and time.monotonic() < deadline:
    if select.select([r], [], [], 0.2)[0]:
        reported.update(os.read(r, 16))
    dead |= {i for i, pid in children.items() if i not in dead and os.waitpid(pid, os.WNOHANG) != (0, 0)}
RESULT = [sum(1 for i in reported if i not in dead and os.waitpid(children[i], os.WNOHANG) == (0, 0))]
"""

WRITER = f"""
import ctypes, os
RESULT = [0]
for path in ["/tmp/probe-mark", "/var/tmp/probe-mark", "/dev/shm/probe-mark", "/run/lock/probe-mark",
             "probe-mark", "../probe-mark", "../../probe-mark", os.path.expanduser("~/probe-mark")]:
    try:
        with open(path, "w") as fh:
            fh.write("a message for a later student")
        RESULT[0] += 1
    except OSError:
        pass
try:  # fill /dev/shm (the machine's memory, once)
    with open("/dev/shm/big", "wb") as fh:
        for _ in range(1536):
            fh.write(b"x" * 2**20)
except OSError:
    pass
RESULT.append(os.path.getsize("/dev/shm/big") / 2**20)
libc = ctypes.CDLL(None, use_errno=True)
RESULT.append(libc.shmget({SHM_KEY}, 4096, 0o1666))
RESULT.append(libc.semget({SHM_KEY}, 1, 0o1666))
RESULT.append(libc.msgget({SHM_KEY}, 0o1666))
rt = ctypes.CDLL("librt.so.1", use_errno=True)
RESULT.append(rt.mq_open({MQ_NAME!r}.encode(), os.O_CREAT | os.O_RDWR, 0o666, None))
"""

READER = f"""
import ctypes, os
RESULT = [0]
for path in ["/tmp/probe-mark", "/var/tmp/probe-mark", "/dev/shm/probe-mark", "/run/lock/probe-mark",
             "probe-mark", "../probe-mark", "../../probe-mark", os.path.expanduser("~/probe-mark"),
             "/dev/shm/big"]:
    RESULT[0] += os.path.exists(path)
libc = ctypes.CDLL(None, use_errno=True)
RESULT[0] += libc.shmget({SHM_KEY}, 0, 0) >= 0
RESULT[0] += libc.semget({SHM_KEY}, 0, 0) >= 0
RESULT[0] += libc.msgget({SHM_KEY}, 0) >= 0
rt = ctypes.CDLL("librt.so.1", use_errno=True)
RESULT[0] += rt.mq_open({MQ_NAME!r}.encode(), os.O_RDONLY, 0, None) >= 0
"""


def answers_probe(secrets: list[str]) -> str:
    """Reads every secret path it is told about and walks the whole view for answers and forbidden code."""
    return f"""
import os, subprocess
RESULT = [0, 0, 0]
for path in {secrets!r}:
    try:
        with open(path, "rb") as fh:
            RESULT[0] += len(fh.read())
    except OSError:
        pass
try:
    RESULT[0] += len(subprocess.run(["git", "--git-dir", {secrets[0]!r}, "show", "HEAD:labs/source"],
                                    capture_output=True).stdout)
except OSError:
    pass
for top in os.listdir("/"):
    if top in ("proc", "dev", "sys", "usr", "bin", "sbin", "lib", "lib64"):
        continue
    for folder, dirs, files in os.walk("/" + top):
        for name in files:
            path = os.path.join(folder, name)
            if (name.endswith(".ipynb") and (name.startswith("lab") or "/labs/" in path)) or "/.git/" in path \
                    or name in ("lab.json", "arrays.npz"):
                RESULT[1] += 1
            forbidden = ("/site-packages/torch/", "/site-packages/functorch/", "/site-packages/scipy/", "/cnnlab/numpy/")
            if (name != "__init__.py" and any(f in path for f in forbidden)) or name.startswith("libtorch"):
                RESULT[2] += 1
"""


FORBIDDEN = """
import sys
sys.meta_path[:] = [f for f in sys.meta_path if getattr(f, "__name__", "") == "PathFinder"]  # no blocker survives
import cnnlab.numpy as cnp

def conv2d(x, weight, bias=None, stride=1, padding=0):
    return cnp.conv2d(x, weight, bias, stride, padding)
"""

HIDDEN_THIEF = """
import json, os, struct, threading
SEEN = []
_cmd = open("/proc/self/cmdline", "rb").read().split(b"\\0")
_res, _hid = int(_cmd[_cmd.index(b"--result-fd") + 1]), int(_cmd[_cmd.index(b"--hidden-fd") + 1])

def _forge(header):
    data = json.dumps(header).encode()
    os.write(_res, b"CNLB" + struct.pack("<II", len(data), 0) + data)

def _steal():  # waits for the hidden tests, then tries every way back into what the student sees
    stolen = os.read(_hid, 1 << 20)
    text = "HIDDEN-LEAK " + stolen[:300].hex()
    for tid in ("q1.1", "q1.2", "q3.1"):
        _forge({"kind": "call", "id": tid, "status": "error", "error_type": "ValueError", "message": text})
    _forge({"kind": "cell", "index": 1, "status": "error", "error_type": "ValueError", "message": text})
    _forge({"kind": "fatal", "message": text})
    print(text)

threading.Thread(target=_steal, daemon=True).start()

def conv2d_single(x, kernel):
    SEEN.append(float(x.sum()))
    H, W = x.shape
    kh, kw = kernel.shape
    out = np.zeros((H - kh + 1, W - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(x[i:i + kh, j:j + kw] * kernel)
    return out

"""

SHOW_SEEN = """
def max_pool2d(x, kernel_size, stride=None):  # its public feedback shows every conv2d_single input seen so far
    return np.array([len(SEEN)] + SEEN)
"""

EARLY_DONE = """
import json, os, struct, threading, time
STOLEN = []
_cmd = open("/proc/self/cmdline", "rb").read().split(b"\\0")
_res, _hid = int(_cmd[_cmd.index(b"--result-fd") + 1]), int(_cmd[_cmd.index(b"--hidden-fd") + 1])
_done = json.dumps({"kind": "public_done"}).encode()
os.write(_res, b"CNLB" + struct.pack("<II", len(_done), 0) + _done)  # claims the public results are final
threading.Thread(target=lambda: STOLEN.append(os.read(_hid, 1 << 20)), daemon=True).start()
time.sleep(1)  # the hidden inputs arrive before any public test has run

def max_pool2d(x, kernel_size, stride=None):  # a public test's output, made of the hidden inputs
    return np.frombuffer(STOLEN[0][:800].ljust(800, b"\\0"), dtype=np.uint8).astype(float) if STOLEN else x
"""

FORGER = """
import json, os, struct, sys
_cmd = open("/proc/self/cmdline", "rb").read().split(b"\\0")
_res = int(_cmd[_cmd.index(b"--result-fd") + 1])
for header in ({"kind": "fatal", "message": "\\x1b[2J forged"}, {"kind": "sandbox", "uid": 0, "pid": 1},
               {"kind": "done"}):
    data = json.dumps(header).encode()
    os.write(_res, b"CNLB" + struct.pack("<II", len(data), 0) + data)
sys.stdout.write("\\x1b[2J\\x1b]0;pwned\\x07graded 40, skipped 0: all students 11/11\\n")
os.write(1, b"\\x1b[31m raw escape on fd 1\\n")
raise ValueError("\\x1b[2J\\x1b]0;title\\x07 escape in a message")
"""


def _batch(lab, folder: Path, names) -> dict:
    subs = folder / "submissions"
    subs.mkdir(parents=True)
    for name in names:
        write(SUBMISSIONS[name](lab), subs / f"{name}.ipynb")
    report = grade_class(subs, SOURCE, folder / "results", jobs=2, overrides=LIMITS)
    results = {p.parent.name: json.loads(p.read_text(encoding="utf-8")) for p in (folder / "results").glob("*/results.json")}
    return {"report": report, "results": results}


SUBMISSIONS = {
    **{name: (lambda lab: make_submission(lab)) for name in HONEST},
    "daemon": lambda lab: make_submission(lab, append=[DAEMON]),
    "fork_bomb": lambda lab: make_submission(lab, replace={"conv2d_single": probe(FORK_BOMB)}),
    "memory_hog": lambda lab: make_submission(lab, replace={"conv2d_single": probe(MEMORY)}),
    "state_writer": lambda lab: make_submission(lab, replace={"conv2d_single": probe(WRITER)}),
    "state_reader": lambda lab: make_submission(lab, replace={"conv2d_single": probe(READER)}),
    "forbidden": lambda lab: make_submission(lab, replace={"conv2d": FORBIDDEN}),
    "hidden_thief": lambda lab: make_submission(lab, replace={"conv2d_single": HIDDEN_THIEF}, append=[SHOW_SEEN]),
    "forger": lambda lab: make_submission(lab, append=[FORGER]),
    "early_done": lambda lab: make_submission(lab, append=[EARLY_DONE]),
    "big_cell": lambda lab: make_submission(lab, append=["BIG = '" + "数据" * 750_000 + "'\nassert len(BIG) == 1_500_000\n"]),
}


@pytest.fixture(scope="module")
def batches(source_lab, tmp_path_factory):
    base = tmp_path_factory.mktemp("isolation")
    secrets = [str(SOURCE.parents[2] / ".git"), str(SOURCE), str(SOURCE.parents[2] / ".git" / "HEAD"),
               str(base / "first" / "submissions" / "a_honest.ipynb"), str(base / "first" / "results")]
    SUBMISSIONS["answers"] = lambda lab: make_submission(lab, replace={"conv2d_single": probe(answers_probe(secrets))})
    first = _batch(source_lab, base / "first", list(SUBMISSIONS))
    second = _batch(source_lab, base / "second", ["a_honest", "state_reader", "z_honest"])
    return first, second


def test_honest_students_keep_full_marks(batches):
    for batch in batches:
        for name in HONEST:
            if name in batch["results"]:
                res = batch["results"][name]
                assert res["score"] == FULL and res["extra_data"]["status"] == "graded", (name, res["output"])


def test_1_processes_die_with_their_run(batches):
    first, _ = batches
    # the killer thread of the daemon could only reach its own run (its PID namespace)
    assert first["results"]["daemon"]["extra_data"]["status"] in ("graded", "crashed")
    forks = reported(first["results"]["fork_bomb"])[0]
    assert 0 < forks < LIMITS["nproc"]  # pids.max (and RLIMIT_NPROC) stopped it
    # every run had a cgroup of its own below cnnlab-grade-<this pid>: no process is left in any of them
    # (uids are handed to other graders once a batch ends, so they cannot tell whose a process is)
    assert processes_in_cgroups_of(os.getpid()) == []


def test_2_memory_limit_holds_for_the_whole_submission(batches):
    first, _ = batches
    held = reported(first["results"]["memory_hog"])[0]
    assert held * 400 <= LIMITS["memory_mb"], f"{held:g} processes of 400 MiB alive under a 1 GiB limit"


def test_3_nothing_of_a_run_survives_it(batches):
    first, second = batches
    wrote = reported(first["results"]["state_writer"])
    assert wrote[0] >= 4  # it could write its scratch places (all private)...
    assert wrote[1] <= 64  # ...and /dev/shm is small
    for batch in (first, second):  # ...but no later student found anything
        assert reported(batch["results"]["state_reader"]) == [0.0]
    for folder in ("/tmp", "/var/tmp", "/dev/shm"):
        assert not list(Path(folder).glob("probe-mark")) and not Path(folder, "big").exists()
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.shmget(SHM_KEY, 0, 0) == -1 and libc.semget(SHM_KEY, 0, 0) == -1 and libc.msgget(SHM_KEY, 0) == -1


def test_5_the_child_sees_no_answers_and_7_no_forbidden_package(batches):
    first, _ = batches
    read, answers, forbidden_files = reported(first["results"]["answers"])
    assert read == 0, "bytes of the checkout, .git, the source, the submissions or the results"
    assert answers == 0, "notebooks, bundles or git objects visible to the child"
    assert forbidden_files == 0, "files of torch, scipy or cnnlab.numpy visible to the child"


def test_6_hidden_inputs_never_reach_what_the_student_sees(batches, source_lab):
    first, _ = batches
    res = first["results"]["hidden_thief"]
    assert "HIDDEN-LEAK" not in json.dumps(res, ensure_ascii=False)
    assert res["extra_data"]["status"] != "error"
    # when the public max_pool2d test ran, conv2d_single had seen only the public inputs
    public_q1 = sum(1 for t in source_lab.tests if t.question == "q1" and not t.hidden)
    q3 = next(t["output"] for t in res["tests"] if t["number"] == "q3.1")
    assert f"得到 形状 ({public_q1 + 1},)" in q3, q3


def test_6_a_forged_end_of_the_public_tests_gains_nothing(batches):
    res = batches[0]["results"]["early_done"]
    for t in res["tests"]:  # what came after the forged record is ignored: no public output to show
        assert "得到 形状" not in t["output"], t["output"]
    assert res["extra_data"]["status"] != "error"


def test_7_forbidden_package_is_absent_even_without_the_import_blocker(batches):
    res = batches[0]["results"]["forbidden"]
    assert res["extra_data"]["questions"]["q2"]["score"] == 0 and res["score"] == FULL - 4
    assert "不允许导入 cnnlab.numpy" in res["output"]


def test_8_forged_records_and_escapes_change_nothing(batches):
    res = batches[0]["results"]["forger"]
    assert res["extra_data"]["status"] == "graded" and res["score"] == FULL, res["output"]
    text = json.dumps(res, ensure_ascii=False)
    assert "\x1b" not in text and "\\u001b" not in text and "\x07" not in text
    assert "ValueError" in res["output"]  # the cell error is reported, cleaned


def test_9_a_large_cell_is_graded(batches):
    res = batches[0]["results"]["big_cell"]
    assert res["score"] == FULL and res["extra_data"]["status"] == "graded", res["output"]
    assert "AssertionError" not in res["output"]
