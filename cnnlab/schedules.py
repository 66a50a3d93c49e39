"""Learning-rate schedules: the learning rate (学习率) as a function of the epoch, in plain Python floats.

A schedule knows nothing of any framework. It is a callable ``schedule(epoch) -> lr`` (``lr_at`` is
the same thing with a name), with epochs counted from 0 like ``torch.optim.lr_scheduler``::

    >>> s = CosineAnnealing(0.1, T_max=10)
    >>> [round(s(e), 4) for e in range(3)]
    [0.1, 0.0976, 0.0905]

Training with a schedule means: before epoch ``e``, set the optimizer's learning rate to
``schedule(e)``. ``cnnlab.numpy.training.fit(..., schedule=s)`` does exactly that, and so can any
loop: ``optimizer.lr = s(epoch)``.

=========================  ==============================================================
schedule                   learning rate at epoch ``t``
=========================  ==============================================================
``Constant(lr)``           ``lr``
``StepDecay``              ``lr * gamma ** (t // step_size)``  (``torch StepLR``)
``CosineAnnealing``        ``eta_min + (lr - eta_min) * (1 + cos(pi * t / T_max)) / 2``
                           (余弦退火, ``torch CosineAnnealingLR``)
``CosineWarmRestarts``     the same cosine restarted every ``T_i`` epochs, ``T_i`` growing
                           by ``T_mult`` (SGDR, ``torch CosineAnnealingWarmRestarts``)
``WarmupCosine``           a linear warm-up to ``lr`` then a cosine down to ``eta_min``
=========================  ==============================================================

``CosineAnnealing`` and ``CosineWarmRestarts`` give, epoch by epoch, the learning rates of their
torch namesakes (the tests check 1e-12 over hundreds of epochs). Like torch's, ``CosineAnnealing``
does not stop at ``T_max``: past it the cosine rises again (period ``2 * T_max``).
"""

from __future__ import annotations

import math
import numbers

__all__ = ["Schedule", "Constant", "StepDecay", "CosineAnnealing", "CosineWarmRestarts", "WarmupCosine"]


def _check_lr(value, name: str, who: str, allow_zero: bool = False) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        need = "a finite number >= 0" if allow_zero else "a finite number > 0"
        raise ValueError(f"{who}: {name} must be {need}, got {value!r}")
    return float(value)


def _check_int(value, name: str, who: str, minimum: int) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{who}: {name} must be an int >= {minimum}, got {value!r}")
    return int(value)


class Schedule:
    """Base class: a learning rate per epoch. Subclasses define ``lr_at(epoch)``."""

    def lr_at(self, epoch: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, epoch: int) -> float:
        return self.lr_at(_check_int(epoch, "epoch", type(self).__name__, 0))

    def values(self, epochs: int) -> list[float]:
        """The learning rates of epochs ``0 .. epochs - 1`` (handy for plotting)."""
        return [self(e) for e in range(_check_int(epochs, "epochs", type(self).__name__, 0))]

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class Constant(Schedule):
    """The same learning rate every epoch."""

    def __init__(self, lr: float):
        self.lr = _check_lr(lr, "lr", "Constant")

    def lr_at(self, epoch: int) -> float:
        return self.lr


