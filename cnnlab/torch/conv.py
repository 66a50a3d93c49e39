"""Convolution and transposed convolution (反卷积 / 转置卷积) on torch tensors: ``cnnlab/numpy/conv.py``'s code.

The functions, docstrings and math are those of the NumPy module, run with ``np`` = ``torch`` (see
``_mirror.py``); ``conv2d`` and ``conv_transpose2d`` are autograd nodes (``_Conv2dBackward``, ...) whose
backward is the hand-written ``_conv2d_backward``, ... (``conv2d_naive``'s loops are recorded by torch's
own autograd). What torch does differently: the sliding windows, padding and new zeros come from
``cnnlab/torch/windows.py``, and conv2d's node keeps the forward's im2col columns for its backward
(``keep``: one copy of every window fewer; the stateless ``conv2d_backward`` still makes its own).
"""

from __future__ import annotations

import torch

from ._device import check_arrays  # noqa: F401  (the mirrored code calls it)
from ._mirror import mirror, numpy_twin
from .windows import col2im, pad2d, sliding_windows, unpad2d, zeros  # noqa: F401  (the mirrored code calls them)

np = torch  # the NumPy code's np.sum is torch's here

__all__ = numpy_twin(__name__).__all__

mirror(globals(), differentiable={"_conv2d": 3, "_conv_transpose2d": 3}, keep=("_im2col",))
