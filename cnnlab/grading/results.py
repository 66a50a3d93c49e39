"""Gradescope-format results for one submission, the class gradebook.

A results.json follows Gradescope's autograder schema: top-level ``score``, ``max_score``,
``execution_time``, ``output``, ``visibility``, ``stdout_visibility``, ``tests`` (each with ``name``,
``number``, ``score``, ``max_score``, ``status`` "passed"/"failed", ``output``, ``visibility``) and
``extra_data`` (ours: lab, student, hashes, per-question scores, the grading status).
"""

from __future__ import annotations

import csv
import io
import json

from cnnlab.grading.compare import Verdict, explain, judge, safe_text

GRADER = "cnnlab-grade"


def _round(x: float) -> float:
    return round(float(x), 4)


def cell_label(cells: list, index) -> str:
    if not isinstance(index, int) or not 1 <= index <= len(cells):
        return "某个代码单元格"
    first = next((line.strip() for line in cells[index - 1].splitlines() if line.strip()), "")
    first = safe_text(first, 40)
    return f"第 {index} 个代码单元格（{first}）" if first else f"第 {index} 个代码单元格"


#: said in every result graded with the weaker isolation (chosen explicitly by the instructor)
WEAK_ISOLATION = ("注意：这次评分使用了较弱的隔离（uid-only，由教师明确选择）：学生代码以无特权用户运行，"
                  "但没有命名空间与私有文件系统；只适用于每份提交各用一个容器的环境（如 Gradescope）。")


def build(bundle, *, student: str, submission_sha256: str, outcome=None, cells=None, problem: str | None = None,
          status: str = "graded", execution_time: float = 0.0, limits=None, notes=(), isolation: str = "bwrap") -> dict:
    """results.json for one submission. ``outcome`` is the child's :class:`RunOutcome` (None when the
    notebook could not be run at all; then ``problem`` says why, in Chinese). ``isolation``: the
    sandbox's mode, recorded in every result (and said in the output when it is the weaker one)."""
    limits = limits or bundle.lab.limits
    hidden_visibility = bundle.lab.hidden_visibility
    questions = {q.id: {"title": q.title, "score": 0.0, "max_score": float(q.points)}
                 for q in bundle.questions}
    numbers: dict[tuple, int] = {}
    tests = []
    killed = bool(outcome and outcome.killed)
    for t in bundle.tests:
        public = not t.hidden
        key = (t.question, public)
        numbers[key] = numbers.get(key, 0) + 1
        if outcome is None:
            verdict = Verdict("not_run")
            text = "提交无法运行，没有得到结果（原因见总体说明）。"
        else:
            verdict = judge(bundle.expected(t.id), outcome.calls.get(t.id), t.rtol, t.atol, killed=killed)
            text = explain(verdict, function=t.function, call=t.call, hint=t.hint, public=public,
                           expected=bundle.expected(t.id), call_timeout=limits.call_timeout,
                           total_timeout=limits.total_timeout)
        score = float(t.points) if verdict.passed else 0.0
        questions[t.question]["score"] += score
        kind = "公开测试" if public else "隐藏测试"
        label = f"「{t.name}」" if public and t.name else ""
        q = questions[t.question]
        tests.append({
            "name": f"{t.question} {q['title']}：{kind} {numbers[key]}{label}",
            "number": t.id,
            "score": score,
            "max_score": float(t.points),
            "status": "passed" if verdict.passed else "failed",
            "output": text,
            "visibility": "visible" if public else hidden_visibility,
        })
    score = sum(q["score"] for q in questions.values())
    max_score = bundle.max_score

    lines = [f"{bundle.lab.title}：得分 {_round(score):g} / {max_score:g}"]
    if isolation == "uid-only":
        lines.append(WEAK_ISOLATION)
    for qid, q in questions.items():
        lines.append(f"  {qid} {q['title']}：{_round(q['score']):g} / {q['max_score']:g}")
    if problem:
        lines.append(problem)
    if outcome is not None:
        cells = cells or []
        cell_notes = []
        for c in outcome.cells:
            if c.get("status") in ("error", "syntax"):
                message = safe_text(c.get("message"), 160)
                where = f"第 {c['line']} 行" if isinstance(c.get("line"), int) else ""
                cell_notes.append(f"  {cell_label(cells, c.get('index'))}{where}：{safe_text(c.get('error_type'), 60)}"
                                  + (f": {message}" if message else ""))
            elif c.get("status") == "timeout":
                cell_notes.append(f"  {cell_label(cells, c.get('index'))}：运行超过 {limits.cell_timeout:g} 秒，已中止。")
        if cell_notes:
            lines.append("运行笔记本时这些单元格出了问题（其余单元格照常运行）：")
            lines.extend(cell_notes[:20])
            if len(cell_notes) > 20:
                lines.append(f"  ……另有 {len(cell_notes) - 20} 个")
        lines.extend(notes)
        if killed:
            lines.append(f"整份提交运行超过 {limits.total_timeout:g} 秒，已被强制终止；之后的测试没有运行。")
            status = "timeout"
        elif not outcome.done:
            ran = len(outcome.cells)
            lines.append(f"程序在运行完 {ran} 个代码单元格后提前结束（退出码 {outcome.returncode}），"
                         "之后的测试没有结果。常见原因：调用了 os._exit/exit、崩溃、或超出了内存上限。")
            status = "crashed"
    return {
        "score": _round(score),
        "max_score": _round(max_score),
        "execution_time": _round(execution_time),
        "output": "\n".join(lines),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {
            "grader": GRADER,
            "lab": bundle.lab_id,
            "student": student,
            "status": status,
            "isolation": isolation,
            "submission_sha256": submission_sha256,
            "bundle_sha256": bundle.sha256(),
            "reruns": sum(1 for n in notes if "重新运行了" in n or "其余测试重新运行" in n),
            "questions": {qid: {"score": _round(q["score"]), "max_score": q["max_score"]}
                          for qid, q in questions.items()},
        },
    }


def dumps(results: dict) -> bytes:
    return (json.dumps(results, ensure_ascii=False, indent=1, allow_nan=False) + "\n").encode("utf-8")


def gradebook_csv(rows: list[dict], question_ids: list[str], refused=(), notes=None) -> bytes:
    """One line per entry of the submissions folder: id, score, max score, each question, status, seconds,
    and a note; an entry that was not graded (``refused``: (id, shown name, reason)) has status
    ``refused`` and the reason as its note."""
    notes = notes or {}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", "score", "max_score", *question_ids, "status", "execution_time", "note"])
    lines = []
    for r in rows:
        extra = r["extra_data"]
        lines.append([extra["student"], f"{r['score']:g}", f"{r['max_score']:g}",
                      *(f"{extra['questions'].get(q, {}).get('score', 0):g}" for q in question_ids),
                      extra["status"], f"{r['execution_time']:g}", notes.get(extra["student"], "")])
    for student, shown, reason in refused:
        lines.append([student, "", "", *("" for _ in question_ids), "refused", "", f"{shown}：{reason}"])
    writer.writerows(sorted(lines, key=lambda line: line[0]))
    return buffer.getvalue().encode("utf-8")
