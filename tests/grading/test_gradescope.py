"""The Gradescope autograder zip: its layout, and its run_autograder run locally on a fake /autograder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest
from grading_helpers import IS_ROOT, SOURCE, make_submission, write

from cnnlab.grading.authoring import read_source
from cnnlab.grading.gradescope import check_zip, export

FULL = sum(q.points for q in read_source(SOURCE).questions)
#: Gradescope's image has a Python every user can read (apt's); the one running the tests may live under
#: a closed /root (pyenv). The uid-only sandbox needs the former: Debian's own Python 3.11 with our
#: site-packages on PYTHONPATH stands in for it.
SYSTEM_PYTHON = "/usr/bin/python3.11"


@pytest.fixture(scope="module")
def autograder_zip(bundle_dir, tmp_path_factory):
    return export(bundle_dir, tmp_path_factory.mktemp("zip") / "lab1_autograder.zip")


def test_zip_layout(autograder_zip, bundle_dir):
    assert check_zip(autograder_zip) == []
    assert autograder_zip.stat().st_mode & 0o077 == 0  # it holds the hidden tests
    with zipfile.ZipFile(autograder_zip) as zf:
        names = zf.namelist()
        assert {"setup.sh", "run_autograder", "requirements.txt", "bundle/lab.json", "bundle/arrays.npz"} <= set(names)
        assert (zf.getinfo("run_autograder").external_attr >> 16) & 0o777 == 0o755
        assert (zf.getinfo("bundle/lab.json").external_attr >> 16) & 0o777 == 0o600
        assert not [n for n in names if n.endswith(".ipynb") or "__pycache__" in n or n.startswith("labs/")]
        # the answers' package is absent from the container, not guarded inside it
        assert "cnnlab/grading/_child.py" in names and not [n for n in names if n.startswith("cnnlab/numpy/")]
        script = zf.read("run_autograder").decode()
        assert 'ROOT="${AUTOGRADER_ROOT:-/autograder}"' in script and '"$ROOT/results/results.json"' in script
        assert "--isolation uid-only" in script
        assert zf.read("bundle/lab.json") == (bundle_dir / "lab.json").read_bytes()
    again = export(bundle_dir, autograder_zip.with_name("again.zip"))
    assert again.read_bytes() == autograder_zip.read_bytes()  # deterministic


def _autograder_root(zip_path: Path) -> Path:
    """A directory laid out like Gradescope's /autograder (world-traversable, as there)."""
    root = Path(tempfile.mkdtemp(prefix="autograder-"))
    os.chmod(root, 0o755)
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(root / "source")  # Gradescope's unzip does not keep modes either
    for sub in ("submission", "results"):
        (root / sub).mkdir()
    return root


@pytest.mark.skipif(not IS_ROOT or not os.path.exists(SYSTEM_PYTHON), reason=f"needs root and {SYSTEM_PYTHON}")
@pytest.mark.parametrize("kind, score", [("good", FULL), ("blank", 0), ("nothing", 0)])
def test_run_autograder_locally(autograder_zip, source_lab, kind, score):
    root = _autograder_root(autograder_zip)
    try:
        if kind != "nothing":
            write(make_submission(source_lab, solutions=kind == "good"), root / "submission" / f"{SOURCE.stem}.ipynb")
        site = next(p for p in sys.path if p.endswith("site-packages") and os.path.isdir(os.path.join(p, "numpy")))
        env = {**os.environ, "AUTOGRADER_ROOT": str(root), "CNNLAB_PYTHON": SYSTEM_PYTHON, "PYTHONPATH": site}
        run = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True,
                             text=True, timeout=120)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "isolation: uid-only" in run.stdout
        results = json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))
        assert results["score"] == score and results["max_score"] == FULL
        assert len(results["tests"]) == len(source_lab.tests)
        if kind == "nothing":
            assert "没有找到 .ipynb" in results["output"]
        else:  # the weaker isolation is said in the result itself
            assert results["extra_data"]["isolation"] == "uid-only" and "uid-only" in results["output"]
        assert (root / "source" / "bundle").stat().st_mode & 0o077 == 0  # locked before student code ran
    finally:
        shutil.rmtree(root, ignore_errors=True)
