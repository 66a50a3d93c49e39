"""The book's notebooks, as sources: drawing code that teaches nothing is not in the reader's way."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from .conftest import ROOT

# A line that only draws: a call on a figure, axes or pyplot that adds or styles something.
DRAWING = re.compile(r"^\s*(?:ax\w*|axes\w*(?:\[[^\]]*\])?|fig\w*|plt|cbar|im)\.(?:set_\w+|plot|scatter|text|annotate"
                     r"|add_patch|add_axes|imshow|legend|axis|bar|barh|hist|contourf?|axhline|axvline|fill_between"
                     r"|tick_params|grid|tight_layout|subplots_adjust|colorbar|suptitle|spines|invert_\w+)\b")
MAX_VISIBLE_DRAWING_LINES = 10


def _notebooks() -> list:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [c["file"] for part in toc.get("parts", []) for c in part.get("chapters", [])]
    return [ROOT / f"{f}.ipynb" for f in files if (ROOT / f"{f}.ipynb").is_file()]


@pytest.mark.parametrize("notebook", _notebooks(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_drawing_code_is_folded_or_in_cnnlab_viz(notebook):
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    long_drawings = []
    for k, cell in enumerate(cells):
        tags = cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] != "code" or {"hide-input", "remove-input", "remove-cell", "hide-cell"} & set(tags):
            continue
        drawing = sum(bool(DRAWING.match(line)) for line in "".join(cell["source"]).splitlines())
        if drawing > MAX_VISIBLE_DRAWING_LINES:
            long_drawings.append(f"cell {k}: {drawing} drawing lines")
    assert not long_drawings, (f"{notebook.name}: move the drawing into cnnlab.viz or tag the cell hide-input "
                               f"(more than {MAX_VISIBLE_DRAWING_LINES} visible lines that only draw): {long_drawings}")
