"""conv2d, conv2d_naive, conv_transpose2d and their backwards, on every backend, against torch as the oracle.

Each test body runs once per backend (``backend`` fixture): ``backend.tensor`` moves a NumPy array in,
``backend.numpy`` brings the result back. The oracle is ``torch.nn.functional`` in float64 with autograd.
"""

from __future__ import annotations


import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from cnnlab.numpy import conv as numpy_conv
from cnnlab.numpy import gradcheck

from .oracle import assert_close, assert_grads_close, call, property_settings, torch_oracle

SETTINGS = property_settings(max_examples=30)


# ----------------------------------------------------------------------------------------------------------------
# Random cases
# ----------------------------------------------------------------------------------------------------------------

@st.composite
def conv_cases(draw, max_hw=7):
    """Shapes and keyword arguments of a valid conv2d call, and a seed for the numbers."""
    groups = draw(st.integers(1, 3))
    C_in, C_out = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    KH, KW = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = draw(st.sampled_from(["pair", "int", "same", "valid"]))
    if padding == "same":
        stride = (1, 1)  # torch: "same" only without a stride
    if padding == "pair":
        padding = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
    elif padding == "int":
        padding = draw(st.integers(0, 3))
    pads = (0, 0) if isinstance(padding, str) else (padding, padding) if isinstance(padding, int) else padding
    # the smallest input the dilated kernel fits in, then up to 5 more
    H = draw(st.integers(max(1, dilation[0] * (KH - 1) + 1 - 2 * pads[0]), max_hw + dilation[0] * (KH - 1)))
    W = draw(st.integers(max(1, dilation[1] * (KW - 1) + 1 - 2 * pads[1]), max_hw + dilation[1] * (KW - 1)))
    return dict(x=(draw(st.integers(1, 3)), C_in, H, W), w=(C_out, C_in // groups, KH, KW), C_out=C_out,
                bias=draw(st.booleans()), seed=draw(st.integers(0, 2**32 - 1)),
                kwargs=dict(stride=stride, padding=padding, dilation=dilation, groups=groups))


@st.composite
def conv_transpose_cases(draw):
    """Shapes and keyword arguments of a valid conv_transpose2d call, and a seed for the numbers."""
    groups = draw(st.integers(1, 3))
    C_in, C_out = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    KH, KW = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    H, W = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
    # torch: each output_padding must be smaller than the stride or the dilation
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    H_out = (H - 1) * stride[0] - 2 * padding[0] + dilation[0] * (KH - 1) + output_padding[0] + 1
    W_out = (W - 1) * stride[1] - 2 * padding[1] + dilation[1] * (KW - 1) + output_padding[1] + 1
    assume(H_out >= 1 and W_out >= 1)
    return dict(x=(draw(st.integers(1, 3)), C_in, H, W), w=(C_in, C_out // groups, KH, KW), C_out=C_out,
                bias=draw(st.booleans()), seed=draw(st.integers(0, 2**32 - 1)),
                kwargs=dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups,
                            dilation=dilation))


def arrays(case, n_bias, dtype=np.float64):
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal(case["x"]).astype(dtype)
    w = rng.standard_normal(case["w"]).astype(dtype)
    b = rng.standard_normal(n_bias).astype(dtype) if case["bias"] else None
    return rng, x, w, b


# ----------------------------------------------------------------------------------------------------------------
# conv2d and conv_transpose2d against torch, forward and backward
# ----------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fn, cases", [("conv2d", conv_cases()), ("conv_transpose2d", conv_transpose_cases())],
                         ids=["conv2d", "conv_transpose2d"])
@SETTINGS
@given(data=st.data())
def test_matches_torch(backend, fn, cases, data):
    case = data.draw(cases, label="case")
    rng, x, w, b = arrays(case, case["C_out"])
    kwargs = case["kwargs"]
    out = call(backend, fn, x, w, b, **kwargs)
    g = rng.standard_normal(out.shape)
    expected, expected_grads = torch_oracle(fn, (x, w, b), g, **kwargs)
    assert_close(out, expected, symmetric=True)
    assert_grads_close(call(backend, fn + "_backward", g, x, w, b, **kwargs), expected_grads, symmetric=True)


# ----------------------------------------------------------------------------------------------------------------
# conv2d
# ----------------------------------------------------------------------------------------------------------------

