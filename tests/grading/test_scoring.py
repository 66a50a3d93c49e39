"""Scoring is a pure function of the records that came back; the words come after it."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab.grading import results
from cnnlab.grading.bundle import Bundle
from cnnlab.grading.protocol import array_to_bytes
from cnnlab.grading.sandbox import RunOutcome
from cnnlab.grading import schema
from cnnlab.grading.schema import FORMAT_VERSION, LabFile, Limits, Question
from cnnlab.grading.scoring import MAX_RERUNS, Rerun, score

EXPECTED = {"q1.1": np.array([1.0, 2.0]), "q1.2": np.array([[3.0]]), "q2.1": np.array([5.0])}


def _test(tid, question, points, hidden=False, function="f"):
    return schema.Test(id=tid, question=question, function=function, hidden=hidden, name=None, hint=None, rtol=1e-5,
                atol=1e-6, args=[1], kwargs={}, call=f"{function}(1)", points=points)


@pytest.fixture
def bundle():
    lab = LabFile(format_version=FORMAT_VERSION, lab_id="tiny", title="Tiny", source_sha256="0" * 64,
                  source_path="/nowhere/tiny.ipynb", questions=[Question("q1", 3.0, "One"), Question("q2", 2.0, "Two")],
                  tests=[_test("q1.1", "q1", 1.5), _test("q1.2", "q1", 1.5, hidden=True), _test("q2.1", "q2", 2.0, function="g")],
                  limits=Limits(), forbidden_imports=[], hidden_visibility="after_published")
    return Bundle(lab, {f"out/{k}": v for k, v in EXPECTED.items()})


def ok(value):
    return ({"status": "ok"}, array_to_bytes(np.asarray(value, dtype=float)))


def outcome(calls, *, done=True, killed=False):
    return RunOutcome(calls=calls, started=True, public_done=done, done=done, killed=killed)


def test_every_test_right_is_full_marks(bundle):
    scores = score(bundle, outcome({k: ok(v) for k, v in EXPECTED.items()}))
    assert scores.status == "graded" and scores.score == scores.max_score == 5.0
    assert [t.verdict.kind for t in scores.tests] == ["passed"] * 3
    assert {q: s.score for q, s in scores.questions.items()} == {"q1": 3.0, "q2": 2.0}


def test_a_wrong_hidden_test_costs_its_share_of_the_question(bundle):
    calls = {**{k: ok(v) for k, v in EXPECTED.items()}, "q1.2": ok([[4.0]])}
    scores = score(bundle, outcome(calls))
    assert scores.status == "graded" and scores.score == 3.5
    assert {q: s.score for q, s in scores.questions.items()} == {"q1": 1.5, "q2": 2.0}
    assert [(t.test.id, t.verdict.kind, t.score, t.number) for t in scores.tests] == [
        ("q1.1", "passed", 1.5, 1), ("q1.2", "wrong", 0.0, 1), ("q2.1", "passed", 2.0, 1)]


def test_a_killed_run_is_a_timeout_and_what_never_came_is_lost(bundle):
    scores = score(bundle, outcome({"q1.1": ok(EXPECTED["q1.1"])}, done=False, killed=True))
    assert scores.status == "timeout" and scores.score == 1.5
    assert [t.verdict.kind for t in scores.tests] == ["passed", "killed", "killed"]


def test_a_run_that_ended_early_is_a_crash(bundle):
    scores = score(bundle, outcome({"q2.1": ok(EXPECTED["q2.1"])}, done=False))
    assert scores.status == "crashed" and scores.score == 2.0
    assert [t.verdict.kind for t in scores.tests] == ["no_result", "no_result", "passed"]


def test_a_submission_that_could_not_run_keeps_its_status_and_scores_nothing(bundle):
    scores = score(bundle, None, status="invalid")
    assert scores.status == "invalid" and scores.score == 0
    assert {t.verdict.kind for t in scores.tests} == {"not_run"}


def test_reruns_are_counted_as_data_and_said_in_the_feedback(bundle):
    calls = {**{k: ok(v) for k, v in EXPECTED.items()}, "q2.1": ({"status": "crashed"}, b"")}
    reruns = [Rerun(killed=True, cell=1), Rerun(killed=False, test_id="q2.1", function="g")]
    scores = score(bundle, outcome(calls), reruns=reruns)
    assert scores.status == "graded" and scores.score == 3.0 and not scores.reruns_exhausted
    assert scores.tests[2].verdict.kind == "call_crashed"
    res = results.build(bundle, student="s", submission_sha256="x", outcome=outcome(calls), cells=["while True: pass"],
                        reruns=reruns)
    assert res["extra_data"]["reruns"] == 2 and res["extra_data"]["status"] == "graded"
    assert "第 1 个代码单元格（while True: pass）运行超时被终止；评分时跳过了这个单元格" in res["output"]
    assert "测试 q2.1（函数 g）使程序退出或崩溃；这个函数余下的测试记为未通过" in res["output"]
    assert "次数已用完" not in res["output"]

    many = [Rerun(killed=True, cell=i) for i in range(1, MAX_RERUNS + 2)]
    res = results.build(bundle, student="s", submission_sha256="x", outcome=outcome(calls, done=False, killed=True),
                        cells=["a = 1"] * 5, reruns=many)
    assert res["extra_data"]["reruns"] == MAX_RERUNS + 1 and res["extra_data"]["status"] == "timeout"
    assert "重新运行的次数已用完" in res["output"]


def test_the_gradescope_result_carries_the_scores(bundle):
    calls = {**{k: ok(v) for k, v in EXPECTED.items()}, "q1.1": ok([9.0, 9.0])}
    res = results.build(bundle, student="s", submission_sha256="x", outcome=outcome(calls), isolation="uid-only")
    assert (res["score"], res["max_score"]) == (3.5, 5.0)
    assert [(t["number"], t["score"], t["status"], t["visibility"]) for t in res["tests"]] == [
        ("q1.1", 0.0, "failed", "visible"), ("q1.2", 1.5, "passed", "after_published"),
        ("q2.1", 2.0, "passed", "visible")]
    assert res["tests"][0]["name"] == "q1 One：公开测试 1" and res["tests"][1]["name"] == "q1 One：隐藏测试 1"
    assert res["extra_data"]["questions"] == {"q1": {"score": 1.5, "max_score": 3.0},
                                              "q2": {"score": 2.0, "max_score": 2.0}}
    assert res["output"].startswith("Tiny：得分 3.5 / 5\n注意：这次评分使用了较弱的隔离")
