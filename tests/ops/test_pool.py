"""max_pool2d, avg_pool2d, max_unpool2d and their backwards, on every backend, against torch as the oracle."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given
from hypothesis import strategies as st

from cnnlab._checks import pair
from cnnlab._geometry import out_size
from cnnlab.numpy import gradcheck
from cnnlab.numpy import pool as numpy_pool

from .oracle import assert_close, call, property_settings, torch_oracle

SETTINGS = property_settings(max_examples=40)


# ----------------------------------------------------------------------------------------------------------------
# Random cases
# ----------------------------------------------------------------------------------------------------------------

@st.composite
def pool_cases(draw, dilation=True, ties=True):
    """Keyword arguments of a valid pooling call, an input shape, and how to fill it."""
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    dil = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) if dilation else (1, 1)
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dil))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)  # torch: at most half the kernel size
    H = draw(st.integers(max(1, span[0] - 2 * padding[0]), span[0] + 6))
    W = draw(st.integers(max(1, span[1] - 2 * padding[1]), span[1] + 6))
    kwargs = dict(kernel_size=kernel if draw(st.booleans()) or kernel[0] != kernel[1] else kernel[0],
                  stride=stride, padding=padding, ceil_mode=draw(st.booleans()))
    if dilation:
        kwargs["dilation"] = dil
    # small integers tie often: the first maximum of a window must win, as in torch; -inf too
    fill = draw(st.sampled_from(["normal", "ties", "-inf"])) if ties else "normal"
    return dict(shape=(draw(st.integers(1, 2)), draw(st.integers(1, 3)), H, W), fill=fill,
                seed=draw(st.integers(0, 2**32 - 1)), kwargs=kwargs)


def windows_see_the_input(x_shape, kwargs) -> bool:
    """False when some window holds only padding (dilation makes it possible): torch then gives -inf and
    an index that may point past the window's row, and its backward sends the gradient there; ours drops it."""
    kernel = pair(kwargs["kernel_size"], "kernel_size", "test")
    stride = kernel if kwargs["stride"] is None else kwargs["stride"]
    dilation = kwargs.get("dilation", (1, 1))
    for size, k, s, p, d in zip(x_shape[2:], kernel, stride, kwargs["padding"], dilation):
        n = out_size(size, k, s, p, d, "test", kwargs["ceil_mode"])
        if not all(any(0 <= o * s - p + i * d < size for i in range(k)) for o in range(n)):
            return False
    return True


def make_input(case, dtype=np.float64):
    rng = np.random.default_rng(case["seed"])
    if case["fill"] == "ties":
        return rng, rng.integers(0, 3, case["shape"]).astype(dtype)
    if case["fill"] == "-inf":
        return rng, np.where(rng.random(case["shape"]) < 0.5, -np.inf, rng.standard_normal(case["shape"])).astype(dtype)
    return rng, rng.standard_normal(case["shape"]).astype(dtype)


# ----------------------------------------------------------------------------------------------------------------
# max_pool2d
# ----------------------------------------------------------------------------------------------------------------

@SETTINGS
@given(case=pool_cases())
def test_max_pool2d_matches_torch(backend, case):
    rng, x = make_input(case)
    kwargs = case["kwargs"]
    assume(windows_see_the_input(x.shape, kwargs))  # see test_max_pool2d_never_picks_the_border
    out, indices = call(backend, "max_pool2d", x, return_indices=True, **kwargs)
    g = rng.standard_normal(out.shape)
    (expected, expected_indices), (expected_grad,) = torch_oracle("max_pool2d", (x,), g, return_indices=True,
                                                                  **kwargs)
    np.testing.assert_array_equal(out, expected)  # a maximum is exact
    np.testing.assert_array_equal(indices, expected_indices)  # ties: the first maximum, as torch
    assert indices.dtype == np.int64
    np.testing.assert_array_equal(call(backend, "max_pool2d", x, **kwargs), expected)
    grad = call(backend, "max_pool2d_backward", g, x, **kwargs)
    assert_close(grad, expected_grad, symmetric=True)
    # the same keyword arguments fit forward and backward, return_indices included
    assert_close(call(backend, "max_pool2d_backward", g, x, return_indices=True, **kwargs), expected_grad,
                 symmetric=True)


