"""Pooling (池化) and unpooling (反池化) on torch tensors: ``cnnlab/numpy/pool.py``'s code.

The functions, docstrings and math are those of the NumPy module, run with ``np`` = ``torch`` (see
``_mirror.py``); ``max_pool2d``, ``avg_pool2d`` and ``max_unpool2d`` are autograd nodes whose backward is
the hand-written ``_max_pool2d_backward``, ... What it spells its own way (padding, windows,
index arrays, gathers and scatters) is in its primitive layer, ``windows.py``; the window maxima and their
places come from whole-block reductions (``_window_max``: ``torch.max`` on a GPU, ``torch.amax`` and
comparisons on the CPU); the search for the maxima
(``_window_argmax``, a choice without a gradient) runs under ``torch.no_grad()``, so autograd records none of it.
"""

from __future__ import annotations

import functools

import torch

from ._device import check_arrays
from ._mirror import mirror, numpy_twin
from .windows import (add_along_axis, arange, col2im, pad2d, put_along_axis, sliding_windows,  # noqa: F401
                      take_along_axis, unpad2d, zeros)

np = torch  # the NumPy code's np.maximum, np.where, np.moveaxis, ... are torch's here

__all__ = numpy_twin(__name__).__all__


def _window_max(windows, labels):
    """``cnnlab.numpy.pool._window_max`` on tensors. The same one copy first: element k of every window in a
    contiguous block, so the reductions run over whole blocks, not along a strided middle axis.

    On a GPU, one ``torch.max`` along the blocks: it returns the maximum and the first place k holding it (a NaN
    wins, the first one), the NumPy code's rule, in one kernel launch where the comparisons below take two per
    element; then the label of element k. On the CPU that reduction is slow (2.6 ms for 4 blocks of 64 x 32 x 14
    x 14), so there the maximum is ``torch.amax`` (0.16 ms) and the label that of the first block equal to it,
    found as in the NumPy code from the last block to the first, written as floats (a comparison and a lerp per
    element; the forward of a 2 x 2 pooling of 64 x 32 x 28 x 28: 3.9 ms with ``torch.max``, 1.85 ms so); with a NaN,
    ``torch.max`` again (it knows where the first one is)."""
    N, C, KH, KW, OH, OW = windows.shape
    elements = np.moveaxis(windows, (2, 3), (0, 1)).reshape(KH * KW, N, C, OH, OW)
    labels = labels.broadcast_to((KH * KW, OH, OW))
    if elements.device.type == "cpu":
        out = torch.amax(elements, dim=0)
        if not out.sum().isnan():  # a NaN (or +inf and -inf: also fine there); isnan().any() took 0.36 ms, the sum 0.03
            return out, _first_label(elements, out, labels)
    out, k = torch.max(elements, dim=0)
    return out, torch.gather(labels[:, None, None].expand(-1, N, C, -1, -1), 0, k[None])[0]  # labels[k, oh, ow]


def _first_label(elements, out, labels):
    """The label of the first block of ``elements`` equal to ``out``, written with float comparisons and lerps (torch
    writes bool and int64 tensors slowly): float32 holds every integer below 2**24, float64 the others."""
    exact = torch.float32 if labels.abs().max() < 2**24 else torch.float64
    labels = labels.to(exact)
    label = labels[-1].expand(out.shape).clone()
    hit = torch.empty_like(label)
    for e in range(len(elements) - 2, -1, -1):
        torch.eq(elements[e], out, out=hit)  # 1.0 where element e is the maximum
        label.lerp_(labels[e], hit)  # label + hit * (labels[e] - label): labels[e] there (the first is written last)
    return label.long()


mirror(globals(), differentiable={"_max_pool2d": 1, "_avg_pool2d": 1, "_max_unpool2d": 2},
       no_grad=("_window_argmax",))

_places_of = _window_places  # the NumPy code's, on tensors


@functools.lru_cache(maxsize=64)
def _places_per_geometry(geometry, Wp, device):
    return _places_of(geometry, Wp, torch.empty(0, device=device))


def _window_places(geometry, Wp, like):
    """``_window_places`` once per geometry and device (cached, never written to): its small tensors were a
    handful of kernel launches on every call of max pooling on a GPU."""
    return _places_per_geometry(geometry, Wp, like.device)
