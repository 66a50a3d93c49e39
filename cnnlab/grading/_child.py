"""The only process that runs a student's code. It computes outputs; it never decides a grade.

Started by :mod:`cnnlab.grading.sandbox` as ``python -s -m cnnlab.grading._child --result-fd N``
with a clean environment, its stdin an already-open request file, its stdout/stderr a log file and
fd N a result file (no path to any of them is ever given). In order, it:

1. reads the whole request from stdin: the code cells, the calls to evaluate (function name and
   argument arrays, no expected outputs, no test names, nothing that says which tests are hidden)
   and the limits; then points stdin at /dev/null;
2. as root, isolates itself: a private mount namespace (and network namespace) where a size-limited
   tmpfs is the only writable scratch and the grading bundle, the lab source, the submissions and
   the results are covered by empty read-only mounts (best effort: skipped where the kernel refuses);
   resource limits (address space, CPU, file size, processes, open files, no core files);
   no-new-privileges; then drops to the unprivileged uid/gid it was given, for good;
3. runs the code cells in order in a fresh ``__main__`` namespace, each under a time limit; a cell
   that fails is recorded and the next cell runs, as in a notebook run with "continue on error";
4. calls each requested function on copies of its inputs, under a time limit, and writes each
   output as an ``.npy`` record the moment it has it (so a later crash loses nothing before it);
5. leaves with ``os._exit`` (no atexit hooks of student code run).

Anything the student's code does to this process (monkeypatching numpy or cnnlab, exiting, printing
fake results, writing files) can change only the outputs recorded here, which the grader then
compares with reference outputs this process never had.
"""

from __future__ import annotations

import argparse
import builtins
import ctypes
import importlib
import importlib.abc
import io
import os
import resource
import signal
import sys
import time
import types

from cnnlab.grading import _guard
from cnnlab.grading.notebook import strip_magics
from cnnlab.grading.protocol import (
    BadOutput,
    array_from_bytes,
    array_to_bytes,
    decode_value,
    encode_record,
    read_records,
    to_output,
)

_guard.protect_file(__file__)

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
PR_SET_NO_NEW_PRIVS = 38


class _Out:
    """The result channel: unbuffered, and it never raises into the runner."""

    def __init__(self, fd: int):
        self.fd = fd

    def write(self, header: dict, blob: bytes = b"") -> None:
        try:
            data = encode_record(header, blob)
            view = memoryview(data)
            while view:
                n = os.write(self.fd, view)
                view = view[n:]
        except Exception:  # noqa: BLE001 - a full disk or a closed fd loses the record, not the run
            pass


class _CappedText(io.TextIOBase):
    """sys.stdout / sys.stderr for student code: keeps the first ``limit`` characters, drops the rest."""

    def __init__(self, stream, limit: int):
        self._stream, self._left, self.dropped = stream, limit, 0

    def writable(self):
        return True

    def write(self, text):
        text = str(text)
        if self._left > 0:
            part = text[: self._left]
            self._left -= len(part)
            try:
                self._stream.write(part)
                self._stream.flush()
            except Exception:  # noqa: BLE001
                pass
            self.dropped += len(text) - len(part)
        else:
            self.dropped += len(text)
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False


class _ImportBlocker(importlib.abc.MetaPathFinder):
    """Refuses the modules a lab forbids (a deterrent inside a process the student controls)."""

    def __init__(self, names):
        self.names = tuple(names)

    def find_spec(self, fullname, path=None, target=None):
        for name in self.names:
            if fullname == name or fullname.startswith(name + "."):
                raise ImportError(f"本实验不允许导入 {name}：请只用 NumPy 自己实现。")
        return None


# ----------------------------------------------------------------------------- isolation


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _mount(libc, source, target, fstype, flags, data) -> None:
    enc = (lambda s: None if s is None else s.encode())
    if libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)) != 0:
        raise OSError(ctypes.get_errno(), f"mount {target}: {os.strerror(ctypes.get_errno())}")


