"""Session fixtures of the grader's tests (helpers live in grading_helpers.py)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from grading_helpers import SOURCE

from cnnlab.grading.authoring import build_bundle, read_source


@pytest.fixture(scope="session")
def source_lab():
    return read_source(SOURCE)


@pytest.fixture(scope="session")
def bundle_dir(source_lab):
    """The lab's bundle, built once, in a private directory outside pytest's tmp tree."""
    base = tempfile.mkdtemp(prefix="cnnlab-test-bundle-")
    bundle = build_bundle(source_lab)
    path = bundle.save(Path(base) / source_lab.lab_id)
    yield path
    shutil.rmtree(base, ignore_errors=True)
