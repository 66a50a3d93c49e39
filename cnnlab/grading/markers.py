"""A lab's source notebook, read: its markers -> questions, tests and settings, all checked.

Markers in the source notebook (in the spirit of nbgrader):

- ``### BEGIN SOLUTION`` / ``### END SOLUTION`` around the reference code, in any code cell (or
  markdown cell, for a written answer). In the student notebook the region becomes a stub at the
  same indentation that raises ``NotImplementedError``. A stub at the top level of a cell raises
  when the cell runs, so that cell is tagged ``raises-exception`` (the book build and nbval then let
  it pass).
- ``# question: q1, points: 3`` makes a code cell a *test cell* of question ``q1``. A test cell holds
  ``test("q1", ...)`` lines (see :mod:`cnnlab.grading.specs`) and usually ``check("q1")``.
- ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS`` inside a test cell: the tests in between are
  hidden. Hidden regions in markdown cells are instructor notes and are removed as well.

Optional lab settings live in the source notebook's metadata under ``cnnlab``: ``title``, ``limits``
(see :class:`cnnlab.grading.schema.Limits`), ``forbidden_imports``, ``hidden_visibility`` (Gradescope:
``after_published`` by default). What becomes of each marker in the student notebook is
:mod:`cnnlab.grading.student_notebook`'s business.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

from cnnlab.grading import notebook
from cnnlab.grading.schema import VISIBILITIES
from cnnlab.grading.specs import SpecError, TestSpec, is_call_to, parse_test_calls

SOLUTION_BEGIN = re.compile(r"^(?P<indent>[ \t]*)###\s*BEGIN SOLUTION\s*$")
SOLUTION_END = re.compile(r"^[ \t]*###\s*END SOLUTION\s*$")
HIDDEN_BEGIN = re.compile(r"^[ \t]*###\s*BEGIN HIDDEN TESTS\s*$")
HIDDEN_END = re.compile(r"^[ \t]*###\s*END HIDDEN TESTS\s*$")
QUESTION = re.compile(r"^[ \t]*#\s*question:\s*(?P<id>[A-Za-z][\w-]*)\s*,\s*points:\s*(?P<points>\d+(?:\.\d+)?)\s*$")
DEFAULT_CONFIG = {"limits": {}, "forbidden_imports": [], "hidden_visibility": "after_published"}


class AuthoringError(ValueError):
    """A source notebook that cannot become a lab; the message names the cell."""


@dataclass
class Question:
    """A question of the source notebook: its points, its title (the heading above it), its test cells."""

    id: str
    points: float
    title: str
    cells: list = field(default_factory=list)


@dataclass
class SourceLab:
    path: Path
    lab_id: str
    nb: dict
    title: str
    questions: list
    tests: list
    config: dict
    sha256: str

    def question(self, qid: str) -> Question:
        return next(q for q in self.questions if q.id == qid)



def marker_regions(lines, begin, end, where, what):
    """[(start, stop)] line ranges (inclusive) between begin and end markers, checked for nesting."""
    regions, start = [], None
    for i, line in enumerate(lines):
        if begin.match(line):
            if start is not None:
                raise AuthoringError(f"{where}, line {i + 1}: {what} opened twice (nested regions are not allowed)")
            start = i
        elif end.match(line):
            if start is None:
                raise AuthoringError(f"{where}, line {i + 1}: END of {what} without a BEGIN")
            regions.append((start, i))
            start = None
    if start is not None:
        raise AuthoringError(f"{where}, line {start + 1}: BEGIN of {what} is never closed")
    return regions


def _heading(markdown: str) -> str | None:
    """The first heading of a markdown cell, without a trailing "（3 分）"."""
    for line in markdown.splitlines():
        if line.startswith("#"):
            return re.sub(r"\s*[（(][^（）()]*(分|points?)[）)]\s*$", "", line.lstrip("#").strip())
    return None


def read_source(path) -> SourceLab:
    path = Path(path)
    lab_id = path.stem
    if not lab_id.isidentifier():
        raise AuthoringError(f"{path.name}: the lab name {lab_id!r} must be a Python identifier (lab2_conv_pool)")
    try:
        nb = notebook.loads(path.read_bytes())
    except notebook.NotebookError as error:
        raise AuthoringError(f"{path}: {error}") from None
    config = {**DEFAULT_CONFIG, **nb.get("metadata", {}).get("cnnlab", {})}
    if config["hidden_visibility"] not in VISIBILITIES:
        raise AuthoringError(f"metadata.cnnlab.hidden_visibility must be one of {sorted(VISIBILITIES)}")
    title, last_heading = config.get("title"), None
    questions: dict[str, Question] = {}
    tests: list[TestSpec] = []
    for index, cell in enumerate(nb["cells"]):
        where = f"{path.name}, cell {index + 1}"
        source = notebook.cell_source(cell)
        if source is None:
            raise AuthoringError(f"{where}: malformed cell")
        lines = source.split("\n")
        kind = cell.get("cell_type")
        if kind == "markdown":
            marker_regions(lines, SOLUTION_BEGIN, SOLUTION_END, where, "SOLUTION")
            marker_regions(lines, HIDDEN_BEGIN, HIDDEN_END, where, "HIDDEN TESTS")
            heading = _heading(source)
            if heading:
                last_heading = heading
                title = title or heading
            continue
        if kind != "code":
            continue
        solutions = marker_regions(lines, SOLUTION_BEGIN, SOLUTION_END, where, "SOLUTION")
        hidden = marker_regions(lines, HIDDEN_BEGIN, HIDDEN_END, where, "HIDDEN TESTS")
        markers = [QUESTION.match(line) for line in lines]
        markers = [m for m in markers if m]
        try:
            calls = parse_test_calls(source, where)
        except SpecError as error:
            raise AuthoringError(str(error)) from None
        if not markers:
            if calls or hidden:
                raise AuthoringError(f"{where}: test(...) or hidden tests outside a test cell "
                                     "(a test cell starts with `# question: q1, points: 3`)")
            continue
        if len(markers) > 1:
            raise AuthoringError(f"{where}: one `# question:` marker per cell")
        if solutions:
            raise AuthoringError(f"{where}: a test cell cannot hold a SOLUTION region")
        qid, points = markers[0]["id"], float(markers[0]["points"])
        if qid in questions and questions[qid].points != points:
            raise AuthoringError(f"{where}: question {qid} has {points:g} points here and "
                                 f"{questions[qid].points:g} in an earlier cell")
        question = questions.setdefault(qid, Question(qid, points, last_heading or qid))
        question.cells.append(index)
        for stmt, spec in calls:
            if spec.question != qid:
                raise AuthoringError(f"{where}, line {stmt.lineno}: test({spec.question!r}, ...) in the cell of {qid}")
            spec.hidden = any(a <= stmt.lineno - 1 <= b for a, b in hidden)
            tests.append(spec)
        tree = ast.parse(source)
        for stmt in tree.body:
            if not (is_call_to(stmt, "test") or is_call_to(stmt, "check")):
                raise AuthoringError(f"{where}, line {stmt.lineno}: a test cell holds only test(...) and "
                                     f"check(...) lines, found `{ast.unparse(stmt)[:60]}`")
    if not questions:
        raise AuthoringError(f"{path.name}: no test cell (`# question: q1, points: 3`) found")
    counters: dict[str, int] = {}
    for spec in tests:
        counters[spec.question] = counters.get(spec.question, 0) + 1
        spec.id = f"{spec.question}.{counters[spec.question]}"
    for q in questions.values():
        if q.id not in counters:
            raise AuthoringError(f"{path.name}: question {q.id} has no tests")
        if q.points <= 0:
            raise AuthoringError(f"{path.name}: question {q.id} must be worth more than 0 points")
    return SourceLab(path, lab_id, nb, title or lab_id, list(questions.values()), tests, config,
                     notebook.canonical_hash(nb))

