"""Activation functions (激活函数), elementwise, with their derivatives, on torch tensors.

The torch twin of ``cnnlab/numpy/activations.py``: every activation on the slides, in the slides'
order (see ``ACTIVATIONS``). Each ``f`` comes with two companions:

- ``f_grad(x)``: the derivative f'(x), elementwise, same shape as ``x``;
- ``f_backward(grad_out, x)``: the backward pass, ``grad_out * f_grad(x)`` (the chain rule).

What torch adds: ``f`` itself is an autograd node (the ``@_autograd`` decorator wraps it in
``_Elementwise``, a ``torch.autograd.Function``), and its backward is our ``f_backward``, so
``f(x).sum().backward()`` uses the formulas written here and not torch's.

Shapes: ``x`` is a tensor of any shape, ``(*)``; every result has the same shape, dtype and device.
Names and keyword arguments follow ``torch.nn.functional`` (``leaky_relu(x, negative_slope=0.01)``,
``elu(x, alpha=1.0)``, ``softplus(x, beta=1.0, threshold=20.0)``, ``silu``, ``mish``, ``logsigmoid``
is spelled ``log_sigmoid`` as on the slide).

Numerics: as in the NumPy version, ``exp`` only ever sees a number <= 0 (``exp(-|x|)`` instead of
``exp(x)``), so nothing overflows even at x = ±1000. (torch's ``exp`` underflows to 0 silently,
so the NumPy version's ``_exp_nonpositive`` is plain ``torch.exp`` here.)
"""

from __future__ import annotations

import functools
import math

import torch

from .._checks import check_float, check_shape
from ..numpy.activations import ACTIVATIONS as _NUMPY_ACTIVATIONS
from ..numpy.activations import Activation
from ._device import check_tensors

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


def _check(x, op: str) -> None:
    check_tensors(op, (x, "input"))
    check_float(x, "input", op)


def _check_backward(grad_out, x, op: str) -> None:
    check_tensors(op, (x, "input"), (grad_out, "grad_out"))
    check_float(x, "input", op)
    check_float(grad_out, "grad_out", op)
    check_shape(grad_out, x.shape, "grad_out", op)


class _Elementwise(torch.autograd.Function):
    """An elementwise ``y = f(x, **kwargs)`` as an autograd node; backward is the hand-written
    ``f_backward(grad_out, x, **kwargs)``."""

    @staticmethod
    def forward(ctx, x, fn, backward, kwargs):
        ctx.save_for_backward(x)
        ctx.backward_fn, ctx.kwargs = backward, kwargs
        return fn(x, **kwargs)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return ctx.backward_fn(grad_out, x, **ctx.kwargs), None, None, None


def _autograd(fn):
    """Decorator: calling ``fn(x, **kwargs)`` records an ``_Elementwise`` node whose backward is the
    ``<fn's name>_backward`` defined in this module."""

    # One subclass per activation, so that ``y.grad_fn`` reads ``_SigmoidBackward``, ``_ReluBackward``, ...
    node = type("_" + fn.__name__.title().replace("_", ""), (_Elementwise,), {"__doc__": _Elementwise.__doc__})

    @functools.wraps(fn)
    def op(x, *args, **kwargs):
        _check(x, fn.__name__)
        if args:  # positional hyper-parameters, e.g. leaky_relu(x, 0.2): name them
            names = list(fn.__code__.co_varnames[1:1 + len(args)])
            kwargs.update(zip(names, args))
        return node.apply(x, fn, globals()[fn.__name__ + "_backward"], kwargs)

    return op


# ---------------------------------------------------------------------------------------------
# Sigmoid: σ(x) = 1 / (1 + e^{-x}),   σ'(x) = σ(x) (1 - σ(x))
# ---------------------------------------------------------------------------------------------