@property_settings(max_examples=25)
@given(case=conv_cases(max_hw=4))
def test_conv2d_naive_equals_conv2d(backend, case):
    """The slide's formula in loops and the vectorised im2col give the same numbers."""
    _, x, w, b = arrays(case, case["C_out"])
    naive = call(backend, "conv2d_naive", x, w, b, **case["kwargs"])
    assert_close(naive, call(backend, "conv2d", x, w, b, **case["kwargs"]), symmetric=True)


def test_conv2d_naive_is_the_slide_formula():
    """output[i, j] = sum(input[i:i+k, j:j+k] * kernel), checked by hand on a 4 x 4 image."""
    image = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    kernel = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])
    out = numpy_conv.conv2d_naive(image, kernel)
    expected = [[image[0, 0, i, j] - image[0, 0, i + 1, j + 1] for j in range(3)] for i in range(3)]
    np.testing.assert_array_equal(out[0, 0], expected)  # every entry is -5


@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(stride=2, padding=1),
    dict(stride=(1, 2), padding=(2, 0), dilation=(2, 1)),
    dict(groups=2, padding="same", dilation=2),
])
@pytest.mark.parametrize("with_bias", [True, False])
def test_conv2d_gradcheck(kwargs, with_bias):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 4, 5, 6)), rng.standard_normal((4, 2 if kwargs.get("groups") else 4, 3, 2))
    b = rng.standard_normal(4) if with_bias else None
    errors = gradcheck(numpy_conv.conv2d, (x, w, b), **kwargs)
    assert all(e is None or e < 1e-6 for e in errors), errors
    assert (errors[2] is None) == (b is None)


def test_conv2d_float32_stays_float32(backend):
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((2, 3, 6, 6), (4, 3, 3, 3), (4,)))
    out = call(backend, "conv2d", x, w, b, padding=1)
    assert out.dtype == np.float32
    assert call(backend, "conv2d_naive", x, w, b, padding=1).dtype == np.float32
    grads = call(backend, "conv2d_backward", np.ones_like(out), x, w, b, padding=1)
    assert [g.dtype for g in grads] == [np.float32] * 3
    np.testing.assert_allclose(out, torch_oracle("conv2d", (x, w, b), padding=1), rtol=1e-4, atol=1e-4)


def test_conv2d_backward_without_bias_gives_none(backend):
    x, w = np.ones((1, 1, 3, 3)), np.ones((2, 1, 2, 2))
    grads = call(backend, "conv2d_backward", np.ones((1, 2, 2, 2)), x, w, None)
    assert len(grads) == 3 and grads[2] is None


@SETTINGS
@given(case=conv_cases())
def test_conv2d_input_gradient_is_a_transposed_convolution(backend, case):
    """反卷积 is the gradient of convolution: conv2d_backward's grad_x == conv_transpose2d(grad_out, weight)."""
    kwargs = case["kwargs"]
    assume(not isinstance(kwargs["padding"], str))
    rng, x, w, _ = arrays(case, 0)
    out = call(backend, "conv2d", x, w, **kwargs)
    g = rng.standard_normal(out.shape)
    grad_x = call(backend, "conv2d_backward", g, x, w, **kwargs)[0]
    # output_padding: the rows / columns at the bottom / right that no window reached
    pad = kwargs["padding"] if isinstance(kwargs["padding"], tuple) else (kwargs["padding"],) * 2
    output_padding = tuple(size + 2 * p - ((o - 1) * s + d * (k - 1) + 1) for size, p, o, s, d, k in zip(
        x.shape[2:], pad, out.shape[2:], kwargs["stride"], kwargs["dilation"], w.shape[2:]))
    transposed = call(backend, "conv_transpose2d", g, w, stride=kwargs["stride"], padding=kwargs["padding"],
                      output_padding=output_padding, groups=kwargs["groups"], dilation=kwargs["dilation"])
    assert_close(grad_x, transposed, symmetric=True)


