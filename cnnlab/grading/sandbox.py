"""Run a notebook's code cells in a disposable, isolated child process and collect the outputs as data.

Why a plain child process and not a Jupyter kernel: grading needs the values a student's functions
return, not rich outputs. A bare ``python -m cnnlab.grading._child`` starts in about a tenth of a
second (NumPy's import dominates); a kernel adds ZeroMQ, a kernel manager and a second process.

Isolation (``isolation=``), chosen by the instructor, never downgraded silently:

``"bwrap"`` (the default)
    bubblewrap, started under the run's own unprivileged uid (``uid_base + slot``; nothing inside maps
    to root outside), with new user, PID, IPC, network, UTS and mount namespaces, ``--die-with-parent``
    and ``--new-session``. The child sees an empty root with read-only binds of only what it needs
    (:mod:`cnnlab.grading.view`: Python, the installed packages, ``cnnlab``; a forbidden package is
    absent) and private, size-limited tmpfs on ``/tmp``, ``/var/tmp``, ``/dev/shm``, ``/run/lock``, a
    private ``/dev/mqueue``; the rest of the root is read-only. Everything in the PID namespace dies with
    the child. Where the machine has cgroups, each run also gets its own (:mod:`cnnlab.grading.cgroups`):
    one memory limit and one process limit for the whole submission, killed as a whole at the end.
    If any of this is missing the Sandbox refuses to start (:class:`SandboxUnavailable`) and says what
    is missing and how to run.
``"uid-only"``
    The weaker mode, for a container that holds one submission and is thrown away afterwards (Gradescope):
    the child runs as the unprivileged uid with resource limits, and sees the container's file system.
    Named in the command, printed in every run's output and in every result.
``"trusted"``
    No isolation, for the instructor's own code only (the reference solution while a bundle is built).

The trusted side never runs student code. It hands the child an in-memory request (a memfd: nothing
with hidden inputs is ever written to disk) and reads records from a pipe, accepting each kind only at
its moment: the child's own report before the first student cell, then cell and public-test records,
then, only after the public results are final, it sends the hidden tests' inputs and accepts hidden-test
records. So nothing a hidden input could influence can reach what the student sees, and a record a
student forges can never speak for the grader.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field

from cnnlab.grading import view as views
from cnnlab.grading.cgroups import Cgroups, pid_alive
from cnnlab.grading.compare import safe_text
from cnnlab.grading.protocol import RecordStream, array_to_bytes, encode_record
from cnnlab.grading.schema import Limits  # the bundle's limits; sandbox.Limits for its users

DEFAULT_UID_BASE = 62000
UIDS_PER_GRADER = 64          # so at most 64 submissions at once per grader
MAX_GRADERS = 50              # uids 62000 .. 65199, below nobody (65534)
NOGROUP_GID = 65534
ISOLATIONS = ("bwrap", "uid-only")
TRUSTED = "trusted"
MIB = 1024 * 1024
#: our files in the temp directory carry the grader's pid: a killed grader's are removed at the next start
TMP_PREFIX = "cnnlab-grade-"

#: Runs as root, then becomes the run's uid for good: join the run's cgroups, re-expose (inside a
#: private mount namespace) what the unprivileged uid could not reach on its own (a Python under a
#: 0700 /root, as pyenv installs it), then exec setpriv + bwrap. bwrap resolves every source path as
#: that uid, so this is the only way it can bind such a runtime.
LAUNCHER = r"""set -eu
n=$1; shift
while [ "$n" -gt 0 ]; do echo 0 > "$1"; shift; n=$((n - 1)); done
n=$1; shift
while [ "$n" -gt 0 ]; do mount --bind "$1" "$2"; shift 2; n=$((n - 1)); done
exec "$@"
"""

HOW_TO_RUN = ("Grade as root on Linux with bubblewrap installed (apt-get install bubblewrap) and user namespaces "
              "enabled, or choose the weaker isolation explicitly with --isolation uid-only, only where every "
              "submission has a container of its own (Gradescope; see labs/README.md).")


class SandboxUnavailable(RuntimeError):
    """The isolation asked for cannot be provided here; the message says what is missing and what to do."""


@dataclass
class RunOutcome:
    """What came back from one child, as data. Nothing in here is a verdict."""

    cells: list = field(default_factory=list)        # cell records, in order
    calls: dict = field(default_factory=dict)        # call id -> (header, blob)
    sandbox: dict = field(default_factory=dict)      # the child's report, sent before any student code
    started: bool = False                            # the child began running the student's cells
    public_done: bool = False                        # the public results are final
    done: bool = False                               # the child reached the end
    killed: bool = False                             # the watchdog killed it
    returncode: int | None = None
    fatal: str | None = None
    seconds: float = 0.0
    clean: bool = True                               # every record parsed
    ignored: int = 0                                 # records refused (forged, or out of their moment)
    log_tail: str = ""


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


def _tool(name: str) -> str | None:
    return shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/sbin:/usr/local/bin")


def remove_stale_files() -> list[str]:
    """Remove what a killed grader left in the temp directory (scratch folders, mount points)."""
    removed = []
    tmp = tempfile.gettempdir()
    for name in os.listdir(tmp):
        if not name.startswith(TMP_PREFIX):
            continue
        pid = name[len(TMP_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            path = os.path.join(tmp, name)
            shutil.rmtree(path, ignore_errors=True)
            if os.path.lexists(path) and not os.path.isdir(path):
                os.unlink(path)
            removed.append(path)
    return removed


class Sandbox:
    """Runs code cells + calls in isolated children. Thread-safe: one run per slot at a time."""

    def __init__(self, limits: Limits | None = None, *, forbidden_imports=(), secrets=(),
                 isolation: str = "bwrap", uid_base: int | None = None, python: str | None = None):
        """``secrets``: paths the child must never see (the sandbox refuses to start if the view it
        builds would contain one); the checkout's ``.git`` and ``labs/source`` are always among them."""
        self.limits = limits or Limits()
        self.forbidden_imports = list(forbidden_imports)
        self.isolation = isolation
        self.python = python or sys.executable
        self.cgroups: Cgroups | None = None
        self.view: views.View | None = None
        self._uid_lock = None
        self._aliases: dict[str, str] = {}
        self._alias_dir = None
        root = views.package_root()
        self.secrets = sorted({os.path.realpath(p) for p in [*secrets, os.path.join(root, ".git"),
                                                              os.path.join(root, "labs", "source")]})
        if isolation == TRUSTED:
            self.uid_base = None
            return
        if isolation not in ISOLATIONS:
            raise ValueError(f"isolation {isolation!r}: expected one of {', '.join(ISOLATIONS)}")
        if not (hasattr(os, "geteuid") and os.geteuid() == 0):
            raise SandboxUnavailable("cnnlab-grade runs every submission under an unprivileged uid of its own, "
                                     "which needs root; it is not running as root. " + HOW_TO_RUN)
        remove_stale_files()
        self.tools = {name: _tool(name) for name in ("sh", "setpriv", "mount", "unshare", "bwrap")}
        needed = ("sh", "setpriv") + (("bwrap", "mount", "unshare") if isolation == "bwrap" else ())
        missing = [name for name in needed if not self.tools[name]]
        if missing:
            raise SandboxUnavailable(f"missing programs: {', '.join(missing)} (bwrap: Debian's bubblewrap; "
                                     f"setpriv, mount, unshare: util-linux). " + HOW_TO_RUN)
        if uid_base is None:
            uid_base, self._uid_lock = _claim_uid_block()
        self.uid_base = uid_base
        try:
            if isolation == "bwrap":
                self._check_bwrap()
                try:
                    self.view = views.build(self.forbidden_imports, self.secrets, self.python)
                except views.ViewError as error:
                    raise SandboxUnavailable(str(error)) from None
                self._make_aliases()
            self.cgroups = Cgroups()
            self._probe()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ set-up

    def _check_bwrap(self) -> None:
        run = subprocess.run([self.tools["bwrap"], "--help"], capture_output=True, text=True)
        wanted = ("--size", "--disable-userns", "--perms", "--die-with-parent", "--new-session", "--remount-ro")
        lacking = [opt for opt in wanted if opt not in run.stdout + run.stderr]
        if lacking:
            version = subprocess.run([self.tools["bwrap"], "--version"], capture_output=True, text=True).stdout
            raise SandboxUnavailable(f"{version.strip() or 'bwrap'} lacks {', '.join(lacking)}: bubblewrap 0.8 or "
                                     "newer is needed (Debian 12, Ubuntu 24.04). " + HOW_TO_RUN)

    def _make_aliases(self) -> None:
        """Mount points for the view's sources that the unprivileged uid cannot reach (see LAUNCHER)."""
        hidden = [src for src in dict.fromkeys(self.view.sources()) if not readable_by_others(src)]
        if not hidden:
            return
        self._alias_dir = tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-view-")
        os.chmod(self._alias_dir, 0o755)
        for i, src in enumerate(hidden):
            point = os.path.join(self._alias_dir, str(i))
            if os.path.isdir(src):
                os.mkdir(point, 0o755)
            else:
                open(point, "wb").close()
            self._aliases[src] = point

    def _probe(self) -> None:
        """Start the full sandbox once, up to the imports of the child: fail closed, in bwrap's (or
        Python's) own words."""
        uid = self.uid_base
        inner = [self.python, "-s", "-c", "import os, numpy, cnnlab.grading._child; print(os.getuid(), os.getpid())"]
        cmd, cwd, workdir = self._command(0, None, inner, self.limits)
        try:
            run = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=cwd, env=self._env(cwd),
                                 start_new_session=True)
        except subprocess.TimeoutExpired:
            raise SandboxUnavailable("the sandbox did not start within 60 s. " + HOW_TO_RUN) from None
        finally:
            if workdir:
                shutil.rmtree(workdir, ignore_errors=True)
        words = run.stdout.split()
        ok = run.returncode == 0 and len(words) == 2 and words[0] == str(uid)
        if ok and self.isolation == "bwrap" and not int(words[1]) <= 2:
            ok = False  # not in a PID namespace of its own
        if not ok:
            detail = safe_text((run.stderr or run.stdout).strip()[-600:], 600) or f"exit status {run.returncode}"
            hint = ""
            if self.isolation == "bwrap":
                hint = (" If bwrap says it cannot create a namespace, user namespaces are disabled here "
                        "(sysctl kernel.unprivileged_userns_clone=1 and user.max_user_namespaces > 0; Docker's default "
                        "seccomp profile blocks them too).")
            raise SandboxUnavailable(f"the {self.isolation} sandbox does not start as uid {uid}: {detail}.{hint} "
                                     + HOW_TO_RUN)

    def close(self) -> None:
        """Give back the uids and the cgroups (also done when the Sandbox is garbage-collected)."""
        if self.cgroups is not None:
            self.cgroups.close()
            self.cgroups = None
        if self._alias_dir:
            shutil.rmtree(self._alias_dir, ignore_errors=True)
            self._alias_dir = None
        if self._uid_lock is not None:
            os.close(self._uid_lock)
            self._uid_lock = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ what the instructor is told

    @property
    def has_cgroups(self) -> bool:
        return bool(self.cgroups and self.cgroups.available)

    def describe(self) -> str:
        """One line: the isolation in force, for every run's output."""
        if self.isolation == TRUSTED:
            return "trusted (no isolation: instructor's own code)"
        groups = ("cgroup v2" if self.cgroups.v2 else "cgroup v1") + " memory+pids" if self.has_cgroups else "no cgroups"
        if self.isolation == "bwrap":
            return f"bwrap (user, PID, IPC, network, mount namespaces; private tmpfs; {groups})"
        return f"uid-only (WEAKER, chosen with --isolation uid-only: no namespaces; {groups})"

    def warnings(self) -> list[str]:
        out = []
        if self.isolation == "uid-only":
            out.append("isolation uid-only (chosen explicitly): student code runs as an unprivileged uid but sees the "
                       "machine's file system, /tmp, /dev/shm and SysV IPC; forbidden packages are absent only if "
                       "they are not installed; background processes are killed by a scan of the uid. Use it only "
                       "where each submission has a container of its own.")
        if self.isolation != TRUSTED and not self.has_cgroups:
            limits = self.limits
            out.append(f"no cgroups ({self.cgroups.reason if self.cgroups else 'not set up'}): the memory limit "
                       f"{limits.memory_mb} MiB holds for each process of a submission separately (RLIMIT_AS), with "
                       f"at most {limits.nproc} processes (RLIMIT_NPROC of the run's own uid), so one submission "
                       f"can hold up to {limits.memory_mb * limits.nproc} MiB")
        return out

    # ------------------------------------------------------------------ one run

    def _source(self, path: str) -> str:
        return self._aliases.get(path, path)

    def _bwrap_args(self, limits: Limits) -> list[str]:
        args = ["--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session"]
        args += ["--proc", "/proc", "--dev", "/dev"]
        for path, mb in (("/tmp", limits.workdir_mb), ("/var/tmp", limits.scratch_mb),
                         ("/dev/shm", limits.scratch_mb), ("/run/lock", 1)):
            args += ["--perms", "1777", "--size", str(int(mb) * MIB), "--tmpfs", path]
        # the binds after the tmpfs: a Python or venv that lives under /tmp (a CI checkout) stays visible
        for target, path in self.view.symlinks:
            args += ["--symlink", target, path]
        for src, dest in self.view.binds + self.view.masks:
            args += ["--ro-bind", self._source(src), dest]
        args += ["--mqueue", "/dev/mqueue", "--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/tmp",
                 "--clearenv"]
        for key, value in self._env("/tmp").items():
            args += ["--setenv", key, value]
        return args

    def _env(self, home: str) -> dict:
        pythonpath = [views.package_root()]
        if self.isolation == "bwrap":
            pythonpath = [self.view.pythonpath] if self.view.pythonpath else []
        else:  # the grader's own environment, e.g. a Python whose packages come from PYTHONPATH
            pythonpath += [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": home, "TMPDIR": home, "USER": "student", "LOGNAME": "student",
            "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8",
            "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0",
            "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "MPLBACKEND": "Agg", "MPLCONFIGDIR": os.path.join(home, ".matplotlib"),
            "CNNLAB_GRADING": "1",
        }
        if pythonpath:
            env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(pythonpath))
        return env

    def _command(self, slot: int, cgroup, inner: list[str], limits: Limits):
        """(argv, cwd, workdir to remove afterwards) of one run."""
        if self.isolation == TRUSTED:
            workdir = tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-work-")
            return inner, workdir, workdir
        uid = self.uid_base + slot
        procs = cgroup.procs if cgroup is not None else []
        pairs = [x for src, point in self._aliases.items() for x in (src, point)]
        launcher = [self.tools["sh"], "-c", LAUNCHER, "cnnlab-launch", str(len(procs)), *procs,
                    str(len(self._aliases)), *pairs]
        if self._aliases:
            launcher = [self.tools["unshare"], "--mount", "--propagation", "private", "--"] + launcher
        drop = [self.tools["setpriv"], f"--reuid={uid}", f"--regid={NOGROUP_GID}", "--clear-groups",
                "--no-new-privs", "--"]
        if self.isolation == "bwrap":
            return launcher + drop + [self.tools["bwrap"], *self._bwrap_args(limits), "--", *inner], "/", None
        workdir = tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-work-")
        os.chown(workdir, uid, NOGROUP_GID)
        os.chmod(workdir, 0o700)
        return launcher + drop + inner, workdir, workdir

    def run(self, cells, calls, arrays, slot: int = 0, limits: Limits | None = None, *, hidden_calls=(),
            hidden_arrays=None) -> RunOutcome:
        """Execute ``cells``, evaluate ``calls`` (dicts with id, function, args, kwargs, encoded with
        :func:`protocol.encode_value`; array arguments refer to keys of ``arrays``), and then, once those
        results are final, ``hidden_calls`` (their arrays in ``hidden_arrays``, default ``arrays``)."""
        limits = limits or self.limits
        if not 0 <= slot < UIDS_PER_GRADER:
            raise ValueError(f"slot {slot}: at most {UIDS_PER_GRADER} submissions run at once")
        hidden_calls = list(hidden_calls)
        request = self._request(cells, calls, arrays, limits, bool(hidden_calls))
        hidden = b""
        if hidden_calls:
            hidden = _records({"kind": "hidden", "calls": hidden_calls},
                              _arrays_of(hidden_calls, arrays if hidden_arrays is None else hidden_arrays))
        outcome = RunOutcome()
        fds: dict[str, int] = {}   # every descriptor this run owns, closed exactly once (threads reuse numbers)
        proc = cgroup = workdir = None
        started = time.monotonic()
        try:
            fds["request"] = os.memfd_create("cnnlab-request", os.MFD_CLOEXEC)  # in memory: never on disk
            _write_all(fds["request"], request)
            os.lseek(fds["request"], 0, os.SEEK_SET)
            fds["res_r"], fds["res_w"] = os.pipe()
            fds["log_r"], fds["log_w"] = os.pipe()
            fds["hid_r"], fds["hid_w"] = os.pipe()
            if self.has_cgroups:
                cgroup = self.cgroups.create(limits.memory_mb, limits.nproc)
            inner = [self.python, "-s", "-m", "cnnlab.grading._child", "--result-fd", str(fds["res_w"]),
                     "--hidden-fd", str(fds["hid_r"])]
            cmd, cwd, workdir = self._command(slot, cgroup, inner, limits)
            proc = subprocess.Popen(cmd, stdin=fds["request"], stdout=fds["log_w"], stderr=fds["log_w"],
                                    pass_fds=(fds["res_w"], fds["hid_r"]), cwd=cwd, env=self._env(cwd),
                                    start_new_session=True, close_fds=True)
            for name in ("request", "res_w", "log_w", "hid_r"):
                _close(fds, name)
            uid = None if self.isolation == TRUSTED else self.uid_base + slot
            self._watch(proc, fds, hidden, calls, hidden_calls, limits, uid, outcome, started, len(cells))
        finally:
            for name in list(fds):
                _close(fds, name)
            if proc is not None:
                self._stop(proc, slot)
                outcome.returncode = proc.wait()
            if cgroup is not None:
                cgroup.remove()
            if workdir:
                _remove(workdir)
        outcome.seconds = time.monotonic() - started
        return outcome

    @staticmethod
    def _request(cells, calls, arrays, limits: Limits, has_hidden: bool) -> bytes:
        header = {"kind": "request", "calls": list(calls), "cells": len(cells), "hidden": has_hidden,
                  "limits": {**asdict(limits), "cpu_seconds": int(limits.total_timeout) + 5}}
        out = [encode_record(header)]
        out += [encode_record({"kind": "cell_source"}, source.encode("utf-8", "surrogatepass")) for source in cells]
        return b"".join(out) + _records(None, _arrays_of(calls, arrays))

    def _watch(self, proc, fds: dict, hidden: bytes, calls, hidden_calls, limits: Limits, uid,
               outcome: RunOutcome, started: float, n_cells: int) -> None:
        """Read the child's records and log until it ends or the time is up; send the hidden inputs
        when, and only when, the public results are final."""
        public_ids = {c["id"] for c in calls}
        hidden_ids = {c["id"] for c in hidden_calls}
        cap = limits.file_mb * MIB + MIB
        stream = RecordStream(max_total=cap)
        tail = bytearray()
        phase = "setup"
        to_send, sending = memoryview(hidden), False
        selector = selectors.DefaultSelector()
        selector.register(fds["res_r"], selectors.EVENT_READ, "results")
        selector.register(fds["log_r"], selectors.EVENT_READ, "log")
        deadline = started + limits.total_timeout
        exited_at = None
        try:
            while True:
                now = time.monotonic()
                if now >= deadline:
                    outcome.killed = True
                    break
                if exited_at is None and proc.poll() is not None:
                    exited_at = now
                readers = [k for k in selector.get_map().values() if k.events & selectors.EVENT_READ]
                if not readers or (exited_at is not None and now - exited_at > 0.5):
                    break  # both pipes closed, or the child is gone and something else holds them
                for key, _ in selector.select(min(deadline - now, 0.05)):
                    if key.data == "hidden":
                        try:
                            n = os.write(key.fd, to_send[:65536])
                        except (BlockingIOError, InterruptedError):
                            continue
                        except OSError:  # the child is gone
                            n = len(to_send)
                        to_send = to_send[n:]
                        if not to_send:  # all sent: the end of the pipe is the end of the message
                            selector.unregister(key.fd)
                            _close(fds, "hid_w")
                        continue
                    data = os.read(key.fd, 65536)
                    if not data:
                        selector.unregister(key.fd)
                        continue
                    if key.data == "log":
                        tail = (tail + data)[-4096:]
                        continue
                    if stream.total + len(data) > cap:
                        outcome.killed = True
                        outcome.fatal = outcome.fatal if outcome.started else "the child wrote too much"
                        return
                    for header, blob in stream.feed(data):
                        phase = self._accept(header, blob, phase, outcome, public_ids, hidden_ids, uid, n_cells)
                        if phase == "stop":
                            return
                        if phase == "hidden" and to_send and not sending:
                            sending = True
                            os.set_blocking(fds["hid_w"], False)
                            selector.register(fds["hid_w"], selectors.EVENT_WRITE, "hidden")
                    if stream.broken:  # nothing after a malformed frame can be read: stop the run now
                        return
        finally:
            selector.close()
            outcome.clean = stream.clean
            outcome.log_tail = safe_text(tail.decode("utf-8", "replace"), 4096, keep_newlines=True)

    def _accept(self, header: dict, blob: bytes, phase: str, outcome: RunOutcome, public_ids, hidden_ids,
                uid, n_cells: int) -> str:
        """Take one record from the child if it is of a kind the child may send at this moment. Cell and
        call records are kept as :func:`_kept` copies, at most one per cell and per call."""
        kind = header.get("kind")
        if phase == "setup":  # no student code has run yet: the child is still ours
            if kind == "sandbox" and not outcome.sandbox:
                if uid is not None and header.get("uid") != uid:
                    outcome.fatal = f"the child runs as uid {header.get('uid')!r}, not the sandbox's {uid}"
                    return "stop"
                outcome.sandbox = header
            elif kind == "fatal":
                outcome.fatal = safe_text(header.get("message"), 300)
                return "stop"
            elif kind == "start" and outcome.sandbox:
                outcome.started = True
                return "public"
            else:
                outcome.ignored += 1
            return phase
        if kind == "call" and isinstance(header.get("id"), str):
            ids = public_ids if phase == "public" else hidden_ids
            if header["id"] in ids:
                outcome.calls.setdefault(header["id"], (_kept(header), blob))
                return phase
        elif kind == "cell" and phase == "public" and len(outcome.cells) < n_cells:
            outcome.cells.append(_kept(header))
            return phase
        elif kind == "public_done" and phase == "public":
            outcome.public_done = True
            return "hidden"
        elif kind == "done" and phase == "hidden":
            outcome.done = True
            return "end"
        outcome.ignored += 1
        return phase

    def _stop(self, proc: subprocess.Popen, slot: int) -> None:
        """Kill what is left: the launcher's process group (bwrap, and with it its PID namespace), and
        in uid-only mode every process of the run's uid."""
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.isolation == "uid-only":
            _kill_uid(self.uid_base + slot)


