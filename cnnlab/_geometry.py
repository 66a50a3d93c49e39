"""The geometry of the sliding-window and resizing ops, shared by both backends.

Each function checks its op's arguments (with ``cnnlab._checks``) and works out what the op will compute:
the padding and output size of a convolution or a transposed one, the windows of a pooling (kernel,
stride, dilation, padding and the output size, rounded up or down), the output size of an unpooling, the
output size and scales of a resize. They look only at shapes, dtypes and Python numbers, so
``cnnlab.numpy`` and ``cnnlab.torch`` plan the same and fail with the same errors.
"""

from __future__ import annotations

import math
import numbers

from ._checks import _is_int, check_float, check_int, check_ndim, check_same_dtype, check_shape, pair

__all__ = ["conv2d_geometry", "conv_transpose2d_geometry", "pool_geometry", "unpool_geometry", "resize_plan",
           "out_size", "RESIZE_MODES"]


# --- the pieces -----------------------------------------------------------------------------------------------

def out_size(size: int, kernel: int, stride: int, padding: int, dilation: int, op: str,
             ceil_mode: bool = False) -> int:
    """Length of one spatial output axis of a sliding window: the formula of torch's docs,

        n = (size + 2 * padding - span) / stride + 1,   span = dilation * (kernel - 1) + 1,

    rounded down, or with ``ceil_mode`` (pooling) rounded up and then one less if the last window would
    start in the right padding. Rounded up, a window that starts in the input may hang past the padded
    input, even when the kernel spans more than the whole padded input (size 4, kernel 3, dilation 2,
    stride 2: one window), as in torch. An error when no window is left (the kernel is larger than the
    padded input, without ``ceil_mode``).
    """
    span = dilation * (kernel - 1) + 1
    padded = size + 2 * padding
    steps = padded - span
    n = (-(-steps // stride) if ceil_mode else steps // stride) + 1
    # torch: with ceil_mode the last window must start inside the input or the left padding.
    if ceil_mode and (n - 1) * stride >= size + padding:
        n -= 1
    if n < 1:  # only when span > padded
        raise ValueError(
            f"{op}: kernel of size {kernel} (dilation {dilation}, spans {span}) is larger than the "
            f"padded input of size {padded} (input {size} + 2 * padding {padding})")
    return n


def conv_padding(padding, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int],
                 op: str) -> tuple[int, int, int, int]:
    """Resolve a convolution's ``padding`` (int, pair, "valid" or "same") to (top, bottom, left, right).

    "same" keeps the spatial size (stride 1 only, as in torch); when the dilated kernel has an even
    size the extra row / column goes at the bottom / right, as in torch.
    """
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding != "same":
            raise ValueError(f"{op}: padding must be 'same', 'valid', an int >= 0 or a pair of them, got {padding!r}")
        if tuple(stride) != (1, 1):
            raise ValueError(f"{op}: padding='same' is not supported for strided convolutions (stride {tuple(stride)}),"
                             " as in torch; give the padding as numbers")
        pads = []
        for k, d in zip(kernel, dilation):
            total = d * (k - 1)
            pads += [total // 2, total - total // 2]
        return tuple(pads)
    ph, pw = pair(padding, "padding", op, minimum=0)
    return (ph, ph, pw, pw)


def check_pool_padding(padding: tuple[int, int], kernel: tuple[int, int], dilation: tuple[int, int], op: str) -> None:
    """torch's rule for pooling: padding at most half of the kernel size (of the kernel itself, dilation or not)."""
    for p, k in zip(padding, kernel):
        if p > k // 2:
            raise ValueError(f"{op}: padding must be at most half of the kernel size, got padding {tuple(padding)} "
                             f"for kernel_size {tuple(kernel)}")


def unpool_output_size(in_hw: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int],
                       padding: tuple[int, int], output_size, op: str) -> tuple[int, int]:
    """Output (H, W) of max unpooling: the size before the pooling, or ``output_size`` when it is given
    (its last two entries; torch accepts any size strictly within a stride of the default)."""
    default = tuple((i - 1) * s - 2 * p + k for i, k, s, p in zip(in_hw, kernel, stride, padding))
    if output_size is None:
        size = default
    else:
        size = tuple(output_size)[-2:] if len(tuple(output_size)) in (2, 4) else None
        if size is None or not all(_is_int(v) for v in size):
            raise ValueError(f"{op}: output_size must be (H, W) or (N, C, H, W), got {output_size!r}")
        for d in range(2):
            if not default[d] - stride[d] < size[d] < default[d] + stride[d]:
                raise ValueError(f"{op}: invalid output_size {tuple(output_size)}: dim {d} must be between "
                                 f"{default[d] - stride[d] + 1} and {default[d] + stride[d] - 1}")
    if min(size) < 1:
        raise ValueError(f"{op}: output size {size} is too small (input {tuple(in_hw)}, kernel_size {tuple(kernel)}, "
                         f"stride {tuple(stride)}, padding {tuple(padding)})")
    return tuple(int(v) for v in size)


# --- conv2d, conv_transpose2d (cnnlab/numpy/conv.py) ------------------------------------------------------------

def _check_conv_weights(op, x, weight, bias, groups, layout):
    """Types and ranks of input / weight / bias, and groups; ``layout`` describes the weight's axes."""
    check_float(x, "input", op)
    check_float(weight, "weight", op)
    check_ndim(x, 4, "input", op, "(N, C_in, H, W)")
    check_ndim(weight, 4, "weight", op, layout)
    check_same_dtype(x, weight, ("input", "weight"), op)
    if bias is not None:
        check_float(bias, "bias", op)
        check_same_dtype(x, bias, ("input", "bias"), op)
    if not _is_int(groups) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    if min(weight.shape) < 1:
        raise ValueError(f"{op}: weight must not have an empty axis, got shape {tuple(weight.shape)}")
    if x.shape[1] % groups:
        raise ValueError(f"{op}: groups={groups} does not divide the input's {x.shape[1]} channels")


def conv2d_geometry(op, x, weight, bias, stride, padding, dilation, groups):
    """Validate conv2d's arguments; return (pads, stride, dilation, (OH, OW)), pads = (top, bottom, left, right)."""
    _check_conv_weights(op, x, weight, bias, groups, "(C_out, C_in / groups, KH, KW)")
    C_out, C_per_group, KH, KW = weight.shape
    if C_out % groups:
        raise ValueError(f"{op}: groups={groups} does not divide the weight's {C_out} output channels "
                         f"(weight shape {tuple(weight.shape)})")
    if x.shape[1] != C_per_group * groups:
        per_group = f" ({C_per_group} per group x {groups} groups)" if groups > 1 else ""
        raise ValueError(f"{op}: input has {x.shape[1]} channels but weight expects {C_per_group * groups}"
                         f"{per_group} (weight shape {tuple(weight.shape)})")
    if bias is not None:
        check_shape(bias, (C_out,), "bias", op)
    stride = pair(stride, "stride", op)
    dilation = pair(dilation, "dilation", op)
    top, bottom, left, right = pads = conv_padding(padding, (KH, KW), stride, dilation, op)
    H, W = x.shape[2:]
    # out_size pads symmetrically; "same" may pad one more at the bottom / right, hence the shift.
    OH = out_size(H + bottom - top, KH, stride[0], top, dilation[0], op)
    OW = out_size(W + right - left, KW, stride[1], left, dilation[1], op)
    return pads, stride, dilation, (OH, OW)


def conv_transpose2d_geometry(op, x, weight, bias, stride, padding, output_padding, groups, dilation):
    """Validate conv_transpose2d's arguments; return (pads, stride, dilation, (H_out, W_out))."""
    _check_conv_weights(op, x, weight, bias, groups, "(C_in, C_out / groups, KH, KW)")
    C_in, C_out_per_group, KH, KW = weight.shape
    if x.shape[1] != C_in:
        raise ValueError(f"{op}: input has {x.shape[1]} channels but weight expects {C_in} "
                         f"(weight shape {tuple(weight.shape)})")
    if bias is not None:
        check_shape(bias, (C_out_per_group * groups,), "bias", op)
    stride = pair(stride, "stride", op)
    dilation = pair(dilation, "dilation", op)
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int >= 0 or a pair of them, got {padding!r} "
                         "(torch has no 'same' / 'valid' for transposed convolutions)")
    PH, PW = pair(padding, "padding", op, minimum=0)
    output_padding = pair(output_padding, "output_padding", op, minimum=0)
    for op_, s, d in zip(output_padding, stride, dilation):
        if op_ >= s and op_ >= d:
            raise ValueError(f"{op}: output_padding must be smaller than either stride or dilation, got "
                             f"output_padding {output_padding}, stride {stride}, dilation {dilation}")
    H, W = x.shape[2:]
    H_out = (H - 1) * stride[0] - 2 * PH + dilation[0] * (KH - 1) + output_padding[0] + 1
    W_out = (W - 1) * stride[1] - 2 * PW + dilation[1] * (KW - 1) + output_padding[1] + 1
    if H_out < 1 or W_out < 1:
        raise ValueError(f"{op}: output size ({H_out}, {W_out}) is too small: padding {(PH, PW)} cuts away more "
                         f"than the ({H_out + 2 * PH}, {W_out + 2 * PW}) pixels the kernel stamps cover")
    return (PH, PH, PW, PW), stride, dilation, (H_out, W_out)


# --- max_unpool2d (cnnlab/numpy/pool.py) --------------------------------------------------------------------------

def unpool_geometry(op, x, indices, kernel_size, stride, padding, output_size):
    """Validate max_unpool2d's arguments; return the output size (H_out, W_out)."""
    check_float(x, "input", op)
    check_ndim(x, 4, "input", op, "(N, C, H, W)")
    check_int(indices, "indices", op)
    check_shape(indices, x.shape, "indices (the shape of the input)", op)
    kernel = pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None else pair(stride, "stride", op)
    padding = pair(padding, "padding", op, minimum=0)
    H_out, W_out = unpool_output_size(x.shape[2:], kernel, stride, padding, output_size, op)
    if all(indices.shape) and (indices.min() < 0 or indices.max() >= H_out * W_out):
        raise ValueError(f"{op}: indices must lie in [0, {H_out * W_out}) for an output of size {(H_out, W_out)}, "
                         f"got values from {int(indices.min())} to {int(indices.max())}")
    return H_out, W_out



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
