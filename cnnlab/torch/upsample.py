"""Upsampling (上采样) by interpolation: nearest neighbour (最近邻插值) and bilinear (双线性插值), on torch tensors.

The torch twin of ``cnnlab/numpy/upsample.py``. Both modes are *linear maps* that act on the rows
and the columns separately. Along one axis, resizing n input pixels to m output pixels is an
(m, n) matrix ``A``: row i of ``A`` holds the weights with which output pixel i mixes the input
pixels (one 1 for nearest, two weights summing to 1 for bilinear). A whole image is then resized by

    y = A_h @ x @ A_w.T          (N, C, H, W) -> (N, C, OH, OW)

and, because the map is linear, the backward pass is the transposed map:

    grad_x = A_h.T @ grad_y @ A_w

What torch adds: ``interpolate`` is a ``torch.autograd.Function`` (``_Interpolate``) whose backward
is that transposed map. The index arithmetic is torch's own (``torch.nn.functional.interpolate``),
which is only the oracle in the tests; the argument checks are shared with the NumPy backend (``cnnlab/_geometry.py``).
"""

from __future__ import annotations

import torch

from .._geometry import resize_plan
from .._checks import check_float, check_shape
from ._device import check_tensors

__all__ = ["interpolate", "interpolate_backward"]


def _nearest_matrix(n_in: int, n_out: int, scale: float | None, like: torch.Tensor) -> torch.Tensor:
    """(n_out, n_in) 0/1 matrix of nearest-neighbour resizing along one axis (dtype, device of ``like``).

    Output pixel i copies input pixel ``floor(i * n_in / n_out)`` (or ``floor(i / scale)`` when a
    scale factor is given), the rule of torch's mode="nearest" (OpenCV's INTER_NEAREST). torch
    computes it in float32 and copies directly when the size is kept or exactly doubled.
    """
    i = torch.arange(n_out, device=like.device)
    if n_out == n_in:
        src = i
    elif n_out == 2 * n_in:
        src = i // 2
    else:
        f32 = torch.float32
        step = torch.tensor(1 / scale, dtype=f32) if scale is not None else (
            torch.tensor(n_in, dtype=f32) / torch.tensor(n_out, dtype=f32))
        src = torch.clamp(torch.floor(i.to(f32) * step.to(like.device)).long(), max=n_in - 1)
    a = torch.zeros((n_out, n_in), dtype=like.dtype, device=like.device)
    a[i, src] = 1
    return a


def _bilinear_matrix(n_in: int, n_out: int, scale: float | None, align_corners: bool,
                     like: torch.Tensor) -> torch.Tensor:
    """(n_out, n_in) matrix of linear interpolation along one axis; each row has weights summing to 1.

    Output pixel i sits at the (fractional) input position ``src``:

    - align_corners=True: the corner pixels of input and output are aligned,
      ``src = i * (n_in - 1) / (n_out - 1)``;
    - align_corners=False: pixels are squares of side 1 and their *centres* are matched,
      ``src = (i + 0.5) * n_in / n_out - 0.5`` (or ``/ scale`` for a given scale factor), at least 0.

    It mixes its two neighbours ``i0 = floor(src)`` and ``i0 + 1`` with weights ``1 - frac``
    and ``frac``, ``frac = src - i0``. At the last pixel both neighbours are the same pixel.
    The arithmetic is in the input's dtype, as torch's.
    """
    dtype, device = like.dtype, like.device
    if n_out == n_in:  # torch copies when the size is kept, whatever the scale factor
        return torch.eye(n_in, dtype=dtype, device=device)

    def num(v):  # a Python number rounded to the input's dtype, like NumPy's ``dtype(v)``
        return torch.tensor(v, dtype=dtype, device=device)

    i = torch.arange(n_out, device=device).to(dtype)
    if align_corners:
        ratio = num(n_in - 1) / num(n_out - 1) if n_out > 1 else num(0)
        src = ratio * i
    else:
        ratio = num(1 / scale) if scale is not None else num(n_in) / num(n_out)
        src = torch.clamp(ratio * (i + num(0.5)) - num(0.5), min=0)
    i0 = torch.clamp(torch.floor(src).long(), max=n_in - 1)
    i1 = torch.clamp(i0 + 1, max=n_in - 1)
    frac = torch.clamp(src - i0, 0, 1).to(dtype)
    rows = torch.arange(n_out, device=device)
    a = torch.zeros((n_out, n_in), dtype=dtype, device=device)
    a.index_put_((rows, i0), 1 - frac, accumulate=True)  # accumulate, not "=": i0 and i1 coincide at the last pixel
    a.index_put_((rows, i1), frac, accumulate=True)
    return a


