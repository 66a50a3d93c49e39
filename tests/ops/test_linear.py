"""linear, flatten and dropout against torch, forward and backward; dropout's statistics."""

from __future__ import annotations

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



def assert_close(actual, expected, tol=1e-10):
    """Relative error ||actual - expected|| / ||expected|| <= tol, same shape."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    err = np.linalg.norm((actual - expected).ravel()) / max(np.linalg.norm(expected.ravel()), np.finfo(float).tiny)
    assert err <= tol, f"relative error {err:.3g} > {tol}"


def randn(seed, *shape, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# ---------------------------------------------------------------------------------------------
# linear
# ---------------------------------------------------------------------------------------------

@SETTINGS
@given(lead=st.lists(st.integers(1, 4), min_size=0, max_size=3), n_in=st.integers(1, 6), n_out=st.integers(1, 6),
       has_bias=st.booleans(), seed=st.integers(0, 2**16))
def test_linear_forward_and_backward_match_torch(backend, lead, n_in, n_out, has_bias, seed):
    linear, linear_backward = backend.fns("linear", "linear_backward")
    x, w, b = randn(seed, *lead, n_in), randn(seed + 1, n_out, n_in), randn(seed + 2, n_out) if has_bias else None
    g = randn(seed + 3, *lead, n_out)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True) if has_bias else None
    yt = F.linear(xt, wt, bt)
    yt.backward(torch.tensor(g))

    assert_close(backend.numpy(linear(backend.tensor(x), backend.tensor(w), backend.tensor(b))), yt.detach().numpy())
    gx, gw, gb = backend.numpy(linear_backward(backend.tensor(g), *map(backend.tensor, (x, w, b))))
    assert_close(gx, xt.grad.numpy())
    assert_close(gw, wt.grad.numpy())
    if has_bias:
        assert_close(gb, bt.grad.numpy())
    else:
        assert gb is None


@pytest.mark.parametrize("has_bias", [True, False])
def test_linear_backward_passes_gradcheck(has_bias):
    x, w, b = randn(0, 3, 4), randn(1, 2, 4), randn(2, 2) if has_bias else None
    errors = gradcheck(cn.linear, [x, w, b])
    assert max(e for e in errors if e is not None) < 1e-6


def test_linear_float32_stays_float32(backend):
    (linear,) = backend.fns("linear")
    x, w, b = randn(0, 5, 4, dtype=np.float32), randn(1, 3, 4, dtype=np.float32), randn(2, 3, dtype=np.float32)
    out = backend.numpy(linear(backend.tensor(x), backend.tensor(w), backend.tensor(b)))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, F.linear(*map(torch.tensor, (x, w, b))).numpy(), rtol=1e-5, atol=1e-6)


def test_linear_feature_mismatch(backend):
    (linear,) = backend.fns("linear")
    message = r"linear: input has 5 features but weight expects 4 \(weight shape \(3, 4\)\)"
    with pytest.raises(ValueError, match=message):
        linear(backend.tensor(np.zeros((2, 5))), backend.tensor(np.zeros((3, 4))))


def test_linear_weight_not_2d(backend):
    (linear,) = backend.fns("linear")
    with pytest.raises(ValueError, match=r"linear: weight must be 2-D \(out_features, in_features\), got 1-D"):
        linear(backend.tensor(np.zeros((2, 4))), backend.tensor(np.zeros(4)))


def test_linear_bias_of_the_wrong_shape(backend):
    (linear,) = backend.fns("linear")
    with pytest.raises(ValueError, match=r"linear: bias must have shape \(3,\), got \(4,\)"):
        linear(backend.tensor(np.zeros((2, 4))), backend.tensor(np.zeros((3, 4))), backend.tensor(np.zeros(4)))


def test_linear_integer_input(backend):
    (linear,) = backend.fns("linear")
    with pytest.raises(TypeError, match="linear: input must have a floating-point dtype.*int"):
        linear(backend.tensor(np.zeros((2, 4), dtype=np.int64)), backend.tensor(np.zeros((3, 4))))


def test_linear_dtype_mismatch(backend):
    (linear,) = backend.fns("linear")
    with pytest.raises(TypeError, match="linear: input has dtype .*float32 but weight has dtype .*float64"):
        linear(backend.tensor(np.zeros((2, 4), dtype=np.float32)), backend.tensor(np.zeros((3, 4))))


# ---------------------------------------------------------------------------------------------
# flatten
# ---------------------------------------------------------------------------------------------

@SETTINGS
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=5), data=st.data())
def test_flatten_forward_and_backward_match_torch(backend, shape, data):
    flatten, flatten_backward = backend.fns("flatten", "flatten_backward")
    nd = len(shape)
    start = data.draw(st.integers(-nd, nd - 1), label="start_dim")
    end = data.draw(st.integers(start % nd, nd - 1), label="end_dim")
    if data.draw(st.booleans(), label="negative end"):
        end -= nd
    x = randn(0, *shape)
    expected = torch.flatten(torch.tensor(x), start, end).numpy()
    out = backend.numpy(flatten(backend.tensor(x), start, end))
    np.testing.assert_array_equal(out, expected)
    g = randn(1, *expected.shape)
    np.testing.assert_array_equal(backend.numpy(flatten_backward(backend.tensor(g), backend.tensor(x), start, end)),
                                  g.reshape(x.shape))


def test_flatten_default_keeps_the_batch_axis(backend):
    (flatten,) = backend.fns("flatten")
    x = randn(0, 2, 3, 4, 5)
    out = backend.numpy(flatten(backend.tensor(x)))
    np.testing.assert_array_equal(out, torch.nn.Flatten()(torch.tensor(x)).numpy())
    assert out.shape == (2, 60)


def test_flatten_backward_passes_gradcheck():
    assert gradcheck(cn.flatten, [randn(0, 2, 3, 2)], start_dim=0, end_dim=1)[0] < 1e-6


def test_flatten_dim_out_of_range(backend):
    (flatten,) = backend.fns("flatten")
    with pytest.raises(ValueError, match=r"flatten: start_dim must be an int in \[-2, 1\] for a 2-D input, got 2"):
        flatten(backend.tensor(np.zeros((2, 3))), start_dim=2)


def test_flatten_start_after_end(backend):
    (flatten,) = backend.fns("flatten")
    with pytest.raises(ValueError, match=r"flatten: start_dim \(2\) must not come after end_dim \(1\)"):
        flatten(backend.tensor(np.zeros((2, 3, 4))), start_dim=2, end_dim=1)


# ---------------------------------------------------------------------------------------------
# dropout
# ---------------------------------------------------------------------------------------------

@SETTINGS
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=4), p=st.floats(0.05, 0.95),
       seed=st.integers(0, 2**16))
def test_dropout_matches_torch_given_torchs_mask(backend, shape, p, seed):
    dropout, dropout_backward = backend.fns("dropout", "dropout_backward")
    x = np.abs(randn(seed, *shape)) + 0.1  # no zeros, so torch's output shows its mask
    xt = torch.tensor(x, requires_grad=True)
    torch.manual_seed(seed)
    yt = F.dropout(xt, p, training=True)
    g = randn(seed + 1, *shape)
    yt.backward(torch.tensor(g))
    mask = yt.detach().numpy() != 0

    out = backend.numpy(dropout(backend.tensor(x), p, mask=backend.tensor(mask)))
    assert_close(out, yt.detach().numpy())
    grad = backend.numpy(dropout_backward(backend.tensor(g), backend.tensor(x), p, mask=backend.tensor(mask)))
    assert_close(grad, xt.grad.numpy())


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_drops_a_fraction_p_and_keeps_the_mean(backend, p):
    (dropout,) = backend.fns("dropout")
    n = 200_000
    out = backend.numpy(dropout(backend.tensor(np.ones(n)), p, rng=0))
    dropped = np.mean(out == 0)
    # binomial standard deviation of the fraction: sqrt(p (1 - p) / n) < 0.0012; allow 5 of them
    assert abs(dropped - p) < 0.006
    assert abs(out.mean() - 1) < 0.03  # inverted dropout: E[y] = x
    np.testing.assert_allclose(out[out != 0], 1 / (1 - p))


def test_dropout_mask_is_reproducible_and_keeps_with_probability_1_minus_p(backend):
    (dropout_mask,) = backend.fns("dropout_mask")
    a, b = (backend.numpy(dropout_mask((100, 1000), 0.3, rng=7)) for _ in range(2))
    assert a.dtype == np.bool_ and a.shape == (100, 1000)
    np.testing.assert_array_equal(a, b)
    assert abs(a.mean() - 0.7) < 0.01


def test_dropout_forward_and_backward_share_the_mask(backend):
    dropout_mask, dropout, dropout_backward = backend.fns("dropout_mask", "dropout", "dropout_backward")
    x, g = randn(0, 4, 5), randn(1, 4, 5)
    mask = dropout_mask(x.shape, 0.4, rng=np.random.default_rng(3))
    y = backend.numpy(dropout(backend.tensor(x), 0.4, mask=mask))
    grad = backend.numpy(dropout_backward(backend.tensor(g), backend.tensor(x), 0.4, mask=mask))
    keep = backend.numpy(mask)
    np.testing.assert_allclose(y, np.where(keep, x / 0.6, 0))
    np.testing.assert_allclose(grad, np.where(keep, g / 0.6, 0))


@pytest.mark.parametrize("p, training", [(0.0, True), (0.5, False), (1.0, False)])
def test_dropout_identity_when_p_is_0_or_not_training(backend, p, training):
    dropout, dropout_backward = backend.fns("dropout", "dropout_backward")
    x, g = randn(0, 3, 4), randn(1, 3, 4)
    np.testing.assert_array_equal(backend.numpy(dropout(backend.tensor(x), p, training)), x)
    np.testing.assert_array_equal(backend.numpy(dropout_backward(backend.tensor(g), backend.tensor(x), p, training)), g)


def test_dropout_p_1_gives_zeros(backend):
    dropout, dropout_backward = backend.fns("dropout", "dropout_backward")
    x = randn(0, 3, 4)
    out = backend.numpy(dropout(backend.tensor(x), 1.0))
    np.testing.assert_array_equal(out, np.zeros_like(x))
    np.testing.assert_array_equal(backend.numpy(dropout_backward(backend.tensor(x), backend.tensor(x), 1.0)), 0 * x)
    np.testing.assert_array_equal(out, F.dropout(torch.tensor(x), 1.0).numpy())


def test_dropout_float32_stays_float32(backend):
    (dropout,) = backend.fns("dropout")
    assert backend.numpy(dropout(backend.tensor(randn(0, 10, dtype=np.float32)), 0.5, rng=0)).dtype == np.float32


def test_dropout_backward_passes_gradcheck():
    x = randn(0, 3, 4)
    mask = cn.dropout_mask(x.shape, 0.3, rng=0)
    assert gradcheck(cn.dropout, [x], p=0.3, mask=mask)[0] < 1e-6


@pytest.mark.parametrize("p", [-0.1, 1.5, "0.5", None])
def test_dropout_bad_p(backend, p):
    (dropout,) = backend.fns("dropout")
    message = r"dropout: p \(the probability of dropping a unit\) must be a number in \[0, 1\]"
    with pytest.raises(ValueError, match=message):
        dropout(backend.tensor(np.zeros(3)), p)


def test_dropout_integer_input(backend):
    (dropout,) = backend.fns("dropout")
    with pytest.raises(TypeError, match="dropout: input must have a floating-point dtype.*int"):
        dropout(backend.tensor(np.zeros(3, dtype=np.int64)), 0.5)


def test_dropout_mask_of_the_wrong_shape(backend):
    (dropout,) = backend.fns("dropout")
    with pytest.raises(ValueError, match=r"dropout: mask must have shape \(3,\), got \(4,\)"):
        dropout(backend.tensor(np.zeros(3)), 0.5, mask=backend.tensor(np.ones(4, dtype=bool)))


def test_dropout_rng_and_mask_both_given(backend):
    (dropout,) = backend.fns("dropout")
    with pytest.raises(ValueError, match="dropout: give rng or mask, not both"):
        dropout(backend.tensor(np.zeros(3)), 0.5, rng=0, mask=backend.tensor(np.ones(3, dtype=bool)))


def test_dropout_backward_without_the_mask(backend):
    (dropout_backward,) = backend.fns("dropout_backward")
    with pytest.raises(ValueError, match="dropout_backward: mask is required in training with 0 < p < 1"):
        dropout_backward(backend.tensor(np.ones(3)), backend.tensor(np.ones(3)), 0.5)
