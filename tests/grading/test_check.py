"""check("q1") in the student's notebook: Chinese feedback from the public tests, never a crash, never
a hidden test."""

from __future__ import annotations

import contextlib
import io

import matplotlib.pyplot as plt
import pytest
from grading_helpers import make_submission

from cnnlab.grading import notebook


def run_notebook(nb) -> str:
    """Execute a notebook's code cells in one namespace (as a kernel would) and return what it printed."""
    out = io.StringIO()
    namespace = {"__name__": "__main__"}
    try:
        with contextlib.redirect_stdout(out):
            for source in notebook.code_cells(nb):
                exec(compile(source, "<cell>", "exec"), namespace)  # noqa: S102
    finally:
        plt.close("all")  # the lab's figures
    return out.getvalue()


def test_blank_notebook_runs_to_the_end_and_says_what_to_do(source_lab):
    text = run_notebook(make_submission(source_lab, solutions=False))
    assert text.count("还没有实现") == len(source_lab.questions)
    assert "公开测试通过 0/2" in text


def test_solved_notebook_passes_every_public_test(source_lab):
    text = run_notebook(make_submission(source_lab))
    for q in source_lab.questions:
        n = sum(1 for t in source_lab.tests if t.question == q.id and not t.hidden)
        assert f"公开测试通过 {n}/{n}" in text
    assert text.count("公开测试通过") == len(source_lab.questions) and "✘" not in text


def test_wrong_answer_feedback(source_lab):
    wrong = make_submission(source_lab, replace={"conv2d_single": (
        "def conv2d_single(x, kernel):\n    H, W = x.shape\n    kh, kw = kernel.shape\n"
        "    out = np.zeros((H - kh, W - kw))\n    for i in range(H - kh):\n        for j in range(W - kw):\n"
        "            out[i, j] = np.sum(x[i:i + kh, j:j + kw] * kernel)\n    return out\n")})
    text = run_notebook(wrong)
    q1 = text.split("q2（")[0]
    assert "输出形状不对：期望 (3, 3)，得到 (2, 2)" in q1
    assert "调用：conv2d_single(arange(4, 4), array([[1, 0], [0, -1]]))" in q1
    assert "期望 形状 (3, 3)" in q1 and "得到 形状 (2, 2)" in q1 and "提示：" in q1


def test_check_never_shows_hidden_tests(source_lab):
    text = run_notebook(make_submission(source_lab, replace={
        "avg_pool2d": "def avg_pool2d(x, kernel_size, stride=None):\n    return x\n"}))
    for t in source_lab.tests:
        if t.hidden:
            assert t.call_text() not in text
    assert "隐藏测试" in text  # it says they exist, not what they are


def test_check_survives_anything_the_function_does(source_lab):
    nb = make_submission(source_lab, replace={
        "max_pool2d": "def max_pool2d(x, kernel_size, stride=None):\n    raise SystemExit(3)\n",
        "avg_pool2d": "def avg_pool2d(x, kernel_size, stride=None):\n    return None\n"},
        append=["max_pool2d = 5\n", "check('q3')\n", "check('q9')\n"])
    text = run_notebook(nb)
    assert "SystemExit" in text and "忘了 return" in text
    assert "max_pool2d 不是函数" in text
    assert "没有题目 'q9'" in text


def test_check_is_silent_while_grading(source_lab, monkeypatch):
    monkeypatch.setenv("CNNLAB_GRADING", "1")
    assert run_notebook(make_submission(source_lab, solutions=False)) == ""


def test_source_notebook_checks_the_reference_and_fails_loudly(source_lab):
    from cnnlab.grading.authoring import student_notebook  # noqa: F401
    text = run_notebook(source_lab.nb)
    assert text.count("[源笔记本]") == len(source_lab.questions)
    broken = {**source_lab.nb, "cells": [dict(c) for c in source_lab.nb["cells"]]}
    for cell in broken["cells"]:
        if "def conv2d_single" in notebook.cell_source(cell):
            cell["source"] = "def conv2d_single(x, kernel):\n    return x[100]\n"
    with pytest.raises(AssertionError, match="参考解答没有通过 q1"):
        run_notebook(broken)
