"""linear, flatten and dropout against torch, forward and backward; dropout's statistics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import cnnlab.numpy as cn
from cnnlab.numpy import gradcheck

from .oracle import assert_close, assert_grads_close, bad_call, call, property_settings, randn, torch_oracle

torch = pytest.importorskip("torch")
F = torch.nn.functional

SETTINGS = property_settings(max_examples=30)


# ---------------------------------------------------------------------------------------------
# linear
# ---------------------------------------------------------------------------------------------

@SETTINGS
@given(lead=st.lists(st.integers(1, 4), min_size=0, max_size=3), n_in=st.integers(1, 6), n_out=st.integers(1, 6),
       has_bias=st.booleans(), seed=st.integers(0, 2**16))
def test_linear_forward_and_backward_match_torch(backend, lead, n_in, n_out, has_bias, seed):
    x, w, b = randn(seed, *lead, n_in), randn(seed + 1, n_out, n_in), randn(seed + 2, n_out) if has_bias else None
    g = randn(seed + 3, *lead, n_out)
    expected, expected_grads = torch_oracle(F.linear, (x, w, b), g)
    assert_close(call(backend, "linear", x, w, b), expected)
    assert_grads_close(call(backend, "linear_backward", g, x, w, b), expected_grads)  # no bias: None


@pytest.mark.parametrize("has_bias", [True, False])
def test_linear_backward_passes_gradcheck(has_bias):
    x, w, b = randn(0, 3, 4), randn(1, 2, 4), randn(2, 2) if has_bias else None
    errors = gradcheck(cn.linear, [x, w, b])
    assert max(e for e in errors if e is not None) < 1e-6


def test_linear_float32_stays_float32(backend):
    x, w, b = randn(0, 5, 4, dtype=np.float32), randn(1, 3, 4, dtype=np.float32), randn(2, 3, dtype=np.float32)
    out = call(backend, "linear", x, w, b)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, F.linear(*map(torch.tensor, (x, w, b))).numpy(), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# flatten
# ---------------------------------------------------------------------------------------------

@SETTINGS
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=5), data=st.data())
def test_flatten_forward_and_backward_match_torch(backend, shape, data):
    nd = len(shape)
    start = data.draw(st.integers(-nd, nd - 1), label="start_dim")
    end = data.draw(st.integers(start % nd, nd - 1), label="end_dim")
    if data.draw(st.booleans(), label="negative end"):
        end -= nd
    x = randn(0, *shape)
    expected = torch.flatten(torch.tensor(x), start, end).numpy()
    np.testing.assert_array_equal(call(backend, "flatten", x, start, end), expected)
    g = randn(1, *expected.shape)
    np.testing.assert_array_equal(call(backend, "flatten_backward", g, x, start, end), g.reshape(x.shape))


def test_flatten_default_keeps_the_batch_axis(backend):
    x = randn(0, 2, 3, 4, 5)
    out = call(backend, "flatten", x)
    np.testing.assert_array_equal(out, torch.nn.Flatten()(torch.tensor(x)).numpy())
    assert out.shape == (2, 60)


def test_flatten_backward_passes_gradcheck():
    assert gradcheck(cn.flatten, [randn(0, 2, 3, 2)], start_dim=0, end_dim=1)[0] < 1e-6


# ---------------------------------------------------------------------------------------------
# dropout
# ---------------------------------------------------------------------------------------------

@SETTINGS
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=4), p=st.floats(0.05, 0.95),
       seed=st.integers(0, 2**16))
def test_dropout_matches_torch_given_torchs_mask(backend, shape, p, seed):
    x = np.abs(randn(seed, *shape)) + 0.1  # no zeros, so torch's output shows its mask
    g = randn(seed + 1, *shape)
    torch.manual_seed(seed)
    expected, (expected_grad,) = torch_oracle(lambda t: F.dropout(t, p, training=True), (x,), g)
    mask = expected != 0
    assert_close(call(backend, "dropout", x, p, mask=mask), expected)
    assert_close(call(backend, "dropout_backward", g, x, p, mask=mask), expected_grad)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_drops_a_fraction_p_and_keeps_the_mean(backend, p):
    n = 200_000
    out = call(backend, "dropout", np.ones(n), p, rng=0)
    dropped = np.mean(out == 0)
    # binomial standard deviation of the fraction: sqrt(p (1 - p) / n) < 0.0012; allow 5 of them
    assert abs(dropped - p) < 0.006
    assert abs(out.mean() - 1) < 0.03  # inverted dropout: E[y] = x
    np.testing.assert_allclose(out[out != 0], 1 / (1 - p))


def test_dropout_mask_is_reproducible_and_keeps_with_probability_1_minus_p(backend):
    a, b = (call(backend, "dropout_mask", (100, 1000), 0.3, rng=7) for _ in range(2))
    assert a.dtype == np.bool_ and a.shape == (100, 1000)
    np.testing.assert_array_equal(a, b)
    assert abs(a.mean() - 0.7) < 0.01


def test_dropout_forward_and_backward_share_the_mask(backend):
    (dropout_mask,) = backend.fns("dropout_mask")
    x, g = randn(0, 4, 5), randn(1, 4, 5)
    mask = dropout_mask(x.shape, 0.4, rng=np.random.default_rng(3))  # the backend's own array, passed as it is
    y = call(backend, "dropout", x, 0.4, mask=mask)
    grad = call(backend, "dropout_backward", g, x, 0.4, mask=mask)
    keep = backend.numpy(mask)
    np.testing.assert_allclose(y, np.where(keep, x / 0.6, 0))
    np.testing.assert_allclose(grad, np.where(keep, g / 0.6, 0))


@pytest.mark.parametrize("p, training", [(0.0, True), (0.5, False), (1.0, False)])
def test_dropout_identity_when_p_is_0_or_not_training(backend, p, training):
    x, g = randn(0, 3, 4), randn(1, 3, 4)
    np.testing.assert_array_equal(call(backend, "dropout", x, p, training), x)
    np.testing.assert_array_equal(call(backend, "dropout_backward", g, x, p, training), g)


def test_dropout_p_1_gives_zeros(backend):
    x = randn(0, 3, 4)
    out = call(backend, "dropout", x, 1.0)
    np.testing.assert_array_equal(out, np.zeros_like(x))
    np.testing.assert_array_equal(call(backend, "dropout_backward", x, x, 1.0), 0 * x)
    np.testing.assert_array_equal(out, F.dropout(torch.tensor(x), 1.0).numpy())


def test_dropout_float32_stays_float32(backend):
    assert call(backend, "dropout", randn(0, 10, dtype=np.float32), 0.5, rng=0).dtype == np.float32


def test_dropout_backward_passes_gradcheck():
    x = randn(0, 3, 4)
    mask = cn.dropout_mask(x.shape, 0.3, rng=0)
    assert gradcheck(cn.dropout, [x], p=0.3, mask=mask)[0] < 1e-6


# ---------------------------------------------------------------------------------------------
# Bad input: each error names the op and what was expected
# ---------------------------------------------------------------------------------------------

BAD_INPUT = [
    bad_call("linear features", "linear", np.zeros((2, 5)), np.zeros((3, 4)), error=ValueError,
             match=r"linear: input has 5 features but weight expects 4 \(weight shape \(3, 4\)\)"),
    bad_call("linear weight 1-D", "linear", np.zeros((2, 4)), np.zeros(4), error=ValueError,
             match=r"linear: weight must be 2-D \(out_features, in_features\), got 1-D"),
    bad_call("linear bias shape", "linear", np.zeros((2, 4)), np.zeros((3, 4)), np.zeros(4), error=ValueError,
             match=r"linear: bias must have shape \(3,\), got \(4,\)"),
    bad_call("linear int input", "linear", np.zeros((2, 4), dtype=np.int64), np.zeros((3, 4)), error=TypeError,
             match="linear: input must have a floating-point dtype.*int"),
    bad_call("linear dtypes", "linear", np.zeros((2, 4), dtype=np.float32), np.zeros((3, 4)), error=TypeError,
             match="linear: input has dtype .*float32 but weight has dtype .*float64"),
    bad_call("flatten dim out of range", "flatten", np.zeros((2, 3)), start_dim=2, error=ValueError,
             match=r"flatten: start_dim must be an int in \[-2, 1\] for a 2-D input, got 2"),
    bad_call("flatten start after end", "flatten", np.zeros((2, 3, 4)), start_dim=2, end_dim=1, error=ValueError,
             match=r"flatten: start_dim \(2\) must not come after end_dim \(1\)"),
    *[bad_call(f"dropout p={p!r}", "dropout", np.zeros(3), p, error=ValueError,
               match=r"dropout: p \(the probability of dropping a unit\) must be a number in \[0, 1\]")
      for p in [-0.1, 1.5, "0.5", None]],
    bad_call("dropout int input", "dropout", np.zeros(3, dtype=np.int64), 0.5, error=TypeError,
             match="dropout: input must have a floating-point dtype.*int"),
    bad_call("dropout mask shape", "dropout", np.zeros(3), 0.5, mask=np.ones(4, dtype=bool), error=ValueError,
             match=r"dropout: mask must have shape \(3,\), got \(4,\)"),
    bad_call("dropout rng and mask", "dropout", np.zeros(3), 0.5, rng=0, mask=np.ones(3, dtype=bool),
             error=ValueError, match="dropout: give rng or mask, not both"),
    bad_call("dropout_backward without mask", "dropout_backward", np.ones(3), np.ones(3), 0.5, error=ValueError,
             match="dropout_backward: mask is required in training with 0 < p < 1"),
]


@pytest.mark.parametrize("fn, args, kwargs, error, match", BAD_INPUT)
def test_rejects_bad_input(backend, fn, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        call(backend, fn, *args, **kwargs)
