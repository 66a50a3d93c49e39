"""Scoring: what came back from a submission -> a verdict and points per test, per question and in all,
and the grading status. Pure: data in, data out; no text for anyone, no files (see :mod:`feedback`,
:mod:`results` and :mod:`gradebook` for those).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cnnlab.grading.compare import Verdict, judge
from cnnlab.grading.schema import Question, Test

#: how many times a submission is run again after a cell or a call killed its process
MAX_RERUNS = 2


@dataclass
class Rerun:
    """One run of a submission that did not reach the end, and what the grader did about it: skip the
    code ``cell`` (1-based) it died in, or fail the remaining tests of the ``function`` whose test
    ``test_id`` it died in. ``killed``: by the watchdog (otherwise it exited or crashed)."""

    killed: bool
    cell: int | None = None
    test_id: str | None = None
    function: str | None = None


@dataclass
class TestScore:
    test: Test
    verdict: Verdict
    score: float
    number: int                    # its place among its question's public (or hidden) tests, from 1


@dataclass
class QuestionScore:
    question: Question
    score: float = 0.0

    @property
    def max_score(self) -> float:
        return float(self.question.points)


@dataclass
class Scores:
    tests: list[TestScore]
    questions: dict[str, QuestionScore]
    max_score: float
    status: str                    # graded, invalid, error, timeout or crashed
    reruns: list[Rerun] = field(default_factory=list)

    @property
    def score(self) -> float:
        return sum(q.score for q in self.questions.values())

    @property
    def reruns_exhausted(self) -> bool:
        """The submission still died after its last rerun: the remaining tests have no result."""
        return len(self.reruns) > MAX_RERUNS


def score(bundle, outcome=None, *, reruns=(), status: str = "graded") -> Scores:
    """Judge every test of ``bundle`` on ``outcome`` (the child's :class:`RunOutcome`; None when the
    submission could not be run, then every test fails as not run and ``status`` stands). A run that the
    watchdog killed has status ``timeout``, one that ended early ``crashed``."""
    questions = {q.id: QuestionScore(q) for q in bundle.questions}
    numbers: dict[tuple, int] = {}
    tests = []
    killed = bool(outcome and outcome.killed)
    for t in bundle.tests:
        key = (t.question, t.hidden)
        numbers[key] = numbers.get(key, 0) + 1
        if outcome is None:
            verdict = Verdict("not_run")
        else:
            verdict = judge(bundle.expected(t.id), outcome.calls.get(t.id), t.rtol, t.atol, killed=killed)
        points = float(t.points) if verdict.passed else 0.0
        questions[t.question].score += points
        tests.append(TestScore(t, verdict, points, numbers[key]))
    if outcome is not None:
        if killed:
            status = "timeout"
        elif not outcome.done:
            status = "crashed"
    return Scores(tests, questions, bundle.max_score, status, list(reruns))