#: the fields of cell and call records that anything reads (scoring, feedback, reruns)
RECORD_FIELDS = ("kind", "id", "index", "status", "error_type", "builtin", "message", "cell", "line", "found", "type",
                 "detail", "seconds")


def _kept(header: dict) -> dict:
    """What the grader keeps of a child's record: the known fields, scalars only, strings cut short. A
    header may hold 1 MiB of JSON (``[{}, {}, ...]`` is ~25 MiB of Python objects): kept whole, a few
    dozen of them would fill the grader's memory."""
    out = {}
    for key in RECORD_FIELDS:
        value = header.get(key)
        if isinstance(value, str):
            out[key] = value[:1000]
        elif key in header and (value is None or isinstance(value, (bool, int, float))):
            out[key] = value
    return out


def _records(header, arrays: dict) -> bytes:
    out = [encode_record(header)] if header is not None else []
    out += [encode_record({"kind": "array", "key": key}, array_to_bytes(value)) for key, value in arrays.items()]
    return b"".join(out)


def _arrays_of(calls, arrays: dict) -> dict:
    """The arrays the calls refer to, and no others (a public run never receives a hidden input)."""
    keys = []

    def walk(value):
        if isinstance(value, dict):
            if "array" in value:
                keys.append(value["array"])
            for v in value.values():
                if isinstance(v, (dict, list)):
                    walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
    for call in calls:
        walk(call["args"])
        walk(call["kwargs"])
    return {k: arrays[k] for k in dict.fromkeys(keys)}


