"""Sliding windows: the one idea behind convolution, transposed convolution and pooling.

Every op of ``conv.py`` and ``pool.py`` looks at its input through windows of ``KH x KW``
elements that slide with a stride, possibly with holes between the elements (dilation):

    window (oh, ow), element (i, j)  =  xp[oh * SH + i * DH,  ow * SW + j * DW]

where ``xp`` is the padded input. Two functions do all the work:

- ``sliding_windows`` (a.k.a. im2col) *reads* every window at once, as a view of shape
  ``(N, C, KH, KW, OH, OW)``: no copy, no Python loop over positions.
- ``col2im`` is its adjoint: it *writes* a value for every (window, element) back onto the
  padded input, adding up where windows overlap. Every backward pass ends with it.

``pad2d`` and ``unpad2d`` put the padding on and take it off again; ``zeros`` makes a new array of
zeros like a given one.

These are the primitives whose spelling differs between NumPy and torch: ``cnnlab/torch/windows.py``
writes ``pad2d``, ``sliding_windows``, ``zeros`` and the index primitives of pooling (``arange``, gathers
and scatters along an axis) its own way and runs ``unpad2d`` and ``col2im`` as they are here (see
``cnnlab/torch/_mirror.py``).
"""

from __future__ import annotations

import numpy as np


def zeros(shape, like):
    """An array of zeros of ``shape``, of ``like``'s dtype (on torch: also on its device)."""
    return np.zeros(shape, dtype=like.dtype)


def pad2d(x, pads, value=0.0):
    """Pad the two spatial axes of ``x``.

    Args:
        x: (N, C, H, W)
        pads: (top, bottom, left, right), each an int >= 0.
        value: the constant written into the border (0 for convolution, -inf for max pooling).

    Returns:
        xp: (N, C, top + H + bottom, left + W + right); ``x`` itself when every pad is 0.
    """
    top, bottom, left, right = pads
    if top == bottom == left == right == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=value)


def unpad2d(xp, pads):
    """Undo ``pad2d``: (N, C, top + H + bottom, left + W + right) -> (N, C, H, W) (a view)."""
    top, bottom, left, right = pads
    Hp, Wp = xp.shape[2:]
    return xp[:, :, top:Hp - bottom, left:Wp - right]


def sliding_windows(xp, kernel_size, stride, dilation, out_hw):
    """All windows of a padded input, as a read-only strided view (im2col without the copy).

    Args:
        xp: (N, C, Hp, Wp) the input, already padded.
        kernel_size, stride, dilation: pairs (KH, KW), (SH, SW), (DH, DW).
        out_hw: (OH, OW) the number of window positions along each axis
            (see ``cnnlab._geometry.out_size``); the windows must fit inside ``xp``.

    Returns:
        windows: (N, C, KH, KW, OH, OW) with ``windows[n, c, i, j, oh, ow] ==
        xp[n, c, oh * SH + i * DH, ow * SW + j * DW]``. It shares memory with ``xp``: reshaping it
        (e.g. to ``(N, C * KH * KW, OH * OW)``, torch's ``unfold`` layout) makes the im2col copy.
    """
    (KH, KW), (SH, SW), (DH, DW), (OH, OW) = kernel_size, stride, dilation, out_hw
    N, C, Hp, Wp = xp.shape
    if (OH - 1) * SH + (KH - 1) * DH >= Hp or (OW - 1) * SW + (KW - 1) * DW >= Wp:
        # as_strided does not check bounds: a wrong out_hw would read foreign memory.
        raise ValueError(f"sliding_windows: {out_hw} windows of size {kernel_size} (stride {stride}, "
                         f"dilation {dilation}) do not fit in a padded input of size {(Hp, Wp)}")
    sN, sC, sH, sW = xp.strides  # bytes to step one element along each axis
    return np.lib.stride_tricks.as_strided(xp, shape=(N, C, KH, KW, OH, OW),
                                           strides=(sN, sC, DH * sH, DW * sW, SH * sH, SW * sW), writeable=False)


def col2im(cols, padded_hw, stride, dilation):
    """The adjoint of ``sliding_windows``: add every window element back where it came from.

    Args:
        cols: (N, C, KH, KW, OH, OW) one value per window position and kernel element,
            e.g. the gradient of the loss with respect to ``sliding_windows(xp, ...)``.
        padded_hw: (Hp, Wp) the size of the padded input the windows were read from.
        stride, dilation: pairs (SH, SW), (DH, DW).

    Returns:
        xp: (N, C, Hp, Wp) with ``xp[n, c, h, w] = sum of cols[n, c, i, j, oh, ow]`` over every
        (i, j, oh, ow) whose window element sits at (h, w). Overlapping windows add up.

    One strided slice per kernel element: KH * KW vectorised additions, no scatter.
    """
    N, C, KH, KW, OH, OW = cols.shape
    (Hp, Wp), (SH, SW), (DH, DW) = padded_hw, stride, dilation
    xp = zeros((N, C, Hp, Wp), like=cols)
    for i in range(KH):
        for j in range(KW):
            # kernel element (i, j) of window (oh, ow) sits at (oh * SH + i * DH, ow * SW + j * DW)
            xp[:, :, i * DH:i * DH + (OH - 1) * SH + 1:SH, j * DW:j * DW + (OW - 1) * SW + 1:SW] += cols[:, :, i, j]
    return xp


# --- primitives of pool.py: index arrays and gathers / scatters along an axis -----------------------------------

def arange(n, like, dtype=None):
    """``0, 1, ..., n - 1`` as an array of ``dtype``, by default ``like``'s (on torch: also on its device)."""
    return np.arange(n, dtype=like.dtype if dtype is None else dtype)


def take_along_axis(a, indices, axis):
    """``np.take_along_axis``: ``out[..., k, ...] = a[..., indices[..., k, ...], ...]`` along ``axis``."""
    return np.take_along_axis(a, indices, axis=axis)


def put_along_axis(a, indices, values, axis):
    """``np.put_along_axis``, in place: ``a[..., indices[..., k, ...], ...] = values[..., k, ...]`` along ``axis``."""
    np.put_along_axis(a, indices, values, axis=axis)


def add_along_axis(a, indices, values, axis):
    """``put_along_axis`` that adds, in place: ``a[..., indices[..., k, ...], ...] += values[..., k, ...]`` along
    ``axis``; where several k share an index, all their values add up (``np.add.at``, the unbuffered ``+=``)."""
    index = list(np.ix_(*(np.arange(n) for n in indices.shape)))  # every other axis: its own position
    index[axis] = indices
    np.add.at(a, tuple(index), values)
