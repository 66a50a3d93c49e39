"""The submissions folder as a class hands it in (issue 10, class 10; class 8 for the terminal): every entry
gets a result or a gradebook line saying why not, nothing is followed or opened that is not a regular
file, and nothing a student names or prints reaches the instructor's terminal raw."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from grading_helpers import FAST, ROOT, SOURCE, make_submission, needs_root, write

from cnnlab.grading.authoring import read_source
from cnnlab.grading.grade import _escape, scan_submissions

FULL = sum(q.points for q in read_source(SOURCE).questions)
GBK = "张三".encode("gbk") + b".ipynb"
ESCAPE = b"\x1b[2J\x1b]0;pwned\x07evil.ipynb"
PRINTER = ('import sys, os\nsys.stdout.write("\\x1b[2J\\x1b]0;pwned\\x07graded 40: all students 11/11\\n")\n'
           'os.write(1, b"\\x1b[31mred")\nraise ValueError("\\x1b[2J cleared?")\n')


def _grade(subs, lab, out, *extra):
    limits = ["--cell-timeout", str(FAST["cell_timeout"]), "--call-timeout", str(FAST["call_timeout"]),
              "--total-timeout", str(FAST["total_timeout"])]
    return subprocess.run([sys.executable, "-m", "cnnlab.grading", "grade", str(subs), "--lab", str(lab), "--out",
                           str(out), "-j", "2", *limits, *extra], capture_output=True, cwd=ROOT, timeout=600)


@needs_root
def test_every_entry_is_graded_or_refused_with_a_reason(source_lab, bundle_dir, tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    good = make_submission(source_lab)
    folder = os.fsencode(subs)
    for name in (GBK, b"gradebook.csv.ipynb", b"UPPER.IPYNB", b"a.ipynb", b"A.ipynb", b".hidden.ipynb", ESCAPE):
        write(good, Path(os.fsdecode(os.path.join(folder, name))))
    write(make_submission(source_lab, append=[PRINTER]), subs / "printer.ipynb")
    (subs / "x.ipynb").mkdir()
    (subs / "notes.txt").write_text("not a notebook")
    os.symlink(SOURCE, subs / "cheat.ipynb")          # the lab source: would be 16/16 if it were followed
    os.symlink("/proc/kmsg", subs / "kmsg.ipynb")     # would block the grader forever if it were opened
    os.mkfifo(subs / "fifo.ipynb")                    # likewise
    entries = len(os.listdir(subs))

    run = _grade(subs, bundle_dir, out)
    assert run.returncode == 0, run.stderr.decode()
    terminal = run.stdout + run.stderr
    assert b"\x1b" not in terminal and b"\x07" not in terminal and b"all students 11/11" not in terminal
    assert (out / "gradebook.csv").is_file()
    rows = {r["student"]: r for r in csv.DictReader((out / "gradebook.csv").open(encoding="utf-8"))}
    assert len(rows) == entries, sorted(rows)
    refused = {k for k, r in rows.items() if r["status"] == "refused"}
    assert refused == {"x", "notes.txt", "cheat", "kmsg", "fifo"}
    assert "cheat.ipynb：是符号链接" in rows["cheat"]["note"] and "文件夹" in rows["x"]["note"]
    assert "不是普通文件" in rows["fifo"]["note"] and not (out / "cheat").exists()
    graded = {k: r for k, r in rows.items() if k not in refused}
    assert all(float(r["score"]) == FULL for r in graded.values()), graded
    gbk_id = "%D5%C5%C8%FD"
    assert gbk_id in graded and "张三" in graded[gbk_id]["note"]  # GBK name read for the instructor
    assert {"%67radebook.csv", "UPPER.IPYNB", "A", "a~2", "%2Ehidden", "printer"} <= set(graded)  # a, A: one folder each
    for student in graded:
        res = json.loads((out / student / "results.json").read_text(encoding="utf-8"))
        assert res["extra_data"]["student"] == student and "\x1b" not in json.dumps(res, ensure_ascii=False)
    printer = json.loads((out / "printer" / "results.json").read_text(encoding="utf-8"))
    assert "ValueError" in printer["output"]

    again = _grade(subs, bundle_dir, out)  # a re-run without --force: nothing regraded, nothing lost
    assert b"graded 0, skipped %d" % len(graded) in again.stdout, again.stdout
    assert len(list(csv.DictReader((out / "gradebook.csv").open(encoding="utf-8")))) == entries


def test_student_ids_are_safe_and_distinct():
    names = [b"a", b"A", b"../x", b"a/b", b"%41", b"A", b".", b"..", b"gradebook.csv", b"GRADEBOOK.CSV",
             b"\xd5\xc5", b"\x1b[2J", b"tab\tname", b"~2", "张三".encode()]
    ids = [_escape(n) for n in names]
    for i in ids:
        assert "/" not in i and not i.startswith(".") and i.casefold() != "gradebook.csv"
        assert all(ch.isprintable() for ch in i)
    assert len(set(ids)) == len(set(names))  # different names, different ids
    assert _escape("张三".encode()) == "张三"


def test_scan_never_follows_or_opens(tmp_path):
    (tmp_path / "a.ipynb").write_text("{}")
    os.symlink("/proc/kmsg", tmp_path / "b.ipynb")
    os.mkfifo(tmp_path / "c.ipynb")
    entries = {e.student: e for e in scan_submissions(tmp_path)}
    assert entries["a"].problem is None and entries["b"].problem and entries["c"].problem
    with pytest.raises(FileNotFoundError):
        scan_submissions(tmp_path / "missing")
