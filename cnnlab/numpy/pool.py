"""Pooling (池化) and unpooling (反池化), forward and backward, in NumPy.

A pooling layer slides a KH x KW window over every channel and keeps one number per window:
its maximum (``max_pool2d``) or its mean (``avg_pool2d``). The windows come from
``sliding_windows`` as for convolution; the backward passes send each window's gradient back
with ``col2im``: all of it to the window's maximum, or an equal share to every element.
``max_unpool2d`` puts the maxima back where ``max_pool2d(..., return_indices=True)`` found them
and fills the rest with zeros.

Layout NCHW; arguments and results as ``torch.nn.functional``. Shapes: N batch, C channels,
H, W input size, KH, KW kernel size, OH, OW output size, SH, SW stride, PH, PW padding,
DH, DW dilation.
"""

from __future__ import annotations

import numpy as np

# The input checks, shared with cnnlab.torch: pool_geometry (cnnlab/_geometry.py) validates a pooling's
# arguments and returns its windows: kernel, stride, dilation, padding, the padding actually added (ceil_mode
# may need more at the bottom / right) and the output size; check_avg and unpool_geometry (cnnlab/_checks.py)
# check the other arguments; check_grad_out checks a backward's incoming gradient.
from .._checks import check_avg, check_grad_out
from .._geometry import pool_geometry, unpool_geometry
from .windows import col2im, pad2d, sliding_windows, unpad2d

__all__ = ["max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
           "max_unpool2d", "max_unpool2d_backward"]


# ----------------------------------------------------------------------------------------------------------------
# max pooling
# ----------------------------------------------------------------------------------------------------------------

def _window_max(windows):
    """The maximum of every window and its place k = i * KW + j in the window, the clear way.

    Args:
        windows: (N, C, KH, KW, OH, OW) from ``sliding_windows``.

    Returns:
        out: (N, C, OH, OW) the maxima; arg: (N, C, OH, OW) int, the first maximum's k (a NaN wins: its value
            is NaN, as in torch).
    """
    N, C, KH, KW, OH, OW = windows.shape
    windows = windows.reshape(N, C, KH * KW, OH, OW)  # the KH * KW elements of each window along axis 2
    arg = windows.argmax(axis=2)  # (N, C, OH, OW)
    out = np.take_along_axis(windows, arg[:, :, None], axis=2)[:, :, 0]
    return out, arg


def _window_max_fast(windows):
    """``_window_max`` (same arguments, same results; tests hold them equal), as a running maximum.

    Why: argmax along a middle axis copies the windows and then loops over them one by one; here one copy puts
    element k of every window in a contiguous block and KH * KW - 1 whole-array comparisons do the rest.
    """
    N, C, KH, KW, OH, OW = windows.shape
    elements = np.ascontiguousarray(windows.transpose(2, 3, 0, 1, 4, 5)).reshape(KH * KW, N, C, OH, OW)
    out, arg = elements[0], np.zeros((N, C, OH, OW), dtype=np.min_scalar_type(KH * KW))  # small ints: less to write
    for k in range(1, KH * KW):
        # element k wins if it is larger, or if it is the first NaN (np.argmax's rule); ties keep the first
        wins = (elements[k] > out) | (np.isnan(elements[k]) & ~np.isnan(out))
        arg += wins * (k - arg)  # arg = k where element k wins (arithmetic: np.where is slow on random masks)
        out = np.maximum(out, elements[k])  # the value of the winner (NaN if any; a tie of 0 and -0 may give -0)
    return out, arg.astype(np.intp)


