"""Convolution and transposed convolution (反卷积 / 转置卷积), forward and backward, in NumPy.

The slide's formula for one output pixel of a convolution with a k x k kernel is

    output[i, j] = sum(input[i:i+k, j:j+k] * kernel)

``conv2d_naive`` is exactly that, in Python loops. ``conv2d`` computes the same numbers for every
pixel at once: ``sliding_windows`` (im2col) lays every window out as a column, and one matrix
product with the kernels does all the sums. The backward passes use the same two pieces in
reverse: a matrix product with the transposed kernels, and ``col2im`` to add each window's
gradient back onto the pixels it was read from.

The shape of every op module: the public ``op`` and ``op_backward`` check their arguments and work out
the plan (padding, stride, dilation, output size); the private ``_op`` and ``_op_backward`` do the math,
one per direction. (``cnnlab.torch`` runs these same functions on tensors, see ``cnnlab/torch/_mirror.py``.)

Layout NCHW; arguments and results as ``torch.nn.functional.conv2d`` / ``conv_transpose2d``.
Shapes in the docstrings use N batch, C_in / C_out channels, H, W input size, KH, KW kernel size,
OH, OW output size, G groups, SH, SW stride, PH, PW padding, DH, DW dilation.
"""

from __future__ import annotations

import numpy as np

# The input checks, shared with cnnlab.torch (cnnlab/_checks.py): conv2d_geometry and conv_transpose2d_geometry
# validate every argument (clear errors: "conv2d: input has 3 channels but weight expects 4 ...") and return
# the padding (top, bottom, left, right), stride, dilation and output size; check_grad_out checks a backward's
# incoming gradient; check_arrays refuses what is not a NumPy array. Every public function below starts with them.
from .._checks import check_grad_out
from .._geometry import conv2d_geometry, conv_transpose2d_geometry
from ._arrays import check_arrays
from .windows import col2im, pad2d, sliding_windows, unpad2d, zeros

__all__ = ["conv2d", "conv2d_backward", "conv2d_naive", "conv_transpose2d", "conv_transpose2d_backward"]


# ----------------------------------------------------------------------------------------------------------------
# conv2d
# ----------------------------------------------------------------------------------------------------------------

