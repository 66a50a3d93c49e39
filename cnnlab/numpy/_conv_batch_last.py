"""NumPy only: ``conv.py``'s convolutions computed with the batch axis last in memory, the same numbers faster.

In NCHW every window slice of im2col / col2im is a run of only OW numbers (14 for a 14 x 14 image), and
NumPy pays per run. With the batch axis last, (C, H, W, N), a slice is OW * N numbers in a row, and many
images share one matrix product instead of one small product each. The price is transposing x, grad_out
and the results, which pays off when a window holds more numbers than the input and output have channels
(``conv.py`` decides, ``_batch_last_pays_off``). Each function takes the plan of its twin in ``conv.py``
(``_conv2d`` ...) and goes through the batch a slice at a time. Tests hold these equal to torch.

cnnlab.torch never comes here: torch's matrix products need no detour (``cnnlab/torch/conv.py``).
"""

from __future__ import annotations

import numpy as np

from .windows import sliding_windows, unpad2d


def _padded(x, pads):
    """x (N, C, H, W), padded, stored as (C, Hp, Wp, N) but returned as its (N, C, Hp, Wp) view."""
    top, bottom, left, right = pads
    N, C, H, W = x.shape
    xp = np.zeros((C, top + H + bottom, left + W + right, N), dtype=x.dtype)
    xp[:, top:top + H, left:left + W] = x.transpose(1, 2, 3, 0)
    return xp.transpose(3, 0, 1, 2)


def _cols(xp, kernel_size, stride, dilation, out_hw, groups):
    """im2col of a batch-last padded input: (G, K, OH * OW * N), one column per window of every image."""
    N = xp.shape[0]
    windows = sliding_windows(xp, kernel_size, stride, dilation, out_hw)  # (N, C_in, KH, KW, OH, OW), a view
    return windows.transpose(1, 2, 3, 4, 5, 0).reshape(groups, -1, out_hw[0] * out_hw[1] * N)  # the copy


def _col2im(cols, padded_hw, stride, dilation):
    """``col2im`` batch-last: cols (C, KH, KW, OH, OW, N) -> (C, Hp, Wp, N), the same strided additions."""
    C, KH, KW, OH, OW, N = cols.shape
    (Hp, Wp), (SH, SW), (DH, DW) = padded_hw, stride, dilation
    xp = np.zeros((C, Hp, Wp, N), dtype=cols.dtype)
    for i in range(KH):
        for j in range(KW):
            xp[:, i * DH:i * DH + (OH - 1) * SH + 1:SH, j * DW:j * DW + (OW - 1) * SW + 1:SW] += cols[:, i, j]
    return xp


# Working through the batch a slice at a time keeps the temporaries in cache and lets the allocator reuse their
# memory instead of mapping fresh pages on every call (the 64-image benchmark layer: about twice as fast).
SLICE_BYTES = 2 * 2**20


