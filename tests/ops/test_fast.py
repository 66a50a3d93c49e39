"""cnnlab.numpy.fast equals the reference ops (and torch) in float64 and float32, with numba and without."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import cnnlab.numpy as cn
from cnnlab.numpy import fast

from .oracle import assert_close, assert_grads_close, property_settings, torch_oracle

SETTINGS = property_settings(max_examples=25)
HAS_NUMBA = importlib.util.find_spec("numba") is not None
TOL = {np.float64: 1e-12, np.float32: 2e-5}  # relative error: only the order of the sums differs


DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])


def randn(rng, *shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


# ----------------------------------------------------------------------------------------------------------------
# conv2d and conv_transpose2d
# ----------------------------------------------------------------------------------------------------------------

@st.composite
def conv_cases(draw):
    groups = draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    if stride == (1, 1) and draw(st.booleans()):
        padding = draw(st.sampled_from(["same", "valid"]))
    else:
        padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    span = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    H, W = (draw(st.integers(s, s + 7)) for s in span)
    return dict(N=draw(st.integers(1, 3)), C_in=groups * draw(st.integers(1, 3)),
                C_out=groups * draw(st.integers(1, 3)),
                H=H, W=W, kernel=kernel, bias=draw(st.booleans()), seed=draw(st.integers(0, 2**31)),
                kwargs=dict(stride=stride, padding=padding, dilation=dilation, groups=groups))


def _conv_arrays(case, dtype, transposed=False):
    rng = np.random.default_rng(case["seed"])
    G = case["kwargs"]["groups"]
    x = randn(rng, case["N"], case["C_in"], case["H"], case["W"], dtype=dtype)
    if transposed:
        w = randn(rng, case["C_in"], case["C_out"] // G, *case["kernel"], dtype=dtype)
    else:
        w = randn(rng, case["C_out"], case["C_in"] // G, *case["kernel"], dtype=dtype)
    b = randn(rng, case["C_out"], dtype=dtype) if case["bias"] else None
    return x, w, b, rng


@DTYPES
@SETTINGS
@given(case=conv_cases())
def test_conv2d_equals_reference(fast_path, dtype, case):
    x, w, b, rng = _conv_arrays(case, dtype)
    kwargs = case["kwargs"]
    out, cache = fast.conv2d(x, w, b, **kwargs)
    expected = cn.conv2d(x, w, b, **kwargs)
    assert out.dtype == dtype and out.shape == expected.shape
    assert_close(out, expected, tol=TOL[dtype])
    grad_out = randn(rng, *out.shape, dtype=dtype)
    grads = fast.conv2d_backward(grad_out, cache)
    assert all(g is None or g.dtype == dtype for g in grads)
    assert_grads_close(grads, cn.conv2d_backward(grad_out, x, w, b, **kwargs), tol=TOL[dtype])


@DTYPES
@pytest.mark.parametrize("shape, kernel, kwargs, wide", [
    ((3, 4, 7, 7), (3, 3), dict(padding=1), True),
    ((2, 12, 9, 8), (3, 2), dict(padding="same", dilation=(2, 1), groups=2), True),
    ((2, 4, 6, 10), (2, 4), dict(padding=(1, 2)), True),
    ((1, 32, 5, 6), (1, 1), dict(), True),
    ((2, 4, 6, 6), (5, 5), dict(padding=2), True),
    ((2, 8, 5, 7), (3, 3), dict(padding=2, dilation=(1, 2)), True),
    ((2, 32, 4, 5), (1, 1), dict(padding=1), False),
], ids=["7x7 pad 1", "same, dilated, groups", "pad (1, 2)", "1x1", "5x5 pad 2", "pad 2, dilated",
        "padding wider than the kernel"])
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_stride_1_over_whole_rows(fast_path, dtype, shape, kernel, kwargs, wide, bias):
    """Stride 1 reads whole padded rows (``ConvCache.wide``; at least 32 numbers per window, as here): the same
    numbers as the reference. One gap of zeros pads both sides of a row: windows running past a row's end read
    the next row's gap (5x5 pad 2: two columns; asymmetric padding: "same" with an even kernel). A 1x1 kernel with
    padding 1 has output rows (W + 2) longer than a row of that layout (W + 1): im2col runs instead."""
    rng = np.random.default_rng(6)
    x = randn(rng, *shape, dtype=dtype)
    w = randn(rng, 4, shape[1] // kwargs.get("groups", 1), *kernel, dtype=dtype)
    b = randn(rng, 4, dtype=dtype) if bias else None
    out, cache = fast.conv2d(x, w, b, **kwargs)
    assert cache.wide == wide
    assert_close(out, cn.conv2d(x, w, b, **kwargs), tol=TOL[dtype])
    grad_out = randn(rng, *out.shape, dtype=dtype)
    assert_grads_close(fast.conv2d_backward(grad_out, cache), cn.conv2d_backward(grad_out, x, w, b, **kwargs),
                       tol=TOL[dtype])


@st.composite
def conv_transpose_cases(draw):
    case = draw(conv_cases())
    kwargs = case["kwargs"]
    if isinstance(kwargs["padding"], str):
        kwargs["padding"] = (0, 0)
    # output_padding must be smaller than the stride or the dilation
    kwargs["output_padding"] = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(kwargs["stride"],
                                                                                            kwargs["dilation"]))
    case["H"], case["W"] = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    return case


def _transposed_size_ok(case):
    kw = case["kwargs"]
    return all((n - 1) * s - 2 * p + d * (k - 1) + o + 1 >= 1 for n, s, p, d, k, o in zip(
        (case["H"], case["W"]), kw["stride"], kw["padding"], kw["dilation"], case["kernel"], kw["output_padding"]))


@DTYPES
@SETTINGS
@given(case=conv_transpose_cases())
def test_conv_transpose2d_equals_reference(fast_path, dtype, case):
    assume(_transposed_size_ok(case))
    x, w, b, rng = _conv_arrays(case, dtype, transposed=True)
    kwargs = case["kwargs"]
    out, cache = fast.conv_transpose2d(x, w, b, **kwargs)
    expected = cn.conv_transpose2d(x, w, b, **kwargs)
    assert out.dtype == dtype
    assert_close(out, expected, tol=TOL[dtype])
    grad_out = randn(rng, *out.shape, dtype=dtype)
    assert_grads_close(fast.conv_transpose2d_backward(grad_out, cache),
                       cn.conv_transpose2d_backward(grad_out, x, w, b, **kwargs), tol=TOL[dtype])


def test_convolutions_equal_torch(fast_path):
    """The training net's second layer and a strided, transposed one, against torch's autograd in float64."""
    rng = np.random.default_rng(0)
    x, w, b = randn(rng, 4, 8, 14, 14, dtype=np.float64), randn(rng, 6, 8, 3, 3, dtype=np.float64), \
        randn(rng, 6, dtype=np.float64)
    out, cache = fast.conv2d(x, w, b, padding=1)
    grad_out = randn(rng, *out.shape, dtype=np.float64)
    expected, grads = torch_oracle("conv2d", [x, w, b], grad_out, padding=1)
    assert_close(out, expected)
    assert_grads_close(fast.conv2d_backward(grad_out, cache), grads)

    wt = randn(rng, 8, 3, 4, 4, dtype=np.float64)
    out, cache = fast.conv_transpose2d(x, wt, None, stride=2, padding=1)
    grad_out = randn(rng, *out.shape, dtype=np.float64)
    expected, grads = torch_oracle("conv_transpose2d", [x, wt, None], grad_out, stride=2, padding=1)
    assert_close(out, expected)
    assert_grads_close(fast.conv_transpose2d_backward(grad_out, cache), grads)


def test_an_empty_batch_goes_through_every_fast_op(fast_path):
    """A batch of no images (the last of a split, say) gives torch's empty outputs and gradients of the right shapes,
    zero for the weights: through both convolutions (on whole rows and strided), pooling, relu and linear layers."""
    rng = np.random.default_rng(0)
    x = np.zeros((0, 32, 6, 6), np.float32)
    for kwargs in [dict(padding=1), dict(stride=2)]:  # on whole padded rows, then im2col
        w = randn(rng, 4, 32, 3, 3, dtype=np.float32)
        out, cache = fast.conv2d(x, w, randn(rng, 4, dtype=np.float32), **kwargs)
        assert out.shape == torch_oracle("conv2d", [x, w, None], **kwargs).shape
        grad_x, grad_w, grad_b = fast.conv2d_backward(out, cache)
        assert grad_x.shape == x.shape and not grad_w.any() and grad_w.shape == w.shape and not grad_b.any()
    w = randn(rng, 32, 2, 4, 4, dtype=np.float32)
    out, cache = fast.conv_transpose2d(x, w, None, stride=2, padding=1)
    assert out.shape == torch_oracle("conv_transpose2d", [x, w, None], stride=2, padding=1).shape
    grad_x, grad_w, _ = fast.conv_transpose2d_backward(out, cache)
    assert grad_x.shape == x.shape and grad_w.shape == w.shape and not grad_w.any()
    for kernel_size, stride in [(2, 2), (3, 2)]:
        out, cache = fast.max_pool2d(x, kernel_size, stride)
        assert out.shape == torch_oracle("max_pool2d", [x], kernel_size=kernel_size, stride=stride).shape
        assert fast.max_pool2d_backward(out, cache).shape == x.shape
    assert fast.relu_backward(x, fast.relu(x)).shape == x.shape
    rows, w = np.zeros((0, 5), np.float32), randn(rng, 2, 5, dtype=np.float32)
    out = fast.linear(rows, w, None)
    grad_x, grad_w, _ = fast.linear_backward(out, rows, w)
    assert out.shape == (0, 2) and grad_x.shape == rows.shape and grad_w.shape == w.shape and not grad_w.any()


# ----------------------------------------------------------------------------------------------------------------
# max_pool2d
# ----------------------------------------------------------------------------------------------------------------

@st.composite
def pool_cases(draw):
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)  # at most half the kernel, as torch
    span = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    H, W = (draw(st.integers(max(1, s - 2 * p), s + 6)) for s, p in zip(span, padding))
    return dict(shape=(draw(st.integers(1, 2)), draw(st.integers(1, 3)), H, W),
                fill=draw(st.sampled_from(["normal", "ties", "-inf", "nan"])), seed=draw(st.integers(0, 2**31)),
                kwargs=dict(kernel_size=kernel, stride=stride, padding=padding, dilation=dilation,
                            ceil_mode=draw(st.booleans())))


def _pool_input(case, dtype):
    rng = np.random.default_rng(case["seed"])
    x = randn(rng, *case["shape"], dtype=dtype)
    if case["fill"] == "ties":  # after a ReLU most windows tie at 0: the first element must win
        x = np.maximum(np.round(x), 0).astype(dtype)
    elif case["fill"] == "-inf":
        x[rng.random(x.shape) < 0.6] = -np.inf
    elif case["fill"] == "nan":
        x[rng.random(x.shape) < 0.2] = np.nan
    return x, rng


def _every_window_sees_the_input(x_shape, kwargs):
    """False when a window holds only padding (dilation makes it possible; the reference and torch differ)."""
    kernel, dilation, padding = kwargs["kernel_size"], kwargs["dilation"], kwargs["padding"]
    stride = kernel if kwargs["stride"] is None else kwargs["stride"]
    from cnnlab._geometry import out_size

    for size, k, s, p, d in zip(x_shape[2:], kernel, stride, padding, dilation):
        n = out_size(size, k, s, p, d, "test", kwargs["ceil_mode"])
        if not all(any(0 <= o * s - p + i * d < size for i in range(k)) for o in range(n)):
            return False
    return True


@DTYPES
@SETTINGS
@given(case=pool_cases())
def test_max_pool2d_equals_reference(fast_path, dtype, case):
    assume(_every_window_sees_the_input(case["shape"], case["kwargs"]))
    x, rng = _pool_input(case, dtype)
    kwargs = case["kwargs"]
    out, cache = fast.max_pool2d(x, **kwargs)
    expected, indices = cn.max_pool2d(x, **kwargs, return_indices=True)
    np.testing.assert_array_equal(out, expected)  # a maximum is exact (NaN where the reference has NaN)
    assert out.dtype == dtype
    if cache.flat:  # the compiled path keeps torch's flat indices: the same places as the reference
        np.testing.assert_array_equal(cache.where, indices)
    grad_out = randn(rng, *out.shape, dtype=dtype)
    grad_x = fast.max_pool2d_backward(grad_out, cache)
    assert grad_x.dtype == dtype
    assert_close(grad_x, cn.max_pool2d_backward(grad_out, x, **kwargs), tol=TOL[dtype])


@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=2),
                                    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)])
def test_max_pool2d_equals_torch(fast_path, kwargs):
    """After a ReLU (ties at 0), against torch in float64: outputs, and the gradient going to the first maximum."""
    rng = np.random.default_rng(1)
    x = np.maximum(randn(rng, 3, 4, 13, 12, dtype=np.float64), 0)
    out, cache = fast.max_pool2d(x, **kwargs)
    grad_out = randn(rng, *out.shape, dtype=np.float64)
    expected, (grad,) = torch_oracle("max_pool2d", [x], grad_out, **kwargs)
    np.testing.assert_array_equal(out, expected)
    assert_close(fast.max_pool2d_backward(grad_out, cache), grad, tol=1e-15)


def test_max_pool2d_cache_of_the_compiled_path_without_numba(monkeypatch):
    """A cache made with numba, its backward run after numba was switched off: the same gradient."""
    if not HAS_NUMBA:
        pytest.skip("numba is not installed")
    monkeypatch.setattr(fast, "USE_NUMBA", True)
    rng = np.random.default_rng(2)
    x = randn(rng, 2, 3, 9, 9, dtype=np.float32)
    out, cache = fast.max_pool2d(x, 3, stride=2)
    grad_out = randn(rng, *out.shape, dtype=np.float32)
    monkeypatch.setattr(fast, "USE_NUMBA", False)
    assert_close(fast.max_pool2d_backward(grad_out, cache), cn.max_pool2d_backward(grad_out, x, 3, stride=2),
                 tol=1e-6)


# ----------------------------------------------------------------------------------------------------------------
# relu and cross_entropy
# ----------------------------------------------------------------------------------------------------------------

@DTYPES
def test_relu_equals_reference_and_torch(fast_path, dtype):
    rng = np.random.default_rng(3)
    x = randn(rng, 4, 3, 7, 5, dtype=dtype)
    x[0, 0, 0, :2] = [0.0, -np.inf]
    x_view = x[:, :, ::2]  # not contiguous: the layers may pass views
    for data in (x, x_view):
        out = fast.relu(data)
        np.testing.assert_array_equal(out, cn.relu(data))
        assert out.dtype == dtype
        grad_out = randn(rng, *data.shape, dtype=dtype)
        grad = fast.relu_backward(grad_out, out)
        np.testing.assert_array_equal(grad, cn.relu_backward(grad_out, data))
        assert grad.dtype == dtype
    with_nan = np.array([np.nan, -1.0, 2.0], dtype=dtype)
    np.testing.assert_array_equal(fast.relu(with_nan), torch_oracle("relu", [with_nan]))  # NaN stays NaN, as torch


@DTYPES
@pytest.mark.parametrize("shape", [(7, 5), (3, 4, 2, 3)], ids=["N,C", "N,C,H,W"])
def test_cross_entropy_equals_reference_and_torch(dtype, shape):
    rng = np.random.default_rng(4)
    logits = randn(rng, *shape, dtype=dtype) * 5
    logits.flat[0] = 1e4  # no overflow
    target = rng.integers(0, shape[1], (shape[0], *shape[2:]))
    loss, cache = fast.cross_entropy(logits, target)
    assert loss.dtype == dtype and loss.shape == ()
    assert_close(loss, cn.cross_entropy(logits, target), tol=TOL[dtype])
    grad = fast.cross_entropy_backward(0.5, cache)
    assert grad.dtype == dtype and grad.shape == shape
    assert_close(grad, cn.cross_entropy_backward(0.5, logits, target)[0], tol=TOL[dtype])
    np.testing.assert_array_equal(fast.cross_entropy_backward(0.5, cache), grad)  # the cache is left as it was
    if dtype == np.float64:
        import torch

        target_t = torch.tensor(target)
        expected, (grad_torch,) = torch_oracle(lambda z: torch.nn.functional.cross_entropy(z, target_t), [logits], 0.5)
        assert_close(loss, expected)
        assert_close(grad, grad_torch)


# ----------------------------------------------------------------------------------------------------------------
# linear, and the work in pieces
# ----------------------------------------------------------------------------------------------------------------

@DTYPES
@pytest.mark.parametrize("shape", [(6, 9), (2, 3, 9)], ids=["N,in", "leading axes"])
def test_linear_equals_reference(fast_path, dtype, shape):
    rng = np.random.default_rng(5)
    x, w, b = randn(rng, *shape, dtype=dtype), randn(rng, 4, 9, dtype=dtype), randn(rng, 4, dtype=dtype)
    for bias in (b, None):
        out = fast.linear(x, w, bias)
        assert out.dtype == dtype
        assert_close(out, cn.linear(x, w, bias), tol=TOL[dtype])
        grad_out = randn(rng, *out.shape, dtype=dtype)
        assert_grads_close(fast.linear_backward(grad_out, x, w, bias), cn.linear_backward(grad_out, x, w, bias),
                           tol=TOL[dtype])
    with pytest.raises(ValueError, match="linear"):
        fast.linear(x, randn(rng, 4, 8, dtype=dtype))


def _blas_threads():
    return [lib.num_threads for lib in fast._blas_libraries()]


@DTYPES
@pytest.mark.parametrize("lo, hi", [(0, 5000), (1234, 4097), (7, 7)])
def test_weight_gradient_products_of_a_piece(fast_path, dtype, lo, hi):
    """The products behind a piece's weight gradient (columns [lo, hi), compiled in blocks of 2048) equal NumPy's,
    for small results (the compiled loop) and a large one (matmul)."""
    rng = np.random.default_rng(3)
    for G, M, P in ((1, 9, 32), (2, 3, 5), (1, 40, 30)):
        a, b = randn(rng, G, M, 5000, dtype=dtype), randn(rng, G, P, 5000, dtype=dtype)
        product = fast._products_t(a, b, lo, hi)
        assert product.dtype == dtype and product.shape == (G, M, P)
        assert_close(product, np.einsum("gml,gpl->gmp", a[..., lo:hi], b[..., lo:hi]), tol=TOL[dtype])


def test_pieces_run_blas_on_one_thread_and_give_its_threads_back(monkeypatch):
    """Inside a piece BLAS has one thread (the pieces are the threads); after the op, and after an op that failed,
    BLAS has its own count again; an error in a piece on another thread reaches the caller."""
    if not fast._blas_libraries():
        pytest.skip("threadpoolctl sees no BLAS library")
    monkeypatch.setattr(fast, "THREADS", 3)
    monkeypatch.setattr(fast, "PIECES_FROM", 0)
    before, inside = _blas_threads(), []
    fast._in_pieces(24, lambda lo, hi: inside.append((lo, hi, _blas_threads())), size=10)
    assert sorted(inside) == [(k, k + 8, [1] * len(before)) for k in range(0, 24, 8)]  # a piece per thread
    assert _blas_threads() == before

    def fails_in_two_pieces(lo, hi):
        if hi in (16, 24):
            raise ZeroDivisionError(f"piece ({lo}, {hi})")

    with pytest.raises(ZeroDivisionError, match=r"piece \(8, 16\)"):  # the first error, whichever thread had it
        fast._in_pieces(24, fails_in_two_pieces, size=10)
    assert _blas_threads() == before


def test_ops_at_once_on_two_threads_give_blas_its_threads_back():
    """Two of the user's threads in ops at once, the first to end before the second: BLAS has its own count after
    (each op saving and restoring it would leave the second op's saved 1 behind)."""
    import threading

    if not fast._blas_libraries():
        pytest.skip("threadpoolctl sees no BLAS library")
    before = _blas_threads()
    first_inside, second_inside, first_done = threading.Event(), threading.Event(), threading.Event()

    def first(lo, hi):
        first_inside.set()
        assert second_inside.wait(10)

    def second(lo, hi):
        second_inside.set()
        assert first_done.wait(10)

    def run_first():
        fast._in_pieces(1, first, size=0)
        first_done.set()

    thread = threading.Thread(target=run_first)
    thread.start()
    assert first_inside.wait(10)
    fast._in_pieces(1, second, size=0)
    thread.join()
    assert _blas_threads() == before


def _cpu_jiffies_of_threads_python_does_not_know():
    """CPU time (jiffies) of this process's threads that are no Python thread: BLAS's and OpenMP's workers."""
    import os
    import threading

    known = {t.native_id for t in threading.enumerate()}
    total = 0
    for tid in os.listdir("/proc/self/task"):
        if int(tid) in known:
            continue
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total


def test_a_training_step_never_wakes_blas_own_threads():
    """Every product of a training step runs on one BLAS thread: OpenBLAS's workers, which spin for about 0.1 s
    after each product of their own (100 jiffies a second while woken every few ms), stay asleep. Once a bias
    gradient computed outside the pieces woke them, and the training epoch took 0.95 s instead of 0.5 s."""
    import os

    if not os.path.exists("/proc/self/task") or max(_blas_threads() or [1]) < 2:
        pytest.skip("needs Linux's /proc and a BLAS with 2 or more threads")
    rng = np.random.default_rng(8)
    model = cn.Sequential(cn.Conv2d(1, 16, 3, padding=1, rng=0), cn.ReLU(), cn.MaxPool2d(2),
                          cn.Conv2d(16, 32, 3, padding=1, rng=1), cn.ReLU(), cn.MaxPool2d(2), cn.Flatten(),
                          cn.Linear(32 * 7 * 7, 64, rng=2), cn.ReLU(), cn.Linear(64, 10, rng=3))
    optimizer = cn.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    x, y = randn(rng, 64, 1, 28, 28, dtype=np.float32), rng.integers(0, 10, 64)

    def steps(n):
        for _ in range(n):
            loss, cache = fast.cross_entropy(model(x), y)
            optimizer.zero_grad()
            model.backward(fast.cross_entropy_backward(1.0, cache), input_grad=False)
            optimizer.step()

    steps(2)
    import time

    time.sleep(0.3)  # whatever woke them before this test has spun down
    before = _cpu_jiffies_of_threads_python_does_not_know()
    steps(20)
    assert _cpu_jiffies_of_threads_python_does_not_know() - before <= 5


def test_the_numbers_do_not_depend_on_which_piece_finishes_first(monkeypatch):
    """The weight gradient is a sum over pieces, added in piece order: the same bits every run."""
    monkeypatch.setattr(fast, "THREADS", 3)
    monkeypatch.setattr(fast, "PIECES_FROM", 0)
    rng = np.random.default_rng(7)
    x, w, b = randn(rng, 9, 8, 6, 6, dtype=np.float32), randn(rng, 5, 8, 3, 3, dtype=np.float32), None
    out, cache = fast.conv2d(x, w, b, padding=1)
    grad_out = randn(rng, *out.shape, dtype=np.float32)
    first = fast.conv2d_backward(grad_out, cache)[1]
    for _ in range(5):
        np.testing.assert_array_equal(fast.conv2d_backward(grad_out, cache)[1], first)


# ----------------------------------------------------------------------------------------------------------------
# bad input, and the library without numba
# ----------------------------------------------------------------------------------------------------------------

def test_bad_input_gets_the_reference_errors():
    x = np.zeros((1, 3, 5, 5), np.float32)
    with pytest.raises(ValueError, match="conv2d: input has 3 channels but weight expects 4"):
        fast.conv2d(x, np.zeros((2, 4, 3, 3), np.float32))
    with pytest.raises(ValueError, match="max_pool2d: padding must be at most half of the kernel size"):
        fast.max_pool2d(x, 2, padding=2)
    with pytest.raises(TypeError, match="relu: input must have a floating-point dtype"):
        fast.relu(np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="cross_entropy: target contains class 5"):
        fast.cross_entropy(np.zeros((2, 5), np.float32), np.array([0, 5]))
    _, cache = fast.conv2d(x, np.zeros((2, 3, 3, 3), np.float32))
    with pytest.raises(ValueError, match=r"conv2d_backward: grad_out \(the shape of the forward output\) must "
                                         r"have shape \(1, 2, 3, 3\), got \(1, 2, 5, 5\)"):
        fast.conv2d_backward(np.zeros((1, 2, 5, 5), np.float32), cache)
    _, cache = fast.max_pool2d(x, 2)
    with pytest.raises(ValueError, match=r"max_pool2d_backward: grad_out .* must have shape \(1, 3, 2, 2\)"):
        fast.max_pool2d_backward(np.zeros((1, 3, 3, 3), np.float32), cache)
    _, cache = fast.cross_entropy(np.zeros((2, 5), np.float32), np.array([0, 4]))
    with pytest.raises(ValueError, match="cross_entropy_backward: grad_out must be a scalar"):
        fast.cross_entropy_backward(np.ones(2), cache)


class _NoCacheLocation:
    """What numba raises when it has nowhere to write its cache (a read-only install, the grader's sandbox)."""

    def find_spec(self, name, path=None, target=None):
        if name == "cnnlab.numpy._fast_kernels":
            raise RuntimeError("cannot cache function 'im2col': no locator available for file '_fast_kernels.py'")


@pytest.mark.parametrize("why", ["numba missing", "no writable cache"])
def test_runs_without_numba(monkeypatch, why):
    """numba missing, or unable to keep its compiled code: ``numba_kernels()`` is None and every op still
    runs (the NumPy path)."""
    if why == "numba missing":
        monkeypatch.setitem(sys.modules, "numba", None)  # `import numba` now raises ImportError
    else:
        monkeypatch.setattr(sys, "meta_path", [_NoCacheLocation(), *sys.meta_path])
    monkeypatch.delitem(sys.modules, "cnnlab.numpy._fast_kernels", raising=False)
    monkeypatch.delattr(cn, "_fast_kernels", raising=False)  # the package's attribute: a fresh import
    monkeypatch.setattr(fast, "_kernels", None)
    monkeypatch.setattr(fast, "USE_NUMBA", True)
    assert fast.numba_kernels() is None
    x = np.random.default_rng(5).standard_normal((2, 3, 6, 6)).astype(np.float32)
    out, cache = fast.max_pool2d(fast.relu(x), 2)
    assert not cache.flat
    np.testing.assert_array_equal(out, cn.max_pool2d(cn.relu(x), 2))


def test_compile_kernels_then_nothing_compiles(monkeypatch):
    """After ``compile_kernels`` (what scripts/setup.sh runs) a second call compiles nothing; without numba it
    says so."""
    if HAS_NUMBA:
        monkeypatch.setattr(fast, "USE_NUMBA", True)
        first = fast.compile_kernels()
        assert first["numba"] and first["compiled"] >= 0
        assert fast.compile_kernels()["compiled"] == 0
        # in a fresh process, compile_kernels alone readies every loop of _fast_kernels.py in both dtypes
        import ast
        import subprocess

        count = ("from cnnlab.numpy import fast; fast.compile_kernels(); k = fast.numba_kernels(); "
                 "print({n: len(f.signatures) for n, f in vars(k).items() if hasattr(f, 'signatures') and n[0] != '_'})")
        ready = ast.literal_eval(subprocess.run([sys.executable, "-c", count], capture_output=True, text=True,
                                                check=True).stdout)
        loops = {"im2col", "col2im", "wide_windows", "wide_col2im", "products_t", "drop_columns", "spread_columns",
                 "max_pool", "max_pool_backward", "relu", "relu_backward", "sgd"}
        assert set(ready) == loops and all(n >= 2 for n in ready.values()), ready
        assert ready["spread_columns"] >= 4, ready  # float32 and float64, gradients stored channels first or not
    monkeypatch.setattr(fast, "USE_NUMBA", False)
    assert fast.compile_kernels() == {"numba": False}


# ----------------------------------------------------------------------------------------------------------------
# how arrays are stored: the fast ops leave (N, C, H, W) results stored channels first and read any layout
# ----------------------------------------------------------------------------------------------------------------

def _stored(a, layout):
    """``a`` with the same numbers, stored C-contiguous, channels first (C, N, H, W), or as a strided slice."""
    if layout == "channels first":
        return np.ascontiguousarray(a.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    if layout == "strided slice":
        wider = np.zeros((*a.shape[:3], 2 * a.shape[3]), dtype=a.dtype)
        wider[..., ::2] = a
        return wider[..., ::2]
    return np.ascontiguousarray(a)


LAYOUTS = pytest.mark.parametrize("layout", ["C-contiguous", "channels first", "strided slice"])


@LAYOUTS
@DTYPES
def test_every_layout_gives_the_reference_numbers(fast_path, dtype, layout):
    """Inputs and output gradients stored in any order give the reference's numbers, forward and backward:
    a convolution (whole rows and strided), ReLU and max pooling (ties at 0 after the ReLU)."""
    rng = np.random.default_rng(11)
    x = randn(rng, 3, 8, 9, 8, dtype=dtype)
    tol = TOL[dtype]
    for kwargs in (dict(padding=1), dict(stride=2, padding=1), dict(padding=(2, 1), dilation=(2, 1), groups=2)):
        w = randn(rng, 6, 8 // kwargs.get("groups", 1), 3, 3, dtype=dtype)
        b = randn(rng, 6, dtype=dtype)
        out, cache = fast.conv2d(_stored(x, layout), w, b, **kwargs)
        assert_close(out, cn.conv2d(x, w, b, **kwargs), tol=tol)
        grad = _stored(randn(rng, *out.shape, dtype=dtype), layout)
        assert_grads_close(fast.conv2d_backward(grad, cache), cn.conv2d_backward(grad, x, w, b, **kwargs), tol=tol)
    r = fast.relu(_stored(x, layout))
    np.testing.assert_array_equal(r, cn.relu(x))
    grad = _stored(randn(rng, *x.shape, dtype=dtype), layout)
    np.testing.assert_array_equal(fast.relu_backward(grad, r), cn.relu_backward(grad, x))
    pooled, cache = fast.max_pool2d(_stored(r, layout), 2, stride=2, padding=1)
    np.testing.assert_array_equal(pooled, cn.max_pool2d(r, 2, stride=2, padding=1))
    grad = _stored(randn(rng, *pooled.shape, dtype=dtype), layout)
    np.testing.assert_array_equal(fast.max_pool2d_backward(grad, cache),
                                  cn.max_pool2d_backward(grad, r, 2, stride=2, padding=1))


def test_a_convolution_relu_and_pooling_pass_channels_first_without_copies():
    """The point of the layout: a convolution's output is its matrix product's memory, stored channels first
    (no transposing copy), and ReLU and pooling keep that order, forward and backward."""
    rng = np.random.default_rng(12)
    x, w = randn(rng, 4, 3, 8, 8, dtype=np.float32), randn(rng, 6, 3, 3, 3, dtype=np.float32)
    out, conv_cache = fast.conv2d(x, w, padding=1)
    r = fast.relu(out)
    pooled, pool_cache = fast.max_pool2d(r, 2)
    for a in (out, r, pooled):
        assert a.transpose(1, 0, 2, 3).flags.c_contiguous
    grad_r = fast.max_pool2d_backward(np.ones_like(pooled), pool_cache)
    grad_out = fast.relu_backward(grad_r, r)
    assert grad_r.transpose(1, 0, 2, 3).flags.c_contiguous and grad_out.transpose(1, 0, 2, 3).flags.c_contiguous
    grad_x, _, _ = fast.conv2d_backward(grad_out, conv_cache)
    assert_grads_close((grad_x,), (cn.conv2d_backward(grad_out, x, w, padding=1)[0],), tol=TOL[np.float32])
