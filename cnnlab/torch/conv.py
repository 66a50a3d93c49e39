"""Convolution and transposed convolution (反卷积 / 转置卷积) on torch tensors: ``cnnlab/numpy/conv.py``'s code.

The functions, docstrings and math are those of the NumPy module, run with ``np`` = ``torch`` (see
``_mirror.py``); ``conv2d`` and ``conv_transpose2d`` are autograd nodes (``_Conv2dBackward``, ...) whose
backward is the hand-written ``_conv2d_backward``, ... (``conv2d_naive``'s loops are recorded by torch's
own autograd). What torch does differently: the sliding windows, padding and new zeros come from
``cnnlab/torch/windows.py``, and the NumPy-only batch-last layout is never taken.
"""

from __future__ import annotations

import torch

from ._device import check_arrays
from ._mirror import mirror, numpy_twin
from .windows import col2im, pad2d, sliding_windows, unpad2d, zeros

np = torch  # the NumPy code's np.sum is torch's here

__all__ = numpy_twin(__name__).__all__

# The batch-last layout (cnnlab/numpy/_conv_batch_last.py) speeds up NumPy's short strided runs; torch's
# matrix products need no detour: on tensors it never pays off, and its NumPy-only module is never called.
_conv_batch_last = None


def _batch_last_pays_off(C_in, C_out, K):
    return False


mirror(globals(), differentiable={"_conv2d": 3, "_conv_transpose2d": 3})
