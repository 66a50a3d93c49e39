"""Argument checks shared by both backends.

Every check raises at the boundary of an op with a message that names the op, what was expected
and what came, e.g. ``conv2d: stride must be a positive int or a pair of them, got 0``.
The checks look only at shapes, dtypes and Python numbers (and, for indices and class targets,
at comparisons and ``min`` / ``max``, which NumPy and torch spell alike), so NumPy arrays and torch
tensors go through the same code and get the same errors. The sizes an op will compute (the output of a
convolution or a pooling, the plan of a resize) are worked out in ``cnnlab/_geometry.py``.
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


def _is_float_dtype(dtype) -> bool:
    """Whether a NumPy or torch dtype is a floating-point one (False for None)."""
    is_float = getattr(dtype, "is_floating_point", None)  # torch dtypes carry this flag
    if is_float is None:
        is_float = getattr(dtype, "kind", "") == "f"  # NumPy: 'f' is float; 'i', 'u', 'b', 'O' are not
    return is_float


def check_float(x, name: str, op: str) -> None:
    """Require a floating-point array or tensor (ints would silently truncate gradients)."""
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        raise TypeError(f"{op}: {name} must be an array or tensor of floats, got {type(x).__name__}")
    if not _is_float_dtype(dtype):
        raise TypeError(f"{op}: {name} must have a floating-point dtype (float32 or float64), got {dtype}")


def check_same_dtype(a, b, names: tuple[str, str], op: str) -> None:
    if a.dtype != b.dtype:
        raise TypeError(f"{op}: {names[0]} has dtype {a.dtype} but {names[1]} has dtype {b.dtype}; convert one of them")


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


def check_grad_out(op, grad_out, x, shape):
    """The incoming gradient of a backward: floats of x's dtype, of the forward output's ``shape``."""
    check_float(grad_out, "grad_out", op)
    check_same_dtype(x, grad_out, ("input", "grad_out"), op)
    check_shape(grad_out, shape, "grad_out (the shape of the forward output)", op)


def check_avg(op, count_include_pad, divisor_override):
    """avg_pool2d's own arguments (count_include_pad is any truth value, as in torch)."""
    if divisor_override is not None and (not _is_int(divisor_override) or divisor_override < 1):
        raise ValueError(f"{op}: divisor_override must be None or a positive int, got {divisor_override!r}")


def check_linear(x, weight, bias, op):
    check_float(x, "input", op)
    check_float(weight, "weight", op)
    check_ndim(weight, 2, "weight", op, "(out_features, in_features)")
    check_same_dtype(x, weight, ("input", "weight"), op)
    if x.ndim < 1:
        raise ValueError(f"{op}: input must have at least 1 dimension (*, in_features), got a 0-D array")
    if x.shape[-1] != weight.shape[1]:
        raise ValueError(f"{op}: input has {x.shape[-1]} features but weight expects {weight.shape[1]} "
                         f"(weight shape {tuple(weight.shape)})")
    if bias is not None:
        check_float(bias, "bias", op)
        check_same_dtype(x, bias, ("input", "bias"), op)
        check_shape(bias, (weight.shape[0],), "bias", op)


def flatten_dims(x, start_dim, end_dim, op):
    """flatten's ``start_dim`` and ``end_dim`` as non-negative axes, checked as torch checks them."""
    nd = max(x.ndim, 1)  # torch treats a 0-D tensor as 1-D here
    dims = []
    for name, d in (("start_dim", start_dim), ("end_dim", end_dim)):
        if not _is_int(d) or not -nd <= d < nd:
            raise ValueError(f"{op}: {name} must be an int in [{-nd}, {nd - 1}] for a {x.ndim}-D input, got {d!r}")
        dims.append(d % nd)
    if dims[0] > dims[1]:
        raise ValueError(f"{op}: start_dim ({start_dim}) must not come after end_dim ({end_dim}) "
                         f"for a {x.ndim}-D input")
    return dims


def check_dropout_p(p, op):
    """Dropout's ``p``, the probability of dropping a unit: a number in [0, 1]."""
    if not isinstance(p, numbers.Real) or isinstance(p, bool) or not 0 <= p <= 1:
        raise ValueError(f"{op}: p (the probability of dropping a unit) must be a number in [0, 1], got {p!r}")


def check_dim(x, dim, op) -> int:
    """``dim`` as a non-negative axis of x; clear error when it is not an axis of x."""
    if not _is_int(dim) or not -x.ndim <= dim < x.ndim:
        raise ValueError(f"{op}: dim must be an int in [{-x.ndim}, {x.ndim - 1}] for a {x.ndim}-D input, got {dim!r}")
    return dim % x.ndim


def check_grad_like(grad_out, x, op):
    """The incoming gradient of an op whose output has x's shape: floats of that shape."""
    check_float(grad_out, "grad_out", op)
    check_shape(grad_out, x.shape, "grad_out", op)


def check_cross_entropy(logits, target, op):
    """Float logits (N, C, ...) and integer class indices (N, ...) in [0, C)."""
    check_float(logits, "logits", op)
    if logits.ndim < 2:
        raise ValueError(f"{op}: logits must be (N, C) or (N, C, d1, ...), got {logits.ndim}-D with shape "
                         f"{tuple(logits.shape)}")
    if _is_float_dtype(getattr(target, "dtype", None)):
        raise TypeError(f"{op}: target must hold integer class indices in [0, C), got dtype {target.dtype} "
                        f"(class probabilities as targets are not supported)")
    check_int(target, "target", op)
    check_shape(target, tuple(logits.shape[:1]) + tuple(logits.shape[2:]), "target", op)
    n_classes = logits.shape[1]
    # Two reductions on every call; the bad entries are looked for only when there are some.
    if all(target.shape) and (target.min() < 0 or target.max() >= n_classes):
        bad = target[(target < 0) | (target >= n_classes)]  # a 1-D array or tensor of the bad entries
        raise ValueError(f"{op}: target contains class {int(bad[0])}, but logits have {n_classes} classes "
                         f"(valid targets are 0..{n_classes - 1})")


def check_mse(input, target, op):
    check_float(input, "input", op)
    check_float(target, "target", op)
    check_same_dtype(input, target, ("input", "target"), op)
    # torch would broadcast (with a warning); a shape mismatch is almost always a bug, so refuse it.
    check_shape(target, input.shape, "target", op)


def penalty_params(params, lam, op) -> list:
    """``params`` as a list of float arrays or tensors (one is a list of one); check ``lam >= 0``."""
    if not isinstance(lam, numbers.Real) or isinstance(lam, bool) or lam < 0:
        raise ValueError(f"{op}: lam (the penalty's strength) must be a number >= 0, got {lam!r}")
    many = isinstance(params, (list, tuple))
    arrays = list(params) if many else [params]
    for i, w in enumerate(arrays):
        check_float(w, f"params[{i}]" if many else "params", op)
    return arrays


def positive_int(value, name: str, op: str) -> int:
    if not _is_int(value) or value < 1:
        raise ValueError(f"{op}: {name} must be a positive int, got {value!r}")
    return int(value)
