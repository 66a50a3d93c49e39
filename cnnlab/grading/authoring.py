"""One source notebook per lab -> the student notebook, the public test data, the grading bundle.

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

In the student notebook every ``test(...)`` line is removed (public test data ships with the package,
see :func:`public_data`) and the hidden regions vanish with their markers; ``check("q1")`` stays.
Outputs and execution counts are never copied. Optional lab settings live in the source notebook's
metadata under ``cnnlab``: ``title``, ``limits`` (see :class:`sandbox.Limits`), ``forbidden_imports``,
``hidden_visibility`` (Gradescope: ``after_published`` by default).
"""

from __future__ import annotations

import ast
import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cnnlab.grading import notebook
from cnnlab.grading.bundle import FORMAT, Bundle
from cnnlab.grading.compare import judge
from cnnlab.grading.protocol import array_from_bytes, encode_value
from cnnlab.grading.specs import InputSpec, SpecError, TestSpec, is_call_to, parse_test_calls

SOLUTION_BEGIN = re.compile(r"^(?P<indent>[ \t]*)###\s*BEGIN SOLUTION\s*$")
SOLUTION_END = re.compile(r"^[ \t]*###\s*END SOLUTION\s*$")
HIDDEN_BEGIN = re.compile(r"^[ \t]*###\s*BEGIN HIDDEN TESTS\s*$")
HIDDEN_END = re.compile(r"^[ \t]*###\s*END HIDDEN TESTS\s*$")
QUESTION = re.compile(r"^[ \t]*#\s*question:\s*(?P<id>[A-Za-z][\w-]*)\s*,\s*points:\s*(?P<points>\d+(?:\.\d+)?)\s*$")
STUB_CODE = ["# 在这里写你的代码（写好后删掉下面这行 raise）", 'raise NotImplementedError("请完成这部分代码")']
STUB_MARKDOWN = ["（在这里写下你的答案）"]
DEFAULT_CONFIG = {"limits": {}, "forbidden_imports": [], "hidden_visibility": "after_published"}
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}


class AuthoringError(ValueError):
    """A source notebook that cannot become a lab; the message names the cell."""


@dataclass
class Question:
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


# ----------------------------------------------------------------------------- parsing


def _regions(lines, begin, end, where, what):
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
            _regions(lines, SOLUTION_BEGIN, SOLUTION_END, where, "SOLUTION")
            _regions(lines, HIDDEN_BEGIN, HIDDEN_END, where, "HIDDEN TESTS")
            heading = _heading(source)
            if heading:
                last_heading = heading
                title = title or heading
            continue
        if kind != "code":
            continue
        solutions = _regions(lines, SOLUTION_BEGIN, SOLUTION_END, where, "SOLUTION")
        hidden = _regions(lines, HIDDEN_BEGIN, HIDDEN_END, where, "HIDDEN TESTS")
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


# ----------------------------------------------------------------------------- student notebook


def _replace_regions(lines, regions, replacement_for):
    out, skip_until = [], -1
    starts = {a: b for a, b in regions}
    for i, line in enumerate(lines):
        if i <= skip_until:
            continue
        if i in starts:
            out.extend(replacement_for(line))
            skip_until = starts[i]
            continue
        out.append(line)
    return out


def _tidy(lines) -> list[str]:
    out = []
    for line in lines:
        if not line.strip() and (not out or not out[-1].strip()):
            continue
        out.append(line.rstrip())
    while out and not out[-1].strip():
        out.pop()
    return out


