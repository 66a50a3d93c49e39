"""Learning-rate schedules: torch's schedulers are the oracle, epoch by epoch."""

from __future__ import annotations

import math

import pytest

from cnnlab.schedules import Constant, CosineAnnealing, CosineWarmRestarts, StepDecay, WarmupCosine


def torch_lrs(make_scheduler, lr: float, epochs: int) -> list[float]:
    """The lr torch uses in each of ``epochs`` epochs (scheduler stepped once per epoch)."""
    torch = pytest.importorskip("torch")
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr)
    sched = make_scheduler(opt)
    lrs = []
    for _ in range(epochs):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


@pytest.mark.parametrize("lr, T_max, eta_min, epochs", [
    (0.1, 10, 0.0, 60), (0.05, 7, 1e-3, 100), (1.0, 1, 0.0, 10), (0.3, 50, 0.01, 250),
])
def test_cosine_annealing_matches_torch(lr, T_max, eta_min, epochs):
    from torch.optim.lr_scheduler import CosineAnnealingLR

    expected = torch_lrs(lambda o: CosineAnnealingLR(o, T_max=T_max, eta_min=eta_min), lr, epochs)
    ours = CosineAnnealing(lr, T_max, eta_min).values(epochs)
    assert ours == pytest.approx(expected, abs=1e-12, rel=0)


@pytest.mark.parametrize("lr, T_0, T_mult, eta_min, epochs", [
    (0.1, 10, 1, 0.0, 55), (0.1, 3, 2, 0.0, 200), (0.2, 5, 2, 1e-3, 160), (0.05, 2, 3, 0.01, 250),
    (0.1, 1, 1, 0.0, 5),
])
def test_warm_restarts_match_torch(lr, T_0, T_mult, eta_min, epochs):
    from torch.optim.lr_scheduler import CosineAnnealingWarmRestarts

    expected = torch_lrs(
        lambda o: CosineAnnealingWarmRestarts(o, T_0=T_0, T_mult=T_mult, eta_min=eta_min), lr, epochs)
    ours = CosineWarmRestarts(lr, T_0, T_mult, eta_min).values(epochs)
    assert ours == pytest.approx(expected, abs=1e-12, rel=0)


def test_step_decay_matches_torch_steplr():
    from torch.optim.lr_scheduler import StepLR

    expected = torch_lrs(lambda o: StepLR(o, step_size=3, gamma=0.5), 0.1, 20)
    assert StepDecay(0.1, 3, 0.5).values(20) == pytest.approx(expected, abs=1e-12, rel=0)


def test_cosine_endpoints_and_restarts():
    s = CosineAnnealing(0.1, T_max=10, eta_min=0.001)
    assert s(0) == 0.1 and s(10) == pytest.approx(0.001) and s(5) == pytest.approx((0.1 + 0.001) / 2)
    r = CosineWarmRestarts(0.1, T_0=2, T_mult=2)
    # cycles of 2, 4, 8 epochs start at epochs 0, 2, 6, 14
    assert [e for e in range(30) if r(e) == 0.1] == [0, 2, 6, 14]
    assert r.cycle(13) == (7, 8)


def test_constant_and_warmup_cosine():
    assert Constant(0.01).values(3) == [0.01, 0.01, 0.01]
    s = WarmupCosine(0.1, warmup_epochs=4, total_epochs=14, eta_min=0.0)
    lrs = s.values(20)
    assert lrs[:5] == pytest.approx([0.02, 0.04, 0.06, 0.08, 0.1])
    assert all(a >= b for a, b in zip(lrs[4:], lrs[5:]))  # non-increasing after the warm-up
    assert lrs[14] == pytest.approx(0.0, abs=1e-15) and lrs[19] == lrs[14]
    assert lrs[9] == pytest.approx(0.05)
    assert WarmupCosine(0.1, 0, 10)(0) == 0.1


def test_schedules_return_python_floats():
    for s in (Constant(1), StepDecay(1, 2), CosineAnnealing(1, 5), CosineWarmRestarts(1, 3, 2), WarmupCosine(1, 2, 5)):
        assert all(type(v) is float and math.isfinite(v) for v in s.values(12))
        assert repr(s).startswith(type(s).__name__ + "(")


@pytest.mark.parametrize("make, message", [
    (lambda: Constant(-0.1), "lr must be a finite number > 0"),
    (lambda: Constant(0), "lr must be"),
    (lambda: Constant(float("nan")), "lr must be"),
    (lambda: Constant("0.1"), "lr must be"),
    (lambda: StepDecay(0.1, 0), "step_size must be an int >= 1"),
    (lambda: StepDecay(0.1, 2, gamma=-1), "gamma"),
    (lambda: CosineAnnealing(0.1, 0), "T_max must be an int >= 1"),
    (lambda: CosineAnnealing(0.1, 2.5), "T_max must be an int"),
    (lambda: CosineAnnealing(0.1, 10, eta_min=-1e-3), "eta_min must be a finite number >= 0"),
    (lambda: CosineWarmRestarts(0.1, 0), "T_0 must be an int >= 1"),
    (lambda: CosineWarmRestarts(0.1, -3), "T_0 must be an int >= 1"),
    (lambda: CosineWarmRestarts(0.1, 5, T_mult=0), "T_mult must be an int >= 1"),
    (lambda: CosineWarmRestarts(0.1, 5, T_mult=1.5), "T_mult must be an int"),
    (lambda: WarmupCosine(0.1, 5, 5), "total_epochs"),
    (lambda: WarmupCosine(0.1, 1, 5, eta_min=0.2), "eta_min"),
    (lambda: CosineAnnealing(0.1, 5)(-1), "epoch must be an int >= 0"),
    (lambda: CosineAnnealing(0.1, 5)(1.5), "epoch must be an int"),
])
def test_bad_arguments_are_rejected(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("lr, warmup, total, eta_min", [
    (0.1, 4, 14, 0.0), (0.05, 1, 10, 1e-3), (0.3, 10, 100, 0.01), (0.1, 3, 4, 0.0),
])
def test_warmup_cosine_matches_torch_linear_then_cosine(lr, warmup, total, eta_min):
    """The warm-up is torch's LinearLR from lr / (warmup + 1) to lr, then CosineAnnealingLR, chained by
    SequentialLR; equal up to total_epochs (after it torch's cosine rises again, ours stays at eta_min)."""
    from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR

    def make(o):
        warm = LinearLR(o, start_factor=1 / (warmup + 1), end_factor=1.0, total_iters=warmup)
        return SequentialLR(o, [warm, CosineAnnealingLR(o, T_max=total - warmup, eta_min=eta_min)],
                            milestones=[warmup])

    expected = torch_lrs(make, lr, total + 1)
    assert WarmupCosine(lr, warmup, total, eta_min).values(total + 1) == pytest.approx(expected, abs=1e-12, rel=0)