def test_max_pool2d_slide_example(backend):
    """2 x 2 windows, stride 2: the largest number of each quarter."""
    x = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]], dtype=np.float32)[None, None]
    out, indices = call(backend, "max_pool2d", x, 2, return_indices=True)
    np.testing.assert_array_equal(out[0, 0], [[6, 8], [3, 4]])
    np.testing.assert_array_equal(indices[0, 0], [[5, 7], [8, 15]])
    assert out.dtype == np.float32


def test_max_pool2d_ties_go_to_the_first_maximum(backend):
    x = np.ones((1, 1, 2, 2))
    grad = call(backend, "max_pool2d_backward", np.ones((1, 1, 1, 1)), x, 2)
    np.testing.assert_array_equal(grad[0, 0], [[1, 0], [0, 0]])


def window_views(backend, x, kernel, stride, dilation):
    """The windows of x (NumPy) and the same windows on the backend, as ``pool.py``'s private functions see them."""
    out_hw = tuple(out_size(n, k, s, 0, d, "test") for n, k, s, d in zip(x.shape[2:], kernel, stride, dilation))
    pool = backend.ops.pool  # cnnlab.numpy.pool or cnnlab.torch.pool
    return numpy_pool.sliding_windows(x, kernel, stride, dilation, out_hw), \
        pool, pool.sliding_windows(backend.tensor(x), kernel, stride, dilation, out_hw)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fill", ["normal", "ties", "-inf", "nan"])
@pytest.mark.parametrize("kernel, stride, dilation", [((2, 2), (2, 2), (1, 1)), ((3, 2), (1, 2), (2, 1)),
                                                      ((1, 1), (1, 1), (1, 1)), ((4, 4), (3, 3), (1, 1)),
                                                      ((17, 16), (2, 3), (1, 1))])  # 272 > 256 elements
def test_window_max_is_the_first_argmax(backend, dtype, fill, kernel, stride, dilation):
    """The running maximum of ``_window_max`` gives what the clear argmax along the window gives: ties keep
    the first element, the first NaN wins and the maximum is NaN (the torch comparisons above have no NaN)."""
    rng = np.random.default_rng(0)
    shape = (2, 3, 11 + kernel[0], 12 + kernel[1])
    x = rng.integers(0, 3, shape).astype(dtype) if fill == "ties" else rng.standard_normal(shape)
    if fill in ("-inf", "nan"):
        x = np.where(rng.random(x.shape) < 0.4, -np.inf if fill == "-inf" else np.nan, x)
    windows, pool, backend_windows = window_views(backend, x.astype(dtype), kernel, stride, dilation)
    N, C, KH, KW, OH, OW = windows.shape
    flat = windows.reshape(N, C, KH * KW, OH, OW)  # the clear way: argmax along the window's elements
    expected_k = flat.argmax(axis=2)
    expected = np.take_along_axis(flat, expected_k[:, :, None], axis=2)[:, :, 0]
    # labels of every element of every window: distinct, negative ones, and ones float32 cannot hold (2**24 + 1)
    labels = rng.permutation(KH * KW * OH * OW).reshape(KH * KW, OH, OW) * (2**24 + 1) - 5
    expected_label = np.take_along_axis(labels[None, None], expected_k[:, :, None], axis=2)[:, :, 0]
    out, label = backend.numpy(pool._window_max(backend_windows, backend.tensor(labels)))
    np.testing.assert_array_equal(label, expected_label)
    np.testing.assert_array_equal(out, expected)  # NaN where NaN
    assert out.dtype == dtype and label.dtype == np.int64
    # labels broadcast to every window (the place in the window): the argmax itself
    _, k = backend.numpy(pool._window_max(backend_windows, backend.tensor(np.arange(KH * KW).reshape(-1, 1, 1))))
    np.testing.assert_array_equal(k, expected_k)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel, stride", [((2, 2), (2, 2)), ((3, 2), (1, 2)), ((1, 1), (1, 1)), ((4, 4), (3, 3))])