def conv2d_naive(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """The slide's formula, ``output[i, j] = sum(input[i:i+k, j:j+k] * kernel)``, as plain loops.

    Same arguments and result as ``conv2d`` (tests hold the two equal) but one output number at a
    time: read to understand, too slow to train with.

    Args:
        x: (N, C_in, H, W)
        weight: (C_out, C_in / G, KH, KW)
        bias: (C_out,) or None
    Returns:
        out: (N, C_out, OH, OW), OH = (H + 2 * PH - DH * (KH - 1) - 1) // SH + 1 (likewise OW).
    """
    op = "conv2d_naive"
    check_arrays(op, (x, "input"), (weight, "weight"), (bias, "bias"))
    pads, stride, dilation, out_hw = conv2d_geometry(op, x, weight, bias, stride, padding, dilation, groups)
    return _conv2d_naive(x, weight, bias, pads, stride, dilation, groups, out_hw)


def _conv2d_naive(x, weight, bias, pads, stride, dilation, groups, out_hw):
    N = x.shape[0]
    C_out, C_per_group, KH, KW = weight.shape
    (SH, SW), (DH, DW), (OH, OW) = stride, dilation, out_hw
    out_per_group = C_out // groups
    xp = pad2d(x, pads)
    out = zeros((N, C_out, OH, OW), like=x)
    for n in range(N):
        for o in range(C_out):
            g = o // out_per_group  # output channel o belongs to group g ...
            channels = slice(g * C_per_group, (g + 1) * C_per_group)  # ... and sees only that group's input channels
            kernel = weight[o]  # (C_in / G, KH, KW)
            for i in range(OH):
                for j in range(OW):
                    top, left = i * SH, j * SW
                    # input[i:i+k, j:j+k], with a stride between windows and DH - 1 holes inside one (dilation)
                    window = xp[n, channels, top:top + DH * (KH - 1) + 1:DH, left:left + DW * (KW - 1) + 1:DW]
                    out[n, o, i, j] = np.sum(window * kernel)
            if bias is not None:
                out[n, o] += bias[o]
    return out


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation, as in every deep-learning library), vectorised with im2col.

    Args:
        x: (N, C_in, H, W)
        weight: (C_out, C_in / G, KH, KW) -- C_out kernels, each seeing C_in / G channels.
        bias: (C_out,) or None
        stride, dilation: int or pair, >= 1.
        padding: int or pair >= 0 (zeros on both sides), or "valid" (= 0), or "same" (output as large as
            the input; stride 1 only; an odd total padding puts the extra row / column at the bottom / right).
        groups: the channels split into G groups convolved separately (G = C_in: depthwise).

    Returns:
        out: (N, C_out, OH, OW), OH = (H + 2 * PH - DH * (KH - 1) - 1) // SH + 1 (likewise OW),
            ``out[n, o, i, j] = bias[o] + sum(window (i, j) of x[n, group of o] * weight[o])``.
    """
    op = "conv2d"
    check_arrays(op, (x, "input"), (weight, "weight"), (bias, "bias"))
    pads, stride, dilation, out_hw = conv2d_geometry(op, x, weight, bias, stride, padding, dilation, groups)
    return _conv2d(x, weight, bias, pads, stride, dilation, groups, out_hw)


def _im2col(x, kernel_size, pads, stride, dilation, groups, out_hw):
    """im2col: every window of the padded ``x`` as a column, (N, C_in, H, W) -> (N, G, K, OH * OW), where
    K = C_in / G * KH * KW numbers of one window of one group."""
    N, C_in = x.shape[:2]
    (KH, KW), (OH, OW) = kernel_size, out_hw
    windows = sliding_windows(pad2d(x, pads), kernel_size, stride, dilation, out_hw)  # (N, C_in, KH, KW, OH, OW)
    return windows.reshape(N, groups, C_in // groups * KH * KW, OH * OW)  # a view until this reshape copies it


def _conv2d(x, weight, bias, pads, stride, dilation, groups, out_hw):
    N, C_in = x.shape[:2]
    C_out, C_per_group, KH, KW = weight.shape
    G, K = groups, C_per_group * KH * KW  # K: numbers in one window of one group
    OH, OW = out_hw

    cols = _im2col(x, (KH, KW), pads, stride, dilation, G, (OH, OW))  # (N, G, K, OH*OW): one column per window
    w = weight.reshape(G, C_out // G, K)  # one row per kernel
    out = w @ cols  # (G, C_out/G, K) @ (N, G, K, OH*OW) -> (N, G, C_out/G, OH*OW): all the sums at once
    out = out.reshape(N, C_out, OH, OW)
    if bias is not None:
        out += bias.reshape(1, C_out, 1, 1)
    return out


def conv2d_backward(grad_out, x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Gradients of ``conv2d``.

    Args:
        grad_out: (N, C_out, OH, OW) dLoss/dout.
        x, weight, bias, stride, padding, dilation, groups: as given to ``conv2d``.

    Returns:
        (grad_x, grad_weight, grad_bias): (N, C_in, H, W), (C_out, C_in / G, KH, KW), (C_out,) or None.

    out = w @ cols, so  grad_w = grad_out @ cols^T  (summed over the batch)  and  grad_cols = w^T @ grad_out;
    col2im then adds each window's gradient back onto the pixels it was read from. (grad_x is a transposed
    convolution of grad_out with the same weight: ``conv_transpose2d`` is the gradient of ``conv2d``.)
    """
    op = "conv2d_backward"
    check_arrays(op, (x, "input"), (weight, "weight"), (bias, "bias"), (grad_out, "grad_out"))
    pads, stride, dilation, out_hw = conv2d_geometry(op, x, weight, bias, stride, padding, dilation, groups)
    check_grad_out(op, grad_out, x, (x.shape[0], weight.shape[0], *out_hw))
    return _conv2d_backward(grad_out, x, weight, bias, pads, stride, dilation, groups, out_hw)


