"""Training in NumPy: ``fit``, ``evaluate``, ``predict``; the loop itself is ``cnnlab.training.fit_loop``.

What is NumPy's own is the step on one minibatch, where the hand-written backward runs::

    out = model(xb)                                    # forward
    loss = cross_entropy(out, yb)
    model.zero_grad()
    model.backward(dloss/dout)                         # backward: fills every p.grad
    optimizer.step()                                   # gradient descent

With ``loss="cross_entropy"`` the step calls ``cnnlab.numpy.fast.cross_entropy``: the same loss and
gradient as ``cross_entropy`` / ``cross_entropy_backward`` (tests hold them equal), its backward reusing the
softmax the forward computed.
"""

from __future__ import annotations

import math

import numpy as np

from .._checks import positive_int
from ..training import (FIT_SETTINGS_DOC, History, batch_slices, check_fit_settings, check_loss_is_finite,
                        check_samples, eval_mode, fit_loop, mean_loss_and_accuracy)
from . import fast
from .layers import _backward_of
from .losses import cross_entropy, cross_entropy_backward, mse_loss, mse_loss_backward

__all__ = ["History", "fit", "evaluate", "predict"]

_LOSSES = {
    "cross_entropy": (cross_entropy, cross_entropy_backward),
    "mse_loss": (mse_loss, mse_loss_backward),
}


def _resolve_loss(loss):
    if isinstance(loss, str):
        if loss not in _LOSSES:
            raise ValueError(f"fit: loss must be one of {list(_LOSSES)} or a pair (loss_fn, loss_backward), got {loss!r}")
        return _LOSSES[loss]
    if isinstance(loss, (tuple, list)) and len(loss) == 2 and all(callable(f) for f in loss):
        return tuple(loss)
    raise TypeError("fit: loss must be a name ('cross_entropy', 'mse_loss') or a pair (loss_fn, loss_backward) "
                    "with loss_backward(1.0, output, target) -> gradient (or a tuple starting with it)")


def _check_data(x, y, names: tuple[str, str], op: str):
    x, y = np.asarray(x), np.asarray(y)
    check_samples(x, y, names, op)
    return x, y


def _check_dtype(model, x, name: str, op: str) -> None:
    """Float inputs must match the parameters' dtype (the ops refuse to mix float32 and float64)."""
    params = model.parameters() if hasattr(model, "parameters") else []
    if params and x.dtype.kind == "f" and x.dtype != params[0].dtype:
        raise TypeError(f"{op}: {name} has dtype {x.dtype} but the model's parameters are {params[0].dtype}; "
                        f"convert one of them: {name}.astype(np.{params[0].dtype}) or model.astype(np.{x.dtype})")


def _accuracy_count(out, y) -> float:
    """Number of correct predictions, NaN when this is not classification."""
    if y.dtype.kind not in "iu" or out.ndim < 2 or out.shape[0] != y.shape[0]:
        return math.nan
    return float(np.sum(out.argmax(axis=1) == y))


def predict(model, x, batch_size: int = 256) -> np.ndarray:
    """The model's outputs (e.g. class scores, (N, C)) for every sample, in evaluation mode, batch by batch.

    Class labels: ``predict(model, x).argmax(axis=1)``. The model's train / eval mode is restored afterwards.
    """
    x = np.asarray(x)
    _check_dtype(model, x, "x", "predict")
    batch_size = positive_int(batch_size, "batch_size", "predict")
    with eval_mode(model):
        return np.concatenate([model(x[s]) for s in batch_slices(len(x), batch_size)])


def evaluate(model, x, y, loss="cross_entropy", batch_size: int = 256) -> tuple[float, float]:
    """``(loss, accuracy)`` of the model on ``(x, y)`` in evaluation mode (accuracy NaN if not classification).

    The loss is the mean over all samples (batches weighted by their size).
    """
    x, y = _check_data(x, y, ("x", "y"), "evaluate")
    _check_dtype(model, x, "x", "evaluate")
    loss_fn, _ = _resolve_loss(loss)
    batch_size = positive_int(batch_size, "batch_size", "evaluate")
    return mean_loss_and_accuracy(model, x, y, loss_fn, _accuracy_count, batch_size)


