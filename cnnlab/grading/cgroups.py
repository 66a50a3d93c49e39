"""One control group per submission run: its memory and its number of processes are limited as a whole,
and at the end everything in it is killed at once.

A process limit (``RLIMIT_AS``) holds one process; a student who forks four children holds four times
as much. A cgroup counts them all (its tmpfs pages included). Used where the machine offers the memory
and pids controllers, in cgroup v1 (``memory.limit_in_bytes``, ``pids.max``) or in a delegated cgroup v2
subtree (``memory.max``, ``pids.max``, ``cgroup.kill``). The grader's cgroups live below the grader's
own (``<own>/cnnlab-grade-<pid>/run-<n>``), so they are nested in whatever limits the grader has itself;
a killed grader's leftovers are removed by the next grader that starts (:func:`remove_stale`).
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from dataclasses import dataclass, field

CONTROLLERS = ("memory", "pids")
PREFIX = "cnnlab-grade-"


def _mounts() -> dict:
    """controller (or "unified") -> mount point, from /proc/self/mountinfo."""
    found = {}
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return found
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, extra = left.split(), right.split()
        if len(fields) < 5 or not extra:
            continue
        point = fields[4].replace("\\040", " ")
        if extra[0] == "cgroup2":
            found.setdefault("unified", point)
        elif extra[0] == "cgroup" and len(extra) >= 3:
            for option in extra[2].split(","):
                if option in CONTROLLERS:
                    found.setdefault(option, point)
    return found


def _own_paths() -> dict:
    """controller (or "unified") -> this process's cgroup path, from /proc/self/cgroup."""
    own = {}
    try:
        with open("/proc/self/cgroup", encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return own
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            own["unified"] = path
        for c in controllers.split(","):
            if c in CONTROLLERS:
                own[c] = path
    return own


def _write(path: str, value) -> None:
    with open(path, "w", encoding="ascii") as fh:
        fh.write(str(value))


def _pids(directory: str) -> list[int]:
    try:
        with open(os.path.join(directory, "cgroup.procs"), encoding="ascii") as fh:
            return [int(p) for p in fh.read().split()]
    except (OSError, ValueError):
        return []


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (one of another user counts too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_all(directory: str, v2: bool) -> None:
    """Kill every process in the cgroup ``directory`` (and its children) and remove the directories."""
    for sub in sorted((os.path.join(d, name) for d, names, _ in os.walk(directory) for name in names),
                      key=len, reverse=True) + [directory]:
        if v2 and os.path.exists(os.path.join(sub, "cgroup.kill")):
            try:
                _write(os.path.join(sub, "cgroup.kill"), 1)
            except OSError:
                pass
        elif os.path.exists(os.path.join(sub, "pids.max")):
            try:  # no new process can start while we kill: a fork bomb cannot outrun the loop
                _write(os.path.join(sub, "pids.max"), 0)
            except OSError:
                pass
        deadline = time.monotonic() + 5
        while True:
            pids = _pids(sub)
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            try:
                os.rmdir(sub)
                break
            except FileNotFoundError:
                break
            except OSError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.005)


@dataclass
class RunCgroup:
    """The cgroups of one run: the launcher writes itself into ``procs`` before it starts the sandbox."""

    directories: list = field(default_factory=list)
    v2: bool = False

    @property
    def procs(self) -> list[str]:
        return [os.path.join(d, "cgroup.procs") for d in self.directories]

    def peak_memory(self) -> int | None:
        for d in self.directories:
            for name in ("memory.max_usage_in_bytes", "memory.peak"):
                try:
                    with open(os.path.join(d, name), encoding="ascii") as fh:
                        return int(fh.read())
                except (OSError, ValueError):
                    continue
        return None

    def remove(self) -> None:
        """Kill everything that is still in it, then remove it."""
        for d in self.directories:
            _kill_all(d, self.v2)


class Cgroups:
    """The grader's cgroup subtree. ``available`` says whether runs get cgroups; ``reason`` why not."""

    def __init__(self):
        self.available, self.reason, self.v2 = False, "", False
        self.parents: list[str] = []
        self._counter = itertools.count()
        if os.geteuid() != 0:
            self.reason = "not running as root"
            return
        mounts, own = _mounts(), _own_paths()
        if all(c in mounts and c in own for c in CONTROLLERS):
            bases = [os.path.join(mounts[c], own[c].lstrip("/")) for c in CONTROLLERS]
        elif "unified" in mounts and "unified" in own:
            self.v2 = True
            bases = [os.path.join(mounts["unified"], own["unified"].lstrip("/"))]
        else:
            self.reason = "no cgroup memory and pids controllers are mounted"
            return
        for base in bases:
            remove_stale(base, self.v2)
        try:
            for base in bases:
                parent = os.path.join(base, f"{PREFIX}{os.getpid()}")
                os.makedirs(parent, exist_ok=True)
                self.parents.append(parent)
                if self.v2:
                    self._delegate_v2(base, parent)
        except OSError as error:
            self.reason = f"cannot create a cgroup below {bases[0]}: {error.strerror or error}"
            self.close()
            return
        self.available = True

    @staticmethod
    def _delegate_v2(base: str, parent: str) -> None:
        """Enable memory and pids for the runs below ``parent`` (possible only where the grader's own
        cgroup may hand them down: a systemd scope with Delegate=yes, a container's root cgroup)."""
        with open(os.path.join(base, "cgroup.controllers"), encoding="ascii") as fh:
            offered = fh.read().split()
        missing = [c for c in CONTROLLERS if c not in offered]
        if missing:
            raise OSError(0, f"cgroup v2 controllers {', '.join(missing)} are not delegated to {base}")
        for directory in (base, parent):
            _write(os.path.join(directory, "cgroup.subtree_control"), " ".join(f"+{c}" for c in CONTROLLERS))

    def create(self, memory_mb: int, nproc: int) -> RunCgroup:
        """A fresh cgroup (one per hierarchy) limited to ``memory_mb`` MiB and ``nproc`` processes."""
        name = f"run-{next(self._counter)}"
        run = RunCgroup(v2=self.v2)
        limit = int(memory_mb) * 1024 * 1024
        try:
            for parent in self.parents:
                directory = os.path.join(parent, name)
                os.mkdir(directory)
                run.directories.append(directory)
                files = set(os.listdir(directory))
                if "memory.limit_in_bytes" in files:
                    _write(os.path.join(directory, "memory.limit_in_bytes"), limit)
                    if "memory.memsw.limit_in_bytes" in files:  # swap counts too, where it is accounted
                        _write(os.path.join(directory, "memory.memsw.limit_in_bytes"), limit)
                if "memory.max" in files:
                    _write(os.path.join(directory, "memory.max"), limit)
                    if "memory.swap.max" in files:
                        _write(os.path.join(directory, "memory.swap.max"), 0)
                if "pids.max" in files:
                    _write(os.path.join(directory, "pids.max"), int(nproc))
        except OSError:
            run.remove()
            raise
        return run

    def close(self) -> None:
        for parent in self.parents:
            _kill_all(parent, self.v2)
        self.parents = []


def remove_stale(base: str, v2: bool) -> list[str]:
    """Remove the subtrees of graders that are no longer running (killed ones included)."""
    removed = []
    try:
        names = os.listdir(base)
    except OSError:
        return removed
    for name in names:
        if not name.startswith(PREFIX) or not name[len(PREFIX):].isdigit():
            continue
        pid = int(name[len(PREFIX):])
        if pid != os.getpid() and not pid_alive(pid):
            _kill_all(os.path.join(base, name), v2)
            removed.append(name)
    return removed
