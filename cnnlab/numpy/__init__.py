"""The NumPy reference: every op of the course, forward and backward, NCHW, float32 by default.

Names and arguments follow ``torch.nn.functional``; each differentiable op ``op`` has
``op_backward(grad_out, <op's inputs>, <same keyword args>)`` returning the input gradients in order.
"""

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

# layers, optimizers, training
from .layers import *  # noqa: F401,F403  (Conv2d, Linear, ReLU, ..., Sequential, Parameter, manual_seed)
from .optim import SGD, Adam
from .training import History, evaluate, fit, predict
