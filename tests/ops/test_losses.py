"""softmax, log_softmax, cross_entropy, mse_loss and the L1 / L2 penalties against torch, forward and backward."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import cnnlab.numpy as cn
from cnnlab.numpy import gradcheck

from .oracle import assert_close, bad_call, call, property_settings, randn, torch_oracle

torch = pytest.importorskip("torch")
F = torch.nn.functional

SETTINGS = property_settings(max_examples=30)


# ---------------------------------------------------------------------------------------------
# softmax, log_softmax
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@SETTINGS
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=4), scale=st.sampled_from([1.0, 10.0, 1e3]),
       seed=st.integers(0, 2**16), data=st.data())
def test_softmax_forward_and_backward_match_torch(backend, name, shape, scale, seed, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    x, g = scale * randn(seed, *shape), randn(seed + 1, *shape)
    expected, (expected_grad,) = torch_oracle(name, (x,), g, dim=dim)
    assert_close(call(backend, name, x, dim=dim), expected)
    assert_close(call(backend, name + "_backward", g, x, dim=dim), expected_grad, scale=np.linalg.norm(g))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_backward_passes_gradcheck(name):
    assert gradcheck(getattr(cn, name), [randn(0, 3, 4)], dim=0)[0] < 1e-6


def test_softmax_of_huge_scores_is_finite(backend):
    x = np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4]], dtype=np.float32)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        s = call(backend, "softmax", x)
        ls = call(backend, "log_softmax", x)
    np.testing.assert_allclose(s, [[1, 0, 0], [1 / 3] * 3], rtol=1e-6)
    np.testing.assert_allclose(ls, F.log_softmax(torch.tensor(x), dim=-1).numpy(), rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# cross_entropy
# ---------------------------------------------------------------------------------------------

@SETTINGS
@given(n=st.integers(1, 6), c=st.integers(1, 6), spatial=st.lists(st.integers(1, 3), max_size=2),
       scale=st.sampled_from([1.0, 10.0, 1e4]), seed=st.integers(0, 2**16))
def test_cross_entropy_forward_and_backward_match_torch(backend, n, c, spatial, scale, seed):
    logits = scale * randn(seed, n, c, *spatial)
    target = np.random.default_rng(seed + 1).integers(0, c, (n, *spatial))
    g = float(np.random.default_rng(seed + 2).uniform(0.5, 2))
    expected, (expected_grad,) = torch_oracle(lambda t: F.cross_entropy(t, torch.tensor(target)), (logits,), g)
    assert_close(call(backend, "cross_entropy", logits, target), expected)
    grad, grad_target = call(backend, "cross_entropy_backward", g, logits, target)
    assert_close(grad, expected_grad)
    assert grad_target is None


def test_cross_entropy_backward_passes_gradcheck():
    target = np.array([2, 0, 1])
    assert gradcheck(lambda z: cn.cross_entropy(z, target), [randn(0, 3, 4)],
                     backward=lambda g, z: cn.cross_entropy_backward(g, z, target))[0] < 1e-6


def test_cross_entropy_of_logits_1e4_is_stable(backend):
    logits = np.array([[1e4, -1e4, 0.0], [1e4, 1e4, -1e4]], dtype=np.float32)
    target = np.array([1, 0])
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        loss = call(backend, "cross_entropy", logits, target)
        grad, _ = call(backend, "cross_entropy_backward", 1.0, logits, target)
    assert np.asarray(loss).dtype == np.float32 and grad.dtype == np.float32
    # -log p of the right class: 2e4 for the first sample, log 2 for the second
    np.testing.assert_allclose(loss, (2e4 + np.log(2)) / 2, rtol=1e-6)
    np.testing.assert_allclose(grad, [[0.5, -0.5, 0], [-0.25, 0.25, 0]], atol=1e-7)


# ---------------------------------------------------------------------------------------------
# mse_loss
# ---------------------------------------------------------------------------------------------

@SETTINGS
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=4), seed=st.integers(0, 2**16))
def test_mse_loss_forward_and_backward_match_torch(backend, shape, seed):
    a, b = randn(seed, *shape), randn(seed + 1, *shape)
    g = float(np.random.default_rng(seed + 2).uniform(0.5, 2))
    expected, expected_grads = torch_oracle("mse_loss", (a, b), g)
    assert_close(call(backend, "mse_loss", a, b), expected)
    for got, want in zip(call(backend, "mse_loss_backward", g, a, b), expected_grads):
        assert_close(got, want)


def test_mse_loss_backward_passes_gradcheck():
    assert max(gradcheck(cn.mse_loss, [randn(0, 2, 3), randn(1, 2, 3)])) < 1e-6


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
    ws = [randn(seed + i, *s) for i, s in enumerate(shapes)]
    g = 1.7
    expected, expected_grads = torch_oracle(lambda *ts: TORCH_PENALTY[name](ts, lam), ws, g)
    assert_close(call(backend, name, ws, lam), expected)
    grads = call(backend, name + "_grad", ws, lam)
    backs = call(backend, name + "_backward", g, ws, lam)
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


# ---------------------------------------------------------------------------------------------
# Bad input: each error names the op and what was expected
# ---------------------------------------------------------------------------------------------

BAD_INPUT = [
    bad_call("softmax dim", "softmax", np.zeros((2, 3)), dim=2, error=ValueError,
             match=r"softmax: dim must be an int in \[-2, 1\] for a 2-D input, got 2"),
    bad_call("cross_entropy float target", "cross_entropy", np.zeros((2, 3)), np.zeros(2), error=TypeError,
             match="cross_entropy: target must hold integer class indices.*float"),
    bad_call("cross_entropy target out of range", "cross_entropy", np.zeros((2, 3)), np.array([0, 3]),
             error=ValueError,
             match=r"cross_entropy: target contains class 3, but logits have 3 classes \(valid targets are 0..2\)"),
    bad_call("cross_entropy negative target", "cross_entropy", np.zeros((2, 3)), np.array([-1, 0]),
             error=ValueError, match="cross_entropy: target contains class -1"),
    bad_call("cross_entropy target shape", "cross_entropy", np.zeros((2, 3)), np.array([0, 1, 2]),
             error=ValueError, match=r"cross_entropy: target must have shape \(2,\), got \(3,\)"),
    bad_call("cross_entropy 1-D logits", "cross_entropy", np.zeros(3), np.array([0]), error=ValueError,
             match=r"cross_entropy: logits must be \(N, C\) or \(N, C, d1, ...\), got 1-D"),
    bad_call("mse_loss shapes", "mse_loss", np.zeros((2, 3)), np.zeros(3), error=ValueError,
             match=r"mse_loss: target must have shape \(2, 3\), got \(3,\)"),
    bad_call("mse_loss int input", "mse_loss", np.zeros(3, dtype=np.int64), np.zeros(3), error=TypeError,
             match="mse_loss: input must have a floating-point dtype.*int"),
    bad_call("penalty negative lam", "l2_penalty", [np.ones(3)], -1, error=ValueError,
             match=r"l2_penalty: lam \(the penalty's strength\) must be a number >= 0, got -1"),
    bad_call("penalty int params", "l1_penalty", [np.ones(3), np.ones(3, dtype=np.int64)], 0.1, error=TypeError,
             match=r"l1_penalty: params\[1\] must have a floating-point dtype.*int"),
]


@pytest.mark.parametrize("fn, args, kwargs, error, match", BAD_INPUT)
def test_rejects_bad_input(backend, fn, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        call(backend, fn, *args, **kwargs)


# ---------------------------------------------------------------------------------------------
# Dtypes, devices, masked classes
# ---------------------------------------------------------------------------------------------

def test_cross_entropy_ignores_classes_masked_with_minus_inf(backend):
    """A wrong class whose score is -inf (masked out) has probability 0: the loss stays finite, as torch's."""
    logits = np.array([[0.0, -np.inf, 1.0], [2.0, 0.5, -np.inf]])
    target = np.array([0, 1])
    expected, (expected_grad,) = torch_oracle(lambda t: F.cross_entropy(t, torch.tensor(target)), (logits,), 1.0)
    assert_close(call(backend, "cross_entropy", logits, target), expected)
    assert_close(call(backend, "cross_entropy_backward", 1.0, logits, target)[0], expected_grad)


