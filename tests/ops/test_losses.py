"""softmax, log_softmax, cross_entropy, mse_loss and the L1 / L2 penalties against torch, forward and backward."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cnnlab.numpy as cn
from cnnlab.numpy import gradcheck

torch = pytest.importorskip("torch")
F = torch.nn.functional

# The fixture is stateless (it only picks a module), so reusing it across examples is safe.
SETTINGS = settings(deadline=None, max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])



def assert_close(actual, expected, tol=1e-10, scale=0.0):
    """Relative error ||actual - expected|| / max(||expected||, scale) <= tol, same shape.

    ``scale`` is the size below which a result is all rounding: a gradient that nearly cancels
    (softmax backward of near one-hot scores) is compared relative to the gradient flowing in."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    err = np.linalg.norm((actual - expected).ravel()) / max(np.linalg.norm(expected.ravel()), scale, np.finfo(float).tiny)
    assert err <= tol, f"relative error {err:.3g} > {tol}"


def randn(seed, *shape, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def torch_grads(fn, arrays, g):
    """Gradients of sum(fn(*arrays) * g) by torch autograd, one per array."""
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ts)
    out.backward(torch.as_tensor(g, dtype=out.dtype))
    return [t.grad.numpy() for t in ts]


# ---------------------------------------------------------------------------------------------
# softmax, log_softmax
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@SETTINGS
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=4), scale=st.sampled_from([1.0, 10.0, 1e3]),
       seed=st.integers(0, 2**16), data=st.data())
def test_softmax_forward_and_backward_match_torch(backend, name, shape, scale, seed, data):
    f, f_backward = backend.fns(name, name + "_backward")
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    x, g = scale * randn(seed, *shape), randn(seed + 1, *shape)
    torch_f = getattr(F, name)
    assert_close(backend.numpy(f(backend.tensor(x), dim=dim)), torch_f(torch.tensor(x), dim=dim).numpy())
    (expected,) = torch_grads(lambda t: torch_f(t, dim=dim), [x], g)
    assert_close(backend.numpy(f_backward(backend.tensor(g), backend.tensor(x), dim=dim)), expected,
                 scale=np.linalg.norm(g))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_backward_passes_gradcheck(name):
    assert gradcheck(getattr(cn, name), [randn(0, 3, 4)], dim=0)[0] < 1e-6


def test_softmax_of_huge_scores_is_finite(backend):
    softmax, log_softmax = backend.fns("softmax", "log_softmax")
    x = np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4]], dtype=np.float32)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        s = backend.numpy(softmax(backend.tensor(x)))
        ls = backend.numpy(log_softmax(backend.tensor(x)))
    np.testing.assert_allclose(s, [[1, 0, 0], [1 / 3] * 3], rtol=1e-6)
    np.testing.assert_allclose(ls, F.log_softmax(torch.tensor(x), dim=-1).numpy(), rtol=1e-6)


def test_softmax_bad_dim(backend):
    (softmax,) = backend.fns("softmax")
    with pytest.raises(ValueError, match=r"softmax: dim must be an int in \[-2, 1\] for a 2-D input, got 2"):
        softmax(backend.tensor(np.zeros((2, 3))), dim=2)


# ---------------------------------------------------------------------------------------------
# cross_entropy
# ---------------------------------------------------------------------------------------------

@SETTINGS
@given(n=st.integers(1, 6), c=st.integers(1, 6), spatial=st.lists(st.integers(1, 3), max_size=2),
       scale=st.sampled_from([1.0, 10.0, 1e4]), seed=st.integers(0, 2**16))
def test_cross_entropy_forward_and_backward_match_torch(backend, n, c, spatial, scale, seed):
    cross_entropy, cross_entropy_backward = backend.fns("cross_entropy", "cross_entropy_backward")
    logits = scale * randn(seed, n, c, *spatial)
    target = np.random.default_rng(seed + 1).integers(0, c, (n, *spatial))
    g = float(np.random.default_rng(seed + 2).uniform(0.5, 2))
    expected = F.cross_entropy(torch.tensor(logits), torch.tensor(target)).numpy()
    assert_close(backend.numpy(cross_entropy(backend.tensor(logits), backend.tensor(target))), expected)
    (expected_grad,) = torch_grads(lambda t: F.cross_entropy(t, torch.tensor(target)), [logits], g)
    grad, grad_target = backend.numpy(cross_entropy_backward(g, backend.tensor(logits), backend.tensor(target)))
    assert_close(grad, expected_grad)
    assert grad_target is None