def test_window_sum_equals_sum(backend, dtype, kernel, stride):
    x = np.random.default_rng(0).standard_normal((2, 3, 11, 12)).astype(dtype)
    windows, pool, backend_windows = window_views(backend, x, kernel, stride, (1, 1))
    total = backend.numpy(pool._window_sum(backend_windows))
    assert total.dtype == dtype
    tol = 1e-6 if dtype == np.float32 else 1e-14  # the order of the additions may differ
    np.testing.assert_allclose(total, windows.sum(axis=(2, 3)), rtol=tol, atol=tol)


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=(2, 3), stride=1, dilation=(2, 1)),
])
def test_max_pool2d_gradcheck(kwargs):
    x = np.random.default_rng(0).permutation(2 * 2 * 5 * 6).reshape(2, 2, 5, 6) / 7.0  # distinct: no ties
    assert gradcheck(numpy_pool.max_pool2d, (x,), **kwargs)[0] < 1e-6


# ----------------------------------------------------------------------------------------------------------------
# avg_pool2d
# ----------------------------------------------------------------------------------------------------------------

@SETTINGS
@given(case=pool_cases(dilation=False, ties=False), count_include_pad=st.booleans(),
       divisor_override=st.one_of(st.none(), st.integers(1, 5)))
def test_avg_pool2d_matches_torch(backend, case, count_include_pad, divisor_override):
    rng, x = make_input(case)
    kwargs = dict(case["kwargs"], count_include_pad=count_include_pad, divisor_override=divisor_override)
    out = call(backend, "avg_pool2d", x, **kwargs)
    g = rng.standard_normal(out.shape)
    expected, (expected_grad,) = torch_oracle("avg_pool2d", (x,), g, **kwargs)
    assert_close(out, expected, symmetric=True)
    assert_close(call(backend, "avg_pool2d_backward", g, x, **kwargs), expected_grad, symmetric=True)


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 0), divisor_override=4),
])
def test_avg_pool2d_gradcheck(kwargs):
    x = np.random.default_rng(0).standard_normal((2, 2, 5, 6))
    assert gradcheck(numpy_pool.avg_pool2d, (x,), **kwargs)[0] < 1e-6


@pytest.mark.parametrize("fn", ["max_pool2d", "avg_pool2d"])
def test_pool_float32_stays_float32(backend, fn):
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 7)).astype(np.float32)
    kwargs = dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)
    out = call(backend, fn, x, **kwargs)
    assert out.dtype == np.float32
    assert call(backend, fn + "_backward", np.ones_like(out), x, **kwargs).dtype == np.float32
    np.testing.assert_allclose(out, torch_oracle(fn, (x,), **kwargs), rtol=1e-6, atol=1e-6)


# ----------------------------------------------------------------------------------------------------------------
# max_unpool2d
# ----------------------------------------------------------------------------------------------------------------

@SETTINGS
@given(case=pool_cases(dilation=False), size=st.sampled_from(["default", "hw", "nchw"]))
def test_max_unpool2d_matches_torch(backend, case, size):
    rng, x = make_input(case)
    pool_kwargs = case["kwargs"]
    pooled, indices = torch_oracle("max_pool2d", (x,), return_indices=True, **pool_kwargs)
    kwargs = dict(kernel_size=pool_kwargs["kernel_size"], stride=pool_kwargs["stride"],
                  padding=pool_kwargs["padding"])
    if size == "default":  # only when the default size is the size before the pooling
        kernel = pair(pool_kwargs["kernel_size"], "kernel_size", "test")
        default = [(o - 1) * s - 2 * p + k for o, s, p, k in zip(
            pooled.shape[2:], pool_kwargs["stride"] or kernel, pool_kwargs["padding"], kernel)]
        assume(default == list(x.shape[2:]))
    else:
        kwargs["output_size"] = x.shape[2:] if size == "hw" else x.shape
    out = call(backend, "max_unpool2d", pooled, indices, **kwargs)
    g = rng.standard_normal(out.shape)
    expected, (expected_grad,) = torch_oracle(lambda p: F.max_unpool2d(p, torch.tensor(indices), **kwargs),
                                              (pooled,), g)
    np.testing.assert_array_equal(out, expected)
    grad_x, grad_indices = call(backend, "max_unpool2d_backward", g, pooled, indices, **kwargs)
    assert grad_indices is None
    assert_close(grad_x, expected_grad, symmetric=True)


