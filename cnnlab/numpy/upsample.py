"""Upsampling (上采样) by interpolation, in NumPy: nearest neighbour (最近邻插值) and bilinear (双线性插值).

Both modes are *linear maps* that act on the rows and the columns separately. Along one axis,
resizing n input pixels to m output pixels is an (m, n) matrix ``A``: row i of ``A`` holds the
weights with which output pixel i mixes the input pixels (one 1 for nearest, two weights summing
to 1 for bilinear). A whole image is then resized by

    y = A_h @ x @ A_w.T          (N, C, H, W) -> (N, C, OH, OW)

and, because the map is linear, the backward pass is the transposed map:

    grad_x = A_h.T @ grad_y @ A_w

which sends every output gradient back to the input pixels it was mixed from, with the same weights
(the same picture as the transposed convolution, 反卷积).

The index arithmetic is exactly torch's (``torch.nn.functional.interpolate``), including its
special cases, so the results agree with torch to the last bit of float64 rounding.

The public ``interpolate`` and ``interpolate_backward`` check their arguments and work out the plan (the
output size, the two matrices); the private ``_interpolate`` and ``_interpolate_backward`` do the math.
(``cnnlab.torch`` runs these same functions on tensors, see ``cnnlab/torch/_mirror.py``.)
"""

from __future__ import annotations

import numpy as np

# The input checks, shared with cnnlab.torch: resize_plan (cnnlab/_geometry.py) checks the arguments as torch
# does and returns the output size (OH, OW), the scales to use in the index formula, and align_corners.
from .._checks import check_float, check_shape
from .._geometry import resize_plan
from ._arrays import check_arrays

__all__ = ["interpolate", "interpolate_backward"]


def _nearest_matrix(n_in: int, n_out: int, scale: float | None) -> np.ndarray:
    """(n_out, n_in) 0/1 matrix of nearest-neighbour resizing along one axis.

    Output pixel i copies input pixel ``floor(i * n_in / n_out)`` (or ``floor(i / scale)`` when a
    scale factor is given), the rule of torch's mode="nearest" (OpenCV's INTER_NEAREST). torch
    computes it in float32 and copies directly when the size is kept or exactly doubled.
    """
    i = np.arange(n_out)
    if n_out == n_in:
        src = i
    elif n_out == 2 * n_in:
        src = i // 2
    else:
        step = np.float32(1 / scale) if scale is not None else np.float32(n_in) / np.float32(n_out)
        src = np.minimum(np.floor(i.astype(np.float32) * step).astype(np.int64), n_in - 1)
    a = np.zeros((n_out, n_in))
    a[i, src] = 1
    return a


def _bilinear_matrix(n_in: int, n_out: int, scale: float | None, align_corners: bool, dtype) -> np.ndarray:
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
    if n_out == n_in:  # torch copies when the size is kept, whatever the scale factor
        return np.eye(n_in, dtype=dtype)
    i = np.arange(n_out).astype(dtype)
    if align_corners:
        ratio = dtype(n_in - 1) / dtype(n_out - 1) if n_out > 1 else dtype(0)
        src = ratio * i
    else:
        ratio = dtype(1 / scale) if scale is not None else dtype(n_in) / dtype(n_out)
        src = np.maximum(ratio * (i + dtype(0.5)) - dtype(0.5), 0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    frac = np.clip(src - i0, 0, 1).astype(dtype)
    rows = np.arange(n_out)
    a = np.zeros((n_out, n_in), dtype=dtype)
    np.add.at(a, (rows, i0), 1 - frac)  # add.at, not "=": i0 and i1 coincide at the last pixel
    np.add.at(a, (rows, i1), frac)
    return a


def _matrices(x, out_hw, scales, mode, align_corners):
    """The two per-axis matrices ``(A_h, A_w)`` of the resize, in x's dtype (they depend on the sizes only)."""
    dtype = x.dtype.type
    mats = []
    for n_in, n_out, scale in zip(x.shape[2:], out_hw, scales or (None, None)):
        if mode == "nearest":
            mats.append(_nearest_matrix(n_in, n_out, scale).astype(dtype))
        else:
            mats.append(_bilinear_matrix(n_in, n_out, scale, align_corners, dtype))
    return mats


def interpolate(x: np.ndarray, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                recompute_scale_factor=None) -> np.ndarray:
    """Resize images by nearest-neighbour or bilinear interpolation, as ``torch.nn.functional.interpolate``.

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
        y: shape (N, C, OH, OW), same dtype as x.
    """
    op = "interpolate"
    check_arrays(op, (x, "input"))
    out_hw, scales, align_corners = resize_plan(x, size, scale_factor, mode, align_corners, recompute_scale_factor, op)
    a_h, a_w = _matrices(x, out_hw, scales, mode, align_corners)
    return _interpolate(x, a_h, a_w)


def _interpolate(x, a_h, a_w):
    return a_h @ x @ a_w.T  # matmul broadcasts over (N, C): rows by A_h, columns by A_w


def interpolate_backward(grad_out: np.ndarray, x: np.ndarray, size=None, scale_factor=None, mode: str = "nearest",
                         align_corners=None, recompute_scale_factor=None) -> np.ndarray:
    """Gradient of ``interpolate`` with respect to its input: the transposed resize.

    Args:
        grad_out: gradient of the output, shape (N, C, OH, OW).
        x: the input of the forward, shape (N, C, H, W) (only its shape and dtype are used).
        size, scale_factor, mode, align_corners, recompute_scale_factor: as in the forward.

    Returns:
        grad_x: shape (N, C, H, W). Each input pixel collects the gradients of all output pixels that
        read it, weighted as they read it.
    """
    op = "interpolate_backward"
    check_arrays(op, (x, "input"), (grad_out, "grad_out"))
    out_hw, scales, align_corners = resize_plan(x, size, scale_factor, mode, align_corners, recompute_scale_factor, op)
    check_float(grad_out, "grad_out", op)
    check_shape(grad_out, tuple(x.shape[:2]) + tuple(out_hw), "grad_out", op)
    a_h, a_w = _matrices(x, out_hw, scales, mode, align_corners)
    return _interpolate_backward(grad_out, x, a_h, a_w)


def _interpolate_backward(grad_out, x, a_h, a_w):
    return a_h.T @ grad_out @ a_w  # every output gradient goes back with the weight it was read with
