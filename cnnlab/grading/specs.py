"""Tests as data: a test names a student function and fixed, seeded inputs. Nothing else.

In a lab's source notebook a test is one line::

    test("q1", "conv2d_single", arange(4, 4), array([[1, 0], [0, -1]]), name="4×4 输入", hint="...")

``test(question, function, *args, name=, hint=, rtol=, atol=, **kwargs)``: the positional and keyword
arguments after the function name are the function's own arguments; array arguments are written with
the input constructors below (:func:`randn`, :func:`randint`, :func:`arange`, :func:`array`), other
arguments are plain Python constants (``stride=2``, ``kernel_size=(2, 3)``, ``bias=None``).

The generator reads these lines *without executing them* (:func:`parse_test_calls` evaluates a tiny
whitelisted subset of Python), materialises every input once, runs the reference solution on it and
stores inputs and reference outputs as arrays. What a test is compared against is decided by the
grader from that stored data, never by code in the student's process.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["InputSpec", "TestSpec", "randn", "randint", "arange", "array", "make_test", "parse_test_calls",
           "SpecError", "CONSTRUCTORS"]

DEFAULT_RTOL = 1e-5
DEFAULT_ATOL = 1e-6
_META = ("name", "hint", "rtol", "atol")


class SpecError(ValueError):
    """A test line that is not valid test data."""


def _shape(dims) -> tuple[int, ...]:
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in dims):
        raise SpecError(f"shape must be non-negative integers, got {dims!r}")
    return tuple(int(d) for d in dims)


@dataclass(frozen=True)
class InputSpec:
    """A reproducible array: how it is written in the notebook and how it is made."""

    kind: str
    params: tuple

    def materialize(self) -> np.ndarray:
        p = dict(self.params)
        if self.kind == "randn":
            rng = np.random.default_rng(p["seed"])
            values = rng.standard_normal(p["shape"]) * p["scale"]
            return np.round(values, p["decimals"]) if p["decimals"] is not None else values
        if self.kind == "randint":
            rng = np.random.default_rng(p["seed"])
            return rng.integers(p["low"], p["high"], size=p["shape"]).astype(np.float64)
        if self.kind == "arange":
            n = math.prod(p["shape"])
            return (p["start"] + p["step"] * np.arange(n, dtype=np.float64)).reshape(p["shape"])
        if self.kind == "array":
            return np.array(p["values"], dtype=np.float64)
        raise SpecError(f"unknown input kind {self.kind!r}")

    def __repr__(self) -> str:  # the notation of the source notebook
        p = dict(self.params)
        shape = ", ".join(str(d) for d in p.get("shape", ()))
        if self.kind == "randn":
            extra = "".join(f", {k}={p[k]!r}" for k, default in (("scale", 1.0), ("decimals", 3)) if p[k] != default)
            return f"randn({shape}, seed={p['seed']}{extra})"
        if self.kind == "randint":
            return f"randint({p['low']}, {p['high']}, {shape}, seed={p['seed']})"
        if self.kind == "arange":
            extra = "".join(f", {k}={p[k]!r}" for k, default in (("start", 0), ("step", 1)) if p[k] != default)
            return f"arange({shape}{extra})"
        def listed(v):
            return [listed(x) for x in v] if isinstance(v, tuple) else v
        return f"array({listed(p['values'])!r})"


def randn(*shape, seed: int = 0, scale: float = 1.0, decimals: int | None = 3) -> InputSpec:
    """Standard normal numbers of ``shape`` from ``numpy.random.default_rng(seed)``, times ``scale``,
    rounded to ``decimals`` places (3 by default, so that feedback prints short, exact numbers)."""
    return InputSpec("randn", (("shape", _shape(shape)), ("seed", int(seed)), ("scale", float(scale)),
                               ("decimals", None if decimals is None else int(decimals))))


def randint(low: int, high: int, *shape, seed: int = 0) -> InputSpec:
    """Integers in ``[low, high)`` of ``shape`` (stored as float64)."""
    return InputSpec("randint", (("low", int(low)), ("high", int(high)), ("shape", _shape(shape)),
                                 ("seed", int(seed))))


def arange(*shape, start: float = 0, step: float = 1) -> InputSpec:
    """``start, start + step, ...`` filling ``shape`` in C order (float64): easy to check by hand."""
    return InputSpec("arange", (("shape", _shape(shape)), ("start", start), ("step", step)))


def array(values) -> InputSpec:
    """A literal array (float64), written out in the notebook."""
    def freeze(v):
        if isinstance(v, (list, tuple)):
            return tuple(freeze(x) for x in v)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise SpecError(f"array() takes nested lists of numbers, got {v!r}")
        return v
    frozen = freeze(values)
    try:
        np.array(frozen, dtype=np.float64)  # ragged lists fail here, at authoring time
    except ValueError:
        raise SpecError(f"array() of a ragged nested list {values!r}") from None
    return InputSpec("array", (("values", frozen),))


CONSTRUCTORS = {"randn": randn, "randint": randint, "arange": arange, "array": array}


@dataclass
class TestSpec:
    """One test: call ``function(*args, **kwargs)`` and compare with the reference output."""

    question: str
    function: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    name: str | None = None
    hint: str | None = None
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    hidden: bool = False
    id: str = ""

    def call_text(self) -> str:
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.function}({', '.join(parts)})"

    def materialize(self):
        """(args, kwargs) with every :class:`InputSpec` replaced by its array."""
        def real(v):
            return v.materialize() if isinstance(v, InputSpec) else v
        return tuple(real(a) for a in self.args), {k: real(v) for k, v in self.kwargs.items()}


def _check_constant(value, where: str):
    if isinstance(value, InputSpec) or value is None or isinstance(value, (bool, int, float, str)):
        return
    if isinstance(value, (tuple, list)):
        for v in value:
            _check_constant(v, where)
        return
    raise SpecError(f"{where}: {value!r} is neither an input (randn, arange, ...) nor a constant")


def make_test(question, function, *args, name=None, hint=None, rtol=DEFAULT_RTOL, atol=DEFAULT_ATOL,
              **kwargs) -> TestSpec:
    """Build a :class:`TestSpec`, checking that it is pure data."""
    if not isinstance(question, str) or not isinstance(function, str) or not function.isidentifier():
        raise SpecError(f"test(question, function, ...) wants two strings, got {question!r}, {function!r}")
    for i, a in enumerate(args):
        _check_constant(a, f"argument {i + 1} of {function}")
    for k, v in kwargs.items():
        _check_constant(v, f"argument {k}= of {function}")
    if not args and not kwargs:
        raise SpecError(f"test of {function} has no arguments")
    if (name is not None and not isinstance(name, str)) or (hint is not None and not isinstance(hint, str)):
        raise SpecError("name= and hint= must be strings")
    if not (isinstance(rtol, (int, float)) and isinstance(atol, (int, float)) and rtol >= 0 and atol >= 0):
        raise SpecError("rtol= and atol= must be non-negative numbers")
    return TestSpec(question, function, tuple(args), dict(kwargs), name, hint, float(rtol), float(atol))


# ----------------------------------------------------------------------------- static parsing


def _literal(node: ast.AST, where: str):
    """Evaluate the whitelisted subset: constants, tuples/lists, unary +/-, input constructors."""
    if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, (bool, int, float, str))):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _literal(node.operand, where)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SpecError(f"{where}: unary sign on a non-number")
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Tuple):
        return tuple(_literal(e, where) for e in node.elts)
    if isinstance(node, ast.List):
        return [_literal(e, where) for e in node.elts]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in CONSTRUCTORS:
        args = [_literal(a, where) for a in node.args]
        kwargs = {k.arg: _literal(k.value, where) for k in node.keywords if k.arg}
        if len(kwargs) != len(node.keywords):
            raise SpecError(f"{where}: ** is not allowed in test data")
        try:
            return CONSTRUCTORS[node.func.id](*args, **kwargs)
        except TypeError as error:
            raise SpecError(f"{where}: {error}") from None
    raise SpecError(f"{where}: `{ast.unparse(node)}` is not test data "
                    f"(use constants and {', '.join(CONSTRUCTORS)})")


def is_call_to(stmt: ast.stmt, name: str) -> bool:
    return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
            and isinstance(stmt.value.func, ast.Name) and stmt.value.func.id == name)


def parse_test_call(stmt: ast.stmt, where: str) -> TestSpec:
    call = stmt.value
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        raise SpecError(f"{where}: * and ** are not allowed in test(...)")
    args = [_literal(a, where) for a in call.args]
    kwargs = {k.arg: _literal(k.value, where) for k in call.keywords}
    if len(args) < 2:
        raise SpecError(f"{where}: test(question, function, ...) needs a question and a function name")
    try:
        return make_test(*args, **kwargs)
    except TypeError as error:
        raise SpecError(f"{where}: {error}") from None


def parse_test_calls(source: str, where: str = "cell") -> list[tuple[ast.stmt, TestSpec]]:
    """Every top-level ``test(...)`` statement of ``source`` as ``(statement, TestSpec)``."""
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise SpecError(f"{where}: syntax error on line {error.lineno}: {error.msg}") from None
    return [(stmt, parse_test_call(stmt, f"{where}, line {stmt.lineno}"))
            for stmt in tree.body if is_call_to(stmt, "test")]
