"""Sliding windows on torch tensors: ``cnnlab/numpy/windows.py``'s primitives, spelled for torch.

``unpad2d`` is the NumPy module's code run on tensors (``_mirror.py``). Written here because torch spells
them differently, or does them better another way: ``col2im`` (one scatter-add, not KH * KW strided
additions), ``pad2d`` (``torch.nn.functional.pad`` lists the last axis first), ``sliding_windows``
(``Tensor.unfold``, torch's own sliding-window view, where NumPy strides by bytes with ``as_strided``),
``zeros`` and ``arange`` (on the device of the tensor they are like), and the gathers and scatters along
an axis (``gather``, ``scatter_``, ``scatter_add_``: NumPy's ``take_along_axis``, ``put_along_axis`` and
``np.add.at``).
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from ._mirror import mirror

np = torch  # the NumPy code's names are torch's here


def zeros(shape, like):
    """A tensor of zeros of ``shape``, of ``like``'s dtype and on its device."""
    return like.new_zeros(shape)


def pad2d(x, pads, value=0.0):
    """``cnnlab.numpy.windows.pad2d`` on tensors: pads = (top, bottom, left, right) around the two spatial
    axes of x (N, C, H, W), filled with ``value``; ``x`` itself when every pad is 0."""
    top, bottom, left, right = pads
    if top == bottom == left == right == 0:
        return x
    return F.pad(x, (left, right, top, bottom), value=value)  # torch lists the last axis first


def sliding_windows(xp, kernel_size, stride, dilation, out_hw):
    """All windows of a padded input, as a strided view (im2col without the copy), built with
    ``Tensor.unfold`` (torch's own sliding-window view); arguments and result as in
    ``cnnlab.numpy.windows.sliding_windows``: (N, C, Hp, Wp) -> (N, C, KH, KW, OH, OW).
    Reshaped to ``(N, C * KH * KW, OH * OW)`` it is exactly ``torch.nn.functional.unfold``.
    """
    (KH, KW), (SH, SW), (DH, DW), (OH, OW) = kernel_size, stride, dilation, out_hw
    Hp, Wp = xp.shape[2:]
    if (OH - 1) * SH + (KH - 1) * DH >= Hp or (OW - 1) * SW + (KW - 1) * DW >= Wp:
        raise ValueError(f"sliding_windows: {tuple(out_hw)} windows of size {tuple(kernel_size)} (stride "
                         f"{tuple(stride)}, dilation {tuple(dilation)}) do not fit in a padded input of size {(Hp, Wp)}")
    # Tensor.unfold(axis, size, step) views every run of `size` elements, `step` apart, as a new last axis.
    # A dilated window spans DH * (KH - 1) + 1 rows; taking every DH-th of them leaves the KH it reads.
    rows = xp.unfold(2, DH * (KH - 1) + 1, SH)[:, :, :OH, :, ::DH]       # (N, C, OH', Wp, KH)
    windows = rows.unfold(3, DW * (KW - 1) + 1, SW)[:, :, :, :OW, :, ::DW]  # (N, C, OH, OW, KH, KW)
    return windows.permute(0, 1, 4, 5, 2, 3)                               # (N, C, KH, KW, OH, OW)


def col2im(cols, padded_hw, stride, dilation):
    """``cnnlab.numpy.windows.col2im`` on tensors (same arguments and result), as one scatter-add: every
    window element's place in the flattened padded plane is worked out once per geometry (``_col2im_places``),
    and ``index_add_`` adds all of them in one call. Why not the NumPy code's KH * KW strided additions: on
    tensors each is a slice and a kernel launch (9 of them took 128 us of Python for a 3 x 3 kernel, and on a
    GPU the launches, not the additions, are the cost); on the CPU the scatter is faster too (the columns of
    conv2d's backward at 64 x 32 x 14 x 14: 1.9 -> 1.3 ms)."""
    N, C, KH, KW, OH, OW = cols.shape
    Hp, Wp = padded_hw
    places = _col2im_places(KH, KW, OH, OW, Wp, tuple(stride), tuple(dilation), cols.device)
    xp = cols.new_zeros((N, C, Hp * Wp))
    xp.index_add_(2, places, cols.reshape(N, C, KH * KW * OH * OW))
    return xp.reshape(N, C, Hp, Wp)


@functools.lru_cache(maxsize=64)
def _col2im_places(KH, KW, OH, OW, Wp, stride, dilation, device):
    """(KH * KW * OH * OW,) int64: element (i, j) of window (oh, ow) sits at row oh * SH + i * DH, column
    ow * SW + j * DW of the padded plane, i.e. at that row * Wp + column of the flattened plane."""
    (SH, SW), (DH, DW) = stride, dilation
    rows = (torch.arange(KH, device=device) * DH).view(KH, 1, 1, 1) + (torch.arange(OH, device=device) * SH).view(OH, 1)
    columns = (torch.arange(KW, device=device) * DW).view(KW, 1, 1) + torch.arange(OW, device=device) * SW
    return (rows * Wp + columns).reshape(-1)


def arange(n, like, dtype=None):
    """``0, 1, ..., n - 1`` as a tensor of ``dtype``, by default ``like``'s, on ``like``'s device."""
    return torch.arange(n, dtype=like.dtype if dtype is None else dtype, device=like.device)


def take_along_axis(a, indices, axis):
    """``np.take_along_axis`` on tensors, for indices of ``a``'s shape but along ``axis``: torch's ``gather`` (its
    indices must be int64; ``take_along_dim`` would also broadcast, and wraps negative indices in an extra pass)."""
    return torch.gather(a, axis, indices.long())


def put_along_axis(a, indices, values, axis):
    """``np.put_along_axis`` on tensors, in place (torch's ``scatter_``; its indices must be int64)."""
    a.scatter_(axis, indices.long(), values)


def add_along_axis(a, indices, values, axis):
    """``cnnlab.numpy.windows.add_along_axis`` on tensors, in place: torch's ``scatter_add_`` (NumPy's
    ``np.add.at`` and ``np.ix_`` have no torch twin); its indices must be int64."""
    a.scatter_add_(axis, indices.long(), values)


mirror(globals())
