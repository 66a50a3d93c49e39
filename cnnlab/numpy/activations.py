"""Activation functions (激活函数), elementwise, with their derivatives, in NumPy.

Every activation on the slides is here, in the slides' order (see ``ACTIVATIONS``). Each ``f`` comes
with two companions:

- ``f_grad(x)``: the derivative f'(x), elementwise, same shape as ``x``;
- ``f_backward(grad_out, x)``: the backward pass, ``grad_out * f_grad(x)`` (the chain rule).

The public ``f`` and ``f_backward`` check their arguments; the private ``_f`` and ``_f_backward`` right
below them do the math, one per direction (the shape of every op module; ``cnnlab.torch`` runs these
same functions on tensors, see ``cnnlab/torch/_mirror.py``).

Shapes: ``x`` is an array of any shape, ``(*)``; every result has the same shape and dtype.
Names and keyword arguments follow ``torch.nn.functional`` (``leaky_relu(x, negative_slope=0.01)``,
``elu(x, alpha=1.0)``, ``softplus(x, beta=1.0, threshold=20.0)``, ``silu``, ``mish``, ``logsigmoid``
is spelled ``log_sigmoid`` as on the slide).

Numerics: every function is written so that it gives no overflow and no warning even at x = ±1000,
in float32 and float64. The trick is always the same: only ever call ``exp`` on a number <= 0
(``exp(-|x|)`` instead of ``exp(x)``), so the result lies in (0, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .._checks import check_float, check_shape
from ._arrays import check_arrays

__all__ = [
    "ACTIVATIONS", "Activation",
    "sigmoid", "sigmoid_grad", "sigmoid_backward",
    "tanh", "tanh_grad", "tanh_backward",
    "step", "step_grad", "step_backward",
    "softplus", "softplus_grad", "softplus_backward",
    "relu", "relu_grad", "relu_backward",
    "softsign", "softsign_grad", "softsign_backward",
    "elu", "elu_grad", "elu_backward",
    "log_sigmoid", "log_sigmoid_grad", "log_sigmoid_backward",
    "swish", "swish_grad", "swish_backward", "silu", "silu_grad", "silu_backward",
    "sinc", "sinc_grad", "sinc_backward",
    "leaky_relu", "leaky_relu_grad", "leaky_relu_backward",
    "mish", "mish_grad", "mish_backward",
]


def _exp_nonpositive(a: np.ndarray) -> np.ndarray:
    """``exp(a)`` for ``a <= 0``, without the underflow warning.

    ``np.exp(-1000.0)`` is 0, but NumPy flags it as an underflow. Results at the edge of the
    smallest normal float (about 1e-308 in float64, 1e-38 in float32) are set to exactly 0
    instead of being computed.
    """
    cutoff = np.log(np.finfo(a.dtype).tiny) + 1  # about -707 in float64, -86 in float32
    return np.where(a < cutoff, 0, np.exp(np.maximum(a, cutoff)))


def _check(x, op: str) -> None:
    check_arrays(op, (x, "input"))
    check_float(x, "input", op)


def _check_backward(grad_out, x, op: str) -> None:
    check_arrays(op, (x, "input"), (grad_out, "grad_out"))
    check_float(x, "input", op)
    check_float(grad_out, "grad_out", op)
    check_shape(grad_out, x.shape, "grad_out", op)


# ---------------------------------------------------------------------------------------------
# Sigmoid: σ(x) = 1 / (1 + e^{-x}),   σ'(x) = σ(x) (1 - σ(x))
# ---------------------------------------------------------------------------------------------

def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic sigmoid ``1 / (1 + exp(-x))``, values in (0, 1). Shape ``(*) -> (*)``."""
    _check(x, "sigmoid")
    return _sigmoid(x)


