"""Pooling (池化) and unpooling (反池化), forward and backward, on torch tensors.

The torch twin of ``cnnlab/numpy/pool.py``. A pooling layer slides a KH x KW window over every
channel and keeps one number per window: its maximum (``max_pool2d``) or its mean (``avg_pool2d``).
The windows come from ``sliding_windows`` as for convolution; the backward passes send each
window's gradient back with ``col2im``: all of it to the window's maximum, or an equal share to
every element. ``max_unpool2d`` puts the maxima back where ``max_pool2d(..., return_indices=True)``
found them and fills the rest with zeros.

What torch adds: each op is a ``torch.autograd.Function`` whose backward is the hand-written math
below (``_MaxPool2d`` keeps where every maximum is from its forward, so its backward does
not search again). The argument checks are shared with the NumPy backend (``cnnlab/_geometry.py``,
``cnnlab/_checks.py``), so the errors are the same.

Layout NCHW; arguments and results as ``torch.nn.functional``. Shapes: N batch, C channels,
H, W input size, KH, KW kernel size, OH, OW output size, SH, SW stride, PH, PW padding,
DH, DW dilation.
"""

from __future__ import annotations

import torch

from .._checks import check_avg, check_grad_out
from .._geometry import pool_geometry, unpool_geometry
from ._device import check_tensors
from .windows import col2im, pad2d, sliding_windows, unpad2d

__all__ = ["max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
           "max_unpool2d", "max_unpool2d_backward"]


# ----------------------------------------------------------------------------------------------------------------
# max pooling
# ----------------------------------------------------------------------------------------------------------------

def _window_argmax(x, geometry):
    """The maximum of every window and where it is; shared by max_pool2d and its backward.

    Args:
        x: (N, C, H, W); geometry: (kernel, stride, dilation, padding, pads, (OH, OW)) from ``pool_geometry``.

    Returns:
        out: (N, C, OH, OW) the maxima.
        i, j: (N, C, OH, OW) int64, the row and column of each maximum inside its window
            (the first one when several elements tie, as in torch).
        h, w: (N, C, OH, OW) int64, its row and column in the input: h = oh * SH - PH + i * DH.
    """
    kernel, stride, dilation, padding, pads, (OH, OW) = geometry
    N, C, H, W = x.shape
    (KH, KW), (SH, SW), (DH, DW), (PH, PW) = kernel, stride, dilation, padding
    xp = pad2d(x, pads, value=-torch.inf)  # the border can never beat an input element
    windows = sliding_windows(xp, kernel, stride, dilation, (OH, OW))  # (N, C, KH, KW, OH, OW)
    windows = windows.reshape(N, C, KH * KW, OH, OW)  # the KH * KW elements of each window along axis 2
    arg = windows.argmax(dim=2)  # (N, C, OH, OW); NaN counts as the maximum, as in torch
    out = torch.take_along_dim(windows, arg[:, :, None], dim=2)[:, :, 0]
    i, j = arg // KW, arg % KW
    top = (torch.arange(OH, device=x.device) * SH - PH)[:, None]  # (OH, 1) first row of each window, in input coordinates
    left = (torch.arange(OW, device=x.device) * SW - PW)[None, :]  # (1, OW) first column
    h, w = top + i * DH, left + j * DW
    # Torch never picks the border: where the maximum is a border element (the window holds only -inf, or
    # only padding, possible with dilation) it takes the window's first element with h >= 0 and w >= 0.
    on_border = (h < 0) | (h >= H) | (w < 0) | (w >= W)
    if on_border.any():
        i = torch.where(on_border, torch.clamp(-torch.div(top, DH, rounding_mode="floor"), min=0), i)
        j = torch.where(on_border, torch.clamp(-torch.div(left, DW, rounding_mode="floor"), min=0), j)
        h, w = top + i * DH, left + j * DW
    return out, i, j, h, w


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
    op = "max_pool2d"
    check_tensors(op, (x, "input"))
    geometry = pool_geometry(op, x, kernel_size, stride, padding, dilation, ceil_mode)
    out, indices = _MaxPool2d.apply(x, geometry)
    return (out, indices) if return_indices else out


