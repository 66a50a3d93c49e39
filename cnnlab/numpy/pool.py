"""Pooling (池化) and unpooling (反池化), forward and backward, in NumPy.

A pooling layer slides a KH x KW window over every channel and keeps one number per window:
its maximum (``max_pool2d``) or its mean (``avg_pool2d``). The windows come from
``sliding_windows`` as for convolution; the backward passes send each window's gradient back
with ``col2im``: all of it to the window's maximum, or an equal share to every element.
``max_unpool2d`` puts the maxima back where ``max_pool2d(..., return_indices=True)`` found them
and fills the rest with zeros.

Max pooling is a choice and a pick: ``_window_argmax`` finds where every window's maximum is (its flat index
in the input plane; no gradient flows through a choice), ``_max_pool2d`` picks those elements, and its
backward adds each window's gradient at the same index: it needs only the choice, never a second search.

The public ``op`` and ``op_backward`` check their arguments and work out the plan (the windows' geometry);
the private ``_op`` and ``_op_backward`` do the math, one per direction. (``cnnlab.torch`` runs these same
functions on tensors, see ``cnnlab/torch/_mirror.py``.)

Layout NCHW; arguments and results as ``torch.nn.functional``. Shapes: N batch, C channels,
H, W input size, KH, KW kernel size, OH, OW output size, SH, SW stride, PH, PW padding,
DH, DW dilation.
"""

from __future__ import annotations

import numpy as np

# The input checks, shared with cnnlab.torch: pool_geometry (cnnlab/_geometry.py) validates a pooling's
# arguments and returns its windows: kernel, stride, dilation, padding, the padding actually added (ceil_mode
# may need more at the bottom / right) and the output size; check_avg and unpool_geometry check the other
# arguments; check_grad_out checks a backward's incoming gradient.
from .._checks import check_avg, check_grad_out
from .._geometry import pool_geometry, unpool_geometry
from ._arrays import check_arrays
from .windows import (add_along_axis, arange, col2im, pad2d, put_along_axis, sliding_windows, take_along_axis, unpad2d,
                      zeros)

__all__ = ["max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
           "max_unpool2d", "max_unpool2d_backward"]


# ----------------------------------------------------------------------------------------------------------------
# max pooling
# ----------------------------------------------------------------------------------------------------------------

def _window_max(windows, labels):
    """The maximum of every window and the label of the element holding it.

    Args:
        windows: (N, C, KH, KW, OH, OW) from ``sliding_windows``.
        labels: (KH * KW, OH, OW) int64 (or broadcast to it): a label for element k = i * KW + j of window
            (oh, ow). ``_window_argmax`` labels every element with its place in the padded plane.

    Returns:
        out: (N, C, OH, OW) the maxima; label: (N, C, OH, OW) int64, the label of the first maximum (ties keep the
            first element; a NaN wins, the first one, and the maximum is NaN, as np.argmax and torch).

    The clear way is ``k = windows.reshape(N, C, KH * KW, OH, OW).argmax(axis=2)``, then the label of element k;
    an argmax along a middle axis steps through the windows one at a time. Here one copy puts element k of every
    window in a contiguous block, the maximum is one reduction over the blocks, and k is the first block holding
    it, found by KH * KW whole-array comparisons (tests hold the two equal).
    """
    N, C, KH, KW, OH, OW = windows.shape
    elements = np.moveaxis(windows, (2, 3), (0, 1)).reshape(KH * KW, N, C, OH, OW)  # the copy
    out = np.amax(elements, axis=0)  # NaN where a window holds a NaN
    k = np.zeros_like(out, dtype=np.uint8 if KH * KW <= 256 else np.int64)  # small ints: less to write
    for e in range(KH * KW - 1, -1, -1):  # from the last element to the first: the first maximum is written last
        hit = (elements[e] == out) | np.isnan(elements[e])  # element e is the maximum (a NaN is, where there is one)
        k += hit * (e - k)  # k = e where it is (arithmetic: np.where is slow on random masks)
    labels = np.broadcast_to(labels, (KH * KW, OH, OW))
    label = labels[k, arange(OH, like=labels)[:, None], arange(OW, like=labels)]  # labels[k, oh, ow], every window
    return out, np.asarray(label, dtype=np.int64)