def _sigmoid(x):
    # With e = exp(-|x|) <= 1: for x >= 0, σ = 1 / (1 + e); for x < 0, σ = e / (1 + e).
    # Both forms only divide by numbers in [1, 2], so nothing overflows.
    e = _exp_nonpositive(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_grad(x: np.ndarray) -> np.ndarray:
    """σ'(x) = σ(x) (1 - σ(x)). Shape ``(*) -> (*)``."""
    _check(x, "sigmoid_grad")
    s = _sigmoid(x)
    return s * (1 - s)


def sigmoid_backward(grad_out: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Gradient of the input: ``grad_out * σ'(x)``. Shapes ``(*), (*) -> (*)``."""
    _check_backward(grad_out, x, "sigmoid_backward")
    return _sigmoid_backward(grad_out, x)


def _sigmoid_backward(grad_out, x):
    return grad_out * sigmoid_grad(x)


# ---------------------------------------------------------------------------------------------
# Tanh: tanh(x) = (e^x - e^{-x}) / (e^x + e^{-x}),   tanh'(x) = 1 - tanh(x)^2
# ---------------------------------------------------------------------------------------------

def tanh(x: np.ndarray) -> np.ndarray:
    """Hyperbolic tangent, values in (-1, 1); equals ``2 σ(2x) - 1``. Shape ``(*) -> (*)``."""
    _check(x, "tanh")
    return _tanh(x)


def _tanh(x):
    return np.tanh(x)


def tanh_grad(x: np.ndarray) -> np.ndarray:
    """tanh'(x) = 1 - tanh(x)^2. Shape ``(*) -> (*)``."""
    _check(x, "tanh_grad")
    t = _tanh(x)
    return (1 - t) * (1 + t)  # = 1 - t^2, but t * t would underflow for tiny t


def tanh_backward(grad_out: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Gradient of the input: ``grad_out * (1 - tanh(x)^2)``. Shapes ``(*), (*) -> (*)``."""
    _check_backward(grad_out, x, "tanh_backward")
    return _tanh_backward(grad_out, x)


def _tanh_backward(grad_out, x):
    return grad_out * tanh_grad(x)


# ---------------------------------------------------------------------------------------------
# Step (阶跃函数): 1 for x > 0, 0 for x <= 0 (as torch.heaviside(x, 0)),   derivative 0
# ---------------------------------------------------------------------------------------------

def step(x: np.ndarray) -> np.ndarray:
    """Unit step: 1 where ``x > 0``, 0 where ``x <= 0`` (so ``step(0) = 0``, like the slide's ReLU case
    split and ``torch.heaviside(x, values=0)``). Shape ``(*) -> (*)``."""
    _check(x, "step")
    return _step(x)


def _step(x):
    return np.where(x > 0, 1, np.zeros_like(x))  # zeros_like: the result has x's dtype


def step_grad(x: np.ndarray) -> np.ndarray:
    """The step is flat everywhere except at 0, where it jumps; we use 0 there too, so no gradient
    ever flows through a step. This is why the perceptron's step was replaced by sigmoid for
    gradient descent. Shape ``(*) -> (*)``."""
    _check(x, "step_grad")
    return np.zeros_like(x)


def step_backward(grad_out: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Gradient of the input: always 0. Shapes ``(*), (*) -> (*)``."""
    _check_backward(grad_out, x, "step_backward")
    return _step_backward(grad_out, x)


def _step_backward(grad_out, x):
    return grad_out * step_grad(x)


# ---------------------------------------------------------------------------------------------
# Softplus: log(1 + e^x), a smooth ReLU,   derivative σ(x)
# ---------------------------------------------------------------------------------------------

def softplus(x: np.ndarray, beta: float = 1.0, threshold: float = 20.0) -> np.ndarray:
    """``log(1 + exp(beta x)) / beta``, and exactly ``x`` where ``beta x > threshold`` (as torch: there
    the two differ by less than ``exp(-threshold) / beta``). Shape ``(*) -> (*)``."""
    _check(x, "softplus")
    return _softplus(x, beta, threshold)


def _softplus(x, beta, threshold):
    bx = beta * x
    # log(1 + e^z) = max(z, 0) + log(1 + e^{-|z|}): the exp never sees a positive number.
    smooth = (np.clip(bx, 0, None) + np.log1p(_exp_nonpositive(-np.abs(bx)))) / beta
    return np.where(bx > threshold, x, smooth)


def softplus_grad(x: np.ndarray, beta: float = 1.0, threshold: float = 20.0) -> np.ndarray:
    """Derivative of ``softplus``: σ(beta x), and 1 in the linear part. Shape ``(*) -> (*)``."""
    _check(x, "softplus_grad")
    bx = beta * x
    return np.where(bx > threshold, 1, _sigmoid(bx))


def softplus_backward(grad_out: np.ndarray, x: np.ndarray, beta: float = 1.0, threshold: float = 20.0) -> np.ndarray:
    """Gradient of the input: ``grad_out * σ(beta x)``. Shapes ``(*), (*) -> (*)``."""
    _check_backward(grad_out, x, "softplus_backward")
    return _softplus_backward(grad_out, x, beta, threshold)


def _softplus_backward(grad_out, x, beta, threshold):
    return grad_out * softplus_grad(x, beta, threshold)


# ---------------------------------------------------------------------------------------------
# ReLU: max(0, x),   derivative 1 for x > 0, 0 for x <= 0 (the slide's rule)
# ---------------------------------------------------------------------------------------------

def relu(x: np.ndarray) -> np.ndarray:
    """Rectified linear unit: ``x`` for ``x > 0``, else 0. Shape ``(*) -> (*)``."""
    _check(x, "relu")
    return _relu(x)


def _relu(x):
    return x.clip(min=0)  # max(0, x), element by element


def relu_grad(x: np.ndarray) -> np.ndarray:
    """1 where ``x > 0``, 0 where ``x <= 0``: the slide's rule, "if x <= 0 the signal stops here"
    (also torch's choice at x = 0). Shape ``(*) -> (*)``."""
    _check(x, "relu_grad")
    return np.where(x > 0, 1, np.zeros_like(x))


def relu_backward(grad_out: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Gradient of the input: ``grad_out`` passes where ``x > 0`` and stops elsewhere. Shapes ``(*), (*) -> (*)``."""
    _check_backward(grad_out, x, "relu_backward")
    return _relu_backward(grad_out, x)


def _relu_backward(grad_out, x):
    return grad_out * (x > 0)  # relu_grad(x) without a second check: True counts as 1, False as 0


# ---------------------------------------------------------------------------------------------
# Softsign: x / (1 + |x|),   derivative 1 / (1 + |x|)^2
# ---------------------------------------------------------------------------------------------

def softsign(x: np.ndarray) -> np.ndarray:
    """``x / (1 + |x|)``, values in (-1, 1); like tanh but with polynomial tails. Shape ``(*) -> (*)``."""
    _check(x, "softsign")
    return _softsign(x)


def _softsign(x):
    return x / (1 + np.abs(x))


def softsign_grad(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + |x|)^2``. Shape ``(*) -> (*)``."""
    _check(x, "softsign_grad")
    r = 1 / (1 + np.abs(x))
    return r * r


def softsign_backward(grad_out: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Gradient of the input: ``grad_out / (1 + |x|)^2``. Shapes ``(*), (*) -> (*)``."""
    _check_backward(grad_out, x, "softsign_backward")
    return _softsign_backward(grad_out, x)


def _softsign_backward(grad_out, x):
    return grad_out * softsign_grad(x)


# ---------------------------------------------------------------------------------------------
# ELU: x for x > 0, alpha (e^x - 1) for x <= 0,   derivative 1, resp. alpha e^x
# ---------------------------------------------------------------------------------------------

def elu(x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Exponential linear unit: ``x`` for ``x > 0``, ``alpha (exp(x) - 1)`` for ``x <= 0``. Shape ``(*) -> (*)``."""
    _check(x, "elu")
    return _elu(x, alpha)


def _elu(x, alpha):
    # expm1(z) = e^z - 1 is accurate for small z; min(x, 0) keeps the exp away from positive x.
    return np.where(x > 0, x, alpha * np.expm1(np.clip(x, None, 0)))


def elu_grad(x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """1 for ``x > 0``, ``alpha exp(x)`` for ``x <= 0`` (alpha at x = 0, as torch). Shape ``(*) -> (*)``."""
    _check(x, "elu_grad")
    return np.where(x > 0, 1, alpha * _exp_nonpositive(np.clip(x, None, 0)))


def elu_backward(grad_out: np.ndarray, x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Gradient of the input: ``grad_out * elu_grad(x, alpha)``. Shapes ``(*), (*) -> (*)``."""
    _check_backward(grad_out, x, "elu_backward")
    return _elu_backward(grad_out, x, alpha)


def _elu_backward(grad_out, x, alpha):
    return grad_out * elu_grad(x, alpha)


# ---------------------------------------------------------------------------------------------
# Log of sigmoid: log σ(x) = -softplus(-x),   derivative σ(-x) = 1 - σ(x)
# ---------------------------------------------------------------------------------------------

def log_sigmoid(x: np.ndarray) -> np.ndarray:
    """``log(σ(x)) = -log(1 + exp(-x))``, values in (-inf, 0) (torch: ``F.logsigmoid``). Shape ``(*) -> (*)``."""
    _check(x, "log_sigmoid")
    return _log_sigmoid(x)


def _log_sigmoid(x):
    # -log(1 + e^{-x}) = min(x, 0) - log(1 + e^{-|x|}); log(sigmoid(x)) itself would give log(0) = -inf.
    return np.clip(x, None, 0) - np.log1p(_exp_nonpositive(-np.abs(x)))


def log_sigmoid_grad(x: np.ndarray) -> np.ndarray:
    """``σ(-x)``, i.e. ``1 - σ(x)`` computed without cancellation. Shape ``(*) -> (*)``."""
    _check(x, "log_sigmoid_grad")
    return _sigmoid(-x)


def log_sigmoid_backward(grad_out: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Gradient of the input: ``grad_out * σ(-x)``. Shapes ``(*), (*) -> (*)``."""
    _check_backward(grad_out, x, "log_sigmoid_backward")
    return _log_sigmoid_backward(grad_out, x)


def _log_sigmoid_backward(grad_out, x):
    return grad_out * log_sigmoid_grad(x)


# ---------------------------------------------------------------------------------------------
# Swish (= SiLU): x σ(x),   derivative σ(x) (1 + x (1 - σ(x)))
# ---------------------------------------------------------------------------------------------

def swish(x: np.ndarray) -> np.ndarray:
    """Swish, ``x σ(x)`` (the beta = 1 case; torch calls it ``silu``). Shape ``(*) -> (*)``."""
    _check(x, "swish")
    return _swish(x)


def _swish(x):
    return x * _sigmoid(x)


def swish_grad(x: np.ndarray) -> np.ndarray:
    """``σ(x) + x σ(x) (1 - σ(x)) = σ(x) (1 + x (1 - σ(x)))`` (product rule). Shape ``(*) -> (*)``."""
    _check(x, "swish_grad")
    s = _sigmoid(x)
    return s * (1 + x * (1 - s))


def swish_backward(grad_out: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Gradient of the input: ``grad_out * swish_grad(x)``. Shapes ``(*), (*) -> (*)``."""
    _check_backward(grad_out, x, "swish_backward")
    return _swish_backward(grad_out, x)


def _swish_backward(grad_out, x):
    return grad_out * swish_grad(x)


# torch's name for the same function.
silu, silu_grad, silu_backward = swish, swish_grad, swish_backward


# ---------------------------------------------------------------------------------------------
# Sinc: sin(x) / x, 1 at x = 0,   derivative (x cos x - sin x) / x^2, 0 at x = 0
# ---------------------------------------------------------------------------------------------

def sinc(x: np.ndarray) -> np.ndarray:
    """The unnormalised sinc ``sin(x) / x``, with its limit 1 at ``x = 0`` (the slide's; NumPy's and
    torch's ``sinc`` are the normalised ``sin(pi x) / (pi x)``, so ``sinc(x) == torch.sinc(x / pi)``).
    Shape ``(*) -> (*)``."""
    _check(x, "sinc")
    return _sinc(x)


def _sinc(x):
    # sinc(x) = 1 - x^2/6 + ..., which rounds to exactly 1 once x^2 < eps (the float's precision);
    # those x, 0 among them, get 1 directly, so we never divide 0 by 0.
    near_zero = np.abs(x) < math.sqrt(np.finfo(x.dtype).eps)
    safe = np.where(near_zero, 1, x)
    return np.where(near_zero, 1, np.sin(safe) / safe)


def sinc_grad(x: np.ndarray) -> np.ndarray:
    """``(x cos x - sin x) / x^2``, with its limit 0 at ``x = 0``. Shape ``(*) -> (*)``.

    Near 0 the two terms of ``x cos x - sin x`` almost cancel (each is about x, their difference
    about -x^3 / 3), so the formula loses digits; for ``|x| < 0.1`` we use the Taylor series
    ``-x/3 + x^3/30 - x^5/840 + x^7/45360`` instead, exact to double precision there.
    """
    _check(x, "sinc_grad")
    small = np.abs(x) < 0.1
    safe = np.where(small, 1, x)
    formula = (safe * np.cos(safe) - np.sin(safe)) / (safe * safe)
    # Where x^2 < eps the x^2 terms vanish in rounding; zeroing them there keeps x * x from underflowing.
    x2 = np.square(np.where(np.abs(x) < math.sqrt(np.finfo(x.dtype).eps), 0, x))
    series = x * (-1 / 3 + x2 * (1 / 30 + x2 * (-1 / 840 + x2 / 45360)))
    return np.where(small, series, formula)


def sinc_backward(grad_out: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Gradient of the input: ``grad_out * sinc_grad(x)``. Shapes ``(*), (*) -> (*)``."""
    _check_backward(grad_out, x, "sinc_backward")
    return _sinc_backward(grad_out, x)


def _sinc_backward(grad_out, x):
    return grad_out * sinc_grad(x)


# ---------------------------------------------------------------------------------------------
# Leaky ReLU: x for x > 0, negative_slope x for x <= 0,   derivative 1, resp. negative_slope
# ---------------------------------------------------------------------------------------------

def leaky_relu(x: np.ndarray, negative_slope: float = 0.01) -> np.ndarray:
    """``x`` for ``x > 0``, ``negative_slope * x`` otherwise: negative inputs keep a small gradient,
    so a unit cannot "die" as a ReLU unit can. Shape ``(*) -> (*)``."""
    _check(x, "leaky_relu")
    return _leaky_relu(x, negative_slope)


def _leaky_relu(x, negative_slope):
    return np.where(x > 0, x, negative_slope * x)


def leaky_relu_grad(x: np.ndarray, negative_slope: float = 0.01) -> np.ndarray:
    """1 for ``x > 0``, ``negative_slope`` for ``x <= 0`` (as torch at 0). Shape ``(*) -> (*)``."""
    _check(x, "leaky_relu_grad")
    return np.where(x > 0, 1, np.full_like(x, negative_slope))


def leaky_relu_backward(grad_out: np.ndarray, x: np.ndarray, negative_slope: float = 0.01) -> np.ndarray:
    """Gradient of the input: ``grad_out * leaky_relu_grad(x)``. Shapes ``(*), (*) -> (*)``."""
    _check_backward(grad_out, x, "leaky_relu_backward")
    return _leaky_relu_backward(grad_out, x, negative_slope)


def _leaky_relu_backward(grad_out, x, negative_slope):
    return grad_out * leaky_relu_grad(x, negative_slope)


# ---------------------------------------------------------------------------------------------
# Mish: x tanh(softplus(x)),   derivative tanh(sp) + x σ(x) (1 - tanh(sp)^2), sp = softplus(x)
# ---------------------------------------------------------------------------------------------

def mish(x: np.ndarray) -> np.ndarray:
    """Mish, ``x tanh(log(1 + exp(x)))`` (softplus without torch's threshold, as ``F.mish``). Shape ``(*) -> (*)``."""
    _check(x, "mish")
    return _mish(x)


def _mish(x):
    return x * np.tanh(_softplus(x, 1.0, np.inf))


def mish_grad(x: np.ndarray) -> np.ndarray:
    """``tanh(sp) + x (1 - tanh(sp)^2) σ(x)`` with ``sp = softplus(x)``, since sp' = σ. Shape ``(*) -> (*)``."""
    _check(x, "mish_grad")
    t = np.tanh(_softplus(x, 1.0, np.inf))
    return t + x * ((1 - t) * (1 + t)) * _sigmoid(x)  # (1 - t)(1 + t) = 1 - t^2 without squaring tiny t


def mish_backward(grad_out: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Gradient of the input: ``grad_out * mish_grad(x)``. Shapes ``(*), (*) -> (*)``."""
    _check_backward(grad_out, x, "mish_backward")
    return _mish_backward(grad_out, x)


def _mish_backward(grad_out, x):
    return grad_out * mish_grad(x)


# ---------------------------------------------------------------------------------------------
# The registry: the slide's gallery, in the slide's order
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Activation:
    """One activation of the slides' gallery.

    Unpacks as the pair ``(fn, grad)``: ``f, f_grad = ACTIVATIONS["relu"]``.
    """

    name: str                        # as the slide spells it, e.g. "Log of Sigmoid"
    fn: Callable[[np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray], np.ndarray]
    formula: str                     # LaTeX, for the book's figures

    def __iter__(self):
        return iter((self.fn, self.grad))


ACTIVATIONS: dict[str, Activation] = {a.fn.__name__: a for a in [
    Activation("Sigmoid", sigmoid, sigmoid_grad, r"\sigma(x) = \frac{1}{1 + e^{-x}}"),
    Activation("Tanh", tanh, tanh_grad, r"\tanh(x) = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}}"),
    Activation("Step Function", step, step_grad, r"y = \begin{cases} 1 & x > 0 \\ 0 & x \leq 0 \end{cases}"),
    Activation("Softplus", softplus, softplus_grad, r"y = \ln(1 + e^{x})"),
    Activation("ReLU", relu, relu_grad, r"y = \max(0, x)"),
    Activation("Softsign", softsign, softsign_grad, r"y = \frac{x}{1 + |x|}"),
    Activation("ELU", elu, elu_grad, r"y = \begin{cases} x & x > 0 \\ \alpha (e^{x} - 1) & x \leq 0 \end{cases}"),
    Activation("Log of Sigmoid", log_sigmoid, log_sigmoid_grad, r"y = \ln \frac{1}{1 + e^{-x}}"),
    Activation("Swish", swish, swish_grad, r"y = x \, \sigma(x) = \frac{x}{1 + e^{-x}}"),
    Activation("Sinc", sinc, sinc_grad, r"y = \begin{cases} \frac{\sin x}{x} & x \neq 0 \\ 1 & x = 0 \end{cases}"),
    Activation("Leaky ReLU", leaky_relu, leaky_relu_grad,
               r"y = \begin{cases} x & x > 0 \\ 0.01 x & x \leq 0 \end{cases}"),
    Activation("Mish", mish, mish_grad, r"y = x \tanh(\ln(1 + e^{x}))"),
]}
