"""The primitive layer under conv and pooling (``windows.py``), on every backend, against torch as the oracle.

``sliding_windows`` must read what ``torch.nn.functional.unfold`` reads, ``col2im`` must add back what
``torch.nn.functional.fold`` adds, ``pad2d`` / ``unpad2d`` must be ``F.pad`` and its inverse, and ``zeros``
must keep the dtype (and on torch the device) of the array it is like: the ops of both backends are built
on these, the NumPy ones with NumPy's spelling and the torch ones with torch's.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from .oracle import F, assert_close, randn, torch

# (N, C, Hp, Wp), kernel_size, stride, dilation: square and rectangular, with strides, holes and windows that
# leave the last rows / columns unread.
CASES = [
    ((2, 3, 5, 5), (3, 3), (1, 1), (1, 1)),
    ((1, 2, 7, 6), (2, 3), (2, 1), (1, 2)),
    ((2, 1, 8, 9), (3, 2), (3, 2), (2, 3)),
    ((1, 2, 4, 4), (1, 1), (2, 2), (1, 1)),
]


def windows_of(backend):
    """The backend's primitive layer: ``cnnlab.numpy.windows`` or ``cnnlab.torch.windows``."""
    return importlib.import_module(backend.ops.__name__ + ".windows")


def out_hw(shape, kernel_size, stride, dilation):
    return tuple((size - d * (k - 1) - 1) // s + 1 for size, k, s, d in zip(shape[2:], kernel_size, stride, dilation))


@pytest.mark.parametrize("shape, kernel_size, stride, dilation", CASES)
def test_sliding_windows_reads_what_unfold_reads(backend, shape, kernel_size, stride, dilation):
    x = randn(0, *shape)
    hw = out_hw(shape, kernel_size, stride, dilation)
    windows = windows_of(backend).sliding_windows(backend.tensor(x), kernel_size, stride, dilation, hw)
    windows = backend.numpy(windows)
    assert windows.shape == shape[:2] + kernel_size + hw
    expected = F.unfold(torch.tensor(x), kernel_size, dilation=dilation, stride=stride)
    assert_close(windows.reshape(expected.shape), expected.numpy(), tol=0)


@pytest.mark.parametrize("shape, kernel_size, stride, dilation", CASES)
def test_col2im_adds_back_what_fold_adds(backend, shape, kernel_size, stride, dilation):
    hw = out_hw(shape, kernel_size, stride, dilation)
    cols = randn(1, *shape[:2], *kernel_size, *hw)
    xp = backend.numpy(windows_of(backend).col2im(backend.tensor(cols), shape[2:], stride, dilation))
    expected = F.fold(torch.tensor(cols.reshape(shape[0], -1, hw[0] * hw[1])), shape[2:], kernel_size,
                      dilation=dilation, stride=stride)
    assert xp.dtype == cols.dtype
    assert_close(xp, expected.numpy())


def test_sliding_windows_refuses_windows_that_do_not_fit(backend):
    """NumPy's as_strided would read memory outside the array: the size is checked first, on both backends."""
    x = backend.tensor(randn(2, 1, 1, 5, 5))
    with pytest.raises(ValueError, match=r"sliding_windows: \(4, 3\) windows of size \(3, 3\) \(stride \(1, 1\), "
                                         r"dilation \(1, 1\)\) do not fit in a padded input of size \(5, 5\)"):
        windows_of(backend).sliding_windows(x, (3, 3), (1, 1), (1, 1), (4, 3))


@pytest.mark.parametrize("pads, value", [((1, 2, 0, 3), 0.0), ((0, 0, 0, 0), 0.0), ((2, 1, 1, 0), -np.inf)])
def test_pad2d_is_torch_pad_and_unpad2d_undoes_it(backend, pads, value):
    window_ops = windows_of(backend)
    x = randn(3, 2, 3, 4, 5)
    xp = window_ops.pad2d(backend.tensor(x), pads, value)
    top, bottom, left, right = pads
    expected = F.pad(torch.tensor(x), (left, right, top, bottom), value=value).numpy()
    np.testing.assert_array_equal(backend.numpy(xp), expected)
    np.testing.assert_array_equal(backend.numpy(window_ops.unpad2d(xp, pads)), x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zeros_is_like_its_model(backend, dtype):
    like = backend.tensor(np.ones((2, 3), dtype=dtype))
    z = windows_of(backend).zeros((4, 1, 2), like=like)
    assert getattr(z, "device", None) == getattr(like, "device", None)
    np.testing.assert_array_equal(backend.numpy(z), np.zeros((4, 1, 2), dtype=dtype))
    assert backend.numpy(z).dtype == dtype
