"""Softmax, losses and weight penalties on torch tensors: ``cnnlab/numpy/losses.py``'s code.

The functions, docstrings and math are those of the NumPy module, run with ``np`` = ``torch`` (see
``_mirror.py``); every op is an autograd node whose backward is the hand-written ``_op_backward``. What
torch does differently is defined here: the one-hot matrix is scattered on the logits' device, and the penalty
of no parameters at all is a 0 on the default device.
"""

from __future__ import annotations

import torch

from ._device import check_arrays, default_device
from ._mirror import mirror, numpy_twin
from .activations import _exp_nonpositive

np = torch  # the NumPy code's np.amax, np.where, np.sign, ... are torch's here

__all__ = numpy_twin(__name__).__all__


def _one_hot(target, logits):
    # A 1 scattered at each true class of zeros like the logits: on their device (NumPy's np.eye is the CPU's),
    # in one pass (rows of an identity matrix cost three); scatter_ wants int64 classes.
    return torch.zeros_like(logits).scatter_(1, target.long().unsqueeze(1), 1.0)


def _all_weights(weights):
    # No weights at all: a 0 where a model's tensors go by default (NumPy has only the CPU).
    return torch.cat([w.reshape(-1) for w in weights]) if weights else torch.zeros(0, device=default_device())


mirror(globals(), differentiable={"_softmax": 1, "_log_softmax": 1, "_cross_entropy": 2, "_mse_loss": 2,
                                  "_l1_penalty": 1, "_l2_penalty": 1})
