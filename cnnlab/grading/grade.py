"""Grade a class: a folder of submitted notebooks -> one results.json each + a gradebook CSV.

Every submission gets a valid results.json, whatever it does: an unreadable file gets zero with a
message, a crash or a timeout gets what ran before it, an error inside the grader itself gets an
"internal error" result instead of stopping the batch. Submissions are only ever read. Results are
written atomically; a re-run skips a student whose results.json was made from the same submission
bytes and the same bundle (``force=True`` regrades everyone).

Submissions run in parallel, ``jobs`` at a time (default: the CPUs this process may use), each in
its own child process and its own sandbox uid (see :mod:`cnnlab.grading.sandbox`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from queue import Queue

from cnnlab.grading import notebook, results
from cnnlab.grading.bundle import Bundle, lock_down
from cnnlab.grading.sandbox import UIDS_PER_GRADER, Limits, Sandbox


@dataclass
class ClassReport:
    graded: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    seconds: float = 0.0
    rows: list = field(default_factory=list)
    gradebook: Path | None = None
    warnings: list = field(default_factory=list)


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


class LoadedLab:
    """A bundle ready for grading, plus the paths a child must not see. Use as a context manager:
    a bundle built from a source notebook lives in a private temporary directory until exit."""

    def __init__(self, lab_path):
        self.lab_path = Path(lab_path).resolve()
        self.hide: list[str] = []
        self.warnings: list[str] = []
        self._tmp = None
        if self.lab_path.is_dir():
            fixed = lock_down(self.lab_path) if _is_root() else []
            if fixed:
                self.warnings.append(f"the bundle was readable by other users; fixed permissions of {len(fixed)} paths")
            self.bundle = Bundle.load(self.lab_path)
            self.hide.append(str(self.lab_path))
            source = self.bundle.lab.get("source_path")
            if isinstance(source, str) and os.path.isabs(source):  # the source, if it is on this machine
                self.hide += [os.path.dirname(source), source]
        elif self.lab_path.suffix == ".ipynb":
            from cnnlab.grading.authoring import build_bundle, read_source
            self._tmp = tempfile.mkdtemp(prefix="cnnlab-bundle-")
            os.chmod(self._tmp, 0o700)
            self.bundle = build_bundle(read_source(self.lab_path))
            self.bundle.save(Path(self._tmp) / self.bundle.lab_id)
            # the source holds the hidden tests and the solutions: hide its whole folder when we can
            self.hide += [str(self.lab_path.parent), str(self.lab_path), self._tmp]
            if _is_root() and self.lab_path.stat().st_mode & 0o004:
                self.warnings.append(f"{self.lab_path} is readable by other users; it is hidden from student "
                                     "code by a mount namespace where the kernel allows one (see labs/README.md)")
        else:
            raise FileNotFoundError(f"--lab {lab_path}: neither a bundle directory nor a source .ipynb")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


#: how many times a submission is run again after a cell or a call killed its process
MAX_RERUNS = 2


def evaluate(cells, bundle: Bundle, sandbox: Sandbox, *, slot: int = 0, limits: Limits | None = None):
    """Run a submission's cells and the bundle's calls; returns ``(outcome, notes)``.

    When the process does not reach the end (the watchdog killed it, or the student's code exited or
    crashed it), the cell or the call it died in is identified and the submission runs again with that
    cell replaced by ``pass`` (or that function's remaining calls failed), at most :data:`MAX_RERUNS` times. A
    stray ``while True`` or ``os._exit`` in a scratch cell then costs only that cell, as it would in
    a notebook the student interrupts by hand. Outputs already received are kept across runs.
    """
    calls = bundle.calls()
    arrays = bundle.input_arrays()
    skip_cells: dict[int, str] = {}
    received: dict = {}
    notes: list[str] = []
    first = None
    for attempt in range(MAX_RERUNS + 1):
        run_cells = [("pass  # skipped by the grader" if i in skip_cells else src) for i, src in enumerate(cells, 1)]
        pending = [c for c in calls if c["id"] not in received]
        outcome = sandbox.run(run_cells, pending, arrays, slot=slot, limits=limits)
        if outcome.fatal or not outcome.sandbox:  # the child failed before any student code ran
            raise RuntimeError(f"the grading child did not start: {outcome.fatal or ''} "
                               f"{outcome.sandbox.get('errors', '')} {outcome.log_tail[-800:]}")
        first = first or outcome
        received.update(outcome.calls)
        if outcome.done:
            break
        how = "运行超时被终止" if outcome.killed else "使程序退出或崩溃"
        finished = [c.get("index") for c in outcome.cells if isinstance(c.get("index"), int)]
        culprit = (max(finished) if finished else 0) + 1
        if culprit <= len(cells):
            skip_cells[culprit] = how
            notes.append(f"{results.cell_label(cells, culprit)}{how}；评分时跳过了这个单元格，重新运行了其余部分。")
        else:
            victim = next((c for c in pending if c["id"] not in outcome.calls), None)
            if victim is None:
                break
            # that function had its chance: its remaining tests fail too, the other functions run again
            for c in pending:
                if c["function"] == victim["function"] and c["id"] not in outcome.calls:
                    received[c["id"]] = ({"status": "killed" if outcome.killed else "crashed"}, b"")
            notes.append(f"测试 {victim['id']}（函数 {victim['function']}）{how}；这个函数余下的测试记为未通过，"
                         "其余测试重新运行。")
        if attempt == MAX_RERUNS:
            notes.append("重新运行的次数已用完，剩下的测试没有结果。")
    merged = outcome
    merged.calls = received
    merged.cells = first.cells
    return merged, notes


def grade_bytes(data: bytes, bundle: Bundle, sandbox: Sandbox, *, student: str, slot: int = 0,
                limits: Limits | None = None) -> dict:
    """Grade one submission given as bytes. Always returns a results dict."""
    started = time.monotonic()
    sha = hashlib.sha256(data).hexdigest()
    try:
        try:
            nb = notebook.loads(data)
        except notebook.NotebookError as error:
            return results.build(bundle, student=student, submission_sha256=sha, problem=f"无法评分：{error}",
                                 status="invalid", execution_time=time.monotonic() - started)
        cells = notebook.code_cells(nb)
        outcome, notes = evaluate(cells, bundle, sandbox, slot=slot, limits=limits)
        return results.build(bundle, student=student, submission_sha256=sha, outcome=outcome, cells=cells,
                             notes=notes, execution_time=time.monotonic() - started, limits=limits or sandbox.limits)
    except Exception as error:  # noqa: BLE001 - a grader bug must not cost the batch
        print(f"cnnlab-grade: internal error while grading {student}: {type(error).__name__}: {error}",
              file=sys.stderr)
        return results.build(bundle, student=student, submission_sha256=sha, status="error",
                             problem="评分系统内部错误，这份提交没有得到评分，请联系助教。",
                             execution_time=time.monotonic() - started)


def _already_graded(path: Path, sha: str, bundle_sha: str):
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
        extra = old["extra_data"]
        if extra["submission_sha256"] == sha and extra["bundle_sha256"] == bundle_sha and extra["status"] != "error":
            return old
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def read_submission(path) -> bytes:
    """The bytes of a submission, read-only, at most one byte past the size limit."""
    with open(path, "rb") as fh:
        return fh.read(notebook.MAX_NOTEBOOK_BYTES + 1)


def find_submissions(folder) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder of submissions")
    return sorted(p for p in folder.iterdir() if p.suffix == ".ipynb" and not p.name.startswith(".")
                  and p.is_file())


def grade_class(submissions_dir, lab_path, out_dir, *, jobs: int | None = None, force: bool = False,
                overrides: dict | None = None, namespaces: bool = True, progress=None) -> ClassReport:
    """Grade every ``*.ipynb`` of ``submissions_dir`` against the lab (a source notebook or a bundle
    folder); ``overrides`` changes the lab's limits (``{"call_timeout": 2}``)."""
    started = time.monotonic()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = ClassReport()
    submissions = find_submissions(submissions_dir)
    jobs = max(1, min(jobs or default_jobs(), len(submissions) or 1, UIDS_PER_GRADER))
    with LoadedLab(lab_path) as lab:
        bundle = lab.bundle
        report.warnings += lab.warnings
        limits = Limits().updated(**bundle.lab["limits"]).updated(**(overrides or {}))
        sandbox = Sandbox(limits, hide=lab.hide + [str(Path(submissions_dir).resolve()), str(out_dir.resolve())],
                          forbidden_imports=bundle.lab.get("forbidden_imports", []), namespaces=namespaces)
        report.warnings += sandbox.warnings()
        bundle_sha = bundle.sha256()
        slots: Queue = Queue()
        for slot in range(jobs):
            slots.put(slot)
        lock = threading.Lock()

        def one(path: Path):
            try:
                grade_file(path)
            except Exception as error:  # noqa: BLE001 - one bad file must not stop the class
                print(f"cnnlab-grade: {path.name}: {type(error).__name__}: {error}", file=sys.stderr)

        def grade_file(path: Path):
            student = path.stem
            target = out_dir / student / "results.json"
            data = read_submission(path)
            sha = hashlib.sha256(data).hexdigest()
            if not force:
                old = _already_graded(target, sha, bundle_sha)
                if old is not None:
                    with lock:
                        report.skipped.append(student)
                        report.rows.append(old)
                    return
            slot = slots.get()
            try:
                res = grade_bytes(data, bundle, sandbox, student=student, slot=slot, limits=limits)
            finally:
                slots.put(slot)
            target.parent.mkdir(parents=True, exist_ok=True)
            results.atomic_write(target, results.dumps(res))
            with lock:
                report.graded.append(student)
                report.rows.append(res)
                if progress:
                    progress(student, res)

        with sandbox, ThreadPoolExecutor(max_workers=jobs) as pool:
            for future in [pool.submit(one, p) for p in submissions]:
                future.result()
        report.gradebook = out_dir / "gradebook.csv"
        results.atomic_write(report.gradebook, results.gradebook_csv(report.rows, [q["id"] for q in bundle.questions]))
    report.seconds = time.monotonic() - started
    return report
