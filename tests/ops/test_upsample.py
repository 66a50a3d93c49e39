"""interpolate (nearest / bilinear upsampling) against torch.nn.functional.interpolate, forward and backward."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import cnnlab.numpy as cn
from cnnlab.numpy import gradcheck

from .oracle import assert_close, bad_call, call, property_settings, randn, torch_oracle

torch = pytest.importorskip("torch")
F = torch.nn.functional

SETTINGS = property_settings(max_examples=40)


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
    out = call(backend, "interpolate", x, **kwargs)
    assert out.dtype == np.float64
    assert_close(out, torch_oracle("interpolate", (x,), **kwargs))


@SETTINGS
@given(args=resize_args())
def test_backward_matches_torch(backend, args):
    x, kwargs = args
    g = randn(1, *torch_oracle("interpolate", (x,), **kwargs).shape)
    _, (expected_grad,) = torch_oracle("interpolate", (x,), g, **kwargs)
    assert_close(call(backend, "interpolate_backward", g, x, **kwargs), expected_grad)


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
    x = randn(3, 1, 2, h, w)
    assert_close(call(backend, "interpolate", x, **kwargs), torch_oracle("interpolate", (x,), **kwargs))


def test_slide_nearest_neighbour_doubles_every_pixel(backend):
    x = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)
    out = call(backend, "interpolate", x, scale_factor=2)
    np.testing.assert_array_equal(out[0, 0], [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])


@pytest.mark.parametrize("mode, align_corners", [("nearest", None), ("bilinear", False), ("bilinear", True)])
def test_float32_stays_float32_and_matches_torch(backend, mode, align_corners):
    x = randn(4, 2, 3, 5, 6, dtype=np.float32)
    kwargs = {"scale_factor": 1.7, "mode": mode, "align_corners": align_corners}
    out = call(backend, "interpolate", x, **kwargs)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, F.interpolate(torch.tensor(x), **kwargs).numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kwargs", [
    {"scale_factor": 2}, {"size": (3, 5)}, {"size": (7, 4), "mode": "bilinear"},
    {"scale_factor": 1.6, "mode": "bilinear", "align_corners": True}, {"size": (2, 2), "mode": "bilinear"},
])
def test_backward_passes_gradcheck(kwargs):
    x = randn(5, 1, 2, 3, 4)
    assert gradcheck(cn.interpolate, [x], **kwargs)[0] < 1e-6


# ---------------------------------------------------------------------------------------------
# Bad input: each error names the op and what was expected
# ---------------------------------------------------------------------------------------------

X = np.zeros((1, 1, 4, 4))

BAD_INPUT = [
    bad_call("size and scale_factor", "interpolate", X, size=8, scale_factor=2, error=ValueError,
             match="interpolate: give only one of size or scale_factor"),
    bad_call("neither size nor scale_factor", "interpolate", X, error=ValueError,
             match="interpolate: give one of size or scale_factor, got neither"),
    bad_call("mode", "interpolate", X, scale_factor=2, mode="bicubic", error=ValueError,
             match="interpolate: mode must be one of 'nearest', 'bilinear', got 'bicubic'"),
    bad_call("align_corners with nearest", "interpolate", X, scale_factor=2, align_corners=False, error=ValueError,
             match="interpolate: align_corners can only be set with mode='bilinear'"),
    bad_call("input 3-D", "interpolate", X[0], scale_factor=2, error=ValueError,
             match=r"interpolate: input must be 4-D \(N, C, H, W\), got 3-D with shape \(1, 4, 4\)"),
    bad_call("int input", "interpolate", X.astype(np.int64), scale_factor=2, error=TypeError,
             match="interpolate: input must have a floating-point dtype.*int"),
    *[bad_call(f"size={size!r}", "interpolate", X, size=size, error=ValueError,
               match="interpolate: size must be a positive int or a pair") for size in [0, -2, (4,), (4, 4, 4), 2.5]],
    *[bad_call(f"scale_factor={factor!r}", "interpolate", X, scale_factor=factor, error=ValueError,
               match="interpolate: scale_factor must be a positive number or a pair")
      for factor in [0, -1.5, (2, 2, 2), "2"]],
    bad_call("empty output", "interpolate", X, scale_factor=0.2, error=ValueError,
             match=r"interpolate: scale_factor 0.2 turns the input size \(4, 4\) into an empty"),
    bad_call("recompute_scale_factor with size", "interpolate", X, size=8, recompute_scale_factor=True,
             error=ValueError, match="interpolate: recompute_scale_factor is not meaningful with an explicit size"),
    bad_call("backward grad_out shape", "interpolate_backward", X, X, scale_factor=2, error=ValueError,
             match=r"interpolate_backward: grad_out must have shape \(1, 1, 8, 8\), got \(1, 1, 4, 4\)"),
]


@pytest.mark.parametrize("fn, args, kwargs, error, match", BAD_INPUT)
def test_rejects_bad_input(backend, fn, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        call(backend, fn, *args, **kwargs)