def test_max_unpool2d_undoes_max_pool2d_where_it_can(backend):
    """反池化: the maxima go back to their places, everything else is lost (zeros)."""
    x = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]], dtype=np.float32)[None, None]
    pooled, indices = call(backend, "max_pool2d", x, 2, return_indices=True)
    out = call(backend, "max_unpool2d", pooled, indices, 2)
    np.testing.assert_array_equal(out[0, 0], [[0, 0, 0, 0], [0, 6, 0, 8], [3, 0, 0, 0], [0, 0, 0, 4]])
    assert out.dtype == np.float32
    grad_x, _ = call(backend, "max_unpool2d_backward", np.ones_like(out), pooled, indices, 2)
    assert grad_x.dtype == np.float32


def test_max_unpool2d_gradcheck():
    x = np.random.default_rng(0).permutation(2 * 2 * 6 * 5).reshape(2, 2, 6, 5) / 7.0
    pooled, indices = numpy_pool.max_pool2d(x, 2, return_indices=True, ceil_mode=True)
    kwargs = dict(kernel_size=2, output_size=(6, 5))
    error = gradcheck(lambda p: numpy_pool.max_unpool2d(p, indices, **kwargs), (pooled,),
                      backward=lambda g, p: numpy_pool.max_unpool2d_backward(g, p, indices, **kwargs)[:1])
    assert error[0] < 1e-6


# ----------------------------------------------------------------------------------------------------------------
# Bad input: clear errors naming the op, what was expected and what came
# ----------------------------------------------------------------------------------------------------------------

POOL_ERRORS = [  # (id, input shape, dtype, keyword arguments, error, message pattern after "<op>: ")
    ("input 3-D", (3, 5, 5), np.float64, dict(kernel_size=2), ValueError, r"input must be 4-D \(N, C, H, W\), got 3-D"),
    ("kernel 0", (1, 1, 5, 5), np.float64, dict(kernel_size=0), ValueError,
     r"kernel_size must be a positive int or a pair of them, got 0"),
    ("kernel negative", (1, 1, 5, 5), np.float64, dict(kernel_size=(2, -1)), ValueError,
     r"kernel_size must be a positive"),
    ("kernel float", (1, 1, 5, 5), np.float64, dict(kernel_size=2.0), ValueError, r"kernel_size must be a positive"),
    ("stride 0", (1, 1, 5, 5), np.float64, dict(kernel_size=2, stride=0), ValueError, r"stride must be a positive int"),
    ("padding negative", (1, 1, 5, 5), np.float64, dict(kernel_size=2, padding=-1), ValueError,
     r"padding must be an int >= 0"),
    ("padding over half", (1, 1, 5, 5), np.float64, dict(kernel_size=3, padding=2), ValueError,
     r"padding must be at most half of the kernel size, got padding \(2, 2\) for kernel_size \(3, 3\)"),
    ("kernel larger than input", (1, 1, 2, 5), np.float64, dict(kernel_size=3, padding=0), ValueError,
     r"kernel of size 3 .* is larger than the padded input of size 2"),
    ("int input", (1, 1, 4, 4), np.int64, dict(kernel_size=2), TypeError, r"input must have a floating-point dtype"),
    ("bool input", (1, 1, 4, 4), np.bool_, dict(kernel_size=2), TypeError, r"input must have a floating-point dtype"),
]


