"""Reading notebooks that anyone may have written, and writing the ones we generate.

Submissions are parsed as plain JSON by the trusted grader (never by nbformat's validator, which
rejects notebooks students produce every day, such as duplicate cell ids): what matters is the list
of code cells, in order. Everything odd is tolerated where it can be, reported where it cannot.
"""

from __future__ import annotations

import hashlib
import json
import re

MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024


class NotebookError(ValueError):
    """The file is not a notebook we can read; the message is for the student (Chinese)."""


def loads(data: bytes) -> dict:
    """Parse a submission. Raises :class:`NotebookError` with a message for the student."""
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise NotebookError(f"文件有 {len(data) / 2**20:.1f} MiB，超过上限 {MAX_NOTEBOOK_BYTES // 2**20} MiB。"
                            "请清除输出（Kernel → Restart & Clear Output）后重新提交。")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise NotebookError("文件不是 UTF-8 文本，不是 Jupyter 笔记本（.ipynb）。") from None
    try:
        nb = json.loads(text)
    except RecursionError:
        raise NotebookError("文件的 JSON 嵌套过深，无法读取。") from None
    except ValueError as error:
        raise NotebookError(f"文件不是有效的 JSON，无法作为 Jupyter 笔记本读取（{error}）。"
                            "请提交从 Jupyter 保存的 .ipynb 文件。") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise NotebookError("文件是 JSON，但不是 nbformat 4 格式的 Jupyter 笔记本（没有 cells 列表）。")
    return nb


def cell_source(cell) -> str | None:
    """A cell's source as one string, or None when it is malformed."""
    if not isinstance(cell, dict):
        return None
    source = cell.get("source", "")
    if isinstance(source, str):
        return source
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        return "".join(source)
    return None


def code_cells(nb: dict) -> list[str]:
    """The sources of the code cells, in order; malformed cells are skipped."""
    out = []
    for cell in nb.get("cells", []):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell_source(cell)
            if source is not None:
                out.append(source)
    return out


# ----------------------------------------------------------------------------- magics

_LINE_MAGIC = re.compile(r"^(\s*)(%|!)")
#: cell magics whose body is still Python
_PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun"}


def strip_magics(source: str) -> str:
    """IPython syntax -> plain Python: cell magics, ``%line`` magics and ``!shell`` lines.

    Called only when the cell does not compile as it is. A line magic becomes ``pass`` at the same
    indentation, so that blocks stay valid and line numbers stay right. A cell magic that does not
    hold Python (``%%bash``, ``%%writefile``...) makes the whole cell a no-op.
    """
    lines = source.split("\n")
    if lines and lines[0].lstrip().startswith("%%"):
        name = lines[0].lstrip()[2:].split(maxsplit=1)[0] if lines[0].strip() != "%%" else ""
        if name not in _PYTHON_CELL_MAGICS:
            return "\n".join("# " + line for line in lines)
        lines[0] = "pass  # " + lines[0]
    return "\n".join(_LINE_MAGIC.sub(r"\1pass  # \2", line) for line in lines)


# ----------------------------------------------------------------------------- writing


def split_lines(text: str) -> list[str]:
    """A source string as nbformat stores it: a list of lines, each but the last ending with \\n."""
    lines = text.splitlines(keepends=True)
    return lines


def dumps(nb: dict) -> str:
    """Serialise like ``nbformat.writes`` does (1-space indent, sorted keys, UTF-8 text)."""
    return json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def canonical_hash(nb: dict, keys=("cell_type", "source", "metadata")) -> str:
    """A hash of what a notebook says, independent of how an editor happened to save it."""
    cells = [{k: (cell_source(c) if k == "source" else c.get(k)) for k in keys} for c in nb.get("cells", [])]
    meta = nb.get("metadata", {}).get("cnnlab", {})
    text = json.dumps({"cells": cells, "cnnlab": meta}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