def _student_cell(cell: dict, solutions: bool) -> dict | None:
    source = notebook.cell_source(cell)
    lines = source.split("\n")
    kind = cell["cell_type"]
    new = {"cell_type": kind, "metadata": copy.deepcopy(cell.get("metadata", {})), "source": ""}
    if "id" in cell:
        new["id"] = cell["id"]
    top_level_stub = False
    if kind in ("code", "markdown"):
        hidden = _regions(lines, HIDDEN_BEGIN, HIDDEN_END, "", "")
        drop = {i for a, b in hidden for i in range(a, b + 1)}
        if kind == "code" and any(QUESTION.match(line) for line in lines):
            for stmt in ast.parse(source).body:
                if is_call_to(stmt, "test"):
                    drop.update(range(stmt.lineno - 1, stmt.end_lineno))
        solution = _regions(lines, SOLUTION_BEGIN, SOLUTION_END, "", "")
        if solutions:
            drop.update(i for a, b in solution for i in (a, b))
            lines = [line for i, line in enumerate(lines) if i not in drop]
        else:
            def stub(line):
                nonlocal top_level_stub
                indent = SOLUTION_BEGIN.match(line)["indent"]
                top_level_stub = top_level_stub or (kind == "code" and indent == "")
                return [indent + s for s in (STUB_CODE if kind == "code" else STUB_MARKDOWN)]
            kept = [(i, line) for i, line in enumerate(lines) if i not in drop]
            index_map = {orig: new_i for new_i, (orig, _) in enumerate(kept)}
            regions = [(index_map[a], index_map[b]) for a, b in solution]
            lines = _replace_regions([line for _, line in kept], regions, stub)
        if drop:
            lines = _tidy(lines)
        if kind == "code" and all(not line.strip() or line.lstrip().startswith("#") for line in lines):
            if any(QUESTION.match(line) for line in lines) or not lines:
                return None  # a test cell left with nothing to run
    new["source"] = notebook.split_lines("\n".join(lines))
    if kind == "code":
        new["outputs"] = []
        new["execution_count"] = None
        if top_level_stub:
            tags = new["metadata"].setdefault("tags", [])
            if "raises-exception" not in tags:
                tags.append("raises-exception")
    elif "attachments" in cell:
        new["attachments"] = copy.deepcopy(cell["attachments"])
    return new


def student_notebook(src: SourceLab, solutions: bool = False) -> dict:
    """The notebook students get (``solutions=True``: the same with the reference code kept, which
    is what a perfect submission looks like; the tests use it)."""
    cells = [c for c in (_student_cell(cell, solutions) for cell in src.nb["cells"]) if c is not None]
    meta = {k: copy.deepcopy(v) for k, v in src.nb.get("metadata", {}).items() if k in ("kernelspec", "language_info")}
    meta["cnnlab"] = {"lab": src.lab_id, "source_sha256": src.sha256,
                      "generated_by": "cnnlab-grade generate (do not edit: edit the source and regenerate)"}
    return {"cells": cells, "metadata": meta, "nbformat": 4, "nbformat_minor": 5}


# ----------------------------------------------------------------------------- reference run


def _encode_args(spec: TestSpec, arrays: dict):
    def enc(value, key):
        if isinstance(value, InputSpec):
            arrays[key] = value.materialize()
            return {"array": key, "text": repr(value)}
        return encode_value(value)
    args = [enc(v, f"in/{spec.id}/{i}") for i, v in enumerate(spec.args)]
    kwargs = {k: enc(v, f"in/{spec.id}/{k}") for k, v in spec.kwargs.items()}
    return args, kwargs


def _reference_limits():
    """The reference solution is trusted: generous limits, only to catch an author's infinite loop."""
    from cnnlab.grading.sandbox import Limits
    return Limits(cell_timeout=300, call_timeout=120, total_timeout=600, memory_mb=4096)


def lab_limits(config: dict):
    from cnnlab.grading.sandbox import Limits
    known = set(Limits.__dataclass_fields__)
    unknown = set(config.get("limits", {})) - known
    if unknown:
        raise AuthoringError(f"metadata.cnnlab.limits: unknown keys {sorted(unknown)} (known: {sorted(known)})")
    return Limits().updated(**config.get("limits", {}))


def _split_points(src: SourceLab) -> dict:
    """A question's points, shared equally by its tests."""
    out = {}
    for q in src.questions:
        ids = [t.id for t in src.tests if t.question == q.id]
        for tid in ids:
            out[tid] = q.points / len(ids)
    return out


