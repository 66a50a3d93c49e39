"""Grade a class: a folder of submitted notebooks -> one results.json each + a gradebook CSV.

Every entry of the folder is accounted for: a notebook gets a valid results.json whatever it does (an
unreadable file gets zero with a message, a crash or a timeout gets what ran before it, an error inside
the grader itself gets an "internal error" result instead of stopping the batch); anything else (a
folder, a symbolic link, a FIFO, a file that is not ``.ipynb``) gets a gradebook line saying why it
was not graded. Student ids are escaped file names (:func:`scan_submissions`): printable, unique, and
never a name the grader itself writes. Submissions are only ever read, never through a symbolic link.
Results are written atomically; a re-run skips a student whose results.json was made from the same
submission bytes and the same bundle (``force=True`` regrades everyone).

Submissions run in parallel, ``jobs`` at a time (default: the CPUs this process may use), each in
its own child process and its own sandbox uid (see :mod:`cnnlab.grading.sandbox`).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from queue import Queue

from cnnlab.grading import notebook, results
from cnnlab.grading.atomic import atomic_write
from cnnlab.grading.bundle import Bundle, lock_down
from cnnlab.grading.compare import safe_text
from cnnlab.grading.gradebook import gradebook_csv
from cnnlab.grading.sandbox import UIDS_PER_GRADER, Limits, Sandbox
from cnnlab.grading.scoring import MAX_RERUNS, Rerun


@dataclass
class ClassReport:
    graded: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    seconds: float = 0.0
    rows: list = field(default_factory=list)
    gradebook: Path | None = None
    warnings: list = field(default_factory=list)
    refused: list = field(default_factory=list)      # entries not graded, each with its reason
    isolation: str = ""
    uids: range = range(0)                           # the sandbox uids this grading used


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


class LoadedLab:
    """A bundle ready for grading, plus the paths a child must never see. The bundle of a source
    notebook is built in memory and never written to disk (so no copy of the hidden tests can outlive
    the grader, even a killed one). A context manager, for symmetry with the callers."""

    def __init__(self, lab_path):
        self.lab_path = Path(lab_path).resolve()
        self.secrets: list[str] = []
        self.warnings: list[str] = []
        if self.lab_path.is_dir():
            fixed = lock_down(self.lab_path) if _is_root() else []
            if fixed:
                self.warnings.append(f"the bundle was readable by other users; fixed permissions of {len(fixed)} paths")
            self.bundle = Bundle.load(self.lab_path)
            self.secrets.append(str(self.lab_path))
            source = self.bundle.lab.source_path
            if os.path.isabs(source):  # the source, if it is on this machine
                self.secrets += [os.path.dirname(source), source]
        elif self.lab_path.suffix == ".ipynb":
            from cnnlab.grading.authoring import build_bundle, read_source
            self.bundle = build_bundle(read_source(self.lab_path))
            self.secrets += [str(self.lab_path.parent), str(self.lab_path)]
        else:
            raise FileNotFoundError(f"--lab {lab_path}: neither a bundle directory nor a source .ipynb")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def evaluate(cells, bundle: Bundle, sandbox: Sandbox, *, slot: int = 0, limits: Limits | None = None):
    """Run a submission's cells, the bundle's public calls and then its hidden calls; returns
    ``(outcome, reruns)``, ``reruns`` a list of :class:`scoring.Rerun`.

    The hidden tests' inputs reach the child only after its public results are final (see
    :meth:`Sandbox.run`). When the process does not reach the end (the watchdog killed it, or the
    student's code exited or crashed it), the cell or the call it died in is identified and the
    submission runs again with that cell replaced by ``pass`` (or that function's remaining calls
    failed), at most :data:`MAX_RERUNS` times. A stray ``while True`` or ``os._exit`` in a scratch cell
    then costs only that cell, as it would in a notebook the student interrupts by hand. Outputs already
    received are kept across runs; the feedback on cells comes from the first run.
    """
    hidden_ids = {t.id for t in bundle.tests if t.hidden}
    calls = bundle.calls()
    arrays = bundle.input_arrays()
    skip_cells: set[int] = set()
    received: dict = {}
    reruns: list[Rerun] = []
    first = None
    hidden_sent = False
    for _ in range(MAX_RERUNS + 1):
        run_cells = [("pass  # skipped by the grader" if i in skip_cells else src) for i, src in enumerate(cells, 1)]
        # once a run was given the hidden inputs, no later run computes a public result: a student could
        # keep them where the next run finds them (uid-only mode: the machine's /tmp) and show them there
        public = [] if hidden_sent else [c for c in calls if c["id"] not in received and c["id"] not in hidden_ids]
        hidden = [c for c in calls if c["id"] not in received and c["id"] in hidden_ids]
        outcome = sandbox.run(run_cells, public, arrays, slot=slot, limits=limits, hidden_calls=hidden)
        if outcome.fatal or not outcome.started:  # the child failed before any student code ran
            raise RuntimeError(f"the grading child did not start: {outcome.fatal or ''} {outcome.log_tail[-800:]}")
        first = first or outcome
        received.update(outcome.calls)
        hidden_sent = hidden_sent or (outcome.public_done and bool(hidden))
        if outcome.done:
            break
        finished = [c.get("index") for c in outcome.cells if isinstance(c.get("index"), int)]
        culprit = (max(finished) if finished else 0) + 1
        if not outcome.public_done and culprit <= len(cells):
            skip_cells.add(culprit)
            reruns.append(Rerun(outcome.killed, cell=culprit))
        else:
            victim = next((c for c in (hidden if outcome.public_done else public) if c["id"] not in outcome.calls),
                          None)
            if victim is None:
                break
            # that function had its chance: its remaining tests (hidden ones too) fail, the others run again
            for c in public + hidden:
                if c["function"] == victim["function"] and c["id"] not in outcome.calls:
                    received[c["id"]] = ({"status": "killed" if outcome.killed else "crashed"}, b"")
            reruns.append(Rerun(outcome.killed, test_id=victim["id"], function=victim["function"]))
    merged = outcome
    merged.calls = received
    merged.cells = first.cells
    return merged, reruns


def grade_bytes(data: bytes, bundle: Bundle, sandbox: Sandbox, *, student: str, slot: int = 0,
                limits: Limits | None = None) -> dict:
    """Grade one submission given as bytes. Always returns a results dict."""
    started = time.monotonic()
    sha = hashlib.sha256(data).hexdigest()
    common = {"student": student, "submission_sha256": sha, "isolation": sandbox.isolation}
    try:
        try:
            nb = notebook.loads(data)
        except notebook.NotebookError as error:
            return results.build(bundle, problem=f"无法评分：{error}", status="invalid",
                                 execution_time=time.monotonic() - started, **common)
        cells = notebook.code_cells(nb)
        outcome, reruns = evaluate(cells, bundle, sandbox, slot=slot, limits=limits)
        return results.build(bundle, outcome=outcome, cells=cells, reruns=reruns, execution_time=time.monotonic() - started,
                             limits=limits or sandbox.limits, **common)
    except Exception as error:  # noqa: BLE001 - a grader bug must not cost the batch
        print(safe_text(f"cnnlab-grade: internal error while grading {student}: {type(error).__name__}: {error}", 2000),
              file=sys.stderr)
        return results.build(bundle, status="error", problem="评分系统内部错误，这份提交没有得到评分，请联系助教。",
                             execution_time=time.monotonic() - started, **common)


def _already_graded(path: Path, sha: str, bundle_sha: str):
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
        extra = old["extra_data"]
        if extra["submission_sha256"] == sha and extra["bundle_sha256"] == bundle_sha and extra["status"] != "error":
            return old
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


# ----------------------------------------------------------------------------- the submissions folder

#: names in the results folder that belong to the grader; no student id can take one (compared casefolded)
RESERVED = {"gradebook.csv"}
_ESCAPED = set("/\\%~")


@dataclass
class Entry:
    """One entry of the submissions folder: graded (``problem`` is None) or refused, with the reason."""

    raw: bytes                  # the name as the file system has it
    student: str                # the student id: safe as a folder name, unique in the folder
    shown: str                  # the name as printable text
    path: Path | None = None
    problem: str | None = None  # why it is not graded (Chinese)
    note: str = ""              # something the instructor should know about an entry that is graded


def _escape(raw: bytes) -> str:
    """A file name -> a student id: printable UTF-8 kept, anything else (control characters, bytes
    that are not UTF-8, path separators, %, ~) as %XX; never starting with a dot, never a name the
    grader uses. Different names give different ids."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    out = []
    if text is None:
        out = [chr(b) if 0x20 < b < 0x7F and chr(b) not in _ESCAPED else f"%{b:02X}" for b in raw]
    else:
        for ch in text:
            ok = ch.isprintable() and ch not in _ESCAPED and not (ch.isspace() and ch != " ")
            out.append(ch if ok else "".join(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass")))
    if out and (out[0] == "." or "".join(out).casefold() in RESERVED):
        out[0] = "".join(f"%{b:02X}" for b in out[0].encode("utf-8"))
    return "".join(out) or "%"


def _shown(raw: bytes) -> str:
    try:
        return safe_text(raw.decode("utf-8"), 200)
    except UnicodeDecodeError:
        return _escape(raw)


def scan_submissions(folder) -> list[Entry]:
    """Every entry of ``folder``, each graded or refused with a reason; nothing is opened here and
    symbolic links are never followed."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder of submissions")
    entries = []
    for raw in sorted(os.listdir(os.fsencode(folder))):
        is_notebook = raw.lower().endswith(b".ipynb") and len(raw) > len(b".ipynb")
        entry = Entry(raw, _escape(raw[:-6] if is_notebook and raw.endswith(b".ipynb") else raw), _shown(raw))
        path = folder / os.fsdecode(raw)
        try:
            mode = os.lstat(path).st_mode
        except OSError as error:
            entry.problem = f"无法读取（{error.strerror}）。"
            entries.append(entry)
            continue
        if stat.S_ISLNK(mode):
            entry.problem = "是符号链接：评分器不跟随符号链接，请提交笔记本文件本身。"
        elif stat.S_ISDIR(mode):
            entry.problem = "是文件夹，不是 .ipynb 文件，没有评分。"
        elif not stat.S_ISREG(mode):
            entry.problem = "不是普通文件（管道、设备或套接字），没有评分。"
        elif not is_notebook:
            entry.problem = "不是 .ipynb 文件，没有评分。"
        else:
            entry.path = path
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                guess = raw.decode("gb18030", "replace")
                entry.note = f"文件名不是 UTF-8（按 GBK 读作 {safe_text(guess, 80)}）"
        entries.append(entry)
    seen: dict[str, int] = {}
    for entry in entries:  # ids that differ only in case, or by .IPYNB/.ipynb, get ~2, ~3 (~ is escaped)
        key = entry.student.casefold()
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            entry.student += f"~{seen[key]}"
    return entries


def read_submission(path) -> bytes:
    """The bytes of a regular file, read-only, at most one byte past the size limit. A symbolic link,
    a FIFO or a device is refused without being read (and a FIFO cannot block the grader)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0))
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        return fh.read(notebook.MAX_NOTEBOOK_BYTES + 1)


def grade_class(submissions_dir, lab_path, out_dir, *, jobs: int | None = None, force: bool = False,
                overrides: dict | None = None, isolation: str = "bwrap", progress=None) -> ClassReport:
    """Grade every ``*.ipynb`` of ``submissions_dir`` against the lab (a source notebook or a bundle
    folder); ``overrides`` changes the lab's limits (``{"call_timeout": 2}``). Every other entry of the
    folder gets a line in the gradebook that says why it was not graded."""
    started = time.monotonic()
    out_dir = Path(out_dir)
    entries = scan_submissions(submissions_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = ClassReport()
    todo = [e for e in entries if e.problem is None]
    jobs = max(1, min(jobs or default_jobs(), len(todo) or 1, UIDS_PER_GRADER))
    with LoadedLab(lab_path) as lab:
        bundle = lab.bundle
        report.warnings += lab.warnings
        limits = bundle.lab.limits.updated(**(overrides or {}))
        secrets = lab.secrets + [str(Path(submissions_dir).resolve()), str(out_dir.resolve())]
        sandbox = Sandbox(limits, secrets=secrets, forbidden_imports=bundle.lab.forbidden_imports,
                          isolation=isolation)
        report.isolation = sandbox.describe()
        report.uids = range(sandbox.uid_base, sandbox.uid_base + jobs)
        report.warnings += sandbox.warnings()
        bundle_sha = bundle.sha256()
        slots: Queue = Queue()
        for slot in range(jobs):
            slots.put(slot)
        lock = threading.Lock()

        def one(entry: Entry):
            try:
                grade_file(entry)
            except Exception as error:  # noqa: BLE001 - one bad file must not stop the class
                entry.problem = f"评分时出错：{safe_text(f'{type(error).__name__}: {error}', 200)}"
                print(safe_text(f"cnnlab-grade: {entry.shown}: {type(error).__name__}: {error}", 500), file=sys.stderr)

        def grade_file(entry: Entry):
            target = out_dir / entry.student / "results.json"
            try:
                data = read_submission(entry.path)
            except OSError as error:
                entry.problem = f"无法读取（{safe_text(error.strerror or str(error), 100)}），没有评分。"
                return
            sha = hashlib.sha256(data).hexdigest()
            if not force:
                old = _already_graded(target, sha, bundle_sha)
                if old is not None:
                    with lock:
                        report.skipped.append(entry.student)
                        report.rows.append(old)
                    return
            slot = slots.get()
            try:
                res = grade_bytes(data, bundle, sandbox, student=entry.student, slot=slot, limits=limits)
            finally:
                slots.put(slot)
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(target, results.dumps(res))
            with lock:
                report.graded.append(entry.student)
                report.rows.append(res)
                if progress:
                    progress(entry.student, res)

        with sandbox, ThreadPoolExecutor(max_workers=jobs) as pool:
            for future in [pool.submit(one, e) for e in todo]:
                future.result()
        report.refused = [e for e in entries if e.problem is not None]
        notes = {e.student: e.note for e in entries if e.note}
        report.gradebook = out_dir / "gradebook.csv"
        atomic_write(report.gradebook, gradebook_csv(
            report.rows, [q.id for q in bundle.questions], refused=[(e.student, e.shown, e.problem)
                                                                       for e in report.refused], notes=notes))
    report.seconds = time.monotonic() - started
    return report