def test_cross_entropy_backward_passes_gradcheck():
    target = np.array([2, 0, 1])
    assert gradcheck(lambda z: cn.cross_entropy(z, target), [randn(0, 3, 4)],
                     backward=lambda g, z: cn.cross_entropy_backward(g, z, target))[0] < 1e-6


def test_cross_entropy_of_logits_1e4_is_stable(backend):
    cross_entropy, cross_entropy_backward = backend.fns("cross_entropy", "cross_entropy_backward")
    logits = np.array([[1e4, -1e4, 0.0], [1e4, 1e4, -1e4]], dtype=np.float32)
    target = np.array([1, 0])
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        loss = backend.numpy(cross_entropy(backend.tensor(logits), backend.tensor(target)))
        grad, _ = backend.numpy(cross_entropy_backward(1.0, backend.tensor(logits), backend.tensor(target)))
    assert np.asarray(loss).dtype == np.float32 and grad.dtype == np.float32
    # -log p of the right class: 2e4 for the first sample, log 2 for the second
    np.testing.assert_allclose(loss, (2e4 + np.log(2)) / 2, rtol=1e-6)
    np.testing.assert_allclose(grad, [[0.5, -0.5, 0], [-0.25, 0.25, 0]], atol=1e-7)


def test_cross_entropy_float_target(backend):
    (cross_entropy,) = backend.fns("cross_entropy")
    with pytest.raises(TypeError, match="cross_entropy: target must hold integer class indices.*float"):
        cross_entropy(backend.tensor(np.zeros((2, 3))), backend.tensor(np.zeros(2)))


def test_cross_entropy_target_out_of_range(backend):
    (cross_entropy,) = backend.fns("cross_entropy")
    message = r"cross_entropy: target contains class 3, but logits have 3 classes \(valid targets are 0..2\)"
    with pytest.raises(ValueError, match=message):
        cross_entropy(backend.tensor(np.zeros((2, 3))), backend.tensor(np.array([0, 3])))


def test_cross_entropy_negative_target(backend):
    (cross_entropy,) = backend.fns("cross_entropy")
    with pytest.raises(ValueError, match="cross_entropy: target contains class -1"):
        cross_entropy(backend.tensor(np.zeros((2, 3))), backend.tensor(np.array([-1, 0])))


def test_cross_entropy_target_shape(backend):
    (cross_entropy,) = backend.fns("cross_entropy")
    with pytest.raises(ValueError, match=r"cross_entropy: target must have shape \(2,\), got \(3,\)"):
        cross_entropy(backend.tensor(np.zeros((2, 3))), backend.tensor(np.array([0, 1, 2])))


def test_cross_entropy_1d_logits(backend):
    (cross_entropy,) = backend.fns("cross_entropy")
    with pytest.raises(ValueError, match=r"cross_entropy: logits must be \(N, C\) or \(N, C, d1, ...\), got 1-D"):
        cross_entropy(backend.tensor(np.zeros(3)), backend.tensor(np.array([0])))


# ---------------------------------------------------------------------------------------------
# mse_loss
# ---------------------------------------------------------------------------------------------

@SETTINGS
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=4), seed=st.integers(0, 2**16))
def test_mse_loss_forward_and_backward_match_torch(backend, shape, seed):
    mse_loss, mse_loss_backward = backend.fns("mse_loss", "mse_loss_backward")
    a, b = randn(seed, *shape), randn(seed + 1, *shape)
    g = float(np.random.default_rng(seed + 2).uniform(0.5, 2))
    assert_close(backend.numpy(mse_loss(backend.tensor(a), backend.tensor(b))),
                 F.mse_loss(torch.tensor(a), torch.tensor(b)).numpy())
    expected = torch_grads(F.mse_loss, [a, b], g)
    grads = backend.numpy(mse_loss_backward(g, backend.tensor(a), backend.tensor(b)))
    for got, want in zip(grads, expected):
        assert_close(got, want)


