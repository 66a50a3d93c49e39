"""Every file the grader writes is replaced whole or not at all."""

from __future__ import annotations

import os

import pytest

from cnnlab.grading import atomic
from cnnlab.grading.atomic import atomic_write


def test_atomic_write_replaces_the_file_with_the_mode_asked(tmp_path):
    path = tmp_path / "results.json"
    path.write_bytes(b"old")
    atomic_write(path, b"new", 0o600)
    assert path.read_bytes() == b"new" and path.stat().st_mode & 0o777 == 0o600
    assert os.listdir(tmp_path) == ["results.json"]  # no temporary file left behind


class Interrupted(Exception):
    pass


@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_an_interrupted_write_leaves_the_old_file_intact(tmp_path, monkeypatch, step):
    path = tmp_path / "gradebook.csv"
    path.write_bytes(b"old contents\n")

    def fail(*args, **kwargs):
        raise Interrupted(step)
    monkeypatch.setattr(atomic.os, step, fail)  # the write dies before or at the rename
    with pytest.raises(Interrupted):
        atomic_write(path, b"new contents that never land\n")
    assert path.read_bytes() == b"old contents\n"
    assert os.listdir(tmp_path) == ["gradebook.csv"]


def test_the_file_and_its_directory_are_synced(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def fsync(fd):
        synced.append(os.path.realpath(f"/proc/self/fd/{fd}"))
        real_fsync(fd)
    monkeypatch.setattr(atomic.os, "fsync", fsync)
    atomic_write(tmp_path / "a.txt", b"x")
    assert len(synced) == 2 and synced[-1] == os.path.realpath(tmp_path)


def test_a_bundle_is_saved_with_the_atomic_write(bundle_dir, tmp_path, monkeypatch):
    from cnnlab.grading.bundle import Bundle

    bundle = Bundle.load(bundle_dir)
    target = bundle.save(tmp_path / "copy")
    before = {name: (target / name).read_bytes() for name in ("lab.json", "arrays.npz")}

    def fail(*args, **kwargs):
        raise Interrupted("replace")
    monkeypatch.setattr(atomic.os, "replace", fail)
    bundle.lab.title = "changed"
    with pytest.raises(Interrupted):
        bundle.save(target)
    assert {name: (target / name).read_bytes() for name in before} == before
    assert sorted(os.listdir(target)) == ["arrays.npz", "lab.json"]