# Shapes of every kind, from both ends of what a layout choice could weigh: 1 x 1 kernels over many channels
# (a window no bigger than the channels), wide kernels over few channels, groups, and the course's benchmark
# layers with 64 images (a batch big enough to be worked through in pieces). Whatever path the NumPy op takes
# for each, forward and backward must give torch's numbers and keep the dtype.
SHAPE_CASES = [  # (id, fn, x shape, weight shape, bias, keyword arguments)
    ("pointwise-16-to-16", "conv2d", (4, 16, 6, 6), (16, 16, 1, 1), True, {}),
    ("depthwise-3x3", "conv2d", (4, 8, 7, 7), (8, 1, 3, 3), True, dict(groups=8, padding=1)),
    ("wide-5x5-1-to-2", "conv2d", (4, 1, 9, 9), (2, 1, 5, 5), True, dict(stride=2, padding=2)),
    ("grouped-dilated", "conv2d", (3, 4, 9, 8), (6, 2, 3, 3), False, dict(groups=2, dilation=2, padding=(1, 2))),
    ("64-images-16-to-32", "conv2d", (64, 16, 14, 14), (32, 16, 3, 3), True, dict(padding=1)),
    ("pointwise-16-to-16", "conv_transpose2d", (4, 16, 5, 5), (16, 16, 1, 1), True, {}),
    ("depthwise-3x3", "conv_transpose2d", (4, 8, 5, 5), (8, 1, 3, 3), True, dict(groups=8, stride=2, padding=1)),
    ("wide-4x4-2-to-1", "conv_transpose2d", (4, 2, 5, 5), (2, 1, 4, 4), True, dict(stride=2, padding=1)),
    ("grouped", "conv_transpose2d", (3, 4, 4, 5), (4, 3, 3, 3), False,
     dict(groups=2, stride=(2, 1), output_padding=(1, 0))),
    ("64-images-16-to-8", "conv_transpose2d", (64, 16, 7, 7), (16, 8, 4, 4), True, dict(stride=2, padding=1)),
]


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 1e-5)], ids=["float64", "float32"])
@pytest.mark.parametrize("fn, x_shape, w_shape, with_bias, kwargs", [c[1:] for c in SHAPE_CASES],
                         ids=[f"{c[1]}-{c[0]}" for c in SHAPE_CASES])
def test_shapes_of_every_kind_match_torch(backend, fn, x_shape, w_shape, with_bias, kwargs, dtype, tol):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(x_shape).astype(dtype), rng.standard_normal(w_shape).astype(dtype)
    C_out = w_shape[0] if fn == "conv2d" else w_shape[1] * kwargs.get("groups", 1)
    b = rng.standard_normal(C_out).astype(dtype) if with_bias else None
    out = call(backend, fn, x, w, b, **kwargs)
    g = rng.standard_normal(out.shape).astype(dtype)
    grads = call(backend, fn + "_backward", g, x, w, b, **kwargs)
    as64 = [None if a is None else a.astype(np.float64) for a in (x, w, b)]
    expected, expected_grads = torch_oracle(fn, as64, g.astype(np.float64), **kwargs)
    assert out.dtype == dtype and all(a is None or a.dtype == dtype for a in grads)
    assert_close(out, expected, tol, symmetric=True)
    assert_grads_close(grads, expected_grads, tol=tol, symmetric=True)


# ----------------------------------------------------------------------------------------------------------------
# conv_transpose2d
# ----------------------------------------------------------------------------------------------------------------

def test_conv_transpose2d_slide_example(backend):
    """The slide: the single output 55, projected back through the kernel, gives 55 * kernel."""
    kernel = np.array([[1, 2, 1], [2, 1, 2], [1, 1, 2]], dtype=np.float32)
    out = call(backend, "conv_transpose2d", np.array([[[[55.0]]]], dtype=np.float32), kernel[None, None])
    np.testing.assert_array_equal(out[0, 0], [[55, 110, 55], [110, 55, 110], [55, 55, 110]])
    assert out.dtype == np.float32


@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(stride=2, padding=1, output_padding=1),
    dict(stride=(2, 1), padding=(0, 1), dilation=(1, 3), output_padding=(1, 2)),
    dict(groups=2, stride=3),
])
@pytest.mark.parametrize("with_bias", [True, False])
def test_conv_transpose2d_gradcheck(kwargs, with_bias):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 4, 3, 4)), rng.standard_normal((4, 3, 3, 2))
    b = rng.standard_normal(6 if kwargs.get("groups") else 3) if with_bias else None
    errors = gradcheck(numpy_conv.conv_transpose2d, (x, w, b), **kwargs)
    assert all(e is None or e < 1e-6 for e in errors), errors


def test_conv_transpose2d_float32_stays_float32(backend):
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((2, 3, 4, 4), (3, 2, 3, 3), (2,)))
    out = call(backend, "conv_transpose2d", x, w, b, stride=2)
    assert out.dtype == np.float32
    grads = call(backend, "conv_transpose2d_backward", np.ones_like(out), x, w, b, stride=2)
    assert [g.dtype for g in grads] == [np.float32] * 3


# ----------------------------------------------------------------------------------------------------------------
# Bad input: clear errors naming the op, what was expected and what came
# ----------------------------------------------------------------------------------------------------------------

