"""Gradescope-format results for one submission: :mod:`scoring`'s numbers and :mod:`feedback`'s words
in Gradescope's autograder schema.

A results.json has top-level ``score``, ``max_score``, ``execution_time``, ``output``, ``visibility``,
``stdout_visibility``, ``tests`` (each with ``name``, ``number``, ``score``, ``max_score``, ``status``
"passed"/"failed", ``output``, ``visibility``) and ``extra_data`` (ours: lab, student, hashes,
per-question scores, the grading status, the number of reruns).
"""

from __future__ import annotations

import json

from cnnlab.grading import feedback, scoring

GRADER = "cnnlab-grade"


def _round(x: float) -> float:
    return round(float(x), 4)


def build(bundle, *, student: str, submission_sha256: str, outcome=None, cells=None, problem: str | None = None,
          status: str = "graded", execution_time: float = 0.0, limits=None, reruns=(), isolation: str = "bwrap") -> dict:
    """results.json for one submission. ``outcome`` is the child's :class:`RunOutcome` (None when the
    notebook could not be run at all; then ``problem`` says why, in Chinese); ``reruns``: the
    :class:`scoring.Rerun` events of its grading. ``isolation``: the sandbox's mode, recorded in every
    result (and said in the output when it is the weaker one)."""
    limits = limits or bundle.lab.limits
    scores = scoring.score(bundle, outcome, reruns=reruns, status=status)
    tests = [{
        "name": feedback.test_name(s, bundle.lab.question(s.test.question).title),
        "number": s.test.id,
        "score": s.score,
        "max_score": float(s.test.points),
        "status": "passed" if s.verdict.passed else "failed",
        "output": feedback.test_output(s, bundle.expected(s.test.id), limits),
        "output_format": "text",  # it quotes student text (error messages); Gradescope's default renders HTML
        "visibility": bundle.lab.hidden_visibility if s.test.hidden else "visible",
    } for s in scores.tests]
    return {
        "score": _round(scores.score),
        "max_score": _round(scores.max_score),
        "execution_time": _round(execution_time),
        "output": feedback.summary(bundle.lab.title, scores, outcome=outcome, cells=cells, problem=problem,
                                   limits=limits, isolation=isolation),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {
            "grader": GRADER,
            "lab": bundle.lab_id,
            "student": student,
            "status": scores.status,
            "isolation": isolation,
            "submission_sha256": submission_sha256,
            "bundle_sha256": bundle.sha256(),
            "reruns": len(scores.reruns),
            "questions": {qid: {"score": _round(q.score), "max_score": q.max_score}
                          for qid, q in scores.questions.items()},
        },
    }


def dumps(results: dict) -> bytes:
    return (json.dumps(results, ensure_ascii=False, indent=1, allow_nan=False) + "\n").encode("utf-8")