def reference_sandbox(forbidden_imports=()):
    """The sandbox the reference solution runs in: the students' (so a reference that needs a forbidden
    package fails here), or, where it cannot be built (not root, no bubblewrap), no isolation at all:
    the reference is the instructor's own code, not a student's."""
    from cnnlab.grading.sandbox import TRUSTED, Sandbox, SandboxUnavailable
    try:
        return Sandbox(_reference_limits(), forbidden_imports=forbidden_imports)
    except SandboxUnavailable:
        return Sandbox(_reference_limits(), isolation=TRUSTED)


def build_bundle(src: SourceLab, sandbox=None) -> Bundle:
    """Run the reference solution on every test (in the sandbox, like a submission) and keep the
    outputs; then check that the blank student notebook defines every tested function and passes
    nothing."""
    if sandbox is None:
        with reference_sandbox(src.config["forbidden_imports"]) as own:
            return build_bundle(src, own)
    limits = lab_limits(src.config)
    arrays: dict = {}
    tests = []
    points = _split_points(src)
    for spec in src.tests:
        args, kwargs = _encode_args(spec, arrays)
        tests.append({"id": spec.id, "question": spec.question, "function": spec.function, "hidden": spec.hidden,
                      "name": spec.name, "hint": spec.hint, "rtol": spec.rtol, "atol": spec.atol,
                      "args": args, "kwargs": kwargs, "call": spec.call_text(),
                      "points": points[spec.id]})
    lab = {"format": FORMAT, "lab": src.lab_id, "title": src.title, "source_sha256": src.sha256,
           "source_path": str(src.path.resolve()),
           "questions": [{"id": q.id, "points": q.points, "title": q.title} for q in src.questions],
           "tests": tests, "limits": {k: v for k, v in vars(limits).items()},
           "forbidden_imports": list(src.config["forbidden_imports"]),
           "hidden_visibility": src.config["hidden_visibility"]}
    bundle = Bundle(lab, dict(arrays))
    calls = bundle.calls()

    ref = sandbox.run(notebook.code_cells(src.nb), calls, arrays, limits=sandbox.limits)
    problems = [f"code cell {c['index']}: {c.get('error_type')}: {c.get('message')}"
                for c in ref.cells if c.get("status") != "ok"]
    for test in tests:
        record = ref.calls.get(test["id"])
        if record is None or record[0].get("status") != "ok":
            header = record[0] if record else {"status": "no result"}
            problems.append(f"test {test['id']} ({test['call']}): {header.get('status')} "
                            f"{header.get('error_type', '')} {header.get('message', '')}".rstrip())
            continue
        bundle.arrays[f"out/{test['id']}"] = array_from_bytes(record[1])
    if problems:
        raise AuthoringError(f"{src.path.name}: the reference solution does not run cleanly:\n  "
                             + "\n  ".join(problems) + (f"\n{ref.log_tail}" if ref.log_tail else "")
                             + (f"\n{ref.fatal}" if ref.fatal else ""))

    blank = sandbox.run(notebook.code_cells(student_notebook(src)), calls, arrays, limits=sandbox.limits)
    for test in tests:
        record = blank.calls.get(test["id"])
        status = record[0].get("status") if record else None
        if status == "missing":
            problems.append(f"test {test['id']}: the student notebook does not define {test['function']}")
        elif judge(bundle.expected(test["id"]), record, test["rtol"], test["atol"]).passed:
            problems.append(f"test {test['id']}: the blank student notebook already passes it "
                            "(is the solution inside ### BEGIN SOLUTION / ### END SOLUTION?)")
    if problems:
        raise AuthoringError(f"{src.path.name}:\n  " + "\n  ".join(problems))
    return bundle


# ----------------------------------------------------------------------------- public data


def _round(x: float) -> float:
    return float(f"{x:.12g}")


def _inline(array: np.ndarray) -> dict:
    array = np.asarray(array)
    data = [_round(float(v)) for v in array.ravel()] if array.dtype.kind == "f" else array.ravel().tolist()
    return {"shape": list(array.shape), "dtype": str(array.dtype), "data": data}