def fit(model, optimizer, x_train, y_train, loss="cross_entropy", epochs: int = 10, batch_size: int = 32,
        x_val=None, y_val=None, schedule=None, seed: int = 0, patience: int | None = None,
        min_delta: float = 0.0, progress: bool = True) -> History:
    """Train ``model`` with ``optimizer`` by minibatch gradient descent.

    Args:
        model: a layer (usually a ``Sequential``): ``model(x)``, ``model.backward(g)``, ``zero_grad``,
            ``train`` / ``eval``, ``state_dict`` / ``load_state_dict``.
        optimizer: e.g. ``SGD(model.parameters(), lr=0.1, momentum=0.9)``.
        x_train, y_train: (N, ...) inputs and (N,) integer labels (or (N, ...) float targets for ``mse_loss``).
        loss: "cross_entropy" (default), "mse_loss", or a pair ``(loss_fn, loss_backward)`` following the
            ``op_backward(grad_out, output, target)`` contract.
        schedule: a learning-rate schedule, any ``epoch -> lr`` callable (e.g.
            ``cnnlab.schedules.CosineAnnealing(0.1, T_max=epochs)``); before epoch ``e`` the optimizer's
            ``lr`` is set to ``schedule(e)``. Without one the optimizer's ``lr`` is used throughout."""
    op = "fit"
    x_train, y_train = _check_data(x_train, y_train, ("x_train", "y_train"), op)
    _check_dtype(model, x_train, "x_train", op)
    validate, epochs, batch_size, patience = check_fit_settings(op, x_val, y_val, epochs, batch_size, patience,
                                                                min_delta)
    if validate:
        x_val, y_val = _check_data(x_val, y_val, ("x_val", "y_val"), op)
        _check_dtype(model, x_val, "x_val", op)
    if schedule is not None and not callable(schedule):
        raise TypeError(f"{op}: schedule must be a callable epoch -> lr (e.g. cnnlab.schedules.CosineAnnealing), "
                        f"got {type(schedule).__name__}")
    loss_fn, loss_backward = _resolve_loss(loss)

    def set_lr(epoch):
        if schedule is not None:
            optimizer.lr = schedule(epoch)
        return optimizer.lr

    def loss_and_grad(out, yb, epoch):
        """The loss (a float, checked finite) and dloss/dout."""
        if loss_fn is cross_entropy:  # fast.cross_entropy: the same numbers, its backward reuses the softmax
            value, cache = fast.cross_entropy(out, yb)
            check_loss_is_finite(float(value), epoch, optimizer.lr)
            return float(value), fast.cross_entropy_backward(1.0, cache)
        value = float(loss_fn(out, yb))
        check_loss_is_finite(value, epoch, optimizer.lr)
        grad = loss_backward(1.0, out, yb)
        return value, grad[0] if isinstance(grad, tuple) else grad

    def step(xb, yb, epoch):
        out = model(xb)                                # forward
        value, grad = loss_and_grad(out, yb, epoch)
        model.zero_grad()
        _backward_of(model, grad, input_grad=False)     # backward: fills every p.grad (not the images' gradient)
        optimizer.step()                               # gradient descent
        return value, _accuracy_count(out, yb)

    def validate_epoch():
        return evaluate(model, x_val, y_val, loss=(loss_fn, loss_backward))

    return fit_loop(model, step, x_train, y_train, epochs=epochs, batch_size=batch_size, seed=seed, set_lr=set_lr,
                    validate=validate_epoch if validate else None, patience=patience, min_delta=min_delta,
                    progress=progress, copy_weights=model.state_dict)


fit.__doc__ += FIT_SETTINGS_DOC  # the arguments both backends share, written once in cnnlab/training.py
