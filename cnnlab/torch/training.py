"""Training on torch, on any device: ``fit``, ``evaluate``, ``predict``; the loop is ``cnnlab.training.fit_loop``,
the same one ``cnnlab.numpy.fit`` runs.

What is torch's own is the step on one minibatch, where autograd calls our hand-written ``*_backward``::

    loss = cross_entropy(model(xb), yb)                # forward
    optimizer.zero_grad()
    loss.backward()                                    # backward, via autograd
    optimizer.step()                                   # any torch.optim optimizer

The minibatches are drawn exactly as ``cnnlab.numpy.fit`` draws them, so the two backends, started from
the same weights, see the same samples in the same order: their first steps agree to float rounding.

The data (NumPy arrays or tensors) is moved once to the model's device (``device=`` moves the model
too); a ``torch.optim.lr_scheduler`` works as ``schedule`` as well as any ``epoch -> lr`` callable.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .._checks import positive_int
from ..training import (FIT_SETTINGS_DOC, History, batch_slices, check_fit_settings, check_loss_is_finite,
                        check_samples, eval_mode, fit_loop, mean_loss_and_accuracy)
from ._device import resolve_device
from .losses import cross_entropy, mse_loss

__all__ = ["History", "fit", "evaluate", "predict"]

_LOSSES = {"cross_entropy": cross_entropy, "mse_loss": mse_loss}


def _resolve_loss(loss):
    """A loss name, a callable ``loss_fn(output, target) -> 0-D tensor``, or a NumPy-style pair
    ``(loss_fn, loss_backward)`` (autograd needs only the first)."""
    if isinstance(loss, str):
        if loss not in _LOSSES:
            raise ValueError(f"fit: loss must be one of {list(_LOSSES)} or a callable (output, target) -> loss, "
                             f"got {loss!r}")
        return _LOSSES[loss]
    if isinstance(loss, (tuple, list)) and len(loss) == 2 and all(callable(f) for f in loss):
        return loss[0]
    if callable(loss):
        return loss
    raise TypeError("fit: loss must be a name ('cross_entropy', 'mse_loss'), a callable (output, target) -> loss, "
                    "or a pair (loss_fn, loss_backward)")


def _model_device(model, device):
    """``device`` if given (the model is moved there), else where the model's parameters are."""
    if device is not None:
        device = resolve_device(device)
        model.to(device)
        return device
    first = next(iter(model.parameters()), None)
    return first.device if first is not None else resolve_device(None)


def _as_tensor(a, device):
    if isinstance(a, torch.Tensor):
        return a.detach().to(device)
    return torch.from_numpy(np.ascontiguousarray(a)).to(device)


def _check_data(x, y, names: tuple[str, str], op: str, device):
    x, y = _as_tensor(x, device), _as_tensor(y, device)
    check_samples(x, y, names, op)
    return x, y


def _accuracy_count(out, y) -> float:
    """Number of correct predictions, NaN when this is not classification."""
    if y.dtype.is_floating_point or y.dtype == torch.bool or out.ndim < 2 or out.shape[0] != y.shape[0]:
        return math.nan
    return float((out.argmax(dim=1) == y).sum())


def predict(model, x, batch_size: int = 256, device=None) -> torch.Tensor:
    """The model's outputs (e.g. class scores, (N, C)) for every sample, in evaluation mode, batch by batch.

    ``x``: a NumPy array or a tensor; it is moved to the model's device (``device=`` moves the model).
    Class labels: ``predict(model, x).argmax(dim=1)``. The train / eval mode is restored afterwards.
    """
    device = _model_device(model, device)
    x = _as_tensor(x, device)
    batch_size = positive_int(batch_size, "batch_size", "predict")
    with eval_mode(model), torch.no_grad():
        return torch.cat([model(x[s]) for s in batch_slices(len(x), batch_size)])


