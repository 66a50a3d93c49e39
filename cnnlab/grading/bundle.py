"""The grading bundle: everything the grader needs about one lab, and the only place hidden tests live
outside the source notebook.

A bundle is a directory (mode 0700, files 0600: only its owner may read it; the grader runs student
code as another uid, so that code cannot) holding

- ``lab.json``: questions with points, every test (public and hidden) as data: the function, the
  arguments (constants, or references to input arrays), tolerances, name and hint (its schema, with
  its version number, is :class:`cnnlab.grading.schema.LabFile`);
- ``arrays.npz``: the inputs (``in/<test>/<arg>``) and the reference outputs (``out/<test>``),
  loaded with ``allow_pickle=False``.

Bundles are build products, never committed: ``cnnlab-grade grade --lab labs/source/<lab>.ipynb``
builds one in a private temporary directory on every run, ``cnnlab-grade generate --bundle DIR``
writes one for a grading server, and ``cnnlab-grade export-gradescope`` puts one in the zip.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cnnlab.grading.atomic import atomic_write
from cnnlab.grading.schema import LabFile, Question, SchemaError, Test, read_lab, to_json


class BundleError(ValueError):
    pass


@dataclass
class Bundle:
    lab: LabFile
    arrays: dict = field(default_factory=dict)
    path: Path | None = None

    @property
    def lab_id(self) -> str:
        return self.lab.lab_id

    @property
    def tests(self) -> list[Test]:
        return self.lab.tests

    @property
    def questions(self) -> list[Question]:
        return self.lab.questions

    @property
    def max_score(self) -> float:
        return float(sum(q.points for q in self.questions))

    def expected(self, test_id: str) -> np.ndarray:
        return self.arrays[f"out/{test_id}"]

    def calls(self) -> list[dict]:
        """The calls a child must evaluate: id, function, encoded args. Nothing else."""
        return [{"id": t.id, "function": t.function, "args": t.args, "kwargs": t.kwargs} for t in self.tests]

    def input_arrays(self) -> dict:
        return {k: v for k, v in self.arrays.items() if k.startswith("in/")}

    # ------------------------------------------------------------------ files

    def _files(self) -> dict[str, bytes]:
        lab_json = (json.dumps(to_json(self.lab), ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode("utf-8")
        buffer = io.BytesIO()
        np.savez(buffer, **{k: np.asarray(v) for k, v in sorted(self.arrays.items())})
        return {"lab.json": lab_json, "arrays.npz": buffer.getvalue()}

    def sha256(self) -> str:
        digest = hashlib.sha256()
        digest.update(json.dumps(to_json(self.lab), sort_keys=True, ensure_ascii=False).encode("utf-8"))
        for key in sorted(self.arrays):
            digest.update(key.encode())
            digest.update(np.ascontiguousarray(self.arrays[key]).tobytes())
        return digest.hexdigest()

    def save(self, directory) -> Path:
        """Write atomically, readable by the owner only."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
        for name, data in self._files().items():
            atomic_write(directory / name, data, 0o600)
        self.path = directory
        return directory

    @classmethod
    def load(cls, directory) -> "Bundle":
        directory = Path(directory)
        try:
            data = json.loads((directory / "lab.json").read_text(encoding="utf-8"))
            with np.load(directory / "arrays.npz", allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (OSError, ValueError) as error:
            raise BundleError(f"{directory} is not a grading bundle: {error}") from None
        try:
            lab = read_lab(data)
        except SchemaError as error:
            raise BundleError(f"{directory / 'lab.json'}: {error}") from None
        missing = [f"out/{t.id}" for t in lab.tests if f"out/{t.id}" not in arrays]
        if missing:
            raise BundleError(f"{directory / 'arrays.npz'}: no reference output {missing[0]} (of {len(missing)} missing)")
        return cls(lab, arrays, directory)


def lock_down(directory) -> list[str]:
    """Make a bundle readable by its owner only; return what had to be fixed."""
    fixed = []
    directory = Path(directory)
    for path in [directory, *directory.rglob("*")]:
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            os.chmod(path, mode & 0o700)
            fixed.append(str(path))
    return fixed
