"""The NumPy reference: every op of the course, forward and backward, NCHW, float32 by default.

Names and arguments follow ``torch.nn.functional``; each differentiable op ``op`` has
``op_backward(grad_out, <op's inputs>, <same keyword args>)`` returning the input gradients in order.
"""

from .gradcheck import gradcheck

# ops: convolution, transposed convolution, pooling, unpooling

# ops: activations, upsampling, linear, flatten, dropout, losses, penalties

# layers, optimizers, training
