"""interpolate (nearest / bilinear upsampling) against torch.nn.functional.interpolate, forward and backward."""

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
SETTINGS = settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])



def assert_close(actual, expected, tol=1e-10):
    """Relative error ||actual - expected|| / ||expected|| <= tol, same shape."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    err = np.linalg.norm((actual - expected).ravel()) / max(np.linalg.norm(expected.ravel()), np.finfo(float).tiny)
    assert err <= tol, f"relative error {err:.3g} > {tol}"


@st.composite
def resize_args(draw):
    """A random image and every way torch accepts to resize it: size or scale_factor (int / float,
    one number or a pair), mode, align_corners, recompute_scale_factor."""
    n, c, h, w = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 7)), draw(st.integers(1, 7))
    mode = draw(st.sampled_from(["nearest", "bilinear"]))
    kwargs = {"mode": mode}
    if mode == "bilinear":
        kwargs["align_corners"] = draw(st.sampled_from([None, False, True]))
    if draw(st.booleans()):
        side = st.integers(1, 15)
        kwargs["size"] = draw(st.one_of(side, st.tuples(side, side)))
    else:
        # small integer factors, and non-integer ones (whose output sizes are rounded down)
        factor = st.one_of(st.integers(1, 3), st.floats(0.3, 3.5).filter(lambda s: s * min(h, w) >= 1))
        kwargs["scale_factor"] = draw(st.one_of(factor, st.tuples(factor, factor)))
        kwargs["recompute_scale_factor"] = draw(st.sampled_from([None, False, True]))
    x = np.random.default_rng(draw(st.integers(0, 2**16))).standard_normal((n, c, h, w))
    return x, kwargs


@SETTINGS
@given(args=resize_args())
def test_forward_matches_torch(backend, args):
    x, kwargs = args
    (interpolate,) = backend.fns("interpolate")
    out = backend.numpy(interpolate(backend.tensor(x), **kwargs))
    assert out.dtype == np.float64
    assert_close(out, F.interpolate(torch.tensor(x), **kwargs).numpy())


@SETTINGS
@given(args=resize_args())
def test_backward_matches_torch(backend, args):
    x, kwargs = args
    (interpolate_backward,) = backend.fns("interpolate_backward")
    xt = torch.tensor(x, requires_grad=True)
    yt = F.interpolate(xt, **kwargs)
    g = np.random.default_rng(1).standard_normal(tuple(yt.shape))
    yt.backward(torch.tensor(g))
    grad = backend.numpy(interpolate_backward(backend.tensor(g), backend.tensor(x), **kwargs))
    assert_close(grad, xt.grad.numpy())


@pytest.mark.parametrize("h, w, kwargs", [
    (4, 4, {"scale_factor": 2.2}),                       # output exactly 2x: torch copies pixel i // 2
    (3, 3, {"scale_factor": 1.2}),                       # output size = input size: torch copies
    (3, 3, {"scale_factor": 1.2, "mode": "bilinear"}),
    (5, 4, {"scale_factor": (1.7, 0.6)}),                # 1 / scale is not in / out: user's scale is used
    (5, 4, {"scale_factor": (1.7, 0.6), "recompute_scale_factor": True}),
    (5, 4, {"scale_factor": 1.7, "mode": "bilinear"}),
    (1, 1, {"size": (3, 2), "mode": "bilinear", "align_corners": True}),
    (4, 3, {"size": 1, "mode": "bilinear", "align_corners": True}),
    (6, 7, {"size": (2, 3), "mode": "bilinear"}),        # downsampling
])
def test_torch_special_cases(backend, h, w, kwargs):
    x = np.random.default_rng(3).standard_normal((1, 2, h, w))
    (interpolate,) = backend.fns("interpolate")
    expected = F.interpolate(torch.tensor(x), **kwargs).numpy()
    assert_close(backend.numpy(interpolate(backend.tensor(x), **kwargs)), expected)


def test_slide_nearest_neighbour_doubles_every_pixel(backend):
    (interpolate,) = backend.fns("interpolate")
    x = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)
    out = backend.numpy(interpolate(backend.tensor(x), scale_factor=2))
    np.testing.assert_array_equal(out[0, 0], [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])


@pytest.mark.parametrize("mode, align_corners", [("nearest", None), ("bilinear", False), ("bilinear", True)])
def test_float32_stays_float32_and_matches_torch(backend, mode, align_corners):
    x = np.random.default_rng(4).standard_normal((2, 3, 5, 6)).astype(np.float32)
    (interpolate,) = backend.fns("interpolate")
    kwargs = {"scale_factor": 1.7, "mode": mode, "align_corners": align_corners}
    out = backend.numpy(interpolate(backend.tensor(x), **kwargs))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, F.interpolate(torch.tensor(x), **kwargs).numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kwargs", [
    {"scale_factor": 2}, {"size": (3, 5)}, {"size": (7, 4), "mode": "bilinear"},
    {"scale_factor": 1.6, "mode": "bilinear", "align_corners": True}, {"size": (2, 2), "mode": "bilinear"},
])
def test_backward_passes_gradcheck(kwargs):
    x = np.random.default_rng(5).standard_normal((1, 2, 3, 4))
    assert gradcheck(cn.interpolate, [x], **kwargs)[0] < 1e-6


# ---------------------------------------------------------------------------------------------
# Bad input: one test per case, each error names the op and what was expected.
# ---------------------------------------------------------------------------------------------

X = np.zeros((1, 1, 4, 4))


def test_size_and_scale_factor_both_given(backend):
    (interpolate,) = backend.fns("interpolate")
    with pytest.raises(ValueError, match="interpolate: give only one of size or scale_factor"):
        interpolate(backend.tensor(X), size=8, scale_factor=2)


def test_neither_size_nor_scale_factor(backend):
    (interpolate,) = backend.fns("interpolate")
    with pytest.raises(ValueError, match="interpolate: give one of size or scale_factor, got neither"):
        interpolate(backend.tensor(X))


def test_bad_mode(backend):
    (interpolate,) = backend.fns("interpolate")
    with pytest.raises(ValueError, match="interpolate: mode must be one of 'nearest', 'bilinear', got 'bicubic'"):
        interpolate(backend.tensor(X), scale_factor=2, mode="bicubic")


def test_align_corners_with_nearest(backend):
    (interpolate,) = backend.fns("interpolate")
    with pytest.raises(ValueError, match="interpolate: align_corners can only be set with mode='bilinear'"):
        interpolate(backend.tensor(X), scale_factor=2, align_corners=False)


def test_wrong_ndim(backend):
    (interpolate,) = backend.fns("interpolate")
    with pytest.raises(ValueError, match=r"interpolate: input must be 4-D \(N, C, H, W\), got 3-D with shape "
                                         r"\(1, 4, 4\)"):
        interpolate(backend.tensor(X[0]), scale_factor=2)


def test_integer_input(backend):
    (interpolate,) = backend.fns("interpolate")
    with pytest.raises(TypeError, match="interpolate: input must have a floating-point dtype.*int"):
        interpolate(backend.tensor(X.astype(np.int64)), scale_factor=2)


@pytest.mark.parametrize("size", [0, -2, (4,), (4, 4, 4), 2.5])
def test_bad_size(backend, size):
    (interpolate,) = backend.fns("interpolate")
    with pytest.raises(ValueError, match="interpolate: size must be a positive int or a pair"):
        interpolate(backend.tensor(X), size=size)


@pytest.mark.parametrize("scale_factor", [0, -1.5, (2, 2, 2), "2"])
def test_bad_scale_factor(backend, scale_factor):
    (interpolate,) = backend.fns("interpolate")
    with pytest.raises(ValueError, match="interpolate: scale_factor must be a positive number or a pair"):
        interpolate(backend.tensor(X), scale_factor=scale_factor)


def test_scale_factor_giving_an_empty_output(backend):
    (interpolate,) = backend.fns("interpolate")
    with pytest.raises(ValueError, match=r"interpolate: scale_factor 0.2 turns the input size \(4, 4\) into an empty"):
        interpolate(backend.tensor(X), scale_factor=0.2)


def test_recompute_scale_factor_with_size(backend):
    (interpolate,) = backend.fns("interpolate")
    with pytest.raises(ValueError, match="interpolate: recompute_scale_factor is not meaningful with an explicit size"):
        interpolate(backend.tensor(X), size=8, recompute_scale_factor=True)


def test_backward_grad_out_of_the_wrong_shape(backend):
    (interpolate_backward,) = backend.fns("interpolate_backward")
    with pytest.raises(ValueError, match=r"interpolate_backward: grad_out must have shape \(1, 1, 8, 8\), "
                                         r"got \(1, 1, 4, 4\)"):
        interpolate_backward(backend.tensor(X), backend.tensor(X), scale_factor=2)
