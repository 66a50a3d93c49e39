"""Authoring: markers, the student notebook, the public data, and no drift from the source."""

from __future__ import annotations

import json
import subprocess
import sys

import nbformat
import pytest
from grading_helpers import ROOT, SOURCE, code_cell

from cnnlab.grading import notebook
from cnnlab.grading.authoring import (
    AuthoringError,
    build_bundle,
    generate,
    public_data,
    read_source,
    render,
    student_notebook,
)

STUDENT = ROOT / "labs" / f"{SOURCE.stem}.ipynb"
PUBLIC = ROOT / "cnnlab" / "grading" / "labs" / f"{SOURCE.stem}.py"


def _lab(tmp_path, cells, name="tiny_lab", metadata=None):
    nb = {"cells": [], "metadata": {"cnnlab": metadata or {}}, "nbformat": 4, "nbformat_minor": 5}
    for i, (kind, text) in enumerate(cells):
        cell = code_cell(text, f"c{i}") if kind == "code" else {
            "cell_type": "markdown", "id": f"c{i}", "metadata": {}, "source": notebook.split_lines(text)}
        nb["cells"].append(cell)
    path = tmp_path / f"{name}.ipynb"
    path.write_text(notebook.dumps(nb), encoding="utf-8")
    return path


SETUP = 'import numpy as np\nfrom cnnlab.grading import Lab, randn\nlab = Lab("tiny_lab")\ntest, check = lab.test, lab.check\n'
DOUBLE = "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n"
TESTS = ('# question: q1, points: 2\ntest("q1", "double", randn(3, seed=0), name="三个数")\n'
         '### BEGIN HIDDEN TESTS\ntest("q1", "double", randn(2, 2, seed=1))\n### END HIDDEN TESTS\ncheck("q1")\n')


# ----------------------------------------------------------------------------- the committed lab
# (no drift between each lab's source and its committed student notebook: tests/grading/test_labs.py)