def _conv2d_backward(grad_out, x, weight, bias, pads, stride, dilation, groups, out_hw, input_grad=True):
    # input_grad=False: nobody wants grad_x (cnnlab.torch's first layer: the images need no gradient); None
    N, C_in = x.shape[:2]
    C_out, C_per_group, KH, KW = weight.shape
    G, K = groups, C_per_group * KH * KW
    OH, OW = out_hw

    cols = _im2col(x, (KH, KW), pads, stride, dilation, G, (OH, OW))  # as in the forward
    w = weight.reshape(G, C_out // G, K)
    g = grad_out.reshape(N, G, C_out // G, OH * OW)

    grad_weight = (g @ cols.swapaxes(2, 3)).sum(axis=0)  # (N, G, C_out/G, K) summed over the batch
    grad_weight = grad_weight.reshape(weight.shape)
    grad_bias = None if bias is None else grad_out.sum(axis=(0, 2, 3))
    if not input_grad:
        return None, grad_weight, grad_bias
    grad_cols = w.swapaxes(1, 2) @ g  # (G, K, C_out/G) @ (N, G, C_out/G, OH*OW) -> (N, G, K, OH*OW)
    padded_hw = (pads[0] + x.shape[2] + pads[1], pads[2] + x.shape[3] + pads[3])
    grad_xp = col2im(grad_cols.reshape(N, C_in, KH, KW, OH, OW), padded_hw, stride, dilation)
    grad_x = unpad2d(grad_xp, pads)  # the gradient that fell on the padding is dropped
    return grad_x, grad_weight, grad_bias


# ----------------------------------------------------------------------------------------------------------------
# conv_transpose2d (反卷积 / 转置卷积)
# ----------------------------------------------------------------------------------------------------------------

def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed convolution (反卷积): every input pixel stamps a copy of the kernel, scaled by its value.

    Input pixel (h, w) adds ``x[n, c, h, w] * weight[c]`` onto the output at (h * SH, w * SW) (the slide:
    a single 55 and a 3 x 3 kernel give 55 * kernel); overlapping stamps add up; then ``padding`` rows and
    columns are cut from every border and ``output_padding`` adds some back at the bottom / right.
    It is the gradient of ``conv2d`` with respect to its input: it restores the size, not the values.

    Args:
        x: (N, C_in, H, W)
        weight: (C_in, C_out / G, KH, KW) -- note: in-channels first, as in torch.
        bias: (C_out,) or None
        stride, dilation: int or pair >= 1; padding: int or pair >= 0;
        output_padding: int or pair, each smaller than the stride or the dilation.

    Returns:
        out: (N, C_out, H_out, W_out), H_out = (H - 1) * SH - 2 * PH + DH * (KH - 1) + OPH + 1 (likewise W_out).
    """
    op = "conv_transpose2d"
    check_arrays(op, (x, "input"), (weight, "weight"), (bias, "bias"))
    pads, stride, dilation, out_hw = conv_transpose2d_geometry(
        op, x, weight, bias, stride, padding, output_padding, groups, dilation)
    return _conv_transpose2d(x, weight, bias, pads, stride, dilation, groups, out_hw)


def _conv_transpose2d(x, weight, bias, pads, stride, dilation, groups, out_hw):
    N, C_in, H, W = x.shape
    _, C_out_per_group, KH, KW = weight.shape
    G, K = groups, C_out_per_group * KH * KW  # K: numbers in one stamp of one group
    (H_out, W_out), (top, bottom, left, right) = out_hw, pads

    xs = x.reshape(N, G, C_in // G, H * W)
    w = weight.reshape(G, C_in // G, K)
    cols = w.swapaxes(1, 2) @ xs  # (G, K, C_in/G) @ (N, G, C_in/G, H*W) -> (N, G, K, H*W): every stamp
    cols = cols.reshape(N, G * C_out_per_group, KH, KW, H, W)
    out = col2im(cols, (top + H_out + bottom, left + W_out + right), stride, dilation)  # add the stamps up
    out = unpad2d(out, pads)
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1)
    return out


def conv_transpose2d_backward(grad_out, x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                              dilation=1):
    """Gradients of ``conv_transpose2d``.

    Args:
        grad_out: (N, C_out, H_out, W_out) dLoss/dout.
        x, weight, bias, stride, padding, output_padding, groups, dilation: as given to ``conv_transpose2d``.

    Returns:
        (grad_x, grad_weight, grad_bias): (N, C_in, H, W), (C_in, C_out / G, KH, KW), (C_out,) or None.

    The forward was cols = w^T @ x followed by col2im, so here im2col of grad_out gives grad_cols, and
    grad_x = w @ grad_cols (a plain convolution of grad_out), grad_w = x @ grad_cols^T (summed over the batch).
    """
    op = "conv_transpose2d_backward"
    check_arrays(op, (x, "input"), (weight, "weight"), (bias, "bias"), (grad_out, "grad_out"))
    pads, stride, dilation, out_hw = conv_transpose2d_geometry(
        op, x, weight, bias, stride, padding, output_padding, groups, dilation)
    check_grad_out(op, grad_out, x, (x.shape[0], groups * weight.shape[1], *out_hw))
    return _conv_transpose2d_backward(grad_out, x, weight, bias, pads, stride, dilation, groups, out_hw)


def _conv_transpose2d_backward(grad_out, x, weight, bias, pads, stride, dilation, groups, out_hw):
    N, C_in, H, W = x.shape
    _, C_out_per_group, KH, KW = weight.shape
    G, K = groups, C_out_per_group * KH * KW

    grad_cols = _im2col(grad_out, (KH, KW), pads, stride, dilation, G, (H, W))  # (N, G, K, H*W)
    w = weight.reshape(G, C_in // G, K)
    xs = x.reshape(N, G, C_in // G, H * W)

    grad_x = (w @ grad_cols).reshape(N, C_in, H, W)  # (G, C_in/G, K) @ (N, G, K, H*W)
    grad_weight = (xs @ grad_cols.swapaxes(2, 3)).sum(axis=0)  # (N, G, C_in/G, K) summed over the batch
    grad_weight = grad_weight.reshape(weight.shape)
    grad_bias = None if bias is None else grad_out.sum(axis=(0, 2, 3))
    return grad_x, grad_weight, grad_bias