@_autograd
def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Logistic sigmoid ``1 / (1 + exp(-x))``, values in (0, 1). Shape ``(*) -> (*)``."""
    # With e = exp(-|x|) <= 1: for x >= 0, σ = 1 / (1 + e); for x < 0, σ = e / (1 + e).
    # Both forms only divide by numbers in [1, 2], so nothing overflows.
    e = torch.exp(-torch.abs(x))
    return torch.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_grad(x: torch.Tensor) -> torch.Tensor:
    """σ'(x) = σ(x) (1 - σ(x)). Shape ``(*) -> (*)``."""
    _check(x, "sigmoid_grad")
    s = sigmoid(x)
    return s * (1 - s)


def sigmoid_backward(grad_out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Gradient of the input: ``grad_out * σ'(x)``. Shapes ``(*), (*) -> (*)``."""
    _check_backward(grad_out, x, "sigmoid_backward")
    return grad_out * sigmoid_grad(x)


# ---------------------------------------------------------------------------------------------
# Tanh: tanh(x) = (e^x - e^{-x}) / (e^x + e^{-x}),   tanh'(x) = 1 - tanh(x)^2
# ---------------------------------------------------------------------------------------------

@_autograd
def tanh(x: torch.Tensor) -> torch.Tensor:
    """Hyperbolic tangent, values in (-1, 1); equals ``2 σ(2x) - 1``. Shape ``(*) -> (*)``."""
    return torch.tanh(x)


def tanh_grad(x: torch.Tensor) -> torch.Tensor:
    """tanh'(x) = 1 - tanh(x)^2. Shape ``(*) -> (*)``."""
    _check(x, "tanh_grad")
    t = tanh(x)
    return (1 - t) * (1 + t)  # = 1 - t^2, but t * t would underflow for tiny t


def tanh_backward(grad_out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Gradient of the input: ``grad_out * (1 - tanh(x)^2)``. Shapes ``(*), (*) -> (*)``."""
    _check_backward(grad_out, x, "tanh_backward")
    return grad_out * tanh_grad(x)


# ---------------------------------------------------------------------------------------------
# Step (阶跃函数): 1 for x > 0, 0 for x <= 0 (as torch.heaviside(x, 0)),   derivative 0
# ---------------------------------------------------------------------------------------------

@_autograd
def step(x: torch.Tensor) -> torch.Tensor:
    """Unit step: 1 where ``x > 0``, 0 where ``x <= 0`` (so ``step(0) = 0``, like the slide's ReLU case
    split and ``torch.heaviside(x, values=0)``). Shape ``(*) -> (*)``."""
    return (x > 0).to(x.dtype)


def step_grad(x: torch.Tensor) -> torch.Tensor:
    """The step is flat everywhere except at 0, where it jumps; we use 0 there too, so no gradient
    ever flows through a step. This is why the perceptron's step was replaced by sigmoid for
    gradient descent. Shape ``(*) -> (*)``."""
    _check(x, "step_grad")
    return torch.zeros_like(x)


def step_backward(grad_out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Gradient of the input: always 0. Shapes ``(*), (*) -> (*)``."""
    _check_backward(grad_out, x, "step_backward")
    return grad_out * step_grad(x)


# ---------------------------------------------------------------------------------------------
# Softplus: log(1 + e^x), a smooth ReLU,   derivative σ(x)
# ---------------------------------------------------------------------------------------------

@_autograd
def softplus(x: torch.Tensor, beta: float = 1.0, threshold: float = 20.0) -> torch.Tensor:
    """``log(1 + exp(beta x)) / beta``, and exactly ``x`` where ``beta x > threshold`` (as torch: there
    the two differ by less than ``exp(-threshold) / beta``). Shape ``(*) -> (*)``."""
    bx = beta * x
    # log(1 + e^z) = max(z, 0) + log(1 + e^{-|z|}): the exp never sees a positive number.
    smooth = (torch.clamp(bx, min=0) + torch.log1p(torch.exp(-torch.abs(bx)))) / beta
    return torch.where(bx > threshold, x, smooth)


def softplus_grad(x: torch.Tensor, beta: float = 1.0, threshold: float = 20.0) -> torch.Tensor:
    """Derivative of ``softplus``: σ(beta x), and 1 in the linear part. Shape ``(*) -> (*)``."""
    _check(x, "softplus_grad")
    bx = beta * x
    return torch.where(bx > threshold, 1, sigmoid(bx))


def softplus_backward(grad_out: torch.Tensor, x: torch.Tensor, beta: float = 1.0,
                      threshold: float = 20.0) -> torch.Tensor:
    """Gradient of the input: ``grad_out * σ(beta x)``. Shapes ``(*), (*) -> (*)``."""
    _check_backward(grad_out, x, "softplus_backward")
    return grad_out * softplus_grad(x, beta, threshold)


# ---------------------------------------------------------------------------------------------
# ReLU: max(0, x),   derivative 1 for x > 0, 0 for x <= 0 (the slide's rule)
# ---------------------------------------------------------------------------------------------

@_autograd
def relu(x: torch.Tensor) -> torch.Tensor:
    """Rectified linear unit: ``x`` for ``x > 0``, else 0. Shape ``(*) -> (*)``."""
    return torch.where(x > 0, x, 0)


def relu_grad(x: torch.Tensor) -> torch.Tensor:
    """1 where ``x > 0``, 0 where ``x <= 0``: the slide's rule, "if x <= 0 the signal stops here"
    (also torch's choice at x = 0). Shape ``(*) -> (*)``."""
    _check(x, "relu_grad")
    return (x > 0).to(x.dtype)


def relu_backward(grad_out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Gradient of the input: ``grad_out`` passes where ``x > 0`` and stops elsewhere. Shapes ``(*), (*) -> (*)``."""
    _check_backward(grad_out, x, "relu_backward")
    return grad_out * relu_grad(x)


# ---------------------------------------------------------------------------------------------
# Softsign: x / (1 + |x|),   derivative 1 / (1 + |x|)^2
# ---------------------------------------------------------------------------------------------

@_autograd
def softsign(x: torch.Tensor) -> torch.Tensor:
    """``x / (1 + |x|)``, values in (-1, 1); like tanh but with polynomial tails. Shape ``(*) -> (*)``."""
    return x / (1 + torch.abs(x))


def softsign_grad(x: torch.Tensor) -> torch.Tensor:
    """``1 / (1 + |x|)^2``. Shape ``(*) -> (*)``."""
    _check(x, "softsign_grad")
    r = 1 / (1 + torch.abs(x))
    return r * r


def softsign_backward(grad_out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Gradient of the input: ``grad_out / (1 + |x|)^2``. Shapes ``(*), (*) -> (*)``."""
    _check_backward(grad_out, x, "softsign_backward")
    return grad_out * softsign_grad(x)


# ---------------------------------------------------------------------------------------------
# ELU: x for x > 0, alpha (e^x - 1) for x <= 0,   derivative 1, resp. alpha e^x
# ---------------------------------------------------------------------------------------------

@_autograd
def elu(x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """Exponential linear unit: ``x`` for ``x > 0``, ``alpha (exp(x) - 1)`` for ``x <= 0``. Shape ``(*) -> (*)``."""
    # expm1(z) = e^z - 1 is accurate for small z; min(x, 0) keeps the exp away from positive x.
    return torch.where(x > 0, x, alpha * torch.expm1(torch.clamp(x, max=0)))


def elu_grad(x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """1 for ``x > 0``, ``alpha exp(x)`` for ``x <= 0`` (alpha at x = 0, as torch). Shape ``(*) -> (*)``."""
    _check(x, "elu_grad")
    return torch.where(x > 0, 1, alpha * torch.exp(torch.clamp(x, max=0)))


def elu_backward(grad_out: torch.Tensor, x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """Gradient of the input: ``grad_out * elu_grad(x, alpha)``. Shapes ``(*), (*) -> (*)``."""
    _check_backward(grad_out, x, "elu_backward")
    return grad_out * elu_grad(x, alpha)


# ---------------------------------------------------------------------------------------------
# Log of sigmoid: log σ(x) = -softplus(-x),   derivative σ(-x) = 1 - σ(x)
# ---------------------------------------------------------------------------------------------

@_autograd
def log_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """``log(σ(x)) = -log(1 + exp(-x))``, values in (-inf, 0) (torch: ``F.logsigmoid``). Shape ``(*) -> (*)``."""
    # -log(1 + e^{-x}) = min(x, 0) - log(1 + e^{-|x|}); log(sigmoid(x)) itself would give log(0) = -inf.
    return torch.clamp(x, max=0) - torch.log1p(torch.exp(-torch.abs(x)))


def log_sigmoid_grad(x: torch.Tensor) -> torch.Tensor:
    """``σ(-x)``, i.e. ``1 - σ(x)`` computed without cancellation. Shape ``(*) -> (*)``."""
    _check(x, "log_sigmoid_grad")
    return sigmoid(-x)


def log_sigmoid_backward(grad_out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Gradient of the input: ``grad_out * σ(-x)``. Shapes ``(*), (*) -> (*)``."""
    _check_backward(grad_out, x, "log_sigmoid_backward")
    return grad_out * log_sigmoid_grad(x)


# ---------------------------------------------------------------------------------------------
# Swish (= SiLU): x σ(x),   derivative σ(x) (1 + x (1 - σ(x)))
# ---------------------------------------------------------------------------------------------

@_autograd
def swish(x: torch.Tensor) -> torch.Tensor:
    """Swish, ``x σ(x)`` (the beta = 1 case; torch calls it ``silu``). Shape ``(*) -> (*)``."""
    return x * sigmoid(x)


def swish_grad(x: torch.Tensor) -> torch.Tensor:
    """``σ(x) + x σ(x) (1 - σ(x)) = σ(x) (1 + x (1 - σ(x)))`` (product rule). Shape ``(*) -> (*)``."""
    _check(x, "swish_grad")
    s = sigmoid(x)
    return s * (1 + x * (1 - s))


def swish_backward(grad_out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Gradient of the input: ``grad_out * swish_grad(x)``. Shapes ``(*), (*) -> (*)``."""
    _check_backward(grad_out, x, "swish_backward")
    return grad_out * swish_grad(x)


# torch's name for the same function.
silu, silu_grad, silu_backward = swish, swish_grad, swish_backward


# ---------------------------------------------------------------------------------------------
# Sinc: sin(x) / x, 1 at x = 0,   derivative (x cos x - sin x) / x^2, 0 at x = 0
# ---------------------------------------------------------------------------------------------

@_autograd
def sinc(x: torch.Tensor) -> torch.Tensor:
    """The unnormalised sinc ``sin(x) / x``, with its limit 1 at ``x = 0`` (the slide's; NumPy's and
    torch's ``sinc`` are the normalised ``sin(pi x) / (pi x)``, so ``sinc(x) == torch.sinc(x / pi)``).
    Shape ``(*) -> (*)``."""
    # sinc(x) = 1 - x^2/6 + ..., which rounds to exactly 1 once x^2 < eps (the float's precision);
    # those x, 0 among them, get 1 directly, so we never divide 0 by 0.
    near_zero = torch.abs(x) < math.sqrt(torch.finfo(x.dtype).eps)
    safe = torch.where(near_zero, 1, x)
    return torch.where(near_zero, 1, torch.sin(safe) / safe)


def sinc_grad(x: torch.Tensor) -> torch.Tensor:
    """``(x cos x - sin x) / x^2``, with its limit 0 at ``x = 0``. Shape ``(*) -> (*)``.

    Near 0 the two terms of ``x cos x - sin x`` almost cancel (each is about x, their difference
    about -x^3 / 3), so the formula loses digits; for ``|x| < 0.1`` we use the Taylor series
    ``-x/3 + x^3/30 - x^5/840 + x^7/45360`` instead, exact to double precision there.
    """
    _check(x, "sinc_grad")
    small = torch.abs(x) < 0.1
    safe = torch.where(small, 1, x)
    formula = (safe * torch.cos(safe) - torch.sin(safe)) / (safe * safe)
    # Where x^2 < eps the x^2 terms vanish in rounding; zeroing them there keeps x * x from underflowing.
    x2 = torch.square(torch.where(torch.abs(x) < math.sqrt(torch.finfo(x.dtype).eps), 0, x))
    series = x * (-1 / 3 + x2 * (1 / 30 + x2 * (-1 / 840 + x2 / 45360)))
    return torch.where(small, series, formula)


def sinc_backward(grad_out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Gradient of the input: ``grad_out * sinc_grad(x)``. Shapes ``(*), (*) -> (*)``."""
    _check_backward(grad_out, x, "sinc_backward")
    return grad_out * sinc_grad(x)


# ---------------------------------------------------------------------------------------------
# Leaky ReLU: x for x > 0, negative_slope x for x <= 0,   derivative 1, resp. negative_slope
# ---------------------------------------------------------------------------------------------

@_autograd
def leaky_relu(x: torch.Tensor, negative_slope: float = 0.01) -> torch.Tensor:
    """``x`` for ``x > 0``, ``negative_slope * x`` otherwise: negative inputs keep a small gradient,
    so a unit cannot "die" as a ReLU unit can. Shape ``(*) -> (*)``."""
    return torch.where(x > 0, x, negative_slope * x)


def leaky_relu_grad(x: torch.Tensor, negative_slope: float = 0.01) -> torch.Tensor:
    """1 for ``x > 0``, ``negative_slope`` for ``x <= 0`` (as torch at 0). Shape ``(*) -> (*)``."""
    _check(x, "leaky_relu_grad")
    return torch.where(x > 0, 1, torch.full_like(x, negative_slope))


def leaky_relu_backward(grad_out: torch.Tensor, x: torch.Tensor, negative_slope: float = 0.01) -> torch.Tensor:
    """Gradient of the input: ``grad_out * leaky_relu_grad(x)``. Shapes ``(*), (*) -> (*)``."""
    _check_backward(grad_out, x, "leaky_relu_backward")
    return grad_out * leaky_relu_grad(x, negative_slope)


# ---------------------------------------------------------------------------------------------
# Mish: x tanh(softplus(x)),   derivative tanh(sp) + x σ(x) (1 - tanh(sp)^2), sp = softplus(x)
# ---------------------------------------------------------------------------------------------

@_autograd
def mish(x: torch.Tensor) -> torch.Tensor:
    """Mish, ``x tanh(log(1 + exp(x)))`` (softplus without torch's threshold, as ``F.mish``). Shape ``(*) -> (*)``."""
    return x * torch.tanh(softplus(x, threshold=math.inf))


def mish_grad(x: torch.Tensor) -> torch.Tensor:
    """``tanh(sp) + x (1 - tanh(sp)^2) σ(x)`` with ``sp = softplus(x)``, since sp' = σ. Shape ``(*) -> (*)``."""
    _check(x, "mish_grad")
    t = torch.tanh(softplus(x, threshold=math.inf))
    return t + x * ((1 - t) * (1 + t)) * sigmoid(x)  # (1 - t)(1 + t) = 1 - t^2 without squaring tiny t


def mish_backward(grad_out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Gradient of the input: ``grad_out * mish_grad(x)``. Shapes ``(*), (*) -> (*)``."""
    _check_backward(grad_out, x, "mish_backward")
    return grad_out * mish_grad(x)


# ---------------------------------------------------------------------------------------------
# The registry: the slide's gallery, in the slide's order -- the NumPy registry's names and
# formulas, with this module's functions.
# ---------------------------------------------------------------------------------------------

ACTIVATIONS: dict[str, Activation] = {
    key: Activation(a.name, globals()[key], globals()[key + "_grad"], a.formula)
    for key, a in _NUMPY_ACTIVATIONS.items()
}
