"""Committed notebooks are valid, carry no outputs, and every book page is in the table of contents."""

from __future__ import annotations

import subprocess
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _tracked(pattern: str) -> list[str]:
    out = subprocess.run(["git", "ls-files", pattern], cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.split()


NOTEBOOKS = _tracked("*.ipynb")


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(ROOT / path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, cell in enumerate(nb.cells)
             if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)]
    assert not dirty, f"{path}: cells {dirty} carry outputs or execution counts; clear them before committing"


def _toc_files(entries) -> set[str]:
    files = set()
    for entry in entries or []:
        if "file" in entry:
            files.add(entry["file"])
        for key in ("parts", "chapters", "sections"):
            files |= _toc_files(entry.get(key))
    return files


def test_every_book_page_is_in_the_table_of_contents():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    listed = _toc_files([toc]) | {toc["root"]}
    pages = {str(Path(p).with_suffix("")) for p in _tracked("book/*.md") + _tracked("book/*.ipynb")}
    assert pages - listed == set(), f"pages not in _toc.yml (the book would skip them): {sorted(pages - listed)}"
    missing = {f for f in listed if not any((ROOT / f).with_suffix(s).is_file() for s in (".md", ".ipynb"))}
    assert not missing, f"_toc.yml lists files that do not exist: {sorted(missing)}"
