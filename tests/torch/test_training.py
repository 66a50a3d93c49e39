"""Training with cnnlab.torch: a LeNet-style CNN learns the digits, and its first steps are the NumPy backend's."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import cnnlab.numpy as cn  # noqa: E402
import cnnlab.torch as ct  # noqa: E402
from cnnlab.data import load_digits  # noqa: E402
from cnnlab.numpy import layers as L  # noqa: E402
from cnnlab.schedules import CosineAnnealing  # noqa: E402
from cnnlab.torch import nn  # noqa: E402


def lenet(lib, dropout_rng=None):
    """LeNet's pattern (conv-pool, conv-pool, fully connected) for the 8 x 8 digits, in either backend."""
    device = {"device": "cpu"} if lib is nn else {}
    return lib.Sequential([
        lib.Conv2d(1, 32, 3, padding=1, rng=0, **device), lib.ReLU(), lib.MaxPool2d(2),   # 8x8 -> 4x4
        lib.Conv2d(32, 64, 3, padding=1, rng=1, **device), lib.ReLU(), lib.MaxPool2d(2),  # 4x4 -> 2x2
        lib.Flatten(), lib.Linear(64 * 2 * 2, 128, rng=2, **device), lib.ReLU(),
        lib.Dropout(0.25, rng=dropout_rng), lib.Linear(128, 10, rng=3, **device),
    ])


@pytest.fixture
def one_thread():
    """Small tensors train faster on one thread, and much faster when the machine is busy."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_lenet_learns_the_digits(one_thread):
    torch.manual_seed(0)  # the dropout masks
    x_train, y_train = load_digits("train")
    x_val, y_val = load_digits("val")
    x_test, y_test = load_digits("test")
    device = ct.default_device()
    model = lenet(nn).to(device)
    epochs, lr = 10, 0.05
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    history = ct.fit(model, optimizer, x_train, y_train, epochs=epochs, batch_size=32, x_val=x_val, y_val=y_val,
                     schedule=CosineAnnealing(lr, T_max=epochs), progress=False)
    assert history.epochs == epochs and history.lr[0] == lr and history.lr[-1] < 0.03 * lr
    assert history.train_loss[-1] < 0.2 * history.train_loss[0]
    test_loss, test_acc = ct.evaluate(model, x_test, y_test)
    assert test_acc >= 0.97, f"test accuracy {test_acc:.3f}"
    labels = ct.predict(model, x_test).argmax(dim=1).cpu().numpy()
    assert np.mean(labels == y_test) == pytest.approx(test_acc)


def test_first_sgd_steps_agree_with_numpy():
    """Same weights, same minibatches (fit shuffles with the same seed), same dropout masks: after 3 SGD steps
    with momentum the two backends hold the same weights, to float32 rounding."""
    x, y = load_digits("train")
    x, y = x[:96], y[:96]  # 3 minibatches of 32: one epoch = 3 steps
    np_model = lenet(L, dropout_rng=5)
    t_model = ct.to_torch(np_model, device="cpu")
    t_model[9].rng = np.random.default_rng(5)  # the torch Dropout draws the same masks as the NumPy one
    start = {k: ct.to_tensor(v, device="cpu") for k, v in np_model.state_dict().items()}
    np.testing.assert_array_equal(ct.to_numpy(t_model.state_dict()["0.weight"]), np_model.state_dict()["0.weight"])

    np_history = cn.fit(np_model, cn.SGD(np_model.parameters(), lr=0.05, momentum=0.9), x, y, epochs=1,
                        batch_size=32, seed=3, progress=False)
    t_history = ct.fit(t_model, torch.optim.SGD(t_model.parameters(), lr=0.05, momentum=0.9), x, y, epochs=1,
                       batch_size=32, seed=3, progress=False)

    assert t_history.train_loss[0] == pytest.approx(np_history.train_loss[0], rel=1e-5)
    assert t_history.train_acc[0] == np_history.train_acc[0]
    for name, value in np_model.state_dict().items():
        moved = t_model.state_dict()[name].cpu()
        assert not torch.equal(moved, start[name]), f"{name} did not move"
        np.testing.assert_allclose(moved.numpy(), value, rtol=1e-4, atol=1e-6, err_msg=name)


def test_fit_with_a_torch_lr_scheduler_early_stopping_and_mse():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32))
    model = nn.Sequential([nn.Linear(3, 1, rng=0, device="cpu")])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    history = ct.fit(model, optimizer, x, y, loss="mse_loss", epochs=6, batch_size=8, x_val=x, y_val=y,
                     schedule=scheduler, patience=3, progress=False)
    assert history.lr == [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]
    assert all(math.isnan(a) for a in history.train_acc)
    assert history.val_loss[-1] < 0.01 * history.val_loss[0]


def test_fit_moves_data_and_model_and_reports_bad_input():
    model = nn.Sequential([nn.Flatten(), nn.Linear(64, 10, rng=0, device="cpu")])
    x, y = load_digits("val")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    ct.fit(model, optimizer, torch.from_numpy(x), torch.from_numpy(y), epochs=1, progress=False, device="cpu")
    with pytest.raises(ValueError, match=r"fit: x_train and y_train must have the same number of samples"):
        ct.fit(model, optimizer, x, y[:-1], progress=False)
    with pytest.raises(ValueError, match=r"fit: early stopping \(patience=2\) watches the validation loss"):
        ct.fit(model, optimizer, x, y, patience=2, progress=False)
    with pytest.raises(FloatingPointError, match=r"fit: the loss became nan in epoch 0; try a smaller learning rate"):
        ct.fit(model, optimizer, np.full_like(x, np.nan), y, epochs=3, progress=False)


def test_early_stopping_restores_the_best_weights_and_steps_the_scheduler_every_epoch_run():
    # validation labels unrelated to the inputs: the more the model learns, the worse the validation loss
    x, y = load_digits("train")
    x, y = x[:200], y[:200]
    yv = np.roll(y, 7)
    model = nn.Sequential([nn.Flatten(), nn.Linear(64, 10, rng=0, device="cpu")])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    history = ct.fit(model, optimizer, x, y, epochs=30, batch_size=16, x_val=x, y_val=yv, schedule=scheduler,
                     patience=2, progress=False)
    assert isinstance(history, cn.History) and ct.History is cn.History  # one record for both backends
    assert history.stopped_early and history.epochs == history.best_epoch + 1 + 2
    assert scheduler.last_epoch == history.epochs
    assert ct.evaluate(model, x, yv)[0] == pytest.approx(history.val_loss[history.best_epoch], rel=1e-6)


def test_a_diverging_loss_stops_before_it_reaches_the_weights():
    model = nn.Sequential([nn.Flatten(), nn.Linear(64, 10, rng=0, device="cpu")])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = load_digits("val")
    x[5] = np.inf
    with pytest.raises(FloatingPointError, match=r"fit: the loss became nan in epoch 0; .* \(lr=0.1\)"):
        ct.fit(model, torch.optim.SGD(model.parameters(), lr=0.1), x, y, batch_size=len(x), progress=False)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_progress_bar_shows_the_epochs_and_validation(capsys):
    model = nn.Sequential([nn.Flatten(), nn.Linear(64, 10, rng=0, device="cpu")])
    x, y = load_digits("val")
    ct.fit(model, torch.optim.SGD(model.parameters(), lr=0.1), x, y, epochs=2, x_val=x, y_val=y, progress=True)
    err = capsys.readouterr().err
    assert "fit" in err and "2/2" in err and "val_acc" in err