def _batch_slices(N, bytes_per_image):
    """The batch cut into slices whose im2col matrix takes about ``SLICE_BYTES`` (at least one image each)."""
    step = max(1, SLICE_BYTES // max(1, bytes_per_image))
    return [slice(start, start + step) for start in range(0, N, step)]


def _batch_last_x(x, groups):
    """x (N, C_in, H, W) as (G, C_in / G, H * W * N): the batch last, one matrix per group."""
    return np.ascontiguousarray(x.transpose(1, 2, 3, 0)).reshape(groups, x.shape[1] // groups, -1)


def conv2d(x, weight, bias, pads, stride, dilation, groups, out_hw):
    """``conv.py``'s ``_conv2d``, batch-last."""
    N, (OH, OW), G = x.shape[0], out_hw, groups
    C_out, C_per_group, KH, KW = weight.shape
    w = weight.reshape(G, C_out // G, -1)  # one row per kernel
    out = np.empty((N, C_out, OH, OW), dtype=x.dtype)
    for part in _batch_slices(N, weight[0].size * G * OH * OW * x.itemsize):
        n = x[part].shape[0]
        cols = _cols(_padded(x[part], pads), (KH, KW), stride, dilation, out_hw, G)
        out_part = w @ cols  # (G, C_out/G, K) @ (G, K, OH*OW*n): one product per group
        out[part] = out_part.reshape(C_out, OH, OW, n).transpose(3, 0, 1, 2)  # back to NCHW
    if bias is not None:
        out += bias.reshape(1, C_out, 1, 1)
    return out


def conv2d_backward(grad_out, x, weight, bias, pads, stride, dilation, groups, out_hw):
    """``conv.py``'s ``_conv2d_backward``, batch-last."""
    N, (OH, OW), G = x.shape[0], out_hw, groups
    C_out, C_per_group, KH, KW = weight.shape
    w = weight.reshape(G, C_out // G, -1)
    grad_x = np.empty_like(x)
    grad_weight = np.zeros((G, C_out // G, w.shape[2]), dtype=x.dtype)
    for part in _batch_slices(N, weight[0].size * G * OH * OW * x.itemsize):
        n = x[part].shape[0]
        xp = _padded(x[part], pads)
        cols = _cols(xp, (KH, KW), stride, dilation, out_hw, G)  # (G, K, OH*OW*n)
        g = _batch_last_x(grad_out[part], G)  # (G, C_out/G, OH*OW*n)
        grad_weight += g @ cols.transpose(0, 2, 1)  # the sum over the slice is inside the product
        grad_cols = (w.transpose(0, 2, 1) @ g).reshape(G * C_per_group, KH, KW, OH, OW, n)
        grad_xp = _col2im(grad_cols, xp.shape[2:], stride, dilation)  # (C_in, Hp, Wp, n)
        grad_x[part] = unpad2d(grad_xp.transpose(3, 0, 1, 2), pads)
    grad_bias = None if bias is None else grad_out.sum(axis=(0, 2, 3))
    return grad_x, grad_weight.reshape(weight.shape), grad_bias


def conv_transpose2d(x, weight, bias, pads, stride, dilation, groups, out_hw):
    """``conv.py``'s ``_conv_transpose2d``, batch-last."""
    N, C_in, H, W = x.shape
    _, C_out_per_group, KH, KW = weight.shape
    G, (top, bottom, left, right) = groups, pads
    w = weight.reshape(G, C_in // G, -1)
    out = np.empty((N, G * C_out_per_group) + tuple(out_hw), dtype=x.dtype)
    for part in _batch_slices(N, weight[0].size * G * H * W * x.itemsize):
        n = x[part].shape[0]
        cols = (w.transpose(0, 2, 1) @ _batch_last_x(x[part], G)).reshape(G * C_out_per_group, KH, KW, H, W, n)
        out_part = _col2im(cols, (top + out_hw[0] + bottom, left + out_hw[1] + right), stride, dilation)
        out[part] = unpad2d(out_part.transpose(3, 0, 1, 2), pads)  # back to NCHW
    if bias is not None:
        out += bias.reshape(1, -1, 1, 1)
    return out


def conv_transpose2d_backward(grad_out, x, weight, bias, pads, stride, dilation, groups, out_hw):
    """``conv.py``'s ``_conv_transpose2d_backward``, batch-last."""
    N, C_in, H, W = x.shape
    G, (KH, KW) = groups, weight.shape[2:]
    w = weight.reshape(G, C_in // G, -1)
    grad_x = np.empty_like(x)
    grad_weight = np.zeros(w.shape, dtype=x.dtype)
    for part in _batch_slices(N, weight[0].size * G * H * W * x.itemsize):
        n = x[part].shape[0]
        grad_cols = _cols(_padded(grad_out[part], pads), (KH, KW), stride, dilation, (H, W), G)
        xs = _batch_last_x(x[part], G)  # (G, C_in/G, H*W*n)
        grad_x[part] = (w @ grad_cols).reshape(C_in, H, W, n).transpose(3, 0, 1, 2)  # (G, C_in/G, K) @ (G, K, H*W*n)
        grad_weight += xs @ grad_cols.transpose(0, 2, 1)  # the sum over the slice is inside the product
    grad_bias = None if bias is None else grad_out.sum(axis=(0, 2, 3))
    return grad_x, grad_weight.reshape(weight.shape), grad_bias
