"""cnnlab-grade grade: results per student, a gradebook, skip on re-run, --force, atomic writes."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

from grading_helpers import FAST, ROOT, SOURCE, make_submission, needs_root, write

from cnnlab.grading.authoring import read_source
from cnnlab.grading.cli import main

FULL = sum(q.points for q in read_source(SOURCE).questions)

LIMITS = ["--cell-timeout", str(FAST["cell_timeout"]), "--call-timeout", str(FAST["call_timeout"]),
          "--total-timeout", str(FAST["total_timeout"])]


def _grade(subs, lab, out, *extra):
    return subprocess.run([sys.executable, "-m", "cnnlab.grading", "grade", str(subs), "--lab", str(lab),
                           "--out", str(out), "-j", "2", *LIMITS, *extra],
                          capture_output=True, text=True, cwd=ROOT)


def test_grade_rerun_skip_force(source_lab, bundle_dir, tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    write(make_submission(source_lab), subs / "张三.ipynb")
    write(make_submission(source_lab, solutions=False), subs / "li_si.ipynb")
    (subs / "notes.txt").write_text("not a submission")
    run = _grade(subs, bundle_dir, out)
    assert run.returncode == 0, run.stderr
    assert "graded 2, skipped 0" in run.stdout
    results = {p.parent.name: json.loads(p.read_text(encoding="utf-8")) for p in out.glob("*/results.json")}
    assert {k: v["score"] for k, v in results.items()} == {"张三": FULL, "li_si": 0}
    rows = list(csv.DictReader((out / "gradebook.csv").open(encoding="utf-8")))
    assert [(r["student"], r["score"], r["q2"], r["status"]) for r in rows] == [
        ("li_si", "0", "0", "graded"), ("notes.txt", "", "", "refused"), ("张三", f"{FULL:g}", "4", "graded")]
    assert "不是 .ipynb 文件" in rows[1]["note"]
    assert "isolation: bwrap" in run.stdout

    stamp = (out / "张三" / "results.json").stat().st_mtime_ns
    run = _grade(subs, bundle_dir, out)
    assert "graded 0, skipped 2" in run.stdout
    assert (out / "张三" / "results.json").stat().st_mtime_ns == stamp
    assert len(list(csv.DictReader((out / "gradebook.csv").open(encoding="utf-8")))) == 3

    write(make_submission(source_lab), subs / "li_si.ipynb")  # a new version is not "already graded"
    run = _grade(subs, bundle_dir, out)
    assert "graded 1, skipped 1" in run.stdout
    assert json.loads((out / "li_si" / "results.json").read_text(encoding="utf-8"))["score"] == FULL

    run = _grade(subs, bundle_dir, out, "--force")
    assert "graded 2, skipped 0" in run.stdout
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]


def test_grade_straight_from_the_source_notebook(source_lab, tmp_path, capsys):
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    write(make_submission(source_lab), subs / "a.ipynb")
    assert main(["grade", str(subs), "--lab", str(SOURCE), "--out", str(out), "-q", *LIMITS]) == 0
    assert json.loads((out / "a" / "results.json").read_text(encoding="utf-8"))["score"] == FULL


@needs_root
def test_a_readable_bundle_is_locked_down(bundle_dir, source_lab, tmp_path):
    os.chmod(bundle_dir / "lab.json", 0o644)
    subs = tmp_path / "subs"
    subs.mkdir()
    write(make_submission(source_lab), subs / "a.ipynb")
    run = _grade(subs, bundle_dir, tmp_path / "out")
    assert run.returncode == 0
    assert "fixed permissions" in run.stderr
    assert (bundle_dir / "lab.json").stat().st_mode & 0o777 == 0o600


def test_cli_errors_are_messages(tmp_path, capsys):
    assert main(["grade", str(tmp_path / "missing"), "--lab", str(SOURCE), "--out", str(tmp_path / "o")]) == 2
    assert main(["grade", str(tmp_path), "--lab", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "cnnlab-grade grade" in capsys.readouterr().err