@pytest.mark.parametrize("fn", ["max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize("shape, dtype, kwargs, error, pattern", [c[1:] for c in POOL_ERRORS],
                         ids=[c[0] for c in POOL_ERRORS])
def test_pool_rejects_bad_input(backend, fn, shape, dtype, kwargs, error, pattern):
    x = np.ones(shape, dtype)
    with pytest.raises(error, match=f"^{fn}: {pattern}"):
        call(backend, fn, x, **kwargs)
    with pytest.raises(error, match=f"^{fn}_backward: {pattern}"):
        call(backend, fn + "_backward", np.ones((1, 1, 2, 2)), x, **kwargs)


def test_max_pool2d_dilation_rules(backend):
    x = np.ones((1, 1, 7, 7))
    with pytest.raises(ValueError, match=r"^max_pool2d: dilation must be a positive int"):
        call(backend, "max_pool2d", x, 2, dilation=0)
    # torch's half-kernel rule counts the kernel size, not the span of the dilated kernel
    call(backend, "max_pool2d", x, 2, padding=1, dilation=3)
    with pytest.raises(ValueError, match=r"at most half of the kernel size, got padding \(2, 2\) "
                                         r"for kernel_size \(2, 2\)"):
        call(backend, "max_pool2d", x, 2, padding=2, dilation=3)


def test_max_pool2d_never_picks_the_border(backend):
    """A window of only padding (dilation makes it possible) or of only -inf: torch's output and indices."""
    x = np.array([[[[-np.inf, -np.inf, 1.0]]]])
    kwargs = dict(kernel_size=(1, 2), padding=(0, 1), dilation=(1, 2), return_indices=True)
    out, indices = call(backend, "max_pool2d", x, **kwargs)
    expected, expected_indices = torch_oracle("max_pool2d", (x,), **kwargs)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(indices, expected_indices)
    one = np.array([[[[0.5]]]])  # the only window holds two padding elements: -inf, index 1 as torch
    np.testing.assert_array_equal(call(backend, "max_pool2d", one, **kwargs)[1],
                                  torch_oracle("max_pool2d", (one,), **kwargs)[1])
    grad = call(backend, "max_pool2d_backward", np.ones((1, 1, 1, 1)), one, **kwargs)
    np.testing.assert_array_equal(grad, np.zeros_like(one))


@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1)])
def test_max_pooling_of_an_empty_batch(backend, kwargs):
    """A batch of no images (the last of a split, say) pools, unpools and goes back to no images, as in torch."""
    x = np.zeros((0, 3, 6, 6))
    out, indices = call(backend, "max_pool2d", x, return_indices=True, **kwargs)
    expected, expected_indices = torch_oracle("max_pool2d", (x,), return_indices=True, **kwargs)
    assert out.shape == expected.shape and indices.shape == expected_indices.shape
    assert call(backend, "max_pool2d_backward", out, x, **kwargs).shape == x.shape
    size = dict(output_size=x.shape[2:], **kwargs)
    assert call(backend, "max_unpool2d", out, indices, **size).shape == x.shape
    assert call(backend, "max_unpool2d_backward", x, out, indices, **size)[0].shape == out.shape


def test_pool_backward_rejects_wrong_grad_out(backend):
    x = np.ones((2, 3, 6, 6))
    for fn in ("max_pool2d", "avg_pool2d"):
        with pytest.raises(ValueError, match=rf"^{fn}_backward: grad_out .* must have shape \(2, 3, 3, 3\), "
                                             r"got \(2, 3, 6, 6\)"):
            call(backend, fn + "_backward", np.ones((2, 3, 6, 6)), x, 2)


def test_avg_pool2d_rejects_bad_divisor(backend):
    with pytest.raises(ValueError, match=r"^avg_pool2d: divisor_override must be None or a positive int, got 0"):
        call(backend, "avg_pool2d", np.ones((1, 1, 4, 4)), 2, divisor_override=0)