def _window_argmax(op, x, kernel_size, stride, padding, dilation, ceil_mode):
    """The maximum of every window and where it is; shared by max_pool2d and its backward.

    Returns:
        out: (N, C, OH, OW) the maxima.
        i, j: (N, C, OH, OW) int, the row and column of each maximum inside its window
            (the first one when several elements tie, as in torch).
        h, w: (N, C, OH, OW) int, its row and column in the input: h = oh * SH - PH + i * DH.
        geometry: (kernel, stride, dilation, padding, pads, (OH, OW)) from ``pool_geometry``.
    """
    geometry = kernel, stride, dilation, padding, pads, (OH, OW) = pool_geometry(
        op, x, kernel_size, stride, padding, dilation, ceil_mode)
    N, C, H, W = x.shape
    (KH, KW), (SH, SW), (DH, DW), (PH, PW) = kernel, stride, dilation, padding
    xp = pad2d(x, pads, value=-np.inf)  # the border can never beat an input element
    windows = sliding_windows(xp, kernel, stride, dilation, (OH, OW))  # (N, C, KH, KW, OH, OW)
    out, arg = _window_max_fast(windows)  # the same numbers as _window_max, about 5x faster
    i, j = np.divmod(arg, KW)
    top = (np.arange(OH) * SH - PH)[:, None]  # (OH, 1) first row of each window, in input coordinates
    left = (np.arange(OW) * SW - PW)[None, :]  # (1, OW) first column
    h, w = top + i * DH, left + j * DW
    # Torch never picks the border: where the maximum is a border element (the window holds only -inf, or
    # only padding, possible with dilation) it takes the window's first element with h >= 0 and w >= 0.
    on_border = (h < 0) | (h >= H) | (w < 0) | (w >= W)
    if on_border.any():
        i = np.where(on_border, np.maximum(0, -(top // DH)), i)
        j = np.where(on_border, np.maximum(0, -(left // DW)), j)
        h, w = top + i * DH, left + j * DW
    return out, i, j, h, w, geometry


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max pooling: the largest element of every window.

    Args:
        x: (N, C, H, W)
        kernel_size: int or pair; stride: int or pair, default ``kernel_size`` (windows side by side);
        padding: int or pair, at most half the kernel size (the border counts as -inf and is never picked);
        dilation: int or pair, the step between the elements of one window;
        ceil_mode: round the number of windows up (a last, partial window) instead of down.
        return_indices: also return where each maximum came from.

    Returns:
        out: (N, C, OH, OW), OH = (H + 2 * PH - DH * (KH - 1) - 1) // SH + 1 (rounded up with ceil_mode).
        indices (only with ``return_indices``): (N, C, OH, OW) int64, the flat index h * W + w of each
            maximum in its (H, W) input plane, as in torch; ``max_unpool2d`` takes it.
    """
    out, _, _, h, w, _ = _window_argmax("max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode)
    if not return_indices:
        return out
    return out, (h * x.shape[3] + w).astype(np.int64)  # flat index into the (H, W) plane


def max_pool2d_backward(grad_out, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                        return_indices=False):
    """Gradient of ``max_pool2d``: each window's gradient goes to its maximum, the other elements get 0.

    Args:
        grad_out: (N, C, OH, OW) dLoss/dout (of ``out``; the indices have no gradient).
        x, kernel_size, stride, padding, dilation, ceil_mode: as given to ``max_pool2d``;
            ``return_indices`` is accepted and ignored, so the same keyword arguments fit both.

    Returns:
        grad_x: (N, C, H, W) (one input, so one array, not a tuple); an element that is the maximum of
            several overlapping windows collects the gradient of each.
    """
    op = "max_pool2d_backward"
    _, i, j, _, _, (kernel, stride, dilation, _, pads, (OH, OW)) = _window_argmax(
        op, x, kernel_size, stride, padding, dilation, ceil_mode)
    N, C, H, W = x.shape
    KH, KW = kernel
    check_grad_out(op, grad_out, x, (N, C, OH, OW))
    is_max = (i * KW + j)[:, :, None] == np.arange(KH * KW)[:, None, None]  # (N, C, KH*KW, OH, OW) one-hot
    cols = (is_max * grad_out[:, :, None]).reshape(N, C, KH, KW, OH, OW)
    grad_xp = col2im(cols, (pads[0] + H + pads[1], pads[2] + W + pads[3]), stride, dilation)
    return unpad2d(grad_xp, pads)


# ----------------------------------------------------------------------------------------------------------------
# average pooling
# ----------------------------------------------------------------------------------------------------------------

def _avg_divisor(in_hw, kernel, stride, padding, out_hw, count_include_pad, divisor_override, dtype):
    """(OH, OW): the number each window's sum is divided by, as in torch.

    With ``count_include_pad`` the padding counts (but not what a ceil_mode window hangs past it),
    without it only the input elements count; ``divisor_override`` replaces both.
    """
    if divisor_override is not None:
        return np.full(out_hw, divisor_override, dtype=dtype)
    sizes = []
    for size, k, s, p, n in zip(in_hw, kernel, stride, padding, out_hw):
        start = np.arange(n) * s - p  # first row (column) of each window, in input coordinates
        end = np.minimum(start + k, size + p)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, size)
        sizes.append(end - start)
    return np.multiply.outer(sizes[0], sizes[1]).astype(dtype)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Average pooling: the mean of every window.

    Args:
        x: (N, C, H, W)
        kernel_size, stride (default ``kernel_size``), padding (at most half the kernel), ceil_mode:
            as in ``max_pool2d`` (no dilation, as in torch); the border counts as 0.
        count_include_pad: divide by the whole window (True, torch's default) or only by its input elements.
        divisor_override: divide every sum by this number instead.

    Returns:
        out: (N, C, OH, OW), OH = (H + 2 * PH - KH) // SH + 1 (rounded up with ceil_mode).
    """
    op = "avg_pool2d"
    check_avg(op, count_include_pad, divisor_override)
    kernel, stride, _, padding, pads, out_hw = pool_geometry(op, x, kernel_size, stride, padding, 1, ceil_mode)
    xp = pad2d(x, pads)
    windows = sliding_windows(xp, kernel, stride, (1, 1), out_hw)  # (N, C, KH, KW, OH, OW)
    divisor = _avg_divisor(x.shape[2:], kernel, stride, padding, out_hw, count_include_pad, divisor_override,
                           x.dtype)
    return _window_sum_fast(windows) / divisor  # = windows.sum(axis=(2, 3)), about 8x faster


def _window_sum_fast(windows):
    """``windows.sum(axis=(2, 3))``: (N, C, KH, KW, OH, OW) -> (N, C, OH, OW); tests hold the two equal.

    Why: np.sum over two middle axes of a strided view steps through it one window element at a time;
    adding up the KH * KW slices (one strided slice per kernel element, as in ``col2im``) is vectorised.
    """
    KH, KW = windows.shape[2:4]
    total = windows[:, :, 0, 0].copy()
    for k in range(1, KH * KW):
        total += windows[:, :, k // KW, k % KW]
    return total


def avg_pool2d_backward(grad_out, x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                        divisor_override=None):
    """Gradient of ``avg_pool2d``: every element of a window gets the window's gradient / divisor.

    Args:
        grad_out: (N, C, OH, OW) dLoss/dout.
        x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override: as given to ``avg_pool2d``.

    Returns:
        grad_x: (N, C, H, W) (one input, so one array, not a tuple); overlapping windows add up.
    """
    op = "avg_pool2d_backward"
    check_avg(op, count_include_pad, divisor_override)
    kernel, stride, _, padding, pads, (OH, OW) = pool_geometry(op, x, kernel_size, stride, padding, 1, ceil_mode)
    N, C, H, W = x.shape
    check_grad_out(op, grad_out, x, (N, C, OH, OW))
    divisor = _avg_divisor((H, W), kernel, stride, padding, (OH, OW), count_include_pad, divisor_override, x.dtype)
    share = grad_out / divisor  # (N, C, OH, OW): what each element of a window gets
    cols = np.broadcast_to(share[:, :, None, None], (N, C, *kernel, OH, OW))  # the same share for all KH * KW
    grad_xp = col2im(cols, (pads[0] + H + pads[1], pads[2] + W + pads[3]), stride, (1, 1))
    return unpad2d(grad_xp, pads)


# ----------------------------------------------------------------------------------------------------------------
# max unpooling (反池化)
# ----------------------------------------------------------------------------------------------------------------

def max_unpool2d(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Max unpooling: every value goes back to where ``max_pool2d`` found it; everything else is 0.

    Args:
        x: (N, C, H, W) e.g. the output of ``max_pool2d``.
        indices: (N, C, H, W) int, flat indices h * W_out + w into the output plane
            (the ``indices`` of ``max_pool2d(..., return_indices=True)``).
        kernel_size, stride (default ``kernel_size``), padding: those of the pooling being undone.
        output_size: (H_out, W_out) or (N, C, H_out, W_out) when the default (H - 1) * SH - 2 * PH + KH
            is not the size before the pooling (within a stride of it).

    Returns:
        out: (N, C, H_out, W_out)
    """
    H_out, W_out = unpool_geometry("max_unpool2d", x, indices, kernel_size, stride, padding, output_size)
    N, C = x.shape[:2]
    out = np.zeros((N, C, H_out * W_out), dtype=x.dtype)
    np.put_along_axis(out, indices.reshape(N, C, -1), x.reshape(N, C, -1), axis=2)
    return out.reshape(N, C, H_out, W_out)


def max_unpool2d_backward(grad_out, x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Gradient of ``max_unpool2d``: each input value reads the gradient at the place it was put.

    Args:
        grad_out: (N, C, H_out, W_out) dLoss/dout.
        x, indices, kernel_size, stride, padding, output_size: as given to ``max_unpool2d``.

    Returns:
        (grad_x, None): (N, C, H, W), and None for ``indices`` (integers have no gradient).
    """
    op = "max_unpool2d_backward"
    H_out, W_out = unpool_geometry(op, x, indices, kernel_size, stride, padding, output_size)
    N, C = x.shape[:2]
    check_grad_out(op, grad_out, x, (N, C, H_out, W_out))
    grad_x = np.take_along_axis(grad_out.reshape(N, C, -1), indices.reshape(N, C, -1), axis=2)
    return grad_x.reshape(x.shape), None
