"""Optimizers: how a parameter moves once its gradient is known (梯度下降, gradient descent).

The gradient is the direction in which the loss rises fastest; the learning rate ``lr`` is the
length of the step against it. Both optimizers here do, for every parameter ``p`` with gradient
``g = p.grad``, exactly what ``torch.optim.SGD`` / ``torch.optim.Adam`` do (the tests check several
steps against torch in float64 to 1e-12):

SGD (with ``weight_decay`` wd, ``momentum`` mu, ``dampening`` d)::

    g = g + wd * p
    v = g                     at the first step,    v = mu * v + (1 - d) * g   after
    g = g + mu * v  if nesterov else  v
    p = p - lr * g

Adam (``betas`` = (b1, b2), step count t = 1, 2, ...)::

    g = g + wd * p
    m = b1 * m + (1 - b1) * g                 (running mean of g, m starts at 0)
    s = b2 * s + (1 - b2) * g * g             (running mean of g^2, s starts at 0)
    p = p - lr / (1 - b1**t) * m / (sqrt(s) / sqrt(1 - b2**t) + eps)

Parameters are :class:`cnnlab.numpy.layers.Parameter` objects (``.data`` and ``.grad``), e.g.
``SGD(model.parameters(), lr=0.1)``. A parameter whose ``.grad`` is ``None`` is skipped, as in torch.
``optimizer.lr`` may be changed between steps; that is how a learning-rate schedule
(:mod:`cnnlab.schedules`) drives an optimizer: ``optimizer.lr = schedule(epoch)``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import fast
from .layers import Parameter

__all__ = ["Optimizer", "SGD", "Adam"]


def _number(value, name: str, op: str, low: float = 0.0, high: float = math.inf, open_high: bool = False) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < low or value > high or (open_high and value == high):
        upper = f" and < {high}" if open_high else (f" and <= {high}" if math.isfinite(high) else "")
        raise ValueError(f"{op}: {name} must be a finite number >= {low}{upper}, got {value!r}")
    return float(value)


class Optimizer:
    """Base class: holds the parameters, the learning rate and a per-parameter state dict."""

    def __init__(self, params, lr: float):
        name = type(self).__name__
        if hasattr(params, "parameters") and callable(params.parameters):
            raise TypeError(f"{name}: pass model.parameters(), not the model itself")
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{name}: got an empty list of parameters")
        for i, p in enumerate(self.params):
            if not isinstance(p, Parameter):
                raise TypeError(f"{name}: parameter {i} is a {type(p).__name__}, expected a Parameter "
                                f"(use model.parameters())")
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError(f"{name}: some parameters appear more than once")
        self.lr = lr
        self.state: list[dict] = [{} for _ in self.params]

    @property
    def lr(self) -> float:
        """The learning rate of the next step (a plain float, >= 0)."""
        return self._lr

    @lr.setter
    def lr(self, value) -> None:
        self._lr = _number(value, "lr", type(self).__name__)

    def zero_grad(self) -> None:
        """Forget every gradient (``p.grad = None``), before the next backward pass."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Move every parameter that has a gradient one step."""
        for p, state in zip(self.params, self.state):
            if p.grad is None:
                continue
            if p.grad.shape != p.data.shape:
                raise ValueError(f"{type(self).__name__}: a gradient of shape {p.grad.shape} for a parameter "
                                 f"of shape {p.data.shape}")
            self._update(p, np.asarray(p.grad, dtype=p.data.dtype), state)

    def _update(self, p: Parameter, grad: np.ndarray, state: dict) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({len(self.params)} parameters, {hyper})"

    def hyperparameters(self) -> dict:
        return {"lr": self.lr}


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum and L2 weight decay.

    Args:
        params: iterable of :class:`Parameter` (``model.parameters()``).
        lr: learning rate (step length), >= 0.
        momentum: ``mu`` in [0, 1): the velocity keeps ``mu`` of its last value (0 = plain SGD).
        dampening: ``d`` in [0, 1]: the new gradient enters the velocity with weight ``1 - d``.
        nesterov: look ahead along the velocity (needs momentum > 0 and dampening 0, as in torch).
        weight_decay: adds ``weight_decay * p`` to the gradient (an L2 penalty of ``weight_decay / 2 * ||p||^2``).
    """

    def __init__(self, params, lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0):
        super().__init__(params, lr)
        self.momentum = _number(momentum, "momentum", "SGD", 0.0, 1.0, open_high=True)
        self.dampening = _number(dampening, "dampening", "SGD", 0.0, 1.0)
        self.weight_decay = _number(weight_decay, "weight_decay", "SGD")
        if not isinstance(nesterov, bool):
            raise TypeError(f"SGD: nesterov must be True or False, got {nesterov!r}")
        if nesterov and (self.momentum == 0 or self.dampening != 0):
            raise ValueError("SGD: nesterov momentum requires momentum > 0 and dampening = 0")
        self.nesterov = nesterov

    def hyperparameters(self) -> dict:
        return {"lr": self.lr, "momentum": self.momentum, "dampening": self.dampening,
                "nesterov": self.nesterov, "weight_decay": self.weight_decay}

    def _update(self, p, grad, state):
        if fast.sgd_update(p.data, grad, state, self.lr, self.momentum, self.dampening, self.nesterov,
                           self.weight_decay):
            return  # the formulas below in one compiled pass (tests hold the two equal)
        # in place where the array is ours: a big layer's weights are megabytes, and each pass reads them all
        if self.weight_decay:
            decayed = self.weight_decay * p.data
            decayed += grad
            grad = decayed
        if self.momentum:
            v = state.get("momentum_buffer")
            if v is None:
                v = state["momentum_buffer"] = grad.copy()
            else:
                v *= self.momentum
                v += grad if self.dampening == 0 else (1 - self.dampening) * grad
            grad = grad + self.momentum * v if self.nesterov else v
        p.data -= self.lr * grad


class Adam(Optimizer):
    """Adam (Kingma & Ba): per-parameter steps from running means of the gradient and its square.

    Args:
        params: iterable of :class:`Parameter` (``model.parameters()``).
        lr: learning rate, >= 0.
        betas: ``(b1, b2)``, each in [0, 1): how much of the running means is kept per step.
        eps: added to the denominator, > 0 keeps the division safe.
        weight_decay: adds ``weight_decay * p`` to the gradient (L2, as torch's Adam; not AdamW).
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"Adam: betas must be a pair (b1, b2), got {betas!r}")
        self.betas = (_number(betas[0], "betas[0]", "Adam", 0.0, 1.0, open_high=True),
                      _number(betas[1], "betas[1]", "Adam", 0.0, 1.0, open_high=True))
        self.eps = _number(eps, "eps", "Adam")
        self.weight_decay = _number(weight_decay, "weight_decay", "Adam")

    def hyperparameters(self) -> dict:
        return {"lr": self.lr, "betas": self.betas, "eps": self.eps, "weight_decay": self.weight_decay}

    def _update(self, p, grad, state):
        b1, b2 = self.betas
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(p.data), exp_avg_sq=np.zeros_like(p.data))
        state["step"] += 1
        t = state["step"]
        if self.weight_decay:
            grad = grad + self.weight_decay * p.data
        m, s = state["exp_avg"], state["exp_avg_sq"]
        m += (1 - b1) * (grad - m)
        s *= b2
        s += (1 - b2) * grad * grad
        step_size = self.lr / (1 - b1 ** t)
        denom = np.sqrt(s) / math.sqrt(1 - b2 ** t) + self.eps
        p.data -= step_size * m / denom
