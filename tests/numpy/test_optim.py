"""Optimizers: several steps against torch.optim on the same parameters and gradients (float64, 1e-12)."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab.numpy import layers as L
from cnnlab.numpy.optim import SGD, Adam
from cnnlab.schedules import CosineAnnealing

torch = pytest.importorskip("torch")

SHAPES = [(3, 4), (5,), (2, 1, 3, 3)]


def run_both(make_ours, make_theirs, steps=7, lrs=None, skip_grad=None):
    """Apply ``steps`` updates with the same gradients to our Parameters and to torch tensors."""
    rng = np.random.default_rng(0)
    values = [rng.standard_normal(s) for s in SHAPES]
    ours = [L.Parameter(v) for v in values]
    theirs = [torch.tensor(v, requires_grad=True) for v in values]
    opt, opt_t = make_ours(ours), make_theirs(theirs)
    for k in range(steps):
        if lrs is not None:
            opt.lr = lrs[k]
            for group in opt_t.param_groups:
                group["lr"] = lrs[k]
        opt.zero_grad()
        opt_t.zero_grad()
        for i, (p, t) in enumerate(zip(ours, theirs)):
            if skip_grad is not None and skip_grad(k, i):
                continue  # no gradient for this parameter in this step: both must skip it
            g = rng.standard_normal(p.shape)
            p.grad = g.copy()
            t.grad = torch.tensor(g)
        opt.step()
        opt_t.step()
        for p, t in zip(ours, theirs):
            np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=0, atol=1e-12)
    return ours


@pytest.mark.parametrize("kwargs", [
    dict(lr=0.1),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, nesterov=True),
    dict(lr=0.05, momentum=0.8, dampening=0.3),
    dict(lr=0.1, weight_decay=1e-2),
    dict(lr=0.03, momentum=0.9, nesterov=True, weight_decay=5e-4),
])
def test_sgd_matches_torch(fast_path, kwargs):
    """With numba its step is ``fast.sgd_update``'s compiled pass (also in 3 pieces), else the NumPy formulas."""
    run_both(lambda ps: SGD(ps, **kwargs), lambda ts: torch.optim.SGD(ts, **kwargs))


def test_the_compiled_sgd_step_equals_the_formulas_in_float32(monkeypatch):
    from cnnlab.numpy import fast

    rng = np.random.default_rng(3)
    start, grads = rng.standard_normal(1000).astype(np.float32), rng.standard_normal((3, 1000)).astype(np.float32)
    results = []
    for use_numba in (True, False):
        monkeypatch.setattr(fast, "USE_NUMBA", use_numba)
        p = L.Parameter(start.copy())
        optimizer = SGD([p], lr=0.1, momentum=0.9, weight_decay=1e-2)
        for g in grads:
            p.grad = g
            optimizer.step()
        assert p.data.dtype == np.float32
        results.append(p.data)
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(lr=0.01, betas=(0.8, 0.99)),
    dict(lr=0.002, eps=1e-6, weight_decay=0.1),
    dict(lr=0.1, betas=(0.0, 0.5)),
])
def test_adam_matches_torch(kwargs):
    run_both(lambda ps: Adam(ps, **kwargs), lambda ts: torch.optim.Adam(ts, **kwargs), steps=10)


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_changing_lr_and_missing_grads_match_torch(name):
    lrs = CosineAnnealing(0.1, T_max=6).values(8)
    skip = lambda k, i: (k + i) % 3 == 0  # noqa: E731  - some parameters get no gradient in some steps
    if name == "sgd":
        run_both(lambda ps: SGD(ps, lr=0.1, momentum=0.9), lambda ts: torch.optim.SGD(ts, lr=0.1, momentum=0.9),
                 steps=8, lrs=lrs, skip_grad=skip)
    else:
        run_both(lambda ps: Adam(ps, lr=0.1), lambda ts: torch.optim.Adam(ts, lr=0.1), steps=8, lrs=lrs,
                 skip_grad=skip)


def test_float32_parameters_stay_float32():
    layer = L.Linear(3, 2, rng=0)
    for opt in (SGD(layer.parameters(), lr=0.1, momentum=0.9), Adam(layer.parameters())):
        layer.weight.grad = np.ones((2, 3), np.float64)
        layer.bias.grad = np.ones(2, np.float32)
        opt.step()
        assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32


def test_sgd_descends_a_quadratic():
    p = L.Parameter(np.array([3.0, -2.0]))
    opt = SGD([p], lr=0.1, momentum=0.5)
    for _ in range(100):
        opt.zero_grad()
        p.grad = 2 * p.data  # d/dp ||p||^2
        opt.step()
    assert np.abs(p.data).max() < 1e-6


def test_zero_grad_and_repr():
    model = L.Sequential(L.Linear(2, 2, rng=0), L.ReLU(), L.Linear(2, 1, rng=0))
    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    for p in model.parameters():
        p.grad = np.ones_like(p.data)
    opt.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    before = model.state_dict()
    opt.step()  # nothing has a gradient: nothing moves
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())
    assert repr(opt) == "SGD(4 parameters, lr=0.1, momentum=0.9, dampening=0.0, nesterov=False, weight_decay=0.0)"


@pytest.mark.parametrize("make, error, message", [
    (lambda ps: SGD(ps, lr=-0.1), ValueError, "SGD: lr must be a finite number >= 0"),
    (lambda ps: SGD(ps, lr=float("inf")), ValueError, "lr must be"),
    (lambda ps: SGD(ps, lr=0.1, momentum=1.0), ValueError, "momentum must be a finite number >= 0.0 and < 1.0"),
    (lambda ps: SGD(ps, lr=0.1, nesterov=True), ValueError, "nesterov momentum requires momentum > 0"),
    (lambda ps: SGD(ps, lr=0.1, weight_decay=-1), ValueError, "weight_decay"),
    (lambda ps: Adam(ps, betas=(0.9,)), ValueError, "betas must be a pair"),
    (lambda ps: Adam(ps, betas=(0.9, 1.0)), ValueError, r"betas\[1\] must be"),
    (lambda ps: Adam(ps, eps=-1e-8), ValueError, "eps must be"),
    (lambda ps: SGD([], lr=0.1), ValueError, "empty list of parameters"),
    (lambda ps: SGD([np.zeros(3)], lr=0.1), TypeError, "expected a Parameter"),
    (lambda ps: SGD(ps + ps, lr=0.1), ValueError, "more than once"),
    (lambda ps: SGD(L.Linear(2, 2), lr=0.1), TypeError, r"pass model.parameters\(\)"),
])
def test_bad_arguments(make, error, message):
    ps = [L.Parameter(np.zeros(3))]
    with pytest.raises(error, match=message):
        make(ps)


def test_lr_can_be_set_but_is_checked():
    opt = SGD([L.Parameter(np.zeros(2))], lr=0.1)
    opt.lr = 0.01
    assert opt.lr == 0.01
    with pytest.raises(ValueError, match="lr must be"):
        opt.lr = -1
    p = L.Parameter(np.zeros(2))
    opt = SGD([p], lr=0.1)
    p.grad = np.zeros(3)
    with pytest.raises(ValueError, match="gradient of shape"):
        opt.step()
