"""Verdicts: a student's output (as data) against the reference, and what to tell the student.

:func:`judge` is the only place a test passes or fails. The grader calls it in its own process,
which never ran student code, with the reference output from the bundle and the record the child
left. Every field of that record is untrusted: only its status, a parsed array and short, cleaned
strings are used.

:func:`explain` writes the feedback in Chinese. For a public test it says what was expected, what
came and gives a hint. For a hidden test it says only what kind of failure it was, in fixed words:
no inputs, no expected values, no text produced by the student's code.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field

import numpy as np

from cnnlab.grading.protocol import ProtocolError, array_from_bytes


@dataclass
class Verdict:
    kind: str                      # "passed" or the kind of failure
    details: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.kind == "passed"


def safe_text(value, limit: int = 200, keep_newlines: bool = False) -> str:
    """An untrusted string, made short and printable: every control character (terminal escapes, carriage
    returns, and newlines unless ``keep_newlines``) becomes a space, so it can neither move a terminal's
    cursor nor fake a line of the grader's own output."""
    text = value if isinstance(value, str) else ""
    text = "".join(ch if ch.isprintable() or ch == " " or (keep_newlines and ch == "\n") else " " for ch in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _int(value):
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**6 else None


def judge(expected: np.ndarray, record, rtol: float, atol: float, *, killed: bool = False) -> Verdict:
    """Compare. ``record`` is ``(header, blob)`` from the child, or None if it never arrived."""
    if record is None:
        return Verdict("killed" if killed else "no_result")
    header, blob = record
    status = header.get("status")
    if status == "ok":
        try:
            got = array_from_bytes(blob)
        except ProtocolError as error:
            return Verdict("invalid_output", {"reason": str(error)[:200]})
        return _compare(np.asarray(expected), got, rtol, atol)
    if status == "error":
        error_type = safe_text(header.get("error_type"), 80)
        is_builtin = header.get("builtin") is True and isinstance(getattr(builtins, error_type, None), type)
        if error_type == "NotImplementedError" and is_builtin:
            return Verdict("not_implemented")
        return Verdict("error", {"type": error_type, "builtin": is_builtin, "message": safe_text(header.get("message")),
                                 "cell": _int(header.get("cell")), "line": _int(header.get("line"))})
    if status == "timeout":
        return Verdict("timeout")
    if status in ("killed", "crashed"):  # set by the grader when this call took the process down
        return Verdict(f"call_{status}")
    if status == "missing":
        return Verdict("missing", {"found": safe_text(header.get("found"), 60) or None})
    if status == "bad_type":
        return Verdict("bad_type", {"type": safe_text(header.get("type"), 60), "detail": safe_text(header.get("detail"), 80)})
    return Verdict("invalid_output", {"reason": "unknown status"})


def _compare(expected: np.ndarray, got: np.ndarray, rtol: float, atol: float) -> Verdict:
    if got.shape != expected.shape:
        return Verdict("shape", {"expected": tuple(expected.shape), "got": tuple(got.shape), "array": got})
    exp = expected.astype(np.float64)
    val = got.astype(np.float64)
    bad = ~np.isfinite(val) & np.isfinite(exp)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        return Verdict("nonfinite", {"count": int(bad.sum()), "first": first, "array": got})
    close = np.isclose(val, exp, rtol=rtol, atol=atol, equal_nan=True)
    if close.all():
        return Verdict("passed")
    wrong = ~close
    first = tuple(int(i) for i in np.argwhere(wrong)[0])
    diff = np.abs(val - exp)
    diff = diff[np.isfinite(diff)]
    return Verdict("wrong", {"count": int(wrong.sum()), "size": int(exp.size), "first": first,
                             "expected_value": float(exp[first]), "got_value": float(val[first]),
                             "max_error": float(diff.max()) if diff.size else float("nan"), "array": got})


# ----------------------------------------------------------------------------- feedback


def show_array(a: np.ndarray, limit: int = 700) -> str:
    a = np.asarray(a)
    text = np.array2string(a, precision=4, suppress_small=True, threshold=60, edgeitems=2, max_line_width=88)
    if len(text) > limit:
        text = text[:limit] + " …"
    return f"形状 {tuple(a.shape)}：\n{text}" if a.ndim else text


def _place(index) -> str:
    return "[" + ", ".join(str(i) for i in index) + "]"


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def headline(verdict: Verdict, *, public: bool, function: str = "", call_timeout: float | None = None,
             total_timeout: float | None = None) -> str:
    """One sentence. For hidden tests it uses fixed words only."""
    d = verdict.details
    kind = verdict.kind
    if kind == "passed":
        return "通过。"
    if kind == "not_implemented":
        return "还没有实现：请把 raise NotImplementedError(...) 换成你的代码。"
    if kind == "missing":
        if d.get("found") and public:
            return f"{function} 不是函数（现在是 {d['found']}）：请不要给函数重新赋值。"
        return f"找不到函数 {function}：请不要改函数名，并确认定义它的单元格能正常运行。"
    if kind == "timeout":
        limit = f" {call_timeout:g} 秒" if call_timeout else "时间限制"
        return f"运行超过{limit}仍未结束：检查是否有死循环，或循环次数过多。"
    if kind == "killed":
        limit = f" {total_timeout:g} 秒" if total_timeout else "时间上限"
        return f"整份提交的运行超过了{limit}，已被强制终止，这个测试没有运行。"
    if kind == "call_killed":
        return "运行这个测试时超过了整份提交的时间上限，被强制终止：是否有无法中断的死循环？"
    if kind == "call_crashed":
        return "运行这个测试时程序退出或崩溃了（例如调用了 exit，或超出了内存上限）。"
    if kind == "no_result":
        return "没有得到结果：程序在运行这个测试之前就结束了（例如调用了 exit、崩溃，或超出了内存上限）。"
    if kind == "bad_type":
        if d.get("type") == "NoneType":
            return "函数返回了 None：是不是忘了 return？"
        return f"返回值的类型是 {d.get('type') if public else '非数组类型'}，应该返回 NumPy 数组（np.ndarray）。"
    if kind == "shape":
        if public:
            return f"输出形状不对：期望 {d['expected']}，得到 {d['got']}。"
        return "输出形状不对。"
    if kind == "nonfinite":
        if public:
            return f"输出中有 {d['count']} 个 NaN 或 inf（第一个在位置 {_place(d['first'])}）。"
        return "输出中有 NaN 或 inf。"
    if kind == "wrong":
        if public:
            return (f"数值不对：{d['size']} 个元素中有 {d['count']} 个超出容差，最大误差 {_fmt(d['max_error'])}；"
                    f"第一个不同的位置 {_place(d['first'])}：期望 {_fmt(d['expected_value'])}，"
                    f"得到 {_fmt(d['got_value'])}。")
        return "数值不对。"
    if kind == "error":
        if not public:
            return f"运行时抛出了异常（{d['type'] if d.get('builtin') else '自定义异常'}）。"
        where = ""
        if d.get("cell"):
            where = f"（第 {d['cell']} 个代码单元格" + (f"第 {d['line']} 行）" if d.get("line") else "）")
        message = f"：{d['message']}" if d.get("message") else ""
        return f"运行时抛出了异常 {d['type']}{message}{where}。"
    return "返回值无法读取。"


def explain(verdict: Verdict, *, function: str, call: str, hint: str | None = None, public: bool, expected=None,
            call_timeout=None, total_timeout=None) -> str:
    """Full feedback for one test of ``function``: the headline, and for a failed public test the ``call``,
    the expected and the actual output, and the author's ``hint``."""
    lines = [headline(verdict, public=public, function=function, call_timeout=call_timeout,
                      total_timeout=total_timeout)]
    if verdict.passed or not public or verdict.kind in ("not_implemented", "missing", "killed", "no_result", "call_killed",
                                                              "call_crashed"):
        return "\n".join(lines)
    lines.append(f"调用：{call}")
    if verdict.kind in ("shape", "wrong", "nonfinite") and expected is not None:
        lines.append("期望 " + show_array(expected))
        lines.append("得到 " + show_array(verdict.details["array"]))
    if hint:
        lines.append(f"提示：{hint}")
    return "\n".join(lines)