def test_mse_loss_backward_passes_gradcheck():
    assert max(gradcheck(cn.mse_loss, [randn(0, 2, 3), randn(1, 2, 3)])) < 1e-6


def test_mse_loss_shape_mismatch(backend):
    (mse_loss,) = backend.fns("mse_loss")
    with pytest.raises(ValueError, match=r"mse_loss: target must have shape \(2, 3\), got \(3,\)"):
        mse_loss(backend.tensor(np.zeros((2, 3))), backend.tensor(np.zeros(3)))


def test_mse_loss_integer_input(backend):
    (mse_loss,) = backend.fns("mse_loss")
    with pytest.raises(TypeError, match="mse_loss: input must have a floating-point dtype.*int"):
        mse_loss(backend.tensor(np.zeros(3, dtype=np.int64)), backend.tensor(np.zeros(3)))


# ---------------------------------------------------------------------------------------------
# L1 / L2 penalties
# ---------------------------------------------------------------------------------------------

TORCH_PENALTY = {
    "l1_penalty": lambda ws, lam: lam * sum(w.abs().sum() for w in ws),
    "l2_penalty": lambda ws, lam: lam / 2 * sum((w * w).sum() for w in ws),  # gradient lam * w = SGD weight_decay
}


@pytest.mark.parametrize("name", ["l1_penalty", "l2_penalty"])
@SETTINGS
@given(shapes=st.lists(st.lists(st.integers(1, 4), min_size=1, max_size=3), min_size=1, max_size=3),
       lam=st.floats(0, 2), seed=st.integers(0, 2**16))
def test_penalty_forward_grad_backward_match_torch(backend, name, shapes, lam, seed):
    f, f_grad, f_backward = backend.fns(name, name + "_grad", name + "_backward")
    ws = [randn(seed + i, *s) for i, s in enumerate(shapes)]
    g = 1.7
    expected_grads = torch_grads(lambda *ts: TORCH_PENALTY[name](ts, lam), ws, g)
    expected = TORCH_PENALTY[name]([torch.tensor(w) for w in ws], lam)
    assert_close(backend.numpy(f([backend.tensor(w) for w in ws], lam)), np.asarray(expected))
    grads = backend.numpy(f_grad([backend.tensor(w) for w in ws], lam))
    backs = backend.numpy(f_backward(g, [backend.tensor(w) for w in ws], lam))
    assert isinstance(grads, list) and len(grads) == len(ws)
    for grad, back, want in zip(grads, backs, expected_grads):
        assert_close(g * grad, want)
        assert_close(back, want)


@pytest.mark.parametrize("name", ["l1_penalty", "l2_penalty"])
def test_penalty_of_one_array_and_gradcheck(name):
    w = randn(0, 3, 4)
    assert isinstance(getattr(cn, name + "_grad")(w, 0.1), np.ndarray)
    assert gradcheck(getattr(cn, name), [w], lam=0.1)[0] < 1e-6


def test_l2_penalty_convention():
    w = np.array([3.0, 4.0])
    assert cn.l2_penalty(w, 0.1) == pytest.approx(0.1 / 2 * 25)  # lam / 2 * sum w^2
    np.testing.assert_allclose(cn.l2_penalty_grad(w, 0.1), 0.1 * w)  # = SGD's weight_decay=0.1 term
    assert cn.l1_penalty(w, 0.1) == pytest.approx(0.7)
    np.testing.assert_allclose(cn.l1_penalty_grad(np.array([-2.0, 0.0, 5.0]), 0.1), [-0.1, 0.0, 0.1])


def test_penalty_negative_lam(backend):
    (l2_penalty,) = backend.fns("l2_penalty")
    with pytest.raises(ValueError, match=r"l2_penalty: lam \(the penalty's strength\) must be a number >= 0, got -1"):
        l2_penalty([backend.tensor(np.ones(3))], -1)


def test_penalty_integer_params(backend):
    (l1_penalty,) = backend.fns("l1_penalty")
    with pytest.raises(TypeError, match=r"l1_penalty: params\[1\] must have a floating-point dtype.*int"):
        l1_penalty([backend.tensor(np.ones(3)), backend.tensor(np.ones(3, dtype=np.int64))], 0.1)