def max_pool2d_backward(grad_out, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                        return_indices=False):
    """Gradient of ``max_pool2d``: each window's gradient goes to its maximum, the other elements get 0.

    Args:
        grad_out: (N, C, OH, OW) dLoss/dout (of ``out``; the indices have no gradient).
        x, kernel_size, stride, padding, dilation, ceil_mode: as given to ``max_pool2d``;
            ``return_indices`` is accepted and ignored, so the same keyword arguments fit both.

    Returns:
        grad_x: (N, C, H, W) (one input, so one tensor, not a tuple); an element that is the maximum of
            several overlapping windows collects the gradient of each.
    """
    op = "max_pool2d_backward"
    check_tensors(op, (x, "input"), (grad_out, "grad_out"))
    geometry = pool_geometry(op, x, kernel_size, stride, padding, dilation, ceil_mode)
    N, C = x.shape[:2]
    check_grad_out(op, grad_out, x, (N, C, *geometry[-1]))
    _, i, j, _, _ = _window_argmax(x, geometry)
    return _max_pool2d_backward(grad_out, i, j, x.shape, geometry)


def _max_pool2d_backward(grad_out, i, j, x_shape, geometry):
    """The backward from where each maximum is in its window (row i, column j), as the forward found it."""
    kernel, stride, dilation, _, pads, (OH, OW) = geometry
    N, C, H, W = x_shape
    KH, KW = kernel
    positions = torch.arange(KH * KW, device=i.device)[:, None, None]
    is_max = (i * KW + j)[:, :, None] == positions  # (N, C, KH*KW, OH, OW) one-hot
    cols = (is_max * grad_out[:, :, None]).reshape(N, C, KH, KW, OH, OW)
    grad_xp = col2im(cols, (pads[0] + H + pads[1], pads[2] + W + pads[3]), stride, dilation)
    return unpad2d(grad_xp, pads)


class _MaxPool2d(torch.autograd.Function):
    """max_pool2d as an autograd node; it keeps where every maximum is for its backward (no second search)."""

    @staticmethod
    def forward(ctx, x, geometry):
        out, i, j, h, w = _window_argmax(x, geometry)
        indices = h * x.shape[3] + w  # flat index into the (H, W) plane
        ctx.save_for_backward(i, j)
        ctx.x_shape, ctx.geometry = x.shape, geometry
        ctx.mark_non_differentiable(indices)
        return out, indices

    @staticmethod
    def backward(ctx, grad_out, grad_indices):
        i, j = ctx.saved_tensors
        return _max_pool2d_backward(grad_out, i, j, ctx.x_shape, ctx.geometry), None


# ----------------------------------------------------------------------------------------------------------------
# average pooling
# ----------------------------------------------------------------------------------------------------------------

def _avg_divisor(in_hw, kernel, stride, padding, out_hw, count_include_pad, divisor_override, like):
    """(OH, OW): the number each window's sum is divided by, as in torch (dtype and device of ``like``).

    With ``count_include_pad`` the padding counts (but not what a ceil_mode window hangs past it),
    without it only the input elements count; ``divisor_override`` replaces both.
    """
    if divisor_override is not None:
        return torch.full(out_hw, divisor_override, dtype=like.dtype, device=like.device)
    sizes = []
    for size, k, s, p, n in zip(in_hw, kernel, stride, padding, out_hw):
        start = torch.arange(n, device=like.device) * s - p  # first row (column) of each window, in input coordinates
        end = torch.clamp(start + k, max=size + p)
        if not count_include_pad:
            start, end = torch.clamp(start, min=0), torch.clamp(end, max=size)
        sizes.append(end - start)
    return torch.outer(sizes[0], sizes[1]).to(like.dtype)


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
    check_tensors(op, (x, "input"))
    check_avg(op, count_include_pad, divisor_override)
    geometry = pool_geometry(op, x, kernel_size, stride, padding, 1, ceil_mode)
    return _AvgPool2d.apply(x, geometry, count_include_pad, divisor_override)


def _avg_pool2d(x, geometry, count_include_pad, divisor_override):
    kernel, stride, _, padding, pads, out_hw = geometry
    xp = pad2d(x, pads)
    windows = sliding_windows(xp, kernel, stride, (1, 1), out_hw)  # (N, C, KH, KW, OH, OW)
    divisor = _avg_divisor(x.shape[2:], kernel, stride, padding, out_hw, count_include_pad, divisor_override, x)
    return windows.sum(dim=(2, 3)) / divisor


