"""What a lab notebook imports: ``Lab(...)`` with its ``test`` and ``check``.

The first code cell of every lab (source and student notebook alike) is::

    from cnnlab.grading import Lab, arange, array, randint, randn
    lab = Lab("lab2_conv_pool")
    test, check = lab.test, lab.check

``check("q1")`` runs the *public* tests of question ``q1`` on the functions defined in the notebook
and prints, in Chinese, what was expected, what came and a hint. It never raises (so a blank student
notebook runs from top to bottom, as the book build and nbval require) and it never sees a hidden
test: the student notebook has none, and the public data it reads ships in
``cnnlab.grading.labs.<lab>``. It is feedback, not grading: grading happens elsewhere, on data.

In the instructor's source notebook the test cells call ``test(...)`` first; ``check`` then runs
every test registered for the question (hidden ones included) on the reference solution and raises
if one fails, so that a broken reference fails the notebook's own execution.

While a submission is being graded (``CNNLAB_GRADING=1`` in the grading child) ``check`` does nothing.
"""

from __future__ import annotations

import importlib
import os
import sys

import numpy as np

from cnnlab.grading import _guard
from cnnlab.grading.compare import explain, judge
from cnnlab.grading.protocol import BadOutput, array_to_bytes, decode_value, to_output
from cnnlab.grading.specs import make_test

_guard.protect_file(__file__)


def _call_record(fn, args, kwargs, timeout):
    """Call a function of the notebook like the grading child does, and shape the result the same way."""
    status, value = _guard.guarded(lambda: to_output(fn(*args, **kwargs)), timeout)
    if status == "ok":
        return {"status": "ok"}, array_to_bytes(value)
    if status == "timeout":
        return {"status": "timeout"}, b""
    if isinstance(value, BadOutput):
        return {"status": "bad_type", "type": value.type_name, "detail": value.detail}, b""
    header = {"status": "error", "error_type": type(value).__name__,
              "builtin": type(value).__module__ == "builtins", "message": str(value)[:300]}
    return header, b""


def _array(inline: dict) -> np.ndarray:
    return np.array(inline["data"], dtype=inline["dtype"]).reshape(inline["shape"])


def _arg(value):
    if isinstance(value, dict) and "inline" in value:
        return _array(value["inline"])
    return decode_value(value)


class Lab:
    """One lab's tests inside its notebook."""

    def __init__(self, lab_id: str):
        self.lab_id = lab_id
        self._registered: dict[str, list] = {}

    # ------------------------------------------------------------------ authoring

    def test(self, question, function, *args, **kwargs) -> None:
        """Declare a test (source notebook only). The generator reads these lines as data; here they
        are only registered so that ``check`` can run them on the reference solution."""
        self._registered.setdefault(question, []).append(make_test(question, function, *args, **kwargs))

    # ------------------------------------------------------------------ checking

    def check(self, question: str) -> None:
        """Run the public tests of ``question`` and print the result. Never raises for a student."""
        if os.environ.get("CNNLAB_GRADING") == "1":
            return None
        namespace = sys._getframe(1).f_globals
        if question in self._registered:
            return self._check_reference(question, namespace)
        try:
            print(self.report(question, namespace))
        except Exception as error:  # noqa: BLE001 - check() must never break the notebook
            print(f"check({question!r}) 自身出错了（{type(error).__name__}: {error}），请告诉助教。")
        return None

    def _public(self) -> dict | None:
        try:
            return importlib.import_module(f"cnnlab.grading.labs.{self.lab_id}").LAB
        except ModuleNotFoundError:
            return None

    def report(self, question: str, namespace: dict) -> str:
        data = self._public()
        if data is None:
            return (f"找不到实验 {self.lab_id} 的公开测试数据（cnnlab.grading.labs.{self.lab_id}）。"
                    "请确认已安装与本笔记本同一版本的 cnnlab。")
        questions = {q["id"]: q for q in data["questions"]}
        if question not in questions:
            return f"本实验没有题目 {question!r}；题目有：{', '.join(questions)}。"
        q = questions[question]
        lines = [f"{q['id']}（{q['points']:g} 分）{q['title']} · 公开测试"]
        passed, kinds, rows = 0, [], []
        for number, test in enumerate(q["tests"], start=1):
            label = f"测试 {number}" + (f"「{test['name']}」" if test.get("name") else "")
            expected = _array(test["expected"])
            fn = namespace.get(test["function"])
            if not callable(fn):
                record = ({"status": "missing", "found": None if fn is None else type(fn).__name__}, b"")
            else:
                args = [_arg(a) for a in test["args"]]
                kwargs = {k: _arg(v) for k, v in test["kwargs"].items()}
                record = _call_record(fn, args, kwargs, data.get("call_timeout", 10))
            verdict = judge(expected, record, test["rtol"], test["atol"])
            passed += verdict.passed
            kinds.append(verdict.kind)
            body = explain(verdict, function=test["function"], call=test["call"], hint=test.get("hint"), public=True,
                           expected=expected, call_timeout=data.get("call_timeout")).split("\n")
            rows.append(f"  {'✔' if verdict.passed else '✘'} {label}：{body[0]}")
            rows.extend("      " + line for line in body[1:])
        if kinds and all(k == "not_implemented" for k in kinds):
            rows = ["  ✘ 还没有实现：请把 raise NotImplementedError(...) 换成你的代码，然后重新运行本单元格。"]
        lines.extend(rows)
        total = len(q["tests"])
        if total:
            summary = f"公开测试通过 {passed}/{total}。"
        else:
            summary = "这道题没有公开测试。"
        if q["hidden_tests"]:
            summary += f"评分时还会运行 {q['hidden_tests']} 个隐藏测试（同一个函数，换了输入）。"
        lines.append("  " + summary)
        return "\n".join(lines)

    def _check_reference(self, question: str, namespace: dict) -> None:
        """Source notebook: every registered test must run on the reference solution."""
        failures = []
        for spec in self._registered[question]:
            fn = namespace.get(spec.function)
            if not callable(fn):
                failures.append(f"{spec.call_text()}: 没有定义函数 {spec.function}")
                continue
            args, kwargs = spec.materialize()
            header, blob = _call_record(fn, args, kwargs, 120)
            if header["status"] != "ok":
                failures.append(f"{spec.call_text()}: {header}")
        count = len(self._registered[question])
        if failures:
            raise AssertionError(f"参考解答没有通过 {question} 的测试：\n" + "\n".join(failures))
        print(f"[源笔记本] {question}：{count} 个测试（含隐藏测试）都能在参考解答上运行。")


__all__ = ["Lab"]
