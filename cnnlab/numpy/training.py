"""Training loop: minibatches, validation, learning-rate schedules and early stopping (早停法).

``fit`` is the loop every chapter would otherwise write by hand::

    for epoch in range(epochs):
        optimizer.lr = schedule(epoch)                 # 余弦退火 etc., if a schedule is given
        for each minibatch (xb, yb) of the shuffled training set:
            out = model(xb)                            # forward
            loss = cross_entropy(out, yb)
            model.zero_grad()
            model.backward(dloss/dout)                 # backward: fills every p.grad
            optimizer.step()                           # gradient descent
        evaluate on the validation set; stop early when it stops improving

and returns a :class:`History` of the per-epoch numbers, ready to plot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .._checks import positive_int
from ..training import batch_slices, check_fit_settings
from .losses import cross_entropy, cross_entropy_backward, mse_loss, mse_loss_backward

__all__ = ["History", "fit", "evaluate", "predict"]

_LOSSES = {
    "cross_entropy": (cross_entropy, cross_entropy_backward),
    "mse_loss": (mse_loss, mse_loss_backward),
}


@dataclass
class History:
    """What happened in each epoch of :func:`fit` (one entry per epoch run).

    ``val_loss`` / ``val_acc`` are empty without validation data; the accuracies are NaN when the
    task is not classification (targets not integer labels). ``train_loss`` / ``train_acc`` are averaged
    over the minibatches of the epoch as they were trained (like Keras), so they lag the weights a little.
    """

    train_loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    lr: list = field(default_factory=list)
    best_epoch: int | None = None  # the epoch with the lowest val_loss (0-based), when validating
    stopped_early: bool = False

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    def as_dict(self) -> dict:
        return {k: list(getattr(self, k)) for k in ("train_loss", "train_acc", "val_loss", "val_acc", "lr")}


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
    if x.ndim < 1 or y.ndim < 1 or len(x) != len(y):
        raise ValueError(f"{op}: {names[0]} and {names[1]} must have the same number of samples, got shapes "
                         f"{x.shape} and {y.shape}")
    if len(x) == 0:
        raise ValueError(f"{op}: {names[0]} is empty")
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
    was_training = getattr(model, "training", False)
    model.eval()
    try:
        return np.concatenate([model(x[s]) for s in batch_slices(len(x), batch_size)])
    finally:
        model.train(was_training)


def evaluate(model, x, y, loss="cross_entropy", batch_size: int = 256) -> tuple[float, float]:
    """``(loss, accuracy)`` of the model on ``(x, y)`` in evaluation mode (accuracy NaN if not classification).

    The loss is the mean over all samples (batches weighted by their size).
    """
    x, y = _check_data(x, y, ("x", "y"), "evaluate")
    _check_dtype(model, x, "x", "evaluate")
    loss_fn, _ = _resolve_loss(loss)
    batch_size = positive_int(batch_size, "batch_size", "evaluate")
    was_training = getattr(model, "training", False)
    model.eval()
    total, correct = 0.0, 0.0
    try:
        for s in batch_slices(len(x), batch_size):
            out = model(x[s])
            total += float(loss_fn(out, y[s])) * len(y[s])
            correct += _accuracy_count(out, y[s])
    finally:
        model.train(was_training)
    return total / len(x), correct / len(x)


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
        epochs: passes over the training set.
        batch_size: samples per step; the last batch of an epoch may be smaller.
        x_val, y_val: validation set, evaluated after every epoch (both or neither).
        schedule: a learning-rate schedule, any ``epoch -> lr`` callable (e.g.
            ``cnnlab.schedules.CosineAnnealing(0.1, T_max=epochs)``); before epoch ``e`` the optimizer's
            ``lr`` is set to ``schedule(e)``. Without one the optimizer's ``lr`` is used throughout.
        seed: seeds the shuffling of the training set (a new order every epoch, the same orders for the
            same seed).
        patience: early stopping: stop when ``val_loss`` has not improved (by more than ``min_delta``) for
            ``patience`` epochs, and in any case end with the weights of the best epoch (lowest ``val_loss``).
            Needs validation data. None: train all epochs and keep the last weights.
        progress: show a tqdm progress bar over the epochs (``False`` in tests and scripts).

    Returns:
        :class:`History` with train_loss, train_acc, val_loss, val_acc and lr per epoch.
    """
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
            if schedule is not None:
                optimizer.lr = schedule(epoch)
            history.lr.append(float(optimizer.lr))

            model.train()
            order = rng.permutation(n)
            total, correct = 0.0, 0.0
            for s in batch_slices(n, batch_size):
                idx = order[s]
                xb, yb = x_train[idx], y_train[idx]
                out = model(xb)
                value = loss_fn(out, yb)
                if not np.isfinite(value):
                    raise FloatingPointError(f"{op}: the loss became {float(value)} in epoch {epoch}; "
                                             f"try a smaller learning rate (lr={optimizer.lr})")
                grad = loss_backward(1.0, out, yb)
                grad = grad[0] if isinstance(grad, tuple) else grad
                model.zero_grad()
                model.backward(grad)
                optimizer.step()
                total += float(value) * len(idx)
                correct += _accuracy_count(out, yb)
            history.train_loss.append(total / n)
            history.train_acc.append(correct / n)

            postfix = {"loss": f"{total / n:.4f}"}
            if validate:
                val_loss, val_acc = evaluate(model, x_val, y_val, loss=(loss_fn, loss_backward))
                history.val_loss.append(val_loss)
                history.val_acc.append(val_acc)
                postfix.update(val_loss=f"{val_loss:.4f}", val_acc=f"{val_acc:.3f}")
                if val_loss < best_loss - min_delta:
                    best_loss, waited, history.best_epoch = val_loss, 0, epoch
                    if patience is not None:
                        best_state = model.state_dict()
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
