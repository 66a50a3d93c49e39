"""cnnlab.training.fit_loop, the loop both backends' ``fit`` run, seen through a step that records what it gets:
every sample once per epoch in batches of ``batch_size``, a new order every epoch, the same orders for the
same seed, the loss averaged per sample, and early stopping that counts only improvements above min_delta."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab.training import History, fit_loop


class Weights:
    """A stand-in model: one number as its weights, and the train / load calls the loop makes."""

    def __init__(self):
        self.value, self.train_calls = 0, 0

    def train(self, mode=True):
        self.train_calls += 1

    def load_state_dict(self, state):
        self.value = state["value"]


def run(seed=0, epochs=3, batch_size=4, n=10, val_losses=None, patience=None, min_delta=0.0):
    """fit_loop on samples 0..n-1; returns the history, the batches each epoch saw, and the model."""
    model, batches = Weights(), []
    x = np.arange(n)

    def step(xb, yb, epoch):
        assert np.array_equal(xb, yb)  # inputs and targets are indexed alike
        if len(batches) == epoch:
            batches.append([])
        batches[epoch].append(xb.tolist())
        model.value = epoch  # "training" moves the weights
        return float(np.mean(xb)), float(np.sum(xb % 2 == 0))

    validate = None
    if val_losses is not None:
        def validate():
            return val_losses[len(batches) - 1], 0.5
    history = fit_loop(model, step, x, x.copy(), epochs=epochs, batch_size=batch_size, seed=seed,
                       set_lr=lambda epoch: 0.1 / (epoch + 1), validate=validate, patience=patience,
                       min_delta=min_delta, progress=False, copy_weights=lambda: {"value": model.value})
    return history, batches, model


def test_every_epoch_sees_every_sample_once_in_a_new_order():
    history, batches, model = run(epochs=3, batch_size=4, n=10)
    assert isinstance(history, History) and history.epochs == 3 and model.train_calls == 3
    for epoch in batches:
        assert [len(b) for b in epoch] == [4, 4, 2]  # the last batch is the rest
        assert sorted(sum(epoch, [])) == list(range(10))
    orders = [sum(epoch, []) for epoch in batches]
    assert orders[0] != orders[1] != orders[2]
    assert history.train_loss == pytest.approx([4.5] * 3)  # the mean of 0..9, batches weighted by their size
    assert history.train_acc == [0.5] * 3  # 5 "correct" (even) samples of 10
    assert history.lr == pytest.approx([0.1, 0.05, 0.1 / 3])
    assert history.val_loss == [] and history.best_epoch is None


def test_the_seed_decides_the_orders():
    assert run(seed=7)[1] == run(seed=7)[1]
    assert run(seed=7)[1] != run(seed=8)[1]


def test_early_stopping_counts_improvements_above_min_delta_and_restores_the_best_weights():
    val = [1.0, 0.95, 0.5, 0.45, 0.44, 0.43, 0.42]
    history, _, model = run(epochs=7, val_losses=val, patience=2)
    assert not history.stopped_early and history.best_epoch == 6 and model.value == 6
    # with min_delta=0.1 only epochs 0 and 2 improve enough; two epochs later the loop stops
    history, _, model = run(epochs=7, val_losses=val, patience=2, min_delta=0.1)
    assert history.stopped_early and history.epochs == 5 and history.best_epoch == 2
    assert history.val_loss == val[:5]
    assert model.value == 2  # the weights of epoch 2, not of the last epoch run


def test_without_patience_the_last_weights_stay():
    history, _, model = run(epochs=4, val_losses=[0.1, 0.5, 0.6, 0.7])
    assert history.best_epoch == 0 and not history.stopped_early and model.value == 3
