"""The book build is strict: a cell that raises, or writes anything to stderr, fails the build.

Each case builds a throw-away book with our own _config.yml and one notebook, so the test checks
the configuration the real book uses, not a copy of it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from .conftest import ROOT

CELLS = {
    "clean": 'print("hello")',
    "raises": 'raise ValueError("broken cell")',
    "warns": 'import warnings\nwarnings.warn("something is off")',
    "stderr": 'import sys\nprint("oops", file=sys.stderr)',
    "missing_glyph": 'import matplotlib.pyplot as plt\nplt.title("卷积")\nplt.gcf().canvas.draw()',
}


def _build(tmp_path: Path, source: str) -> subprocess.CompletedProcess:
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    # the same configuration, with the paths it names made absolute
    config["html"]["favicon"] = str(ROOT / config["html"]["favicon"])
    config["sphinx"]["local_extensions"] = {k: str(ROOT / v) for k, v in config["sphinx"]["local_extensions"].items()}
    config["sphinx"]["config"]["html_static_path"] = [str(ROOT / p) for p in config["sphinx"]["config"]["html_static_path"]]
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: page\n", encoding="utf-8")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Page"), nbformat.v4.new_code_cell(source)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "page.ipynb")
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    return subprocess.run([str(jupyter_book), "build", "--all", "-W", "-n", "--keep-going", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("case", CELLS)
def test_build_fails_on_a_cell_that_raises_or_writes_stderr(tmp_path, case):
    result = _build(tmp_path, CELLS[case])
    log = result.stdout + result.stderr
    if case == "clean":
        assert result.returncode == 0, f"a clean throw-away book must build:\n{log[-3000:]}"
        assert (tmp_path / "_build" / "html" / "page.html").is_file()
    else:
        assert result.returncode != 0, f"the build accepted a cell that {case}:\n{log[-3000:]}"
