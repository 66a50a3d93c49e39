"""Helpers for the grader's tests: the convolution lab, its bundle, and submissions made from it."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest

from cnnlab.grading import notebook
from cnnlab.grading.authoring import student_notebook

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "labs" / "source" / "lab2_conv_pool.ipynb"
FUNCTIONS = ("conv2d_single", "conv2d", "max_pool2d", "avg_pool2d", "im2col", "conv2d_fast", "sobel_edges")
#: small limits keep the hostile suite fast
FAST = {"cell_timeout": 1.5, "call_timeout": 1.0, "total_timeout": 8.0, "memory_mb": 1024}

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
#: grading runs every submission under a uid of its own, which needs root (the tests run as root in CI,
#: where the sandbox must then work: it is never skipped there)
needs_root = pytest.mark.skipif(not IS_ROOT, reason="the grading sandbox needs root (CI runs these tests as root)")


def processes_in_cgroups_of(grader_pid: int) -> list[str]:
    """PIDs of the processes left in the cgroups of the grader ``grader_pid`` (``/cnnlab-grade-<pid>/``)."""
    mark, found = f"/cnnlab-grade-{grader_pid}/", []
    for path in Path("/proc").glob("[0-9]*/cgroup"):
        try:
            if mark in path.read_text():
                found.append(path.parent.name)
        except OSError:
            continue
    return found


def code_cell(source: str, cell_id: str = "added") -> dict:
    return {"cell_type": "code", "id": cell_id, "metadata": {}, "outputs": [], "execution_count": None,
            "source": notebook.split_lines(source)}


def make_submission(lab, *, solutions=True, replace=None, append=(), prepend=()) -> dict:
    """A student notebook (solved by default) with function cells replaced and cells added.

    ``replace``: {function name: new source of the cell that defines it}. ``prepend`` cells go right
    after the set-up cell.
    """
    nb = copy.deepcopy(student_notebook(lab, solutions=solutions))
    for name, new_source in (replace or {}).items():
        cell = next(c for c in nb["cells"] if c["cell_type"] == "code" and f"def {name}(" in "".join(c["source"]))
        cell["source"] = notebook.split_lines(new_source)
    for i, src in enumerate(prepend):
        nb["cells"].insert(2 + i, code_cell(src, f"pre-{i}"))
    for i, src in enumerate(append):
        nb["cells"].append(code_cell(src, f"post-{i}"))
    return nb


def write(nb_or_text, path: Path) -> Path:
    path.write_text(nb_or_text if isinstance(nb_or_text, str) else notebook.dumps(nb_or_text), encoding="utf-8")
    return path
