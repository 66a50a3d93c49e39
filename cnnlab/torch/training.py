"""Training loop on torch: the twin of ``cnnlab/numpy/training.py``, on any device.

``fit`` is the same loop as the NumPy one, with torch doing the bookkeeping::

    for epoch in range(epochs):
        lr = schedule(epoch)                           # 余弦退火 etc., if a schedule is given
        for each minibatch (xb, yb) of the shuffled training set:
            loss = cross_entropy(model(xb), yb)        # forward
            optimizer.zero_grad()
            loss.backward()                            # backward: our hand-written *_backward, via autograd
            optimizer.step()                           # any torch.optim optimizer
        evaluate on the validation set; stop early when it stops improving

The minibatches are drawn exactly as ``cnnlab.numpy.fit`` draws them (a NumPy generator seeded with
``seed`` shuffles the indices), so the two backends, started from the same weights, see the same
samples in the same order: their first steps agree to float rounding.

The data (NumPy arrays or tensors) is moved once to the model's device (``device=`` moves the model
too); a ``torch.optim.lr_scheduler`` works as ``schedule`` as well as any ``epoch -> lr`` callable.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .._checks import positive_int
from ..training import batch_slices, check_fit_settings
from ..numpy.training import History  # the same record of a run for both backends
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
    if x.ndim < 1 or y.ndim < 1 or len(x) != len(y):
        raise ValueError(f"{op}: {names[0]} and {names[1]} must have the same number of samples, got shapes "
                         f"{tuple(x.shape)} and {tuple(y.shape)}")
    if len(x) == 0:
        raise ValueError(f"{op}: {names[0]} is empty")
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
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return torch.cat([model(x[s]) for s in batch_slices(len(x), batch_size)])
    finally:
        model.train(was_training)


def evaluate(model, x, y, loss="cross_entropy", batch_size: int = 256, device=None) -> tuple[float, float]:
    """``(loss, accuracy)`` of the model on ``(x, y)`` in evaluation mode (accuracy NaN if not classification).

    The loss is the mean over all samples (batches weighted by their size).
    """
    device = _model_device(model, device)
    x, y = _check_data(x, y, ("x", "y"), "evaluate", device)
    loss_fn = _resolve_loss(loss)
    batch_size = positive_int(batch_size, "batch_size", "evaluate")
    was_training = model.training
    model.eval()
    total, correct = 0.0, 0.0
    try:
        with torch.no_grad():
            for s in batch_slices(len(x), batch_size):
                out = model(x[s])
                total += float(loss_fn(out, y[s])) * len(y[s])
                correct += _accuracy_count(out, y[s])
    finally:
        model.train(was_training)
    return total / len(x), correct / len(x)


def _set_lr(optimizer, lr) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


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
        epochs: passes over the training set.
        batch_size: samples per step; the last batch of an epoch may be smaller.
        x_val, y_val: validation set, evaluated after every epoch (both or neither).
        schedule: a learning-rate schedule: an ``epoch -> lr`` callable (e.g.
            ``cnnlab.schedules.CosineAnnealing(0.1, T_max=epochs)``; before epoch ``e`` every parameter group's
            ``lr`` is set to ``schedule(e)``), or a ``torch.optim.lr_scheduler`` built on ``optimizer``
            (stepped once after every epoch). Without one the optimizer's ``lr`` is used throughout.
        seed: seeds the shuffling of the training set, exactly as ``cnnlab.numpy.fit`` does.
        patience, min_delta: early stopping on ``val_loss``, ending with the weights of the best epoch.
        progress: show a tqdm progress bar over the epochs (``False`` in tests and scripts).
        device: train there (the model is moved); default the device of the model's parameters.

    Returns:
        :class:`History` (the NumPy backend's) with train_loss, train_acc, val_loss, val_acc and lr per epoch.
    """
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

    rng = np.random.default_rng(seed)
    history = History()
    best_loss, best_state, waited = math.inf, None, 0
    n = len(x_train)

    bar = None
    epoch_iter = range(epochs)
    if progress:
        from tqdm import tqdm

        bar = epoch_iter = tqdm(epoch_iter, desc="fit", unit="epoch")
    try:
        for epoch in epoch_iter:
            if schedule is not None and not torch_scheduler:
                _set_lr(optimizer, schedule(epoch))
            history.lr.append(float(optimizer.param_groups[0]["lr"]))

            model.train()
            order = torch.from_numpy(rng.permutation(n)).to(device)  # the NumPy backend's order
            total, correct = 0.0, 0.0
            for s in batch_slices(n, batch_size):
                idx = order[s]
                xb, yb = x_train[idx], y_train[idx]
                out = model(xb)
                value = loss_fn(out, yb)
                if not torch.isfinite(value):
                    raise FloatingPointError(f"{op}: the loss became {value.item()} in epoch {epoch}; "
                                             f"try a smaller learning rate (lr={optimizer.param_groups[0]['lr']})")
                optimizer.zero_grad()
                value.backward()
                optimizer.step()
                total += value.item() * len(idx)
                correct += _accuracy_count(out.detach(), yb)
            history.train_loss.append(total / n)
            history.train_acc.append(correct / n)
            if torch_scheduler:
                schedule.step()

            postfix = {"loss": f"{total / n:.4f}"}
            if validate:
                val_loss, val_acc = evaluate(model, x_val, y_val, loss=loss_fn)
                history.val_loss.append(val_loss)
                history.val_acc.append(val_acc)
                postfix.update(val_loss=f"{val_loss:.4f}", val_acc=f"{val_acc:.3f}")
                if val_loss < best_loss - min_delta:
                    best_loss, waited, history.best_epoch = val_loss, 0, epoch
                    if patience is not None:
                        best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                else:
                    waited += 1
            if bar is not None:
                bar.set_postfix(postfix)
            if patience is not None and waited >= patience:
                history.stopped_early = True
                break
    finally:
        if bar is not None:
            bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    return history
