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
    """Length of one spatial output axis of a sliding window: the formula of torch's docs."""
    span = dilation * (kernel - 1) + 1
    padded = size + 2 * padding
    if span > padded:
        raise ValueError(
            f"{op}: kernel of size {kernel} (dilation {dilation}, spans {span}) is larger than the "
            f"padded input of size {padded} (input {size} + 2 * padding {padding})")
    steps = padded - span
    n = (-(-steps // stride) if ceil_mode else steps // stride) + 1
    # torch: with ceil_mode the last window must start inside the input or the left padding.
    if ceil_mode and (n - 1) * stride >= size + padding:
        n -= 1
    return n
