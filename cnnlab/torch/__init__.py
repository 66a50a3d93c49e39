"""The same ops as ``cnnlab.numpy``, on torch tensors of any device and float dtype.

Same names, arguments and semantics as the NumPy reference (and as ``torch.nn.functional``); each
module mirrors its NumPy twin line by line (``cnnlab/torch/conv.py`` <-> ``cnnlab/numpy/conv.py``).
What torch adds:

- every differentiable op is a ``torch.autograd.Function`` whose backward is the hand-written
  ``<op>_backward`` beside it, so ``loss.backward()`` runs the course's formulas, not torch's;
- it runs on the GPU: ``default_device()`` is cuda when present, else cpu;
- ``cnnlab.torch.nn``: ``torch.nn.Module`` layers built on these ops (they work with ``torch.optim``);
- ``convert``: arrays <-> tensors, and NumPy models <-> torch models with the same weights.

Bad input gets the same errors as in ``cnnlab.numpy`` (the checks are shared), plus two only torch
needs: "must be a torch.Tensor" and "is on cpu but weight is on cuda:0".
"""

from ._device import default_device
from .gradcheck import gradcheck

# ops: convolution, transposed convolution, pooling, unpooling
from .conv import conv2d, conv2d_backward, conv2d_naive, conv_transpose2d, conv_transpose2d_backward
from .pool import (avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward, max_unpool2d,
                   max_unpool2d_backward)

# ops: activations, upsampling, linear, flatten, dropout, losses, penalties
from .activations import *  # noqa: F401,F403  (every name in activations.__all__, ACTIVATIONS too)
from .linear import *  # noqa: F401,F403  (linear, flatten, dropout, dropout_mask and their backwards)
from .losses import *  # noqa: F401,F403  (softmax, log_softmax, cross_entropy, mse_loss, l1/l2 penalties)
from .upsample import interpolate, interpolate_backward

# layers (also as cnnlab.torch.nn), conversion between the backends
from . import nn
from .convert import copy_weights, from_torch, to_numpy, to_tensor, to_torch

# training
from .training import History, evaluate, fit, predict