def _matrices(x, size, scale_factor, mode, align_corners, recompute_scale_factor, op):
    """The two per-axis matrices ``(A_h, A_w)`` of the resize, in x's dtype, on x's device."""
    out, scales, align_corners = resize_plan(x, size, scale_factor, mode, align_corners, recompute_scale_factor, op)
    scales = scales or (None, None)
    mats = []
    for axis in range(2):
        n_in, n_out, scale = x.shape[2 + axis], out[axis], scales[axis]
        if mode == "nearest":
            mats.append(_nearest_matrix(n_in, n_out, scale, x))
        else:
            mats.append(_bilinear_matrix(n_in, n_out, scale, align_corners, x))
    return mats


def interpolate(x: torch.Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                recompute_scale_factor=None) -> torch.Tensor:
    """Resize images by nearest-neighbour or bilinear interpolation, as ``torch.nn.functional.interpolate``.

    Differentiable: ``backward()`` runs :func:`interpolate_backward`'s transposed resize.

    Args:
        x: input, shape (N, C, H, W), float.
        size: output size, an int (square) or a pair (OH, OW).
        scale_factor: a number or a pair (sh, sw); the output size is ``floor(H * sh), floor(W * sw)``.
            Give exactly one of ``size`` and ``scale_factor``.
        mode: "nearest" or "bilinear".
        align_corners: bilinear only (None means False): whether the corner pixels of input and output
            are aligned (True) or the pixel squares are matched (False). Must stay None for "nearest".
        recompute_scale_factor: with ``scale_factor``, True uses ``H / OH`` instead of ``1 / sh`` to place
            the output pixels (they differ when ``H * sh`` is not an integer), as in torch.

    Returns:
        y: shape (N, C, OH, OW), same dtype and device as x.
    """
    check_tensors("interpolate", (x, "input"))
    a_h, a_w = _matrices(x, size, scale_factor, mode, align_corners, recompute_scale_factor, "interpolate")
    return _Interpolate.apply(x, a_h, a_w)


def interpolate_backward(grad_out: torch.Tensor, x: torch.Tensor, size=None, scale_factor=None,
                         mode: str = "nearest", align_corners=None, recompute_scale_factor=None) -> torch.Tensor:
    """Gradient of ``interpolate`` with respect to its input: the transposed resize.

    Args:
        grad_out: gradient of the output, shape (N, C, OH, OW).
        x: the input of the forward, shape (N, C, H, W) (only its shape, dtype and device are used).
        size, scale_factor, mode, align_corners, recompute_scale_factor: as in the forward.

    Returns:
        grad_x: shape (N, C, H, W). Each input pixel collects the gradients of all output pixels that
        read it, weighted as they read it.
    """
    op = "interpolate_backward"
    check_tensors(op, (x, "input"), (grad_out, "grad_out"))
    a_h, a_w = _matrices(x, size, scale_factor, mode, align_corners, recompute_scale_factor, op)
    check_float(grad_out, "grad_out", op)
    check_shape(grad_out, tuple(x.shape[:2]) + (a_h.shape[0], a_w.shape[0]), "grad_out", op)
    return _interpolate_backward(grad_out, a_h, a_w)


def _interpolate_backward(grad_out, a_h, a_w):
    return a_h.T @ grad_out @ a_w  # every output gradient goes back with the weight it was read with


class _Interpolate(torch.autograd.Function):
    """The resize ``A_h @ x @ A_w.T`` as an autograd node; backward is the transposed resize."""

    @staticmethod
    def forward(ctx, x, a_h, a_w):
        ctx.save_for_backward(a_h, a_w)
        return a_h @ x @ a_w.T  # matmul broadcasts over (N, C): rows by A_h, columns by A_w

    @staticmethod
    def backward(ctx, grad_out):
        a_h, a_w = ctx.saved_tensors
        return _interpolate_backward(grad_out, a_h, a_w), None, None
