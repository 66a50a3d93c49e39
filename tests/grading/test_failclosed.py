"""The sandbox fails closed (issue 10, class 4), the weaker mode is said wherever it is used, and nothing
with hidden tests outlives the grader, even a killed one (class 11)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from grading_helpers import ROOT, SOURCE, make_submission, needs_root, processes_in_cgroups_of, write

from cnnlab.grading import sandbox as sandbox_module
from cnnlab.grading.authoring import read_source
from cnnlab.grading.cli import main
from cnnlab.grading.sandbox import Sandbox, SandboxUnavailable

pytestmark = needs_root
FULL = sum(q.points for q in read_source(SOURCE).questions)
SYSTEM_PYTHON = "/usr/bin/python3.11"


def _fake_bwrap(script: str) -> str:
    """A `bwrap` that the sandbox uid can run, in a folder of its own."""
    folder = tempfile.mkdtemp(prefix="cnnlab-test-fake-bwrap-")
    os.chmod(folder, 0o755)
    path = os.path.join(folder, "bwrap")
    Path(path).write_text("#!/bin/sh\n" + script)
    os.chmod(path, 0o755)
    return path


def _tools_with(monkeypatch, **replaced):
    real = sandbox_module._tool
    monkeypatch.setattr(sandbox_module, "_tool", lambda name: replaced[name] if name in replaced else real(name))


def test_no_bwrap_means_no_grading(monkeypatch, tmp_path, capsys):
    _tools_with(monkeypatch, bwrap=None)
    with pytest.raises(SandboxUnavailable, match=r"missing programs: bwrap.*apt-get install bubblewrap.*--isolation uid-only"):
        Sandbox()
    subs = tmp_path / "subs"
    subs.mkdir()
    write(make_submission(read_source(SOURCE)), subs / "a.ipynb")
    assert main(["grade", str(subs), "--lab", str(SOURCE), "--out", str(tmp_path / "out")]) == 2
    assert "refusing to run student code" in capsys.readouterr().err
    assert not list((tmp_path / "out").glob("*/results.json"))


def test_no_user_namespaces_means_no_grading(monkeypatch):
    bwrap = _fake_bwrap('case "$1" in --help) echo "--size --disable-userns --perms --die-with-parent --new-session '
                        '--remount-ro";; *) echo "bwrap: No permissions to creating new namespace, likely because the '
                        'kernel does not allow non-privileged user namespaces." >&2; exit 1;; esac\n')
    _tools_with(monkeypatch, bwrap=bwrap)
    with pytest.raises(SandboxUnavailable, match=r"does not start as uid \d+: bwrap: No permissions.*user namespaces"):
        Sandbox()


def test_an_old_bwrap_is_refused(monkeypatch):
    _tools_with(monkeypatch, bwrap=_fake_bwrap('echo "usage: bwrap [OPTIONS...] --bind --ro-bind"\n'))
    with pytest.raises(SandboxUnavailable, match="bubblewrap 0.8 or newer"):
        Sandbox()


def test_not_root_means_no_grading(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(SandboxUnavailable, match="needs root"):
        Sandbox()
    with pytest.raises(ValueError, match="isolation 'none'"):
        Sandbox(isolation="none")


def test_the_weaker_mode_is_chosen_by_name_and_said_everywhere(source_lab, bundle_dir, tmp_path):
    """--isolation uid-only, with a Python the sandbox uid can read (as in a Gradescope image)."""
    if not os.path.exists(SYSTEM_PYTHON):
        pytest.skip(f"needs {SYSTEM_PYTHON}")
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    write(make_submission(source_lab), subs / "a.ipynb")
    site = next(p for p in sys.path if p.endswith("site-packages") and os.path.isdir(os.path.join(p, "numpy")))
    run = subprocess.run([SYSTEM_PYTHON, "-m", "cnnlab.grading", "grade", str(subs), "--lab", str(bundle_dir), "--out",
                          str(out), "--isolation", "uid-only"], capture_output=True, text=True, cwd=ROOT, timeout=300,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), site])})
    assert run.returncode == 0, run.stderr
    assert "isolation: uid-only (WEAKER" in run.stdout and "warning: isolation uid-only" in run.stderr
    res = json.loads((out / "a" / "results.json").read_text(encoding="utf-8"))
    assert res["score"] == FULL and res["extra_data"]["isolation"] == "uid-only" and "uid-only" in res["output"]


def test_uid_only_refuses_a_python_the_sandbox_uid_cannot_run(monkeypatch):
    """A Python under a closed folder (pyenv in /root): refused, not run as root."""
    closed = tempfile.mkdtemp(prefix="cnnlab-test-closed-")  # 0700, root's
    try:
        python = os.path.join(closed, "python3")
        os.symlink(sys.executable, python)
        with pytest.raises(SandboxUnavailable, match="does not start as uid"):
            Sandbox(isolation="uid-only", python=python)
    finally:
        os.unlink(os.path.join(closed, "python3"))
        os.rmdir(closed)


def _tmp_names() -> set[str]:
    return set(os.listdir(tempfile.gettempdir()))


def test_a_failed_bundle_build_leaves_nothing(tmp_path):
    broken = tmp_path / "broken_lab.ipynb"
    nb = json.loads(SOURCE.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and "def conv2d_single" in "".join(cell["source"]):
            cell["source"] = ["def conv2d_single(x, kernel):\n", "    return x[100]\n"]
    broken.write_text(json.dumps(nb), encoding="utf-8")
    subs = tmp_path / "subs"
    subs.mkdir()
    before = _tmp_names()
    run = subprocess.run([sys.executable, "-m", "cnnlab.grading", "grade", str(subs), "--lab", str(broken), "--out",
                          str(tmp_path / "out")], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert run.returncode != 0 and "does not run cleanly" in run.stderr
    new = {n for n in _tmp_names() - before if n.startswith(("cnnlab-grade-", "cnnlab-bundle-", "cnnlab-work-"))}
    assert not [n for n in new if os.path.exists(os.path.join(tempfile.gettempdir(), n))]


def test_a_killed_grader_leaves_no_process_and_no_hidden_test(source_lab, tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    for name in ("a", "b", "c"):
        write(make_submission(source_lab, append=["import time\ntime.sleep(120)\n"]), subs / f"{name}.ipynb")
    marker = time.time()
    grader = subprocess.Popen([sys.executable, "-m", "cnnlab.grading", "grade", str(subs), "--lab", str(SOURCE),
                               "--out", str(out), "-j", "2", "--cell-timeout", "200", "--total-timeout", "300"],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while len(processes_in_cgroups_of(grader.pid)) < 4 and time.monotonic() < deadline:  # two runs under way
            assert grader.poll() is None, f"the grader exited ({grader.returncode}) before it started a run"
            time.sleep(0.5)
        assert processes_in_cgroups_of(grader.pid), "the grader never started a run"
    finally:
        grader.send_signal(signal.SIGKILL)
        grader.wait()
    deadline = time.monotonic() + 20
    while processes_in_cgroups_of(grader.pid) and time.monotonic() < deadline:  # --die-with-parent, the PID namespace
        time.sleep(0.2)
    assert processes_in_cgroups_of(grader.pid) == []
    assert not list(out.glob("*/results.json"))
    # the bundle of a source notebook only ever lived in the grader's memory
    tmp = Path(tempfile.gettempdir())
    written = [p for pattern in ("*/lab.json", "*/*/lab.json", "*/arrays.npz", "*/*/arrays.npz")
               for p in tmp.glob(pattern) if p.lstat().st_mtime >= marker]
    assert written == []
    # the next grader that starts removes what the killed one left: mount points, cgroups
    with Sandbox() as fresh:
        parents = [os.path.dirname(p) for p in fresh.cgroups.parents]
    assert [n for n in _tmp_names() if n.startswith(f"cnnlab-grade-{grader.pid}-")] == []
    assert [p for p in parents if os.path.exists(os.path.join(p, f"cnnlab-grade-{grader.pid}"))] == []