def test_loss_gradients_keep_the_dtype_of_the_input(backend):
    """A float64 grad_out (NumPy's default) does not turn the gradient of float32 logits into float64."""
    logits, x = randn(0, 4, 3, dtype=np.float32), randn(1, 4, 3, dtype=np.float32)
    grad_out = np.array(2.0)
    grad, _ = call(backend, "cross_entropy_backward", grad_out, logits, np.array([0, 2, 1, 1]))
    grad_input, grad_target = call(backend, "mse_loss_backward", grad_out, x, logits)
    assert grad.dtype == grad_input.dtype == grad_target.dtype == np.float32
    with pytest.raises(ValueError, match=r"mse_loss_backward: grad_out must be a scalar \(the loss is a mean\), "
                                         r"got shape \(3,\)"):
        call(backend, "mse_loss_backward", np.ones(3), x, logits)


def test_numpy_losses_refuse_a_torch_tensor_with_a_hint():
    with pytest.raises(TypeError, match=r"softmax: input must be a numpy.ndarray, got torch.Tensor "
                                        r"\(convert it with cnnlab.torch.to_numpy\)"):
        cn.softmax(torch.zeros(2, 3))
    with pytest.raises(TypeError, match=r"l2_penalty: params\[1\] must be a numpy.ndarray, got torch.Tensor"):
        cn.l2_penalty([np.ones(3), torch.ones(3)], 0.1)


def test_torch_losses_stay_on_the_input_device():
    """On torch's "meta" device nothing is computed: a result there means that no step made a tensor on the
    CPU by the way. (cross_entropy checks its targets' values, which meta tensors do not have.)"""
    ct = pytest.importorskip("cnnlab.torch")
    x, y = (torch.randn(4, 3, 5, 5, device="meta") for _ in range(2))
    outs = [ct.softmax(x, dim=1), ct.softmax_backward(y, x, dim=1), ct.log_softmax(x, dim=1),
            ct.log_softmax_backward(y, x, dim=1), ct.mse_loss(x, y), *ct.mse_loss_backward(1.0, x, y),
            ct.l1_penalty([x, y], 0.1), *ct.l1_penalty_backward(1.0, [x, y], 0.1),
            ct.l2_penalty([x, y], 0.1), *ct.l2_penalty_grad([x, y], 0.1)]
    assert all(out.device.type == "meta" for out in outs)


def test_penalty_of_no_parameters_is_zero(backend):
    assert float(call(backend, "l1_penalty", [], 0.5)) == 0.0
    assert float(call(backend, "l2_penalty", [], 0.5)) == 0.0