UNPOOL_ERRORS = [  # (id, indices, keyword arguments, error, message pattern after "<op>: ")
    ("indices shape", np.zeros((1, 1, 2, 3), np.int64), dict(), ValueError,
     r"indices \(the shape of the input\) must have shape \(1, 1, 2, 2\), got \(1, 1, 2, 3\)"),
    ("indices 3-D", np.zeros((1, 2, 2), np.int64), dict(), ValueError, r"indices .* must have shape \(1, 1, 2, 2\)"),
    ("indices float", np.zeros((1, 1, 2, 2)), dict(), TypeError,
     r"indices must have an integer dtype \(int64\), got (torch\.)?float64"),
    ("indices out of range", np.full((1, 1, 2, 2), 16, np.int64), dict(), ValueError,
     r"indices must lie in \[0, 16\) for an output of size \(4, 4\), got values from 16 to 16"),
    ("indices negative", np.full((1, 1, 2, 2), -1, np.int64), dict(), ValueError, r"indices must lie in \[0, 16\)"),
    ("output_size too large", np.zeros((1, 1, 2, 2), np.int64), dict(output_size=(6, 4)), ValueError,
     r"invalid output_size \(6, 4\): dim 0 must be between 3 and 5"),
    ("output_size length", np.zeros((1, 1, 2, 2), np.int64), dict(output_size=(1, 4, 4)), ValueError,
     r"output_size must be \(H, W\) or \(N, C, H, W\)"),
    ("kernel 0", np.zeros((1, 1, 2, 2), np.int64), dict(kernel_size=0), ValueError,
     r"kernel_size must be a positive int"),
]


@pytest.mark.parametrize("indices, kwargs, error, pattern", [c[1:] for c in UNPOOL_ERRORS],
                         ids=[c[0] for c in UNPOOL_ERRORS])
def test_max_unpool2d_rejects_bad_input(backend, indices, kwargs, error, pattern):
    x = np.ones((1, 1, 2, 2))
    kwargs = dict(dict(kernel_size=2), **kwargs)
    with pytest.raises(error, match=f"^max_unpool2d: {pattern}"):
        call(backend, "max_unpool2d", x, indices, **kwargs)
    with pytest.raises(error, match=f"^max_unpool2d_backward: {pattern}"):
        call(backend, "max_unpool2d_backward", np.ones((1, 1, 4, 4)), x, indices, **kwargs)


def test_max_unpool2d_rejects_int_values(backend):
    with pytest.raises(TypeError, match=r"^max_unpool2d: input must have a floating-point dtype"):
        call(backend, "max_unpool2d", np.ones((1, 1, 2, 2), np.int64), np.zeros((1, 1, 2, 2), np.int64), 2)


@pytest.mark.parametrize("fn, shape, kwargs", [
    ("max_pool2d", (2, 2, 4, 4), dict(kernel_size=3, stride=2, dilation=2, ceil_mode=True)),
    ("avg_pool2d", (2, 2, 2, 5), dict(kernel_size=3, stride=2, ceil_mode=True)),
    ("avg_pool2d", (2, 2, 2, 5), dict(kernel_size=3, stride=2, ceil_mode=True, count_include_pad=False)),
])
def test_pool_ceil_mode_window_past_the_padded_input(backend, fn, shape, kwargs):
    """ceil_mode: a window that starts in the input may reach past the padded input, even when the kernel spans
    more than all of it; torch's ceil((H + 2p - d(k-1) - 1) / s) + 1 gives one window for H = 4, k = 3, d = 2,
    s = 2. Without ceil_mode there is no window at all: an error, as in torch."""
    x = np.random.default_rng(0).standard_normal(shape)
    out = call(backend, fn, x, **kwargs)
    g = np.random.default_rng(1).standard_normal(out.shape)
    expected, (expected_grad,) = torch_oracle(fn, (x,), g, **kwargs)
    assert_close(out, expected, symmetric=True)
    assert_close(call(backend, fn + "_backward", g, x, **kwargs), expected_grad, symmetric=True)
    with pytest.raises(ValueError, match=rf"^{fn}: kernel of size 3 .* is larger than the padded input"):
        call(backend, fn, x, **dict(kwargs, ceil_mode=False))