def test_generate_check_reports_up_to_date():
    out = subprocess.run([sys.executable, "-m", "cnnlab.grading", "generate", str(SOURCE), "--out",
                          str(ROOT / "labs"), "--check"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("path", [SOURCE, STUDENT])
def test_committed_notebooks_are_valid_and_clean(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_student_notebook_has_no_solution_and_no_hidden_test(source_lab):
    text = STUDENT.read_text(encoding="utf-8")
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "test(\\\"q", "np.sum(x[i:i + kh, j:j + kw] * kernel)", "seed=3"):
        assert marker not in text, marker
    solutions = sum(notebook.cell_source(c).count("### BEGIN SOLUTION") for c in source_lab.nb["cells"]
                    if c["cell_type"] == "code")
    assert text.count("raise NotImplementedError(\\\"请完成") == solutions
    for q in source_lab.questions:
        assert f'check(\\"{q.id}\\")' in text


def test_public_data_holds_only_public_tests(source_lab):
    hidden_calls = {t.call_text() for t in source_lab.tests if t.hidden}
    text = PUBLIC.read_text(encoding="utf-8")
    assert not [c for c in hidden_calls if c in text]
    data = {}
    exec(compile(text, str(PUBLIC), "exec"), data)  # noqa: S102
    public = [t["id"] for q in data["LAB"]["questions"] for t in q["tests"]]
    assert public == [t.id for t in source_lab.tests if not t.hidden]
    assert [q["hidden_tests"] for q in data["LAB"]["questions"]] == [
        sum(t.hidden for t in source_lab.tests if t.question == q.id) for q in source_lab.questions]


def test_lab_questions_and_points(source_lab):
    assert [(q.id, q.points) for q in source_lab.questions][:4] == [("q1", 3), ("q2", 4), ("q3", 2), ("q4", 2)]
    assert all(sum(1 for t in source_lab.tests if t.question == q.id and not t.hidden) >= 1
               for q in source_lab.questions)


# ----------------------------------------------------------------------------- markers


def test_stub_keeps_indentation_and_tags_top_level_stubs(tmp_path):
    path = _lab(tmp_path, [("code", SETUP), ("code", DOUBLE),
                           ("code", "### BEGIN SOLUTION\nANSWER = 42\n### END SOLUTION\n"), ("code", TESTS)])
    nb = student_notebook(read_source(path))
    cells = {c["id"]: c for c in nb["cells"]}
    assert "".join(cells["c1"]["source"]).rstrip("\n") == (
        "def double(x):\n    # 在这里写你的代码（写好后删掉下面这行 raise）\n"
        '    raise NotImplementedError("请完成这部分代码")')
    assert "raises-exception" not in cells["c1"]["metadata"].get("tags", [])
    assert cells["c2"]["metadata"]["tags"] == ["raises-exception"]  # this cell raises when run
    assert "".join(cells["c3"]["source"]).rstrip("\n") == '# question: q1, points: 2\ncheck("q1")'


def test_hidden_only_cell_disappears_and_markdown_regions(tmp_path):
    path = _lab(tmp_path, [
        ("markdown", "# 小实验\n说明\n### BEGIN HIDDEN TESTS\n助教备注\n### END HIDDEN TESTS\n"),
        ("markdown", "回答：\n### BEGIN SOLUTION\n因为……\n### END SOLUTION\n"),
        ("code", SETUP), ("code", DOUBLE), ("code", TESTS),
        ("code", '# question: q1, points: 2\n### BEGIN HIDDEN TESTS\ntest("q1", "double", randn(5, seed=9))\n'
                 '### END HIDDEN TESTS\n'),
    ])
    src = read_source(path)
    assert [t.hidden for t in src.tests] == [False, True, True]
    nb = student_notebook(src)
    assert [c["id"] for c in nb["cells"]] == ["c0", "c1", "c2", "c3", "c4"]
    assert "助教备注" not in json.dumps(nb, ensure_ascii=False)
    assert "".join(nb["cells"][1]["source"]).rstrip("\n") == "回答：\n（在这里写下你的答案）"


@pytest.mark.parametrize("cells, message", [
    ([("code", "def f():\n    ### BEGIN SOLUTION\n    pass\n")], "never closed"),
    ([("code", "### END SOLUTION\n")], "without a BEGIN"),
    ([("code", "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n")], "opened twice"),
    ([("code", 'test("q1", "double", randn(3))\n')], "outside a test cell"),
    ([("code", '# question: q1, points: 2\ntest("q2", "double", randn(3))\n')], "in the cell of q1"),
    ([("code", '# question: q1, points: 2\nx = 1\n')], "holds only test"),
    ([("code", '# question: q1, points: 2\ntest("q1", "double", np.ones(3))\n')], "is not test data"),
    ([("code", '# question: q1, points: 2\ntest("q1", "double", randn(3), foo=open("x"))\n')], "is not test data"),
    ([("code", '# question: q1, points: 2\ncheck("q1")\n')], "has no tests"),
    ([("code", "x = 1\n")], "no test cell"),
    ([("code", '# question: q1, points: 2\ntest("q1", "double", randn(3))\n'),
      ("code", '# question: q1, points: 3\ntest("q1", "double", randn(4))\n')], "points"),
])
def test_authoring_errors_name_the_problem(tmp_path, cells, message):
    with pytest.raises(AuthoringError, match=message):
        read_source(_lab(tmp_path, cells))


def test_reference_run_catches_broken_solutions_and_unhidden_answers(tmp_path):
    broken = _lab(tmp_path, [("code", SETUP), ("code", "def double(x):\n    ### BEGIN SOLUTION\n    return x[99]\n"
                                                      "    ### END SOLUTION\n"), ("code", TESTS)])
    with pytest.raises(AuthoringError, match="does not run cleanly"):
        build_bundle(read_source(broken))
    leaky = _lab(tmp_path, [("code", SETUP), ("code", "def double(x):\n    return 2 * x\n"), ("code", TESTS)])
    with pytest.raises(AuthoringError, match="already passes"):
        build_bundle(read_source(leaky))
    missing = _lab(tmp_path, [("code", SETUP),
                              ("code", "### BEGIN SOLUTION\ndef double(x):\n    return 2 * x\n### END SOLUTION\n"),
                              ("code", TESTS)])
    with pytest.raises(AuthoringError, match="does not define double"):
        build_bundle(read_source(missing))


def test_generate_writes_notebook_public_module_and_private_bundle(tmp_path):
    path = _lab(tmp_path, [("markdown", "# 小实验"), ("code", SETUP), ("code", DOUBLE), ("code", TESTS)])
    result = generate(path, tmp_path / "labs", public_dir=tmp_path / "public", bundle_dir=tmp_path / "bundles")
    nb = nbformat.read(result.notebook, as_version=4)
    nbformat.validate(nb)
    assert (tmp_path / "public" / "tiny_lab.py").exists()
    assert (result.bundle / "lab.json").stat().st_mode & 0o777 == 0o600
    assert result.bundle.stat().st_mode & 0o777 == 0o700
    data = public_data(build_bundle(read_source(path)))
    assert [len(q["tests"]) for q in data["questions"]] == [1]
    again = generate(path, tmp_path / "labs", public_dir=tmp_path / "public", check_only=True)
    assert again.changed == []