def avg_pool2d_backward(grad_out, x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                        divisor_override=None):
    """Gradient of ``avg_pool2d``: every element of a window gets the window's gradient / divisor.

    Args:
        grad_out: (N, C, OH, OW) dLoss/dout.
        x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override: as given to ``avg_pool2d``.

    Returns:
        grad_x: (N, C, H, W) (one input, so one tensor, not a tuple); overlapping windows add up.
    """
    op = "avg_pool2d_backward"
    check_tensors(op, (x, "input"), (grad_out, "grad_out"))
    check_avg(op, count_include_pad, divisor_override)
    geometry = pool_geometry(op, x, kernel_size, stride, padding, 1, ceil_mode)
    N, C = x.shape[:2]
    check_grad_out(op, grad_out, x, (N, C, *geometry[-1]))
    return _avg_pool2d_backward(grad_out, x, geometry, count_include_pad, divisor_override)


def _avg_pool2d_backward(grad_out, x, geometry, count_include_pad, divisor_override):
    kernel, stride, _, padding, pads, (OH, OW) = geometry
    N, C, H, W = x.shape
    divisor = _avg_divisor((H, W), kernel, stride, padding, (OH, OW), count_include_pad, divisor_override, x)
    share = grad_out / divisor  # (N, C, OH, OW): what each element of a window gets
    cols = share[:, :, None, None].expand(N, C, *kernel, OH, OW)  # the same share for all KH * KW
    grad_xp = col2im(cols, (pads[0] + H + pads[1], pads[2] + W + pads[3]), stride, (1, 1))
    return unpad2d(grad_xp, pads)


class _AvgPool2d(torch.autograd.Function):
    """avg_pool2d as an autograd node; backward is ``_avg_pool2d_backward`` (hand-written)."""

    @staticmethod
    def forward(ctx, x, geometry, count_include_pad, divisor_override):
        ctx.save_for_backward(x)
        ctx.hyper = geometry, count_include_pad, divisor_override
        return _avg_pool2d(x, geometry, count_include_pad, divisor_override)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return _avg_pool2d_backward(grad_out, x, *ctx.hyper), None, None, None


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
    op = "max_unpool2d"
    check_tensors(op, (x, "input"), (indices, "indices"))
    out_hw = unpool_geometry(op, x, indices, kernel_size, stride, padding, output_size)
    return _MaxUnpool2d.apply(x, indices, out_hw)


def _max_unpool2d(x, indices, out_hw):
    N, C = x.shape[:2]
    H_out, W_out = out_hw
    out = x.new_zeros((N, C, H_out * W_out))
    out.scatter_(2, indices.reshape(N, C, -1).long(), x.reshape(N, C, -1))  # out[n, c, indices[n, c, k]] = x[n, c, k]
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
    check_tensors(op, (x, "input"), (indices, "indices"), (grad_out, "grad_out"))
    H_out, W_out = unpool_geometry(op, x, indices, kernel_size, stride, padding, output_size)
    N, C = x.shape[:2]
    check_grad_out(op, grad_out, x, (N, C, H_out, W_out))
    return _max_unpool2d_backward(grad_out, x.shape, indices), None


def _max_unpool2d_backward(grad_out, x_shape, indices):
    N, C = x_shape[:2]
    grad_x = torch.gather(grad_out.reshape(N, C, -1), 2, indices.reshape(N, C, -1).long())
    return grad_x.reshape(x_shape)


class _MaxUnpool2d(torch.autograd.Function):
    """max_unpool2d as an autograd node; backward is ``_max_unpool2d_backward`` (hand-written)."""

    @staticmethod
    def forward(ctx, x, indices, out_hw):
        ctx.save_for_backward(indices)
        ctx.x_shape = x.shape
        return _max_unpool2d(x, indices, out_hw)

    @staticmethod
    def backward(ctx, grad_out):
        (indices,) = ctx.saved_tensors
        return _max_unpool2d_backward(grad_out.contiguous(), ctx.x_shape, indices), None, None
