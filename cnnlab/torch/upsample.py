"""Upsampling (上采样) by interpolation on torch tensors: ``cnnlab/numpy/upsample.py``'s code.

The functions, docstrings and math are those of the NumPy module, run with ``np`` = ``torch`` (see
``_mirror.py``); ``interpolate`` is an autograd node whose backward is the hand-written transposed resize
``_interpolate_backward``. What torch does differently: the two resize matrices depend on the sizes alone,
so the NumPy module's index arithmetic builds them (on the host, in x's dtype) and they move to x's device.
"""

from __future__ import annotations

import numpy
import torch

from ._device import check_arrays
from ._mirror import mirror, numpy_twin

np = torch  # the NumPy code's names are torch's here

__all__ = numpy_twin(__name__).__all__

# torch dtype -> the NumPy dtype its matrices are computed in (bfloat16 has no NumPy twin: float32)
_HOST_DTYPES = {torch.float16: numpy.float16, torch.float32: numpy.float32, torch.float64: numpy.float64}


def _matrices(x, out_hw, scales, mode, align_corners):
    """``(A_h, A_w)`` from cnnlab.numpy's ``_matrices`` (index arithmetic on the sizes, on the host), moved to
    x's device and dtype: a stand-in with x's shape and a NumPy dtype, but no data, takes x's place there."""
    stand_in = numpy.broadcast_to(numpy.zeros((), _HOST_DTYPES.get(x.dtype, numpy.float32)), tuple(x.shape))
    return [torch.as_tensor(a).to(x.device, x.dtype)
            for a in numpy_twin(__name__)._matrices(stand_in, out_hw, scales, mode, align_corners)]


mirror(globals(), differentiable={"_interpolate": 1})