def _window_argmax(x, geometry):
    """Where the maximum of every window is: what max_pool2d picks, and where its backward sends the gradient.

    Args:
        x: (N, C, H, W); geometry: (kernel, stride, dilation, padding, pads, (OH, OW)) from ``pool_geometry``.

    Returns:
        picks: (N, C, OH, OW) int64, the flat index hp * Wp + wp of each maximum in the padded (Hp, Wp) plane
            (the first one when several elements tie, as in torch). Without padding it is torch's index.
    """
    kernel, stride, dilation, padding, pads, (OH, OW) = geometry
    N, C, H, W = x.shape
    (SH, SW), (DH, DW), (PH, PW) = stride, dilation, padding
    Wp = pads[2] + W + pads[3]
    _, picks = _window_max(_padded_windows(x, geometry), _window_places(geometry, Wp, x))
    if any(pads):
        # Torch never picks the border: where the maximum is a border element (the window holds only -inf, or
        # only padding, possible with dilation) it takes the window's first element with h >= 0 and w >= 0.
        hp, wp = picks // Wp, picks % Wp  # the maximum's row and column in the padded plane
        on_border = (hp < PH) | (hp >= PH + H) | (wp < PW) | (wp >= PW + W)
        top = (arange(OH, like=x, dtype=np.int64) * SH)[:, None]  # every window's first row and column
        left = arange(OW, like=x, dtype=np.int64) * SW
        first_row = top + np.where(top < PH, -((top - PH) // DH), 0) * DH  # its first row and column inside x
        first_column = left + np.where(left < PW, -((left - PW) // DW), 0) * DW
        picks = np.where(on_border, first_row * Wp + first_column, picks)
    return picks


def _window_places(geometry, Wp, like):
    """Where every element of every window is in the padded plane (Wp columns), on ``like``'s device.

    Returns:
        (KH * KW, OH, OW) int64: the flat index hp * Wp + wp of element k = i * KW + j of window (oh, ow), which
        sits at row hp = oh * SH + i * DH and column wp = ow * SW + j * DW.
    """
    (KH, KW), (SH, SW), (DH, DW), _, _, (OH, OW) = geometry
    rows = (arange(KH, like, np.int64) * DH)[:, None, None, None] + (arange(OH, like, np.int64) * SH)[:, None]
    columns = (arange(KW, like, np.int64) * DW)[:, None, None] + arange(OW, like, np.int64) * SW
    return (rows * Wp + columns).reshape(KH * KW, OH, OW)  # (KH, 1, OH, 1) and (KW, 1, OW) -> (KH, KW, OH, OW)


def _input_indices(picks, x, geometry):
    """torch's indices: the flat index h * W + w in the (H, W) input plane of every pick of the padded plane."""
    pads = geometry[4]
    if not any(pads):
        return picks
    W = x.shape[3]
    Wp = pads[2] + W + pads[3]
    return (picks // Wp - pads[0]) * W + picks % Wp - pads[2]


def _planes(a):
    """(N, C, H, W) as (N, C, H * W): every plane as one row (written out: for an empty batch -1 is ambiguous)."""
    N, C, H, W = a.shape
    return a.reshape(N, C, H * W)


def _padded_windows(x, geometry):
    """(N, C, KH, KW, OH, OW): the windows of max pooling, whose border is -inf (it can never beat an input element)."""
    kernel, stride, dilation, _, pads, out_hw = geometry
    return sliding_windows(pad2d(x, pads, value=-np.inf), kernel, stride, dilation, out_hw)


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
    check_arrays(op, (x, "input"))
    geometry = pool_geometry(op, x, kernel_size, stride, padding, dilation, ceil_mode)
    picks = _window_argmax(x, geometry)  # the choice: where each maximum is (no gradient flows through it)
    out = _max_pool2d(x, picks, geometry)
    return (out, _input_indices(picks, x, geometry)) if return_indices else out


def _max_pool2d(x, picks, geometry):
    """Pick the maximum of every window from the padded input plane, at its flat index: (N, C, OH, OW)."""
    xp = pad2d(x, geometry[4], value=-np.inf)
    picked = take_along_axis(_planes(xp), _planes(picks), axis=2)
    return picked.reshape(picks.shape)


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
    check_arrays(op, (x, "input"), (grad_out, "grad_out"))
    geometry = pool_geometry(op, x, kernel_size, stride, padding, dilation, ceil_mode)
    check_grad_out(op, grad_out, x, (*x.shape[:2], *geometry[-1]))
    return _max_pool2d_backward(grad_out, x, _window_argmax(x, geometry), geometry)


def _max_pool2d_backward(grad_out, x, picks, geometry):
    """The gradient of picking the padded input at ``picks``: each window's gradient goes back to the element it
    picked (an element picked by several overlapping windows collects the sum); the padding's share is dropped."""
    pads = geometry[4]
    N, C, H, W = x.shape
    Hp, Wp = pads[0] + H + pads[1], pads[2] + W + pads[3]
    grad_xp = zeros((N, C, Hp * Wp), like=grad_out)
    add_along_axis(grad_xp, _planes(picks), _planes(grad_out), axis=2)
    return unpad2d(grad_xp.reshape(N, C, Hp, Wp), pads)


# ----------------------------------------------------------------------------------------------------------------
# average pooling
# ----------------------------------------------------------------------------------------------------------------

def _avg_divisor(x, geometry, count_include_pad, divisor_override):
    """(OH, OW) in x's dtype: the number each window's sum is divided by, as in torch.

    With ``count_include_pad`` the padding counts (but not what a ceil_mode window hangs past it),
    without it only the input elements count; ``divisor_override`` (then returned as an int) replaces both.
    """
    kernel, stride, _, padding, _, out_hw = geometry
    if divisor_override is not None:
        return int(divisor_override)  # a Python int keeps x's dtype
    sizes = []
    for size, k, s, p, n in zip(x.shape[2:], kernel, stride, padding, out_hw):
        start = arange(n, like=x) * s - p  # first row (column) of each window, in input coordinates
        end = (start + k).clip(max=size + p)
        if not count_include_pad:
            start, end = start.clip(min=0), end.clip(max=size)
        sizes.append(end - start)
    return sizes[0][:, None] * sizes[1][None, :]


def _window_sum(windows):
    """``windows.sum(axis=(2, 3))``: (N, C, KH, KW, OH, OW) -> (N, C, OH, OW); tests hold the two equal.

    Why: a sum over two middle axes of a strided view steps through it one window element at a time;
    adding up the KH * KW slices (one strided slice per kernel element, as in ``col2im``) is vectorised.
    """
    KH, KW = windows.shape[2:4]
    total = windows[:, :, 0, 0] + 0  # a new array: the sums go into it
    for k in range(1, KH * KW):
        total += windows[:, :, k // KW, k % KW]
    return total


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
    check_arrays(op, (x, "input"))
    check_avg(op, count_include_pad, divisor_override)
    geometry = pool_geometry(op, x, kernel_size, stride, padding, 1, ceil_mode)
    return _avg_pool2d(x, geometry, count_include_pad, divisor_override)


def _avg_pool2d(x, geometry, count_include_pad, divisor_override):
    kernel, stride, _, _, pads, out_hw = geometry
    windows = sliding_windows(pad2d(x, pads), kernel, stride, (1, 1), out_hw)  # (N, C, KH, KW, OH, OW)
    return _window_sum(windows) / _avg_divisor(x, geometry, count_include_pad, divisor_override)


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
    check_arrays(op, (x, "input"), (grad_out, "grad_out"))
    check_avg(op, count_include_pad, divisor_override)
    geometry = pool_geometry(op, x, kernel_size, stride, padding, 1, ceil_mode)
    check_grad_out(op, grad_out, x, (*x.shape[:2], *geometry[-1]))
    return _avg_pool2d_backward(grad_out, x, geometry, count_include_pad, divisor_override)


def _avg_pool2d_backward(grad_out, x, geometry, count_include_pad, divisor_override):
    kernel, stride, _, _, pads, (OH, OW) = geometry
    N, C, H, W = x.shape
    share = grad_out / _avg_divisor(x, geometry, count_include_pad, divisor_override)  # what each element gets
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
    op = "max_unpool2d"
    check_arrays(op, (x, "input"), (indices, "indices"))
    out_hw = unpool_geometry(op, x, indices, kernel_size, stride, padding, output_size)
    return _max_unpool2d(x, indices, out_hw)


def _max_unpool2d(x, indices, out_hw):
    N, C = x.shape[:2]
    out = zeros((N, C, out_hw[0] * out_hw[1]), like=x)
    put_along_axis(out, _planes(indices), _planes(x), axis=2)  # out[n, c, indices[n, c, k]] = x[n, c, k]
    return out.reshape(N, C, *out_hw)


def max_unpool2d_backward(grad_out, x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Gradient of ``max_unpool2d``: each input value reads the gradient at the place it was put.

    Args:
        grad_out: (N, C, H_out, W_out) dLoss/dout.
        x, indices, kernel_size, stride, padding, output_size: as given to ``max_unpool2d``.

    Returns:
        (grad_x, None): (N, C, H, W), and None for ``indices`` (integers have no gradient).
    """
    op = "max_unpool2d_backward"
    check_arrays(op, (x, "input"), (indices, "indices"), (grad_out, "grad_out"))
    out_hw = unpool_geometry(op, x, indices, kernel_size, stride, padding, output_size)
    check_grad_out(op, grad_out, x, (*x.shape[:2], *out_hw))
    return _max_unpool2d_backward(grad_out, x, indices, out_hw)


def _max_unpool2d_backward(grad_out, x, indices, out_hw):
    grad_x = take_along_axis(_planes(grad_out), _planes(indices), axis=2)
    return grad_x.reshape(x.shape), None
