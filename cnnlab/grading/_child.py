"""The only process that runs a student's code. It computes outputs; it never decides a grade.

Started by :mod:`cnnlab.grading.sandbox` (inside bubblewrap, already under the run's unprivileged uid) as
``python -s -m cnnlab.grading._child --result-fd N --hidden-fd M``, with a clean environment; its stdin is
the in-memory request, stdout/stderr a pipe the grader only keeps the tail of, fd N the result pipe and
fd M the pipe the hidden tests will come through. No path to anything is given. In order, it:

1. reads the request from stdin: the code cells (each a record of its own, so a cell may be as large
   as a notebook may be), the *public* calls to evaluate (function name and argument arrays, no
   expected outputs) and the limits; then points stdin at /dev/null;
2. sets resource limits (address space, CPU, file size, processes, open files, no core files) and
   reports who it is (``sandbox``: uid and pid, which the grader checks) and ``start``: from here on,
   the grader trusts nothing but cell and call records from it;
3. runs the code cells in order in a fresh ``__main__`` namespace, each under a time limit; a cell
   that fails is recorded and the next cell runs, as in a notebook run with "continue on error";
4. calls each public test's function on copies of its inputs, under a time limit, writing each output
   as an ``.npy`` record the moment it has it (so a later crash loses nothing before it); ``public_done``;
5. only then reads the hidden tests from fd M (the grader sends them once the public results are
   final, so nothing they contain can reach what the student sees) and evaluates them; ``done``;
6. leaves with ``os._exit`` (no atexit hooks of student code run).

Anything the student's code does to this process (monkeypatching numpy or cnnlab, exiting, printing
fake results, writing records) can change only the outputs recorded here, which the grader then
compares with reference outputs this process never had.
"""

from __future__ import annotations

import argparse
import builtins
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
        except Exception:  # noqa: BLE001 - a closed pipe loses the record, not the run
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


def _set_limits(limits: dict) -> list[str]:
    """Kernel-enforced from here on: the student's code runs without the right to raise them."""
    errors = []
    mb = 1024 * 1024
    for name, soft, hard in (
        ("RLIMIT_AS", limits["memory_mb"] * mb, limits["memory_mb"] * mb),
        ("RLIMIT_CPU", int(limits["cpu_seconds"]), int(limits["cpu_seconds"]) + 2),
        ("RLIMIT_FSIZE", limits["file_mb"] * mb, limits["file_mb"] * mb),
        ("RLIMIT_NOFILE", limits["nofile"], limits["nofile"]),
        ("RLIMIT_NPROC", limits["nproc"], limits["nproc"]),
        ("RLIMIT_MSGQUEUE", 1 * mb, 1 * mb),
        ("RLIMIT_CORE", 0, 0),
    ):
        if hasattr(resource, name):
            which = getattr(resource, name)
            current = resource.getrlimit(which)[1]
            if current != resource.RLIM_INFINITY:  # never ask for more than we have
                soft, hard = min(soft, current), min(hard, current)
            try:
                resource.setrlimit(which, (int(soft), int(hard)))
            except (ValueError, OSError) as error:
                errors.append(f"{name}: {error}")
    return errors


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


def _read_message(data: bytes):
    """(header of the first record, {array key: array}, [cell sources]) of a request."""
    records, _ = read_records(data)
    if not records:
        return None, {}, []
    arrays = {h["key"]: array_from_bytes(blob) for h, blob in records[1:] if h.get("kind") == "array"}
    cells = [blob.decode("utf-8", "surrogatepass") for h, blob in records[1:] if h.get("kind") == "cell_source"]
    return records[0][0], arrays, cells


def _read_fd(fd: int) -> bytes:
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="cnnlab.grading._child")
    parser.add_argument("--result-fd", type=int, required=True)
    parser.add_argument("--hidden-fd", type=int, default=-1)
    options = parser.parse_args(argv)
    out = _Out(options.result_fd)

    request, arrays, cells = _read_message(sys.stdin.buffer.read())
    if not request or request.get("kind") != "request":
        out.write({"kind": "fatal", "message": "no request"})
        os._exit(2)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the file-size limit, writes fail instead
    limits = request["limits"]
    errors = _set_limits(limits)
    if errors:
        out.write({"kind": "fatal", "message": "; ".join(errors)})
        os._exit(3)
    out.write({"kind": "sandbox", "uid": os.getuid(), "pid": os.getpid()})

    cap = int(limits["output_kb"]) * 1024
    stdout = _CappedText(sys.stdout, cap)
    sys.stdout = sys.__stdout__ = stdout
    sys.stderr = sys.__stderr__ = _CappedText(sys.stderr, cap)
    main_module = types.ModuleType("__main__")
    namespace = main_module.__dict__
    namespace.update(__builtins__=builtins, display=lambda *objs, **kw: print(*objs))
    sys.modules["__main__"] = main_module
    sys.argv = ["notebook.ipynb"]

    out.write({"kind": "start"})
    _run_cells(cells, namespace, out, float(limits["cell_timeout"]))
    _run_calls(request["calls"], arrays, namespace, out, float(limits["call_timeout"]))
    out.write({"kind": "public_done", "dropped_output": stdout.dropped})
    if request.get("hidden") and options.hidden_fd >= 0:
        hidden, hidden_arrays, _ = _read_message(_read_fd(options.hidden_fd))
        if hidden and hidden.get("kind") == "hidden":
            _run_calls(hidden["calls"], hidden_arrays, namespace, out, float(limits["call_timeout"]))
    out.write({"kind": "done"})
    os._exit(0)


if __name__ == "__main__":
    main()