class StepDecay(Schedule):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs (torch's ``StepLR``)."""

    def __init__(self, lr: float, step_size: int, gamma: float = 0.1):
        self.lr = _check_lr(lr, "lr", "StepDecay")
        self.step_size = _check_int(step_size, "step_size", "StepDecay", 1)
        self.gamma = _check_lr(gamma, "gamma", "StepDecay")

    def lr_at(self, epoch: int) -> float:
        return self.lr * self.gamma ** (epoch // self.step_size)


def _cosine(lr: float, eta_min: float, t: float, period: float) -> float:
    return eta_min + (lr - eta_min) * (1 + math.cos(math.pi * t / period)) / 2


class CosineAnnealing(Schedule):
    """余弦退火 (cosine annealing): from ``lr`` at epoch 0 down to ``eta_min`` at epoch ``T_max``.

    ``lr_t = eta_min + (lr - eta_min) * (1 + cos(pi * t / T_max)) / 2``, the closed form of torch's
    ``CosineAnnealingLR`` (which computes it recursively; the two agree to ~1e-15).
    """

    def __init__(self, lr: float, T_max: int, eta_min: float = 0.0):
        self.lr = _check_lr(lr, "lr", "CosineAnnealing")
        self.T_max = _check_int(T_max, "T_max", "CosineAnnealing", 1)
        self.eta_min = _check_lr(eta_min, "eta_min", "CosineAnnealing", allow_zero=True)

    def lr_at(self, epoch: int) -> float:
        return _cosine(self.lr, self.eta_min, epoch, self.T_max)


class CosineWarmRestarts(Schedule):
    """SGDR: cosine annealing restarted at epochs ``T_0``, ``T_0 + T_0*T_mult``, ... (Loshchilov & Hutter).

    The ``i``-th cycle lasts ``T_i = T_0 * T_mult**i`` epochs; within a cycle the rate falls from ``lr``
    towards ``eta_min`` as in :class:`CosineAnnealing`, then jumps back to ``lr``. Same values as torch's
    ``CosineAnnealingWarmRestarts`` stepped once per epoch.
    """

    def __init__(self, lr: float, T_0: int, T_mult: int = 1, eta_min: float = 0.0):
        self.lr = _check_lr(lr, "lr", "CosineWarmRestarts")
        self.T_0 = _check_int(T_0, "T_0", "CosineWarmRestarts", 1)
        self.T_mult = _check_int(T_mult, "T_mult", "CosineWarmRestarts", 1)
        self.eta_min = _check_lr(eta_min, "eta_min", "CosineWarmRestarts", allow_zero=True)

    def cycle(self, epoch: int) -> tuple[int, int]:
        """``(T_cur, T_i)``: epochs since the last restart and the length of the current cycle."""
        t, period = epoch, self.T_0
        while t >= period:  # integer arithmetic: exact, unlike torch's log formula for fractional epochs
            t -= period
            period *= self.T_mult
        return t, period

    def lr_at(self, epoch: int) -> float:
        t, period = self.cycle(epoch)
        return _cosine(self.lr, self.eta_min, t, period)


class WarmupCosine(Schedule):
    """Linear warm-up for ``warmup_epochs`` epochs, then cosine annealing to ``eta_min`` at ``total_epochs``.

    Warm-up: ``lr * (e + 1) / (warmup_epochs + 1)`` for ``e < warmup_epochs`` (it starts small, never at 0,
    and reaches ``lr`` at epoch ``warmup_epochs``). Then ``CosineAnnealing(lr, total_epochs - warmup_epochs,
    eta_min)`` shifted by ``warmup_epochs``; after ``total_epochs`` it stays at ``eta_min``.
    """

    def __init__(self, lr: float, warmup_epochs: int, total_epochs: int, eta_min: float = 0.0):
        who = "WarmupCosine"
        self.lr = _check_lr(lr, "lr", who)
        self.warmup_epochs = _check_int(warmup_epochs, "warmup_epochs", who, 0)
        self.total_epochs = _check_int(total_epochs, "total_epochs", who, 1)
        if self.total_epochs <= self.warmup_epochs:
            raise ValueError(f"{who}: total_epochs ({total_epochs}) must be larger than "
                             f"warmup_epochs ({warmup_epochs})")
        self.eta_min = _check_lr(eta_min, "eta_min", who, allow_zero=True)
        if self.eta_min > self.lr:
            raise ValueError(f"{who}: eta_min ({eta_min}) must not exceed lr ({lr})")

    def lr_at(self, epoch: int) -> float:
        if epoch < self.warmup_epochs:
            return self.lr * (epoch + 1) / (self.warmup_epochs + 1)
        t = min(epoch, self.total_epochs) - self.warmup_epochs
        return _cosine(self.lr, self.eta_min, t, self.total_epochs - self.warmup_epochs)
