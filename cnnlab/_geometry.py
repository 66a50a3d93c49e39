"""Plans of the pooling and resizing ops, shared by both backends.

``pool_geometry`` and ``resize_plan`` check their op's arguments (with ``cnnlab._validate``) and work out
what the op will compute: the windows of a pooling (kernel, stride, dilation, padding and the output
size, rounded up or down), the output size and scales of a resize. They look only at shapes, dtypes and
Python numbers, so ``cnnlab.numpy`` and ``cnnlab.torch`` plan the same and fail with the same errors.
"""

from __future__ import annotations

import math
import numbers

from ._validate import _is_int, check_float, check_ndim, check_pool_padding, out_size, pair

__all__ = ["pool_geometry", "resize_plan", "RESIZE_MODES"]


# --- max_pool2d, avg_pool2d (cnnlab/numpy/pool.py) --------------------------------------------------------------

def pool_geometry(op, x, kernel_size, stride, padding, dilation, ceil_mode):
    """Validate a pooling's arguments; return (kernel, stride, dilation, padding, pads, (OH, OW)).

    ``pads`` = (top, bottom, left, right) is ``padding`` plus, with ``ceil_mode``, the rows and
    columns the last window hangs over the bottom / right border.
    """
    check_float(x, "input", op)
    check_ndim(x, 4, "input", op, "(N, C, H, W)")
    kernel = pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None else pair(stride, "stride", op)  # torch: the stride defaults to the kernel
    padding = pair(padding, "padding", op, minimum=0)
    dilation = pair(dilation, "dilation", op)
    check_pool_padding(padding, kernel, dilation, op)
    H, W = x.shape[2:]
    OH = out_size(H, kernel[0], stride[0], padding[0], dilation[0], op, ceil_mode)
    OW = out_size(W, kernel[1], stride[1], padding[1], dilation[1], op, ceil_mode)
    # ceil_mode: the last window may reach past the padded input; pad those rows / columns too.
    over_h = max(0, (OH - 1) * stride[0] + dilation[0] * (kernel[0] - 1) + 1 - (H + 2 * padding[0]))
    over_w = max(0, (OW - 1) * stride[1] + dilation[1] * (kernel[1] - 1) + 1 - (W + 2 * padding[1]))
    pads = (padding[0], padding[0] + over_h, padding[1], padding[1] + over_w)
    return kernel, stride, dilation, padding, pads, (OH, OW)


# --- interpolate (cnnlab/numpy/upsample.py) -----------------------------------------------------------------------

RESIZE_MODES = ("nearest", "bilinear")


def resize_plan(x, size, scale_factor, mode, align_corners, recompute_scale_factor, op):
    """Check the arguments as torch does; return ``(out_size, scales, align_corners)``.

    ``out_size`` is ``(OH, OW)``; ``scales`` is ``(sh, sw)`` when the user's scale factors are
    to be used in the index formula, else ``None`` (then the scale is in_size / out_size).
    """
    if mode not in RESIZE_MODES:
        raise ValueError(f"{op}: mode must be one of {', '.join(repr(m) for m in RESIZE_MODES)}, got {mode!r}")
    if mode == "nearest" and align_corners is not None:
        raise ValueError(f"{op}: align_corners can only be set with mode='bilinear', not with mode='nearest' "
                         f"(got align_corners={align_corners!r}; leave it None)")
    check_float(x, "input", op)
    check_ndim(x, 4, "input", op, "(N, C, H, W)")
    if size is not None and scale_factor is not None:
        raise ValueError(f"{op}: give only one of size or scale_factor, got size={size!r} and "
                         f"scale_factor={scale_factor!r}")
    if size is None and scale_factor is None:
        raise ValueError(f"{op}: give one of size or scale_factor, got neither")
    in_size = tuple(x.shape[2:])

    if size is not None:
        if recompute_scale_factor:
            raise ValueError(f"{op}: recompute_scale_factor is not meaningful with an explicit size")
        items = tuple(size) if isinstance(size, (tuple, list)) else (size, size)
        if len(items) != 2 or not all(_is_int(s) and s >= 1 for s in items):
            raise ValueError(f"{op}: size must be a positive int or a pair (OH, OW) of them, got {size!r}")
        return (int(items[0]), int(items[1])), None, bool(align_corners)

    items = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor, scale_factor)
    if len(items) != 2 or not all(isinstance(s, numbers.Real) and not isinstance(s, bool) and s > 0
                                  for s in items):
        raise ValueError(f"{op}: scale_factor must be a positive number or a pair of them, got {scale_factor!r}")
    scales = tuple(float(s) for s in items)
    # The output size is the input size times the scale, rounded down (as torch).
    out = tuple(math.floor(n * s) for n, s in zip(in_size, scales))
    if min(out) < 1:
        raise ValueError(f"{op}: scale_factor {scale_factor!r} turns the input size {in_size} into an empty "
                         f"output {out}")
    # torch uses the user's scale in the index formula, unless asked to recompute it from the sizes.
    return out, (None if recompute_scale_factor else scales), bool(align_corners)