def evaluate(model, x, y, loss="cross_entropy", batch_size: int = 256, device=None) -> tuple[float, float]:
    """``(loss, accuracy)`` of the model on ``(x, y)`` in evaluation mode (accuracy NaN if not classification).

    The loss is the mean over all samples (batches weighted by their size).
    """
    device = _model_device(model, device)
    x, y = _check_data(x, y, ("x", "y"), "evaluate", device)
    loss_fn = _resolve_loss(loss)
    batch_size = positive_int(batch_size, "batch_size", "evaluate")
    with torch.no_grad():
        return mean_loss_and_accuracy(model, x, y, loss_fn, _accuracy_count, batch_size)


def fit(model, optimizer, x_train, y_train, loss="cross_entropy", epochs: int = 10, batch_size: int = 32,
        x_val=None, y_val=None, schedule=None, seed: int = 0, patience: int | None = None,
        min_delta: float = 0.0, progress: bool = True, device=None):
    """Train ``model`` with ``optimizer`` by minibatch gradient descent; the same loop as ``cnnlab.numpy.fit``.

    Args:
        model: a ``torch.nn.Module`` (e.g. a ``cnnlab.torch.nn.Sequential``).
        optimizer: a ``torch.optim`` optimizer, e.g. ``torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)``.
        x_train, y_train: (N, ...) inputs and (N,) integer labels (or (N, ...) float targets for ``mse_loss``),
            NumPy arrays or tensors.
        loss: "cross_entropy" (default), "mse_loss", or a callable ``(output, target) -> 0-D tensor``.
        schedule: a learning-rate schedule: an ``epoch -> lr`` callable (e.g.
            ``cnnlab.schedules.CosineAnnealing(0.1, T_max=epochs)``; before epoch ``e`` every parameter group's
            ``lr`` is set to ``schedule(e)``), or a ``torch.optim.lr_scheduler`` built on ``optimizer``
            (stepped once after every epoch). Without one the optimizer's ``lr`` is used throughout.
        device: train there (the model is moved); default the device of the model's parameters."""
    op = "fit"
    device = _model_device(model, device)
    x_train, y_train = _check_data(x_train, y_train, ("x_train", "y_train"), op, device)
    validate, epochs, batch_size, patience = check_fit_settings(op, x_val, y_val, epochs, batch_size, patience,
                                                                min_delta)
    if validate:
        x_val, y_val = _check_data(x_val, y_val, ("x_val", "y_val"), op, device)
    torch_scheduler = hasattr(schedule, "step") and hasattr(schedule, "get_last_lr")
    if schedule is not None and not torch_scheduler and not callable(schedule):
        raise TypeError(f"{op}: schedule must be a callable epoch -> lr (e.g. cnnlab.schedules.CosineAnnealing) "
                        f"or a torch.optim.lr_scheduler, got {type(schedule).__name__}")
    loss_fn = _resolve_loss(loss)

    def set_lr(epoch):
        if schedule is not None and not torch_scheduler:
            lr = schedule(epoch)
            for group in optimizer.param_groups:
                group["lr"] = lr
        return optimizer.param_groups[0]["lr"]

    def step(xb, yb, epoch):
        out = model(xb)                                # forward
        loss = loss_fn(out, yb)
        value = loss.item()
        check_loss_is_finite(value, epoch, optimizer.param_groups[0]["lr"])
        optimizer.zero_grad()
        loss.backward()                                # backward: our hand-written *_backward, via autograd
        optimizer.step()
        return value, _accuracy_count(out.detach(), yb)

    def validate_epoch():
        return evaluate(model, x_val, y_val, loss=loss_fn)

    def copy_weights():
        return {k: v.detach().clone() for k, v in model.state_dict().items()}

    return fit_loop(model, step, x_train, y_train, epochs=epochs, batch_size=batch_size, seed=seed, set_lr=set_lr,
                    validate=validate_epoch if validate else None, patience=patience, min_delta=min_delta,
                    progress=progress, copy_weights=copy_weights,
                    to_index=lambda order: torch.from_numpy(order).to(device),  # the NumPy backend's order
                    end_epoch=schedule.step if torch_scheduler else None)


fit.__doc__ += FIT_SETTINGS_DOC  # the arguments both backends share, written once in cnnlab/training.py
