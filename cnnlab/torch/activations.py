"""Activation functions (激活函数) on torch tensors: ``cnnlab/numpy/activations.py``'s code.

The functions, docstrings and math are those of the NumPy module, run with ``np`` = ``torch`` (see
``_mirror.py``); each ``f`` records an autograd node (its ``_f``) whose backward is the hand-written ``_f_backward``, so
``f(x).sum().backward()`` uses the course's formulas and not torch's. What torch does differently is
defined here: ``exp`` needs no guard against underflow warnings, relu's backward writes its mask as
floats, and the ``ACTIVATIONS`` registry holds this module's functions.
"""

from __future__ import annotations

import dataclasses

import torch

from ..numpy.activations import Activation
from ._device import check_arrays
from ._mirror import mirror, numpy_twin

np = torch  # the NumPy code's np.where, np.abs, np.tanh, ... are torch's here

__all__ = numpy_twin(__name__).__all__

# torch's exp underflows to 0 silently (NumPy warns), so the NumPy version's cut-off is not needed:
# exp of a number <= 0 is all that is ever asked for.
_exp_nonpositive = torch.exp


def _relu_backward(grad_out, x):
    # grad_out * (x > 0), with x > 0 written straight as 0.0 / 1.0 (torch writes a bool tensor slowly, then
    # converts it for the product: three times the time)
    return torch.gt(x, 0, out=torch.empty_like(grad_out)).mul_(grad_out)


# The slides' gallery: the NumPy registry's names and formulas with this module's functions (filled in
# below, once mirror() has made them).
ACTIVATIONS: dict[str, Activation] = {}

mirror(globals(), differentiable=dict.fromkeys(
    ["_sigmoid", "_tanh", "_step", "_softplus", "_relu", "_softsign", "_elu", "_log_sigmoid", "_swish", "_sinc",
     "_leaky_relu", "_mish"], 1))

ACTIVATIONS.update({key: dataclasses.replace(a, fn=globals()[key], grad=globals()[key + "_grad"])
                    for key, a in numpy_twin(__name__).ACTIVATIONS.items()})
