"""Input checks shared by both backends.

Every check raises at the boundary of an op with a message that names the op, what was expected
and what came, e.g. ``conv2d: stride must be a positive int or a pair of them, got 0``.
The checks look only at shapes, dtypes and Python numbers (and, for indices and class targets,
at comparisons and ``min`` / ``max``, which NumPy and torch spell alike), so NumPy arrays and torch
tensors go through the same code and get the same errors.

The first part holds the pieces (``pair``, ``check_ndim``, ``out_size``, ...); the second the checks
of whole ops, which both backends call at the top of each op and its backward (``check_conv2d``,
``check_linear``, ``check_cross_entropy``, ...). What a pooling or a resize will compute, beyond
checking, is planned in ``cnnlab/_geometry.py``.
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


# ------------------------------------------------------------------------------------------------------------
# The checks of whole ops, one per op (or family of ops): cnnlab.numpy and cnnlab.torch both call these, so
# bad input gets the same error on both backends. The torch backend first checks that it got tensors on
# one device (cnnlab.torch._device.check_tensors); everything else is here.
# ------------------------------------------------------------------------------------------------------------

# --- conv2d, conv_transpose2d (cnnlab/numpy/conv.py) --------------------------------------------------------

def _check_weights(op, x, weight, bias, groups, layout):
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


def check_conv2d(op, x, weight, bias, stride, padding, dilation, groups):
    """Validate conv2d's arguments; return (pads, stride, dilation, (OH, OW)), pads = (top, bottom, left, right)."""
    _check_weights(op, x, weight, bias, groups, "(C_out, C_in / groups, KH, KW)")
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


def check_conv_transpose2d(op, x, weight, bias, stride, padding, output_padding, groups, dilation):
    """Validate conv_transpose2d's arguments; return (pads, stride, dilation, (H_out, W_out))."""
    _check_weights(op, x, weight, bias, groups, "(C_in, C_out / groups, KH, KW)")
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


def check_grad_out(op, grad_out, x, shape):
    """The incoming gradient of a backward: floats of x's dtype, of the forward output's ``shape``."""
    check_float(grad_out, "grad_out", op)
    check_same_dtype(x, grad_out, ("input", "grad_out"), op)
    check_shape(grad_out, shape, "grad_out (the shape of the forward output)", op)


# --- avg_pool2d, max_unpool2d (cnnlab/numpy/pool.py; the pooling geometry is in cnnlab/_geometry.py) ---------

def check_avg(op, count_include_pad, divisor_override):
    """avg_pool2d's own arguments (count_include_pad is any truth value, as in torch)."""
    if divisor_override is not None and (not _is_int(divisor_override) or divisor_override < 1):
        raise ValueError(f"{op}: divisor_override must be None or a positive int, got {divisor_override!r}")


def check_unpool(op, x, indices, kernel_size, stride, padding, output_size):
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


# --- linear, flatten, dropout (cnnlab/numpy/linear.py) --------------------------------------------------------

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


# --- softmax, losses, penalties (cnnlab/numpy/losses.py) --------------------------------------------------------

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
    bad = target[(target < 0) | (target >= n_classes)]  # a 1-D array or tensor of the bad entries
    if bad.shape[0]:
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


# --- fit, evaluate, predict (cnnlab/numpy/training.py) ----------------------------------------------------------

def positive_int(value, name: str, op: str) -> int:
    if not _is_int(value) or value < 1:
        raise ValueError(f"{op}: {name} must be a positive int, got {value!r}")
    return int(value)


def check_fit_settings(op, x_val, y_val, epochs, batch_size, patience, min_delta):
    """The training loop's settings; returns ``(validate, epochs, batch_size, patience)``."""
    if (x_val is None) != (y_val is None):
        raise ValueError(f"{op}: give both x_val and y_val, or neither")
    validate = x_val is not None
    epochs = positive_int(epochs, "epochs", op)
    batch_size = positive_int(batch_size, "batch_size", op)
    if patience is not None:
        patience = positive_int(patience, "patience", op)
        if not validate:
            raise ValueError(f"{op}: early stopping (patience={patience}) watches the validation loss: "
                             f"give x_val and y_val")
    if not isinstance(min_delta, numbers.Real) or min_delta < 0:
        raise ValueError(f"{op}: min_delta must be a number >= 0, got {min_delta!r}")
    return validate, epochs, batch_size, patience


def batch_slices(n: int, batch_size: int) -> list[slice]:
    """``[0:batch_size], [batch_size:2 * batch_size], ...`` over n samples; the last one may be shorter."""
    return [slice(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
