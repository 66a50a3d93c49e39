"""What a graded submission says to the student, in Chinese: the summary, one text per test, the notes
on cells that failed and on reruns. Words only: the numbers come from :mod:`scoring`.
"""

from __future__ import annotations

from cnnlab.grading.compare import explain, safe_text

#: said in every result graded with the weaker isolation (chosen explicitly by the instructor)
WEAK_ISOLATION = ("注意：这次评分使用了较弱的隔离（uid-only，由教师明确选择）：学生代码以无特权用户运行，"
                  "但没有命名空间与私有文件系统；只适用于每份提交各用一个容器的环境（如 Gradescope）。")
NOT_RUN = "提交无法运行，没有得到结果（原因见总体说明）。"


def _round(x: float) -> float:
    return round(float(x), 4)


def cell_label(cells: list, index) -> str:
    if not isinstance(index, int) or not 1 <= index <= len(cells):
        return "某个代码单元格"
    first = next((line.strip() for line in cells[index - 1].splitlines() if line.strip()), "")
    first = safe_text(first, 40)
    return f"第 {index} 个代码单元格（{first}）" if first else f"第 {index} 个代码单元格"


def rerun_note(rerun, cells: list) -> str:
    how = "运行超时被终止" if rerun.killed else "使程序退出或崩溃"
    if rerun.cell is not None:
        return f"{cell_label(cells, rerun.cell)}{how}；评分时跳过了这个单元格，重新运行了其余部分。"
    return (f"测试 {rerun.test_id}（函数 {rerun.function}）{how}；这个函数余下的测试记为未通过，"
            "其余测试重新运行。")


def test_name(scored, question_title: str) -> str:
    t = scored.test
    kind = "隐藏测试" if t.hidden else "公开测试"
    label = f"「{t.name}」" if not t.hidden and t.name else ""
    return f"{t.question} {question_title}：{kind} {scored.number}{label}"


def test_output(scored, expected, limits) -> str:
    if scored.verdict.kind == "not_run":
        return NOT_RUN
    t = scored.test
    return explain(scored.verdict, function=t.function, call=t.call, hint=t.hint, public=not t.hidden,
                   expected=expected, call_timeout=limits.call_timeout, total_timeout=limits.total_timeout)


def _cell_notes(outcome, cells: list, limits) -> list[str]:
    notes = []
    for c in outcome.cells:
        if c.get("status") in ("error", "syntax"):
            message = safe_text(c.get("message"), 160)
            where = f"第 {c['line']} 行" if isinstance(c.get("line"), int) else ""
            notes.append(f"  {cell_label(cells, c.get('index'))}{where}：{safe_text(c.get('error_type'), 60)}"
                         + (f": {message}" if message else ""))
        elif c.get("status") == "timeout":
            notes.append(f"  {cell_label(cells, c.get('index'))}：运行超过 {limits.cell_timeout:g} 秒，已中止。")
    if not notes:
        return []
    more = [f"  ……另有 {len(notes) - 20} 个"] if len(notes) > 20 else []
    return ["运行笔记本时这些单元格出了问题（其余单元格照常运行）：", *notes[:20], *more]


def summary(title: str, scores, *, outcome=None, cells=None, problem: str | None = None, limits,
            isolation: str = "bwrap") -> str:
    """The result's overall text: the score, each question's, and what went wrong while running."""
    lines = [f"{title}：得分 {_round(scores.score):g} / {scores.max_score:g}"]
    if isolation == "uid-only":
        lines.append(WEAK_ISOLATION)
    for qid, q in scores.questions.items():
        lines.append(f"  {qid} {q.question.title}：{_round(q.score):g} / {q.max_score:g}")
    if problem:
        lines.append(problem)
    if outcome is not None:
        cells = cells or []
        lines.extend(_cell_notes(outcome, cells, limits))
        lines.extend(rerun_note(r, cells) for r in scores.reruns)
        if scores.reruns_exhausted:
            lines.append("重新运行的次数已用完，剩下的测试没有结果。")
        if outcome.killed:
            lines.append(f"整份提交运行超过 {limits.total_timeout:g} 秒，已被强制终止；之后的测试没有运行。")
        elif not outcome.done:
            lines.append(f"程序在运行完 {len(outcome.cells)} 个代码单元格后提前结束（退出码 {outcome.returncode}），"
                         "之后的测试没有结果。常见原因：调用了 os._exit/exit、崩溃、或超出了内存上限。")
    return "\n".join(lines)