def _conv(x_shape=(1, 3, 5, 5), w_shape=(8, 3, 3, 3), b_shape=None, dtype=np.float64, **kwargs):
    return dict(x=np.ones(x_shape, dtype), w=np.ones(w_shape, dtype),
                b=None if b_shape is None else np.ones(b_shape, dtype), kwargs=kwargs)


CONV2D_ERRORS = [  # (id, arguments, error, message pattern)
    ("input 3-D", _conv(x_shape=(3, 5, 5)), ValueError, r"conv2d: input must be 4-D \(N, C_in, H, W\), got 3-D"),
    ("weight 2-D", _conv(w_shape=(3, 3)), ValueError, r"conv2d: weight must be 4-D"),
    ("channels", _conv(w_shape=(8, 4, 3, 3)), ValueError,
     r"^conv2d: input has 3 channels but weight expects 4 \(weight shape \(8, 4, 3, 3\)\)$"),
    ("channels per group", _conv(x_shape=(1, 4, 5, 5), w_shape=(6, 1, 3, 3), groups=2), ValueError,
     r"input has 4 channels but weight expects 2 \(1 per group x 2 groups\)"),
    ("kernel larger than input", _conv(x_shape=(1, 3, 2, 2)), ValueError, r"conv2d: kernel of size 3 .* larger than"),
    ("dilated kernel larger", _conv(x_shape=(1, 3, 4, 4), dilation=2, padding=(0, 1)), ValueError,
     r"spans 5\) is larger than the padded input of size 4"),
    ("stride 0", _conv(stride=0), ValueError, r"conv2d: stride must be a positive int or a pair of them, got 0"),
    ("stride negative", _conv(stride=(1, -2)), ValueError, r"conv2d: stride must be a positive int"),
    ("stride float", _conv(stride=1.5), ValueError, r"conv2d: stride must be a positive int"),
    ("stride bool", _conv(stride=True), ValueError, r"conv2d: stride must be a positive int"),
    ("stride triple", _conv(stride=(1, 1, 1)), ValueError, r"conv2d: stride must be"),
    ("dilation 0", _conv(dilation=0), ValueError, r"conv2d: dilation must be a positive int"),
    ("padding negative", _conv(padding=-1), ValueError, r"conv2d: padding must be an int >= 0"),
    ("padding float", _conv(padding=0.5), ValueError, r"conv2d: padding must be an int >= 0"),
    ("padding word", _conv(padding="full"), ValueError, r"conv2d: padding must be 'same', 'valid'"),
    ("same with stride", _conv(padding="same", stride=2), ValueError,
     r"conv2d: padding='same' is not supported for strided convolutions"),
    ("groups 0", _conv(groups=0), ValueError, r"conv2d: groups must be a positive int, got 0"),
    ("groups float", _conv(groups=1.0), ValueError, r"conv2d: groups must be a positive int"),
    ("groups vs input", _conv(x_shape=(1, 4, 5, 5), w_shape=(6, 2, 3, 3), groups=3), ValueError,
     r"conv2d: groups=3 does not divide the input's 4 channels"),
    ("groups vs output", _conv(x_shape=(1, 4, 5, 5), w_shape=(3, 2, 3, 3), groups=2), ValueError,
     r"conv2d: groups=2 does not divide the weight's 3 output channels"),
    ("bias shape", _conv(b_shape=(4,)), ValueError, r"conv2d: bias must have shape \(8,\), got \(4,\)"),
    ("bias 2-D", _conv(b_shape=(8, 1)), ValueError, r"conv2d: bias must have shape \(8,\), got \(8, 1\)"),
    ("int input", _conv(dtype=np.int64), TypeError, r"conv2d: input must have a floating-point dtype"),
    ("empty kernel", _conv(w_shape=(8, 3, 0, 3)), ValueError, r"conv2d: weight must not have an empty axis"),
]


@pytest.mark.parametrize("args, error, pattern", [c[1:] for c in CONV2D_ERRORS], ids=[c[0] for c in CONV2D_ERRORS])
def test_conv2d_rejects_bad_input(backend, args, error, pattern):
    with pytest.raises(error, match=pattern):
        call(backend, "conv2d", args["x"], args["w"], args["b"], **args["kwargs"])
    # the naive version and the backward check the same way, under their own names
    naive_pattern = pattern.replace("conv2d:", "conv2d_naive:")
    with pytest.raises(error, match=naive_pattern):
        call(backend, "conv2d_naive", args["x"], args["w"], args["b"], **args["kwargs"])
    with pytest.raises(error, match=pattern.replace("conv2d:", "conv2d_backward:")):
        call(backend, "conv2d_backward", np.ones((1, 8, 3, 3)), args["x"], args["w"], args["b"], **args["kwargs"])


