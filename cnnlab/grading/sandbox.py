"""Run a notebook's code cells in a disposable child process and collect the outputs as data.

Why a plain child process and not a Jupyter kernel: grading needs the values a student's functions
return, not rich outputs. A bare ``python -m cnnlab.grading._child`` starts in about a tenth of a
second (NumPy's import dominates), where a kernel adds ZeroMQ, a kernel manager and a second process
per submission, about a second more; at 200 submissions on two cores that is the difference between
well under a minute and several. IPython syntax is handled by :func:`notebook.strip_magics`.

The parent side here is trusted and never runs student code. For every run it

- writes the request to a file in a private, root-only directory and hands the child only open file
  descriptors (stdin: the request; stdout/stderr: a log; one more fd: the results), never a path;
- gives the child an empty working directory owned by the sandbox uid (on a size-limited tmpfs when
  the kernel allows namespaces) and a minimal environment;
- puts the child in its own session, waits at most ``total_timeout`` seconds (the watchdog), then
  kills the whole process group and, as root, every process left with the slot's uid (a student's
  ``setsid``'ed grandchild included);
- parses the results file with :func:`protocol.read_records` and nothing else.

Each concurrent slot has its own uid (``uid_base + slot``, unprivileged, no home, no login), so
students graded at the same time cannot see each other's scratch files or processes, and cleanup by
uid never touches another slot; each grader process locks its own block of uids, so two graders
running at once never share one.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cnnlab.grading.protocol import array_to_bytes, encode_record, read_records

DEFAULT_UID_BASE = 62000
UIDS_PER_GRADER = 64          # so at most 64 submissions at once per grader
MAX_GRADERS = 50              # uids 62000 .. 65199, below nobody (65534)
NOGROUP_GID = 65534
#: imported by the child before it drops privileges, when the sandbox uid cannot read Python's
#: standard library itself (a Python installed under /root, as pyenv does): then student code can
#: import only what is already loaded. Not needed where Python is world-readable (CI, containers).
PRELOAD = ["subprocess", "socket", "glob", "traceback", "statistics", "csv", "string", "heapq", "pprint",
           "decimal", "fractions", "cmath", "array", "base64", "gc", "timeit", "itertools", "collections.abc",
           "numpy.linalg", "numpy.fft", "numpy.random", "numpy.lib.stride_tricks", "numpy.testing"]


@dataclass
class Limits:
    """Per-submission limits. Timeouts in seconds, sizes in MiB / KiB."""

    cell_timeout: float = 30.0
    call_timeout: float = 10.0
    total_timeout: float = 180.0
    memory_mb: int = 2048
    file_mb: int = 64
    output_kb: int = 256
    workdir_mb: int = 256
    nproc: int = 64
    nofile: int = 256

    def updated(self, **changes) -> "Limits":
        values = asdict(self)
        values.update({k: v for k, v in changes.items() if v is not None})
        return Limits(**values)


@dataclass
class RunOutcome:
    """What came back from one child, as data. Nothing in here is a verdict."""

    cells: list = field(default_factory=list)        # cell records, in order
    calls: dict = field(default_factory=dict)        # call id -> (header, blob)
    sandbox: dict = field(default_factory=dict)      # isolation report of the child
    done: bool = False                               # the child reached the end
    killed: bool = False                             # the watchdog killed it
    returncode: int | None = None
    fatal: str | None = None
    seconds: float = 0.0
    clean: bool = True                               # the results file parsed to the end
    log_tail: str = ""


def _package_root() -> str:
    import cnnlab
    return str(Path(cnnlab.__file__).resolve().parent.parent)


def _ancestor_or_same(a: str, b: str) -> bool:
    a, b = os.path.realpath(a), os.path.realpath(b)
    return b == a or b.startswith(a.rstrip(os.sep) + os.sep)


class Sandbox:
    """Runs code cells + calls in isolated children. Thread-safe: one run per slot at a time."""

    def __init__(self, limits: Limits | None = None, *, hide=(), forbidden_imports=(),
                 uid_base: int | None = None, namespaces: bool = True, network: bool = False,
                 python: str | None = None):
        self.limits = limits or Limits()
        self.forbidden_imports = list(forbidden_imports)
        self.is_root = hasattr(os, "geteuid") and os.geteuid() == 0
        self._uid_lock = None
        if uid_base is None and self.is_root:
            uid_base, self._uid_lock = _claim_uid_block()
        self.uid_base = uid_base if uid_base is not None else DEFAULT_UID_BASE
        self.namespaces = namespaces
        self.network = network
        self.python = python or sys.executable
        self.tmp = os.path.realpath(tempfile.gettempdir())
        self._needed = [sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(self.python)),
                        _package_root()]
        # the lab sources of a course checkout hold every solution and hidden test: always covered
        hide = {os.path.realpath(h) for h in [*hide, os.path.join(_package_root(), "labs", "source")]}
        self.hide = sorted(p for p in hide if self._may_hide(p))
        self.not_hidden = sorted(p for p in hide if os.path.exists(p) and p not in self.hide)
        self.stdlib_readable = readable_by_others(os.path.dirname(os.__file__))
        self.namespaces_failed = False

    def close(self) -> None:
        """Give the block of uids back (also done when the Sandbox is garbage-collected)."""
        if self._uid_lock is not None:
            os.close(self._uid_lock)
            self._uid_lock = None

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def warnings(self) -> list[str]:
        out = []
        if not self.is_root:
            out.append("not running as root: student code runs as your own user and can read what you can "
                       "read (the bundle included). Grade as root, e.g. in a container.")
        for path in self.not_hidden:
            if readable_by_others(path):
                out.append(f"{path} cannot be hidden from student code (Python, cnnlab or the scratch space live "
                           "inside it) and is readable by other users")
        if self.namespaces_failed:
            exposed = [p for p in self.hide if readable_by_others(p)]
            out.append("the kernel refused a private mount namespace (no CAP_SYS_ADMIN?), so paths cannot be "
                       "hidden from student code; these stay readable by it: " + (", ".join(exposed) or "none"))
        if self.is_root and not self.stdlib_readable:
            out.append(f"Python's standard library ({os.path.dirname(os.__file__)}) is not readable by other "
                       "users, so student code can import only the modules the grader preloads; install Python "
                       "where every user can read it (as CI runners and containers do)")
        return out

    def _may_hide(self, path: str) -> bool:
        """Never cover what the child needs to start (Python, NumPy, cnnlab) or its scratch space."""
        if not os.path.exists(path) or path == os.sep:
            return False
        return not any(_ancestor_or_same(path, need) for need in self._needed + [self.tmp])

    def _tmpfs_target(self) -> str | None:
        """Cover the whole temp dir with the child's tmpfs when nothing the child needs lives there."""
        if any(_ancestor_or_same(self.tmp, need) for need in self._needed):
            return None
        return self.tmp

    # ------------------------------------------------------------------ one run

    def run(self, cells, calls, arrays, slot: int = 0, limits: Limits | None = None) -> RunOutcome:
        """Execute ``cells`` then evaluate ``calls`` (dicts with id, function, args, kwargs, encoded
        with :func:`protocol.encode_value`; array arguments refer to keys of ``arrays``)."""
        limits = limits or self.limits
        if not 0 <= slot < UIDS_PER_GRADER:
            raise ValueError(f"slot {slot}: at most {UIDS_PER_GRADER} submissions run at once")
        uid = self.uid_base + slot if self.is_root else None
        gid = NOGROUP_GID if self.is_root else None
        private = tempfile.mkdtemp(prefix="cnnlab-grade-")        # root-only: request, log, results
        workdir = tempfile.mkdtemp(prefix="cnnlab-work-")
        outcome = RunOutcome()
        try:
            os.chmod(private, 0o700)
            if uid is not None:
                os.chown(workdir, uid, gid)
            os.chmod(workdir, 0o700)
            cfg = {
                "uid": uid, "gid": gid, "workdir": workdir,
                "namespaces": self.namespaces and self.is_root, "network": self.network,
                "tmpfs": self._tmpfs_target(), "hide": self.hide + [private],
                "workdir_mb": limits.workdir_mb,
                "limits": {**asdict(limits), "cpu_seconds": int(limits.total_timeout) + 5},
            }
            preload = [] if self.stdlib_readable or not self.is_root else PRELOAD
            request = {"kind": "request", "cells": list(cells), "calls": list(calls), "sandbox": cfg,
                       "forbidden_imports": self.forbidden_imports, "preload": preload}
            req_path, log_path, res_path = (os.path.join(private, n) for n in ("request", "log", "results"))
            with open(req_path, "wb") as fh:
                fh.write(encode_record(request))
                for key, value in arrays.items():
                    fh.write(encode_record({"kind": "array", "key": key}, array_to_bytes(value)))
            self._spawn(req_path, log_path, res_path, workdir, uid, limits, outcome)
            self._collect(res_path, log_path, limits, outcome)
            if cfg["namespaces"] and outcome.sandbox and not outcome.sandbox.get("namespaces"):
                self.namespaces_failed = True
        finally:
            shutil.rmtree(private, ignore_errors=True)
            self._remove(workdir)
        return outcome

    def _env(self, workdir: str) -> dict:
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": workdir, "TMPDIR": workdir, "USER": "student", "LOGNAME": "student",
            "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8",
            "PYTHONPATH": _package_root(), "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0",
            "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "MPLBACKEND": "Agg", "MPLCONFIGDIR": os.path.join(workdir, ".matplotlib"),
            "CNNLAB_GRADING": "1",
        }
        return env

    def _spawn(self, req_path, log_path, res_path, workdir, uid, limits: Limits, outcome: RunOutcome):
        started = time.monotonic()
        with open(req_path, "rb") as stdin, open(log_path, "wb") as log, open(res_path, "wb") as res:
            proc = subprocess.Popen(
                [self.python, "-s", "-m", "cnnlab.grading._child", "--result-fd", str(res.fileno())],
                stdin=stdin, stdout=log, stderr=subprocess.STDOUT, pass_fds=(res.fileno(),),
                cwd=workdir, env=self._env(workdir), start_new_session=True, close_fds=True,
            )
            try:
                outcome.returncode = proc.wait(timeout=limits.total_timeout)
            except subprocess.TimeoutExpired:
                outcome.killed = True
            finally:
                self._kill(proc, uid)
                if outcome.returncode is None:
                    outcome.returncode = proc.wait()
        outcome.seconds = time.monotonic() - started

    def _kill(self, proc: subprocess.Popen, uid: int | None) -> None:
        """Kill the process group, then (as root) every process still running as the slot's uid."""
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if uid is None:
            return
        for _ in range(50):
            pids = _pids_of_uid(uid)
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.01)

    def _collect(self, res_path, log_path, limits: Limits, outcome: RunOutcome) -> None:
        max_bytes = limits.file_mb * 1024 * 1024 + (1 << 20)
        with open(res_path, "rb") as fh:
            data = fh.read(max_bytes)
        records, outcome.clean = read_records(data)
        for header, blob in records:
            kind = header.get("kind")
            if kind == "cell":
                outcome.cells.append(header)
            elif kind == "call" and isinstance(header.get("id"), str):
                outcome.calls.setdefault(header["id"], (header, blob))
            elif kind == "sandbox" and not outcome.sandbox:
                outcome.sandbox = header
            elif kind == "fatal" and outcome.fatal is None:
                outcome.fatal = str(header.get("message"))[:200]
            elif kind == "done":
                outcome.done = True
        try:
            with open(log_path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                size = fh.tell()
                fh.seek(max(0, size - 4096))
                outcome.log_tail = fh.read().decode("utf-8", "replace")
        except OSError:
            pass

    @staticmethod
    def _remove(path: str) -> None:
        shutil.rmtree(path, ignore_errors=True)
        if os.path.exists(path):  # very deep trees, odd permissions
            subprocess.run(["rm", "-rf", "--one-file-system", path], check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _claim_uid_block():
    """A block of UIDS_PER_GRADER sandbox uids no other grader on this machine is using.

    Cleanup kills every process of a slot's uid, so two graders running at once (two courses, or
    pytest-xdist workers) must never share uids. A grader holds an exclusive lock on a root-only
    lock file for its block for as long as its :class:`Sandbox` lives."""
    import fcntl
    for k in range(MAX_GRADERS):
        path = os.path.join(tempfile.gettempdir(), f".cnnlab-grade-uids-{k}.lock")
        fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        return DEFAULT_UID_BASE + UIDS_PER_GRADER * k, fd
    raise RuntimeError(f"more than {MAX_GRADERS} graders are running on this machine")


def readable_by_others(path: str) -> bool:
    """Whether a user with no special rights can reach and read ``path`` (a file or directory)."""
    path = os.path.realpath(path)
    try:
        need = 0o005 if os.path.isdir(path) else 0o004
        if os.stat(path).st_mode & need != need:
            return False
        parent = os.path.dirname(path)
        while True:
            if not os.stat(parent).st_mode & 0o001:
                return False
            if parent == os.path.dirname(parent):
                return True
            parent = os.path.dirname(parent)
    except OSError:
        return False


def _pids_of_uid(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", "rb") as fh:
                zombie = False
                for line in fh:
                    if line.startswith(b"State:"):
                        zombie = line.split()[1] in (b"Z", b"X")
                    elif line.startswith(b"Uid:"):
                        if int(line.split()[1]) == uid and not zombie:
                            pids.append(int(entry))
                        break
        except (OSError, ValueError, IndexError):
            continue
    return pids
