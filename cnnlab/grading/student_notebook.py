"""The notebook students get, rendered from the source notebook.

In the student notebook every ``SOLUTION`` region becomes a stub at the same indentation that raises
``NotImplementedError`` (a stub at the top level of a cell raises when the cell runs, so that cell is
tagged ``raises-exception``: the book build and nbval then let it pass); every ``test(...)`` line is
removed (public test data ships with the package, see :mod:`cnnlab.grading.publish`) and the hidden
regions vanish with their markers; ``check("q1")`` stays. Outputs and execution counts are never copied.
"""

from __future__ import annotations

import ast
import copy

from cnnlab.grading import notebook
from cnnlab.grading.markers import (
    HIDDEN_BEGIN,
    HIDDEN_END,
    QUESTION,
    SOLUTION_BEGIN,
    SOLUTION_END,
    SourceLab,
    marker_regions,
)
from cnnlab.grading.specs import is_call_to

STUB_CODE = ["# 在这里写你的代码（写好后删掉下面这行 raise）", 'raise NotImplementedError("请完成这部分代码")']
STUB_MARKDOWN = ["（在这里写下你的答案）"]


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
        hidden = marker_regions(lines, HIDDEN_BEGIN, HIDDEN_END, "", "")
        drop = {i for a, b in hidden for i in range(a, b + 1)}
        if kind == "code" and any(QUESTION.match(line) for line in lines):
            for stmt in ast.parse(source).body:
                if is_call_to(stmt, "test"):
                    drop.update(range(stmt.lineno - 1, stmt.end_lineno))
        solution = marker_regions(lines, SOLUTION_BEGIN, SOLUTION_END, "", "")
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