def _isolate(cfg: dict, report: dict) -> None:
    """Namespaces and mounts (root only, best effort), then limits, then the uid drop (mandatory)."""
    uid, gid = cfg.get("uid"), cfg.get("gid")
    workdir = cfg["workdir"]
    is_root = os.geteuid() == 0
    if is_root and cfg.get("namespaces"):
        libc = _libc()
        flags = CLONE_NEWNS | (0 if cfg.get("network") else CLONE_NEWNET)
        ok = libc.unshare(flags) == 0 or (flags != CLONE_NEWNS and libc.unshare(CLONE_NEWNS) == 0)
        if ok:
            try:
                _mount(libc, None, "/", None, MS_REC | MS_PRIVATE, None)
                size = f"size={int(cfg['workdir_mb'])}m"
                owner = f",uid={uid},gid={gid}" if uid is not None else ""
                if cfg.get("tmpfs"):  # a fresh, size-limited /tmp (or whatever holds the workdir)
                    _mount(libc, "tmpfs", cfg["tmpfs"], "tmpfs", MS_NOSUID | MS_NODEV, size + ",mode=1777")
                    os.makedirs(workdir, mode=0o700, exist_ok=True)
                    if uid is not None:
                        os.chown(workdir, uid, gid)
                else:
                    _mount(libc, "tmpfs", workdir, "tmpfs", MS_NOSUID | MS_NODEV, size + ",mode=0700" + owner)
                report["namespaces"] = True
                for path in cfg.get("hide", []):
                    try:
                        if os.path.isdir(path):
                            _mount(libc, "tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                                   "size=4k,mode=0555")
                        elif os.path.exists(path):
                            _mount(libc, "/dev/null", path, None, MS_BIND, None)
                        report["hidden"].append(path)
                    except OSError as error:
                        report["errors"].append(str(error))
            except OSError as error:
                report["errors"].append(str(error))
        else:
            report["errors"].append(f"unshare: {os.strerror(ctypes.get_errno())}")
    os.chdir(workdir)

    limits = cfg["limits"]
    mb = 1024 * 1024
    for name, soft, hard in (
        ("RLIMIT_AS", limits["memory_mb"] * mb, limits["memory_mb"] * mb),
        ("RLIMIT_CPU", int(limits["cpu_seconds"]), int(limits["cpu_seconds"]) + 2),
        ("RLIMIT_FSIZE", limits["file_mb"] * mb, limits["file_mb"] * mb),
        ("RLIMIT_NOFILE", limits["nofile"], limits["nofile"]),
        ("RLIMIT_NPROC", limits["nproc"], limits["nproc"]),
        ("RLIMIT_CORE", 0, 0),
    ):
        if hasattr(resource, name):
            try:
                resource.setrlimit(getattr(resource, name), (int(soft), int(hard)))
            except (ValueError, OSError) as error:
                report["errors"].append(f"{name}: {error}")
    try:
        _libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    except Exception:  # noqa: BLE001
        pass
    if is_root and uid is not None:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        if os.getuid() != uid or os.geteuid() != uid or os.getegid() != gid:
            raise PermissionError("could not drop privileges")
        try:  # must be impossible now
            os.setuid(0)
        except PermissionError:
            pass
        else:
            raise PermissionError("privileges came back after the drop")
    report["uid"] = os.getuid()


# ----------------------------------------------------------------------------- running


def _where(error: BaseException):
    """(code cell number, line) of the innermost frame in a student's cell, if any."""
    found = None
    tb = error.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name.startswith("<cell ") and name.endswith(">"):
            try:
                found = (int(name[6:-1]), tb.tb_lineno)
            except ValueError:
                pass
        tb = tb.tb_next
    return found


def _describe(error: BaseException) -> dict:
    """Exception -> type, message (student code may run inside str(), so under a limit), place."""
    info = {"error_type": type(error).__name__[:80], "builtin": type(error).__module__ == "builtins"}
    status, message = _guard.guarded(lambda: str(error), 1.0)
    info["message"] = message[:500] if status == "ok" and isinstance(message, str) else ""
    where = _where(error)
    if where:
        info["cell"], info["line"] = where
    return info


def _run_cells(cells, namespace, out: _Out, timeout: float) -> None:
    for index, source in enumerate(cells, start=1):
        started = time.monotonic()
        header = {"kind": "cell", "index": index}
        try:
            code = compile(source, f"<cell {index}>", "exec")
        except SyntaxError as error:
            try:
                code = compile(strip_magics(source), f"<cell {index}>", "exec")
            except SyntaxError:
                header.update(status="syntax", error_type="SyntaxError", message=str(error.msg)[:300],
                              line=error.lineno, builtin=True)
                out.write(header)
                continue
        except Exception as error:  # noqa: BLE001 - ValueError (null bytes), RecursionError...
            header.update(status="syntax", error_type=type(error).__name__, message=str(error)[:300], builtin=True)
            out.write(header)
            continue
        status, value = _guard.guarded(lambda: exec(code, namespace), timeout)  # noqa: S102
        header["status"] = status
        if status == "error":
            header.update(_describe(value))
        header["seconds"] = round(time.monotonic() - started, 3)
        out.write(header)


def _run_calls(calls, arrays, namespace, out: _Out, timeout: float) -> None:
    for call in calls:
        started = time.monotonic()
        header = {"kind": "call", "id": call["id"]}
        fn = namespace.get(call["function"])
        if not callable(fn):
            header.update(status="missing", found=type(fn).__name__ if fn is not None else None)
            out.write(header)
            continue
        args = [decode_value(a, arrays) for a in call["args"]]
        kwargs = {k: decode_value(v, arrays) for k, v in call["kwargs"].items()}
        status, value = _guard.guarded(lambda: to_output(fn(*args, **kwargs)), timeout)
        blob = b""
        if status == "ok":
            try:
                blob = array_to_bytes(value)
            except Exception as error:  # noqa: BLE001
                status, value = "error", error
        header["status"] = status
        if status == "error":
            if isinstance(value, BadOutput):
                header.update(status="bad_type", type=value.type_name, detail=value.detail)
            else:
                header.update(_describe(value))
        header["seconds"] = round(time.monotonic() - started, 3)
        out.write(header, blob)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="cnnlab.grading._child")
    parser.add_argument("--result-fd", type=int, required=True)
    options = parser.parse_args(argv)
    out = _Out(options.result_fd)

    records, _ = read_records(sys.stdin.buffer.read())
    if not records or records[0][0].get("kind") != "request":
        out.write({"kind": "fatal", "message": "no request"})
        os._exit(2)
    request = records[0][0]
    arrays = {h["key"]: array_from_bytes(blob) for h, blob in records[1:] if h.get("kind") == "array"}
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)

    for name in request.get("preload", []):  # installed modules, before the drop (see sandbox.PRELOAD)
        if not any(name == f or name.startswith(f + ".") for f in request.get("forbidden_imports", [])):
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001
                pass
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the file-size limit, writes fail instead
    report = {"kind": "sandbox", "namespaces": False, "hidden": [], "errors": []}
    try:
        _isolate(request["sandbox"], report)
    except Exception as error:  # noqa: BLE001 - never run student code without the drop
        report["errors"].append(f"{type(error).__name__}: {error}")
        out.write(report)
        out.write({"kind": "fatal", "message": "isolation failed"})
        os._exit(3)
    out.write(report)

    limits = request["sandbox"]["limits"]
    cap = int(limits["output_kb"]) * 1024
    stdout = _CappedText(sys.stdout, cap)
    sys.stdout = sys.__stdout__ = stdout
    sys.stderr = sys.__stderr__ = _CappedText(sys.stderr, cap)
    if request.get("forbidden_imports"):
        sys.meta_path.insert(0, _ImportBlocker(request["forbidden_imports"]))
    main_module = types.ModuleType("__main__")
    namespace = main_module.__dict__
    namespace.update(__builtins__=builtins, display=lambda *objs, **kw: print(*objs))
    sys.modules["__main__"] = main_module
    sys.argv = ["notebook.ipynb"]

    _run_cells(request["cells"], namespace, out, float(limits["cell_timeout"]))
    _run_calls(request["calls"], arrays, namespace, out, float(limits["call_timeout"]))
    out.write({"kind": "done", "dropped_output": stdout.dropped})
    os._exit(0)


if __name__ == "__main__":
    main()