def _close(fds: dict, name: str) -> None:
    fd = fds.pop(name, None)
    if fd is not None:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _remove(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)
    if os.path.exists(path):  # very deep trees, odd permissions
        subprocess.run(["rm", "-rf", "--one-file-system", path], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _lock_dir() -> str:
    """The uid locks' directory, writable by this user only. Not the lock files straight in the shared
    temp directory: student code that sees it (uid-only mode) could plant links or files under their
    names there, and every later grader would fail to start."""
    path = os.path.join(tempfile.gettempdir(), ".cnnlab-grade-uids")
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:  # lstat: a link is no dir
        raise SandboxUnavailable(f"{path} is not a directory that only uid {os.geteuid()} can write (someone else "
                                 "made it): remove it and grade again")
    return path


def _claim_uid_block():
    """A block of UIDS_PER_GRADER sandbox uids no other grader on this machine is using.

    A grader holds an exclusive lock on a root-only lock file for its block for as long as its
    :class:`Sandbox` lives, so two graders running at once (two courses, pytest-xdist) never share a uid."""
    import fcntl
    directory = _lock_dir()
    for k in range(MAX_GRADERS):
        path = os.path.join(directory, f"{k}.lock")
        fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        return DEFAULT_UID_BASE + UIDS_PER_GRADER * k, fd
    raise SandboxUnavailable(f"more than {MAX_GRADERS} graders are running on this machine")


def _kill_uid(uid: int) -> None:
    """uid-only mode: kill every process of ``uid``, zombies included (a zombie thread-group leader can
    still have live threads: killing it kills them), until none is left."""
    for _ in range(200):
        pids = _pids_of_uid(uid)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.005)


def _pids_of_uid(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", "rb") as fh:
                for line in fh:
                    if line.startswith(b"Uid:"):
                        real = int(line.split()[1])
                        with open(f"/proc/{entry}/stat", "rb") as st:
                            dead = st.read().rsplit(b")", 1)[1].split()[0] == b"X"
                        if real == uid and not dead and _has_live_thread(entry):
                            pids.append(int(entry))
                        break
        except (OSError, ValueError, IndexError):
            continue
    return pids


def _has_live_thread(pid: str) -> bool:
    """A zombie whose threads are all gone is only waiting to be reaped; one with a live thread is not."""
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/stat", "rb") as fh:
                if fh.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X"):
                    return True
    except OSError:
        return False
    return False
