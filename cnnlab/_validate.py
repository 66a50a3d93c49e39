"""Input checks shared by both backends.

Every check raises at the boundary of an op with a message that names the op, what was expected
and what came, e.g. ``conv2d: stride must be a positive int or a pair of them, got 0``.
The checks look only at shapes, dtypes and Python numbers, so NumPy arrays and torch tensors
go through the same code and get the same errors.
"""

from __future__ import annotations

import numbers


def pair(value, name: str, op: str, minimum: int = 1) -> tuple[int, int]:
    """Return ``value`` as ``(a, b)``: an int means ``(value, value)``; each must be an int >= minimum."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    kind = "a positive int" if minimum == 1 else f"an int >= {minimum}"
    if len(items) != 2 or not all(_is_int(v) and v >= minimum for v in items):
        raise ValueError(f"{op}: {name} must be {kind} or a pair of them, got {value!r}")
    return int(items[0]), int(items[1])


def _is_int(v) -> bool:
    # bool is an int in Python but `stride=True` is always a mistake.
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def check_ndim(x, ndim: int, name: str, op: str, layout: str = "") -> None:
    """Require ``x.ndim == ndim``; ``layout`` (e.g. "(N, C, H, W)") explains the axes."""
    if x.ndim != ndim:
        hint = f" {layout}" if layout else ""
        raise ValueError(f"{op}: {name} must be {ndim}-D{hint}, got {x.ndim}-D with shape {tuple(x.shape)}")


def check_float(x, name: str, op: str) -> None:
    """Require a floating-point array or tensor (ints would silently truncate gradients)."""
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        raise TypeError(f"{op}: {name} must be an array or tensor of floats, got {type(x).__name__}")
    is_float = getattr(dtype, "is_floating_point", None)  # torch dtypes carry this flag
    if is_float is None:
        is_float = getattr(dtype, "kind", "") == "f"  # NumPy: 'f' is float; 'i', 'u', 'b', 'O' are not
    if not is_float:
        raise TypeError(f"{op}: {name} must have a floating-point dtype (float32 or float64), got {dtype}")


def check_same_dtype(a, b, names: tuple[str, str], op: str) -> None:
    if a.dtype != b.dtype:
        raise TypeError(f"{op}: {names[0]} has dtype {a.dtype} but {names[1]} has dtype {b.dtype}; convert one of them")


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


# --- appended for conv / pool / unpool (cnnlab.numpy.conv, cnnlab.numpy.pool and their torch mirrors) ---

_INT_DTYPES = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"}


def check_int(x, name: str, op: str) -> None:
    """Require an integer array or tensor (e.g. the indices of max pooling)."""
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        raise TypeError(f"{op}: {name} must be an array or tensor of integers, got {type(x).__name__}")
    if str(dtype).replace("torch.", "") not in _INT_DTYPES:  # same spelling for NumPy and torch dtypes
        raise TypeError(f"{op}: {name} must have an integer dtype (int64), got {dtype}")


def check_shape(x, shape, name: str, op: str) -> None:
    """Require ``x.shape == shape`` exactly (a bias, a gradient, the indices of a pooling)."""
    if tuple(x.shape) != tuple(shape):
        raise ValueError(f"{op}: {name} must have shape {tuple(shape)}, got {tuple(x.shape)}")


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
