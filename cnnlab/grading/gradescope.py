"""Grading beyond one machine: a Gradescope autograder zip, one container per submission.

``cnnlab-grade export-gradescope --lab labs/source/lab2_conv_pool.ipynb --out lab2_autograder.zip``
writes a zip whose root holds

- ``setup.sh``: run once when Gradescope builds the image: installs Python 3 and NumPy;
- ``run_autograder``: run once per submission: grades the notebook found in
  ``/autograder/submission`` and writes ``/autograder/results/results.json``;
- ``cnnlab/``: this package's source (the grader and what student notebooks import), without the
  subpackages the lab forbids (``cnnlab.numpy`` for a lab whose answers it holds): absent, not guarded;
- ``bundle/``: the lab's grading bundle (hidden tests and reference outputs; locked to root by
  ``run_autograder`` before any student code runs);
- ``requirements.txt``.

Inside the container the student's code runs as an unprivileged uid and is compared in the trusted
process. Gradescope's containers offer no user namespaces and no cgroups, so the export chooses the
weaker ``--isolation uid-only`` by default, written into ``run_autograder`` (and said in every result):
there each submission has a container of its own that is thrown away afterwards, which is what makes
the weaker mode acceptable; ``labs/README.md`` says what still holds. ``AUTOGRADER_ROOT`` (default
``/autograder``) and ``CNNLAB_PYTHON`` (default ``python3``) let the same script run against a local
directory laid out like ``/autograder``.
"""

from __future__ import annotations

import hashlib
import io
import stat
import time
import zipfile
from pathlib import Path

from cnnlab.grading import results
from cnnlab.grading.atomic import atomic_write
from cnnlab.grading.grade import LoadedLab, grade_bytes, read_submission
from cnnlab.grading.labs import ALIASES
from cnnlab.grading.sandbox import Limits, Sandbox, SandboxUnavailable

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder image (Ubuntu base image).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends python3 python3-pip
python3 -m pip install --no-cache-dir -r /autograder/source/requirements.txt
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this once per submission, as root, in a fresh container.
set -u
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${CNNLAB_PYTHON:-python3}"
SOURCE="$ROOT/source"
# the bundle (hidden tests, reference outputs) for root only; the grader code readable by the sandbox uid
chmod -R go-rwx "$SOURCE/bundle"
chmod -R a+rX "$SOURCE/cnnlab"
chmod o+x "$ROOT" "$SOURCE"
mkdir -p "$ROOT/results"
cd "$SOURCE"
PYTHONPATH="$SOURCE${PYTHONPATH:+:$PYTHONPATH}" exec "$PYTHON" -s -m cnnlab.grading run-gradescope \\
    --isolation {isolation} \\
    --bundle "$SOURCE/bundle" --submission "$ROOT/submission" --results "$ROOT/results/results.json"
"""

REQUIREMENTS = "numpy>=1.24\n"
_EPOCH = (2020, 1, 1, 0, 0, 0)


def _package_dir() -> Path:
    import cnnlab
    return Path(cnnlab.__file__).resolve().parent


def _add(zf: zipfile.ZipFile, name: str, data: bytes, mode: int) -> None:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def _forbidden(path: Path, package: Path, forbidden) -> bool:
    """Whether a file of the package belongs to a subpackage the lab forbids (cnnlab.numpy)."""
    dotted = ".".join(("cnnlab",) + path.relative_to(package).with_suffix("").parts)
    return any(dotted == f or dotted.startswith(f + ".") for f in forbidden)


def export(lab_path, out_zip, isolation: str = "uid-only") -> Path:
    """Write the autograder zip (deterministic: same inputs, same bytes)."""
    if isolation not in ("uid-only", "bwrap"):
        raise ValueError(f"isolation {isolation!r}: expected uid-only or bwrap")
    out_zip = Path(out_zip)
    out_zip.parent.mkdir(parents=True, exist_ok=True)
    with LoadedLab(lab_path) as lab:
        files = lab.bundle._files()
        forbidden = lab.bundle.lab.forbidden_imports
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        _add(zf, "setup.sh", SETUP_SH.encode(), 0o755)
        _add(zf, "run_autograder", RUN_AUTOGRADER.replace("{isolation}", isolation).encode(), 0o755)
        _add(zf, "requirements.txt", REQUIREMENTS.encode(), 0o644)
        for name, data in sorted(files.items()):
            _add(zf, f"bundle/{name}", data, 0o600)
        package = _package_dir()
        for path in sorted(package.rglob("*")):
            if (path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
                    and not _forbidden(path, package, forbidden)):
                _add(zf, f"cnnlab/{path.relative_to(package).as_posix()}", path.read_bytes(), 0o644)
    atomic_write(out_zip, buffer.getvalue(), 0o600)  # it holds the hidden tests
    return out_zip


def _find_notebook(submission_dir: Path, lab_id: str):
    found = sorted(p for p in submission_dir.rglob("*") if p.suffix.lower() == ".ipynb" and not p.is_symlink()
                   and p.is_file() and ".ipynb_checkpoints" not in p.parts)
    if not found:
        return None
    named = [p for p in found if ALIASES.get(p.stem, p.stem) == lab_id]  # a renamed lab's old file name too
    return (named or found)[0]


def run(bundle_dir, submission_dir, results_path, limits: Limits | None = None, isolation: str = "uid-only") -> dict:
    """Grade the one submission of a Gradescope container. Always writes results_path (also when the
    sandbox cannot start: then the result says so and the error is raised after it is written)."""
    started = time.monotonic()
    submission_dir, results_path = Path(submission_dir), Path(results_path)
    results_path.parent.mkdir(parents=True, exist_ok=True)
    with LoadedLab(bundle_dir) as lab:
        bundle = lab.bundle
        limits = limits or bundle.lab.limits
        path = _find_notebook(submission_dir, bundle.lab_id)
        if path is None:
            res = results.build(bundle, student="submission", submission_sha256=hashlib.sha256(b"").hexdigest(),
                                problem="没有找到 .ipynb 文件：请提交完成后的 Jupyter 笔记本。", status="invalid",
                                execution_time=time.monotonic() - started, isolation=isolation)
        else:
            data = read_submission(path)
            try:
                sandbox = Sandbox(limits, secrets=lab.secrets + [str(submission_dir.resolve()),
                                                              str(results_path.parent.resolve())],
                                  forbidden_imports=bundle.lab.forbidden_imports, isolation=isolation)
            except SandboxUnavailable:
                res = results.build(bundle, student=path.stem, submission_sha256=hashlib.sha256(data).hexdigest(),
                                    problem="评分环境无法建立沙箱，这份提交没有运行，请联系助教。", status="error",
                                    execution_time=time.monotonic() - started, isolation=isolation)
                atomic_write(results_path, results.dumps(res))
                raise
            with sandbox:
                res = grade_bytes(data, bundle, sandbox, student=path.stem, limits=limits)
    atomic_write(results_path, results.dumps(res))
    return res


def check_zip(path) -> list[str]:
    """Problems with an autograder zip's layout (empty list: fine)."""
    problems = []
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        for required in ("setup.sh", "run_autograder", "requirements.txt", "bundle/lab.json", "bundle/arrays.npz",
                         "cnnlab/__init__.py", "cnnlab/grading/_child.py"):
            if required not in names:
                problems.append(f"missing {required}")
        for name in ("setup.sh", "run_autograder"):
            if name in names and not (zf.getinfo(name).external_attr >> 16) & 0o100:
                problems.append(f"{name} is not executable")
        for name in names:
            if name.startswith("/") or ".." in Path(name).parts:
                problems.append(f"unsafe path {name}")
    return problems
