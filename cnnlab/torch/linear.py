"""Fully connected layer (全连接层), flatten and dropout on torch tensors: ``cnnlab/numpy/linear.py``'s code.

The functions, docstrings and math are those of the NumPy module, run with ``np`` = ``torch`` (see
``_mirror.py``); ``linear``, ``flatten`` and ``dropout`` are autograd nodes whose backward is the
hand-written ``_linear_backward``, ... What torch does differently is defined here: the dropout mask
comes from torch's generator (or, for an int seed, from NumPy's, so both backends draw the same mask)
and lives on the input's device.
"""

from __future__ import annotations

import numpy
import torch

from .._checks import check_dropout_p, check_shape
from ._device import check_arrays, resolve_device
from ._mirror import mirror, numpy_twin

np = torch  # the NumPy code's np.zeros_like, np.where, ... are torch's here

__all__ = numpy_twin(__name__).__all__


def dropout_mask(shape, p: float = 0.5, rng=None, device=None) -> torch.Tensor:
    """Draw a dropout mask: a bool tensor, True for the units that are *kept* (each with probability 1 - p).

    Args:
        shape: the shape of the input to be dropped out.
        p: probability of dropping a unit, in [0, 1].
        rng: where the randomness comes from:
            - None: torch's global generator (``torch.manual_seed`` makes it repeatable);
            - a ``torch.Generator`` (on the mask's device);
            - an int seed or a ``numpy.random.Generator``: drawn exactly as ``cnnlab.numpy.dropout_mask``
              draws it, so the same seed gives the same mask on both backends.
        device: where the mask goes; default the generator's device, else ``cnnlab.torch.default_device()``.

    Returns:
        mask: bool tensor of the given shape.
    """
    check_dropout_p(p, "dropout_mask")
    shape = tuple(shape)
    if isinstance(rng, torch.Generator):
        device = rng.device if device is None else device
        return torch.rand(shape, generator=rng, device=device) >= p
    device = resolve_device(device)
    if rng is None:
        return torch.rand(shape, device=device) >= p  # uniform in [0, 1): below p (probability p) means dropped
    keep = numpy.random.default_rng(rng).random(shape) >= p  # a NumPy Generator passes through unchanged
    return torch.from_numpy(keep).to(device)


def _draw_mask(x, p, rng):
    return dropout_mask(x.shape, p, rng, device=x.device)


def _check_mask(mask, x, op):
    check_arrays(op, (x, "input"), (mask, "mask"))
    if mask.dtype != torch.bool:
        raise TypeError(f"{op}: mask must be a bool array (True = keep), as returned by dropout_mask, "
                        f"got dtype {mask.dtype}")
    check_shape(mask, x.shape, "mask", op)


mirror(globals(), differentiable={"_linear": 3, "_flatten": 1, "_dropout": 1})