def public_data(bundle: Bundle) -> dict:
    """What students may see: for each question its public tests with inputs and expected outputs."""
    questions = []
    for q in bundle.questions:
        public, hidden = [], 0
        for t in bundle.tests:
            if t["question"] != q["id"]:
                continue
            if t["hidden"]:
                hidden += 1
                continue
            def arg(value):
                if isinstance(value, dict) and "array" in value:
                    return {"inline": _inline(bundle.arrays[value["array"]]), "text": value["text"]}
                return value
            public.append({"id": t["id"], "name": t["name"], "hint": t["hint"], "function": t["function"],
                           "call": t["call"], "rtol": t["rtol"], "atol": t["atol"],
                           "args": [arg(a) for a in t["args"]], "kwargs": {k: arg(v) for k, v in t["kwargs"].items()},
                           "expected": _inline(bundle.expected(t["id"]))})
        questions.append({"id": q["id"], "title": q["title"], "points": q["points"], "hidden_tests": hidden,
                          "tests": public})
    return {"lab": bundle.lab_id, "title": bundle.lab["title"], "source_sha256": bundle.lab["source_sha256"],
            "call_timeout": bundle.lab["limits"]["call_timeout"], "questions": questions}


def _json_block(obj, indent: int = 0) -> str:
    """JSON with one key per line, but arrays of numbers kept on one line."""
    pad = " " * indent
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f'{pad} {json.dumps(k, ensure_ascii=False)}: {_json_block(v, indent + 1)}' for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list) and any(isinstance(v, (dict, list)) for v in obj):
        return "[\n" + ",\n".join(pad + " " + _json_block(v, indent + 1) for v in obj) + "\n" + pad + "]"
    return json.dumps(obj, ensure_ascii=False)


def public_module_text(bundle: Bundle, source_name: str) -> str:
    text = _json_block(public_data(bundle))
    if "'''" in text or text.endswith("\\"):
        raise AuthoringError("public test data contains ''' (change a name or hint)")
    return (f'"""Public tests of {bundle.lab_id}: generated by `cnnlab-grade generate` from '
            f"labs/source/{source_name}.\n\n"
            "Do not edit: edit the source notebook and regenerate. This file holds only what students may\n"
            "see: the public tests, their inputs and their expected outputs. `check()` reads it.\n"
            '"""\n\nimport json\n\n'
            f"LAB = json.loads(r'''\n{text}\n''')\n")


# ----------------------------------------------------------------------------- generate


@dataclass
class Generated:
    notebook: Path
    public_module: Path
    bundle: Path | None
    changed: list


def public_dir_default() -> Path:
    return Path(__file__).resolve().parent / "labs"


def render(source) -> tuple[SourceLab, Bundle, str, str]:
    """(source, bundle, student notebook text, public module text), nothing written."""
    src = read_source(source)
    bundle = build_bundle(src)
    return src, bundle, notebook.dumps(student_notebook(src)), public_module_text(bundle, src.path.name)


def generate(source, out_dir, public_dir=None, bundle_dir=None, check_only: bool = False) -> Generated:
    """Write ``out_dir/<lab>.ipynb`` and ``public_dir/<lab>.py`` (and a bundle if asked).
    With ``check_only`` nothing is written; ``changed`` lists what would change."""
    from cnnlab.grading.results import atomic_write
    src, bundle, nb_text, module_text = render(source)
    public_dir = Path(public_dir) if public_dir else public_dir_default()
    targets = {Path(out_dir) / f"{src.lab_id}.ipynb": nb_text, public_dir / f"{src.lab_id}.py": module_text}
    changed = []
    for path, text in targets.items():
        old = path.read_text(encoding="utf-8") if path.exists() else None
        if old != text:
            changed.append(path)
            if not check_only:
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(path, text.encode("utf-8"))
    init = public_dir / "__init__.py"
    if not check_only and not init.exists():
        atomic_write(init, b'"""Public test data of the labs, one generated module per lab."""\n')
    saved = None
    if bundle_dir and not check_only:
        saved = bundle.save(Path(bundle_dir) / src.lab_id)
    paths = list(targets)
    return Generated(paths[0], paths[1], saved, changed)
