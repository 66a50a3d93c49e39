"""Activations: every one of the slides' gallery against torch, forward, derivative and backward.

One test body per check, run on every backend (the ``backend`` fixture); torch in float64 is the oracle.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import cnnlab.numpy as cn
from cnnlab.numpy import ACTIVATIONS, gradcheck

from .oracle import assert_close, call, property_settings, torch_oracle

torch = pytest.importorskip("torch")
F = torch.nn.functional

SETTINGS = property_settings(max_examples=30)

SLIDE_ORDER = ["sigmoid", "tanh", "step", "softplus", "relu", "softsign", "elu", "log_sigmoid", "swish", "sinc",
               "leaky_relu", "mish"]

TORCH = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "step": lambda x: torch.heaviside(x, torch.zeros((), dtype=x.dtype, device=x.device)),
    "softplus": F.softplus,
    "relu": F.relu,
    "softsign": F.softsign,
    "elu": F.elu,
    "log_sigmoid": F.logsigmoid,
    "swish": F.silu,
    "sinc": lambda x: torch.sinc(x / math.pi),  # torch's sinc is the normalised one
    "leaky_relu": F.leaky_relu,
    "mish": F.mish,
}

# Hyper-parameters drawn per activation (names as in torch.nn.functional).
HYPER = {
    "softplus": {"beta": st.floats(0.25, 4), "threshold": st.floats(1, 30)},
    "elu": {"alpha": st.floats(0.1, 3)},
    "leaky_relu": {"negative_slope": st.floats(0, 0.5)},
}


# Compared element by element (assert_close with atol): within ~ATOL / 1e-10 of 0 absolutely, because there
# torch itself is only accurate to about ATOL (tanh' = 1 - tanh^2 in the tails, sinc near the zeros of sin).
ATOL = 1e-12

arrays = hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=4, max_side=5),
                    elements=st.floats(-40, 40, allow_subnormal=False))


def test_registry_is_the_slides_gallery():
    assert list(ACTIVATIONS) == SLIDE_ORDER
    for name, entry in ACTIVATIONS.items():
        f, f_grad = entry  # unpacks as the pair (f, f')
        assert f is getattr(cn, name) and f_grad is getattr(cn, name + "_grad")
        assert hasattr(cn, name + "_backward")
        assert entry.name and entry.formula.strip()
    assert (cn.silu, cn.silu_grad, cn.silu_backward) == (cn.swish, cn.swish_grad, cn.swish_backward)


@pytest.mark.parametrize("name", SLIDE_ORDER)
@SETTINGS
@given(x=arrays, data=st.data())
def test_forward_matches_torch(backend, name, x, data):
    kwargs = {k: data.draw(s, label=k) for k, s in HYPER.get(name, {}).items()}
    out = call(backend, name, x, **kwargs)
    assert out.dtype == np.float64
    assert_close(out, torch_oracle(TORCH[name], (x,), **kwargs), atol=ATOL)


@pytest.mark.parametrize("name", SLIDE_ORDER)
@SETTINGS
@given(x=arrays, data=st.data())
def test_grad_and_backward_match_torch(backend, name, x, data):
    kwargs = {k: data.draw(s, label=k) for k, s in HYPER.get(name, {}).items()}
    if name == "sinc":
        # torch's sinc derivative loses digits near 0 (x cos x - sin x cancels); compared there with mpmath below.
        x = np.where(np.abs(x) < 0.5, 1.0, x)
    g = np.random.default_rng(x.size).standard_normal(x.shape)
    if name == "step":
        expected = np.zeros_like(x)  # torch's heaviside has no derivative: it is 0
    else:
        _, (expected,) = torch_oracle(TORCH[name], (x,), g, **kwargs)  # g * f'(x)
    atol = ATOL * max(1.0, np.abs(g).max())  # g scales the absolute error
    assert_close(call(backend, name + "_backward", g, x, **kwargs), expected, atol=atol)
    assert_close(g * call(backend, name + "_grad", x, **kwargs), expected, atol=atol)


@pytest.mark.parametrize("name", SLIDE_ORDER)
def test_backward_passes_gradcheck(name):
    x = np.random.default_rng(0).uniform(-4, 4, (3, 4))
    x = np.where(np.abs(x) < 1e-3, 0.5, x)  # stay off the kinks of relu, step, elu, leaky_relu
    assert gradcheck(getattr(cn, name), [x])[0] < 1e-6


@pytest.mark.parametrize("name", ["softplus", "elu", "leaky_relu"])
def test_backward_passes_gradcheck_with_hyperparameters(name):
    kwargs = {"softplus": {"beta": 2.0, "threshold": 3.0}, "elu": {"alpha": 0.7},
              "leaky_relu": {"negative_slope": 0.2}}[name]
    x = np.random.default_rng(1).uniform(-4, 4, (3, 4))
    assert gradcheck(getattr(cn, name), [x], **kwargs)[0] < 1e-6


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", SLIDE_ORDER)
def test_extreme_inputs_no_overflow_no_warning(backend, name, dtype):
    x = np.array([-1000, -100, -88, -50, -20, -1, 0, 1, 20, 50, 88, 100, 1000], dtype=dtype)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        out = call(backend, name, x)
        grad = call(backend, name + "_grad", x)
        back = call(backend, name + "_backward", np.ones_like(x), x)
    for value in (out, grad, back):
        assert value.dtype == dtype and np.isfinite(value).all()
    np.testing.assert_allclose(grad, back)
    expected = TORCH[name](torch.tensor(x.astype(np.float64))).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", SLIDE_ORDER)
def test_float32_stays_float32_and_matches_torch(backend, name):
    x = np.random.default_rng(2).uniform(-6, 6, (2, 3, 4, 5)).astype(np.float32)
    out = call(backend, name, x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, TORCH[name](torch.tensor(x)).numpy(), rtol=1e-5, atol=1e-6)


def test_step_and_relu_are_zero_at_zero(backend):
    step, step_grad, relu, relu_grad = backend.fns("step", "step_grad", "relu", "relu_grad")
    x = backend.tensor(np.array([-1.0, 0.0, 2.0]))
    np.testing.assert_array_equal(backend.numpy(step(x)), [0, 0, 1])  # y = 1 for x > 0, else 0
    np.testing.assert_array_equal(backend.numpy(step_grad(x)), [0, 0, 0])
    np.testing.assert_array_equal(backend.numpy(relu(x)), [0, 0, 2])
    np.testing.assert_array_equal(backend.numpy(relu_grad(x)), [0, 0, 1])  # the slide: x <= 0 stops the signal


def test_sinc_near_and_at_zero(backend):
    mpmath = pytest.importorskip("mpmath")
    x = np.array([0.0, 1e-300, -1e-12, 1e-8, -1e-5, 1e-3, -0.05, 0.0999, 0.1, -0.3, 2.0])
    # The exact values, with enough digits that x cos x - sin x does not cancel even at x = 1e-300.
    with mpmath.workdps(700):
        exact_f = [1.0 if v == 0 else float(mpmath.sin(v) / v) for v in map(mpmath.mpf, x)]
        exact_g = [0.0 if v == 0 else float((v * mpmath.cos(v) - mpmath.sin(v)) / v**2) for v in map(mpmath.mpf, x)]
    np.testing.assert_allclose(call(backend, "sinc", x), exact_f, rtol=1e-14)
    np.testing.assert_allclose(call(backend, "sinc_grad", x), exact_g, rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", SLIDE_ORDER)
def test_integer_input_is_rejected(backend, name):
    with pytest.raises(TypeError, match=rf"{name}: input must have a floating-point dtype.*int"):
        call(backend, name, np.arange(3))
    with pytest.raises(TypeError, match=rf"{name}_grad: input must have a floating-point dtype.*int"):
        call(backend, name + "_grad", np.arange(3))


def test_backward_rejects_grad_out_of_another_shape(backend):
    with pytest.raises(ValueError, match=r"relu_backward: grad_out must have shape \(2, 3\), got \(3, 2\)"):
        call(backend, "relu_backward", np.ones((3, 2)), np.ones((2, 3)))


def test_numpy_activations_refuse_a_torch_tensor_with_a_hint():
    with pytest.raises(TypeError, match=r"relu: input must be a numpy.ndarray, got torch.Tensor "
                                        r"\(convert it with cnnlab.torch.to_numpy\)"):
        cn.relu(torch.zeros(3))
    with pytest.raises(TypeError, match=r"sigmoid_backward: grad_out must be a numpy.ndarray, got torch.Tensor"):
        cn.sigmoid_backward(torch.zeros(3), np.zeros(3))


@pytest.mark.parametrize("name", SLIDE_ORDER)
def test_torch_results_stay_on_the_input_device(name):
    """On torch's "meta" device nothing is computed: a result there means that no step of f, f' or the backward
    made a tensor on the CPU by the way (what would fail, or copy, on a GPU)."""
    ct = pytest.importorskip("cnnlab.torch")
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64, device="meta")
    f, f_grad, f_backward = (getattr(ct, name + suffix) for suffix in ("", "_grad", "_backward"))
    for out in (f(x), f_grad(x), f_backward(x, x)):
        assert (out.device.type, out.shape, out.dtype) == ("meta", x.shape, x.dtype)
