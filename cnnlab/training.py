"""The training loop of both backends: epochs, shuffled minibatches, validation, early stopping (早停法).

``cnnlab.numpy.fit`` and ``cnnlab.torch.fit`` both run :func:`fit_loop`; each passes in its ``step``,
the part that differs (NumPy calls the hand-written backward, torch lets autograd call it)::

    for epoch in range(epochs):
        set the learning rate (schedule(epoch), if a schedule is given)
        for each minibatch (xb, yb) of the training set, shuffled anew:
            step(xb, yb): forward, loss, backward, optimizer step        # the backend's part
        evaluate on the validation set; stop early when it stops improving

and returns a :class:`History` of the per-epoch numbers, ready to plot. The shuffling uses a NumPy
generator seeded with ``seed`` in both backends, so the two see the same minibatches in the same order.
"""

from __future__ import annotations

import math
import numbers
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from ._checks import positive_int

__all__ = ["History", "fit_loop", "FIT_SETTINGS_DOC"]


@dataclass
class History:
    """What happened in each epoch of ``fit`` (one entry per epoch run).

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


# The arguments every backend's ``fit`` takes alike; each appends this to its own docstring.
FIT_SETTINGS_DOC = """
        epochs: passes over the training set.
        batch_size: samples per step; the last batch of an epoch may be smaller.
        x_val, y_val: validation set, evaluated after every epoch (both or neither).
        seed: seeds the shuffling of the training set (a new order every epoch, the same orders for the
            same seed, in both backends).
        patience: early stopping: stop when ``val_loss`` has not improved (by more than ``min_delta``) for
            ``patience`` epochs, and in any case end with the weights of the best epoch (lowest ``val_loss``).
            Needs validation data. None: train all epochs and keep the last weights.
        min_delta: how much ``val_loss`` must drop to count as an improvement (default 0).
        progress: show a tqdm progress bar over the epochs (``False`` in tests and scripts).

    Returns:
        :class:`History` with train_loss, train_acc, val_loss, val_acc and lr per epoch.
    """


def fit_loop(model, step, x_train, y_train, *, epochs: int, batch_size: int, seed: int, set_lr, validate=None,
             patience: int | None = None, min_delta: float = 0.0, progress: bool = True, copy_weights,
             to_index=lambda order: order, end_epoch=None) -> History:
    """The loop of ``fit``, on checked settings (:func:`check_fit_settings`); see ``fit`` for them.

    What each backend passes in:
        step: ``step(xb, yb, epoch) -> (loss, number of correct predictions)``: forward, loss, backward and
            one optimizer step on a minibatch; the loss as a Python float (``correct`` NaN if not classifying).
        set_lr: ``set_lr(epoch) -> lr``: sets the learning rate of this epoch (if there is a schedule) and
            returns it.
        validate: ``validate() -> (val_loss, val_acc)`` on the validation set, or None without one.
        copy_weights: ``copy_weights() -> state``, a copy that ``model.load_state_dict(state)`` restores.
        to_index: turns the shuffled order (a NumPy array) into an index of ``x_train`` (e.g. a tensor on
            its device).
        end_epoch: called after the training pass of every epoch (a torch ``lr_scheduler``'s ``step``).
    """
    rng = np.random.default_rng(seed)
    history = History()
    best_loss, best_weights, waited = math.inf, None, 0
    n = len(x_train)

    bar = None
    epoch_iter = range(epochs)
    if progress:
        from tqdm import tqdm

        bar = epoch_iter = tqdm(epoch_iter, desc="fit", unit="epoch")
    try:
        for epoch in epoch_iter:
            history.lr.append(float(set_lr(epoch)))

            model.train()
            order = to_index(rng.permutation(n))
            total, correct = 0.0, 0.0
            for s in batch_slices(n, batch_size):
                idx = order[s]
                loss, right = step(x_train[idx], y_train[idx], epoch)  # forward, loss, backward, update
                total += loss * len(idx)
                correct += right
            history.train_loss.append(total / n)
            history.train_acc.append(correct / n)
            if end_epoch is not None:
                end_epoch()

            postfix = {"loss": f"{total / n:.4f}"}
            if validate is not None:
                val_loss, val_acc = validate()
                history.val_loss.append(val_loss)
                history.val_acc.append(val_acc)
                postfix.update(val_loss=f"{val_loss:.4f}", val_acc=f"{val_acc:.3f}")
                if val_loss < best_loss - min_delta:
                    best_loss, waited, history.best_epoch = val_loss, 0, epoch
                    if patience is not None:
                        best_weights = copy_weights()
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
    if best_weights is not None:
        model.load_state_dict(best_weights)
    return history


def check_loss_is_finite(loss: float, epoch: int, lr) -> None:
    """Stop a diverging run before its NaN / inf gradients reach the weights."""
    if not math.isfinite(loss):
        raise FloatingPointError(f"fit: the loss became {loss} in epoch {epoch}; try a smaller learning rate (lr={lr})")


@contextmanager
def eval_mode(model):
    """The model in evaluation mode (dropout off) inside the block; its train / eval mode restored after it."""
    was_training = getattr(model, "training", False)
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def mean_loss_and_accuracy(model, x, y, loss_fn, count_correct, batch_size: int) -> tuple[float, float]:
    """``evaluate``'s numbers: the loss averaged over all samples (batches weighted by their size) and the
    accuracy, in evaluation mode."""
    total, correct = 0.0, 0.0
    with eval_mode(model):
        for s in batch_slices(len(x), batch_size):
            out = model(x[s])
            total += float(loss_fn(out, y[s])) * len(y[s])
            correct += count_correct(out, y[s])
    return total / len(x), correct / len(x)


def check_samples(x, y, names: tuple[str, str], op: str) -> None:
    """Inputs and targets (arrays or tensors) must hold the same, nonzero number of samples."""
    if x.ndim < 1 or y.ndim < 1 or len(x) != len(y):
        raise ValueError(f"{op}: {names[0]} and {names[1]} must have the same number of samples, got shapes "
                         f"{tuple(x.shape)} and {tuple(y.shape)}")
    if len(x) == 0:
        raise ValueError(f"{op}: {names[0]} is empty")


def check_fit_settings(op, x_val, y_val, epochs, batch_size, patience, min_delta):
    """The training loop's settings; returns ``(validate, epochs, batch_size, patience)``."""
    if (x_val is None) != (y_val is None):
        raise ValueError(f"{op}: give both x_val and y_val, or neither")
    validate = x_val is not None
    epochs = positive_int(epochs, "epochs", op)
    batch_size = positive_int(batch_size, "batch_size", op)
    if patience is not None:
        patience = positive_int(patience, "patience", op)
        if not validate:
            raise ValueError(f"{op}: early stopping (patience={patience}) watches the validation loss: "
                             f"give x_val and y_val")
    if not isinstance(min_delta, numbers.Real) or min_delta < 0:
        raise ValueError(f"{op}: min_delta must be a number >= 0, got {min_delta!r}")
    return validate, epochs, batch_size, patience


def batch_slices(n: int, batch_size: int) -> list[slice]:
    """``[0:batch_size], [batch_size:2 * batch_size], ...`` over n samples; the last one may be shorter."""
    return [slice(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