def test_conv2d_rejects_mixed_dtypes(backend):
    dtype = r"dtype (torch\.)?"  # torch spells its dtypes torch.float32
    with pytest.raises(TypeError, match=rf"conv2d: input has {dtype}float32 but weight has {dtype}float64"):
        call(backend, "conv2d", np.ones((1, 1, 3, 3), np.float32), np.ones((1, 1, 3, 3)))
    with pytest.raises(TypeError, match=r"conv2d: weight must have a floating-point dtype"):
        call(backend, "conv2d", np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3), np.int32))
    with pytest.raises(TypeError, match=rf"conv2d: input has {dtype}float64 but bias has {dtype}float32"):
        call(backend, "conv2d", np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)), np.ones(1, np.float32))


def test_conv2d_numpy_rejects_objects_and_lists():
    with pytest.raises(TypeError, match=r"conv2d: input must have a floating-point dtype \(float32 or float64\), "
                                        r"got object"):
        numpy_conv.conv2d(np.ones((1, 1, 3, 3), dtype=object), np.ones((1, 1, 3, 3)))
    with pytest.raises(TypeError, match=r"conv2d: input must be an array or tensor of floats, got list"):
        numpy_conv.conv2d([[[[1.0]]]], np.ones((1, 1, 1, 1)))


def test_conv2d_backward_rejects_wrong_grad_out(backend):
    x, w = np.ones((2, 3, 5, 5)), np.ones((4, 3, 3, 3))
    with pytest.raises(ValueError, match=r"conv2d_backward: grad_out .* must have shape \(2, 4, 3, 3\), "
                                         r"got \(2, 4, 5, 5\)"):
        call(backend, "conv2d_backward", np.ones((2, 4, 5, 5)), x, w)
    with pytest.raises(TypeError, match=r"conv2d_backward: grad_out must have a floating-point dtype"):
        call(backend, "conv2d_backward", np.ones((2, 4, 3, 3), np.int64), x, w)


CONV_TRANSPOSE2D_ERRORS = [
    ("input 5-D", _conv(x_shape=(1, 1, 3, 5, 5)), ValueError, r"conv_transpose2d: input must be 4-D"),
    ("channels", _conv(w_shape=(4, 2, 3, 3)), ValueError,
     r"^conv_transpose2d: input has 3 channels but weight expects 4 \(weight shape \(4, 2, 3, 3\)\)$"),
    ("groups vs input", _conv(x_shape=(1, 3, 5, 5), w_shape=(3, 2, 3, 3), groups=2), ValueError,
     r"conv_transpose2d: groups=2 does not divide the input's 3 channels"),
    ("output_padding", _conv(w_shape=(3, 2, 3, 3), stride=2, output_padding=2), ValueError,
     r"conv_transpose2d: output_padding must be smaller than either stride or dilation"),
    ("output too small", _conv(x_shape=(1, 3, 1, 1), w_shape=(3, 2, 3, 3), padding=2), ValueError,
     r"conv_transpose2d: output size \(-1, -1\) is too small"),
    ("padding word", _conv(w_shape=(3, 2, 3, 3), padding="same"), ValueError,
     r"conv_transpose2d: padding must be an int >= 0 or a pair of them, got 'same'"),
    ("stride 0", _conv(w_shape=(3, 2, 3, 3), stride=0), ValueError, r"conv_transpose2d: stride must be a positive int"),
    ("bias shape", _conv(w_shape=(3, 2, 3, 3), b_shape=(3,)), ValueError,
     r"conv_transpose2d: bias must have shape \(2,\), got \(3,\)"),
    ("int input", _conv(w_shape=(3, 2, 3, 3), dtype=np.int32), TypeError,
     r"conv_transpose2d: input must have a floating"),
]


@pytest.mark.parametrize("args, error, pattern", [c[1:] for c in CONV_TRANSPOSE2D_ERRORS],
                         ids=[c[0] for c in CONV_TRANSPOSE2D_ERRORS])
def test_conv_transpose2d_rejects_bad_input(backend, args, error, pattern):
    with pytest.raises(error, match=pattern):
        call(backend, "conv_transpose2d", args["x"], args["w"], args["b"], **args["kwargs"])
    with pytest.raises(error, match=pattern.replace("conv_transpose2d:", "conv_transpose2d_backward:")):
        call(backend, "conv_transpose2d_backward", np.ones((1, 2, 7, 7)), args["x"], args["w"], args["b"],
             **args["kwargs"])
