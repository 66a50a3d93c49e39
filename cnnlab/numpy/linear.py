"""Fully connected layer (全连接层), flatten and dropout, forward and backward, in NumPy.

- ``linear``: ``y = x W^T + b``, as ``torch.nn.functional.linear`` (weight of shape (out, in)).
- ``flatten``: the reshape between the convolutional part of a CNN and its fully connected part.
- ``dropout``: inverted dropout (``p`` is the probability of *dropping*, as in torch).

Each ``op_backward(grad_out, <op's inputs>, <same keyword args>)`` returns the gradients of the op's
inputs: a tuple for ``linear`` (x, weight, bias), a single array for ``flatten`` and ``dropout``.

The shape of every op module: the public ``op`` and ``op_backward`` check their arguments and work out
the plan (here a shape, a mask); the private ``_op`` and ``_op_backward`` do the math, one per direction.
(``cnnlab.torch`` runs these same functions on tensors, see ``cnnlab/torch/_mirror.py``.)
"""

from __future__ import annotations

import math

import numpy as np

# The input checks, shared with cnnlab.torch (cnnlab/_checks.py): check_linear (shapes and dtypes of input,
# weight and bias), flatten_dims (start_dim / end_dim as axes, as torch checks them), check_dropout_p (p in [0, 1]).
from .._checks import check_dropout_p, check_float, check_linear, check_shape, flatten_dims
from ._arrays import check_arrays

__all__ = ["linear", "linear_backward", "flatten", "flatten_backward", "dropout_mask", "dropout",
           "dropout_backward"]


# ---------------------------------------------------------------------------------------------
# Linear: y = x W^T + b
# ---------------------------------------------------------------------------------------------

def linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """Fully connected layer: every output is a weighted sum of *all* the inputs, plus a bias.

    Args:
        x: input, shape (*, in_features); usually (N, in_features).
        weight: shape (out_features, in_features), torch's layout: row j holds the weights of output j.
        bias: shape (out_features,) or None.

    Returns:
        y: shape (*, out_features), ``y = x @ weight.T + bias``.
    """
    check_arrays("linear", (x, "input"), (weight, "weight"), (bias, "bias"))
    check_linear(x, weight, bias, "linear")
    return _linear(x, weight, bias)


def _linear(x, weight, bias):
    y = x @ weight.T
    return y if bias is None else y + bias


def linear_backward(grad_out: np.ndarray, x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None):
    """Gradients of ``linear``.

    Args:
        grad_out: gradient of the output, shape (*, out_features).
        x, weight, bias: the inputs of the forward.

    Returns:
        ``(grad_x, grad_weight, grad_bias)`` with the shapes of x, weight and bias
        (``grad_bias`` is None when bias is None).
    """
    _check_linear_backward(grad_out, x, weight, bias)
    return _linear_backward(grad_out, x, weight, bias)


def _check_linear_backward(grad_out, x, weight, bias):
    op = "linear_backward"
    check_arrays(op, (x, "input"), (weight, "weight"), (bias, "bias"), (grad_out, "grad_out"))
    check_linear(x, weight, bias, op)
    check_float(grad_out, "grad_out", op)
    check_shape(grad_out, tuple(x.shape[:-1]) + (weight.shape[0],), "grad_out", op)


def _linear_backward(grad_out, x, weight, bias):
    # Each weight meets every row of x, so its gradient sums over all of them (the leading axes).
    g2 = grad_out.reshape(-1, weight.shape[0])          # (M, out), M = product of the leading axes
    x2 = x.reshape(-1, weight.shape[1])                 # (M, in)
    grad_x = grad_out @ weight                          # (*, in)
    grad_weight = g2.T @ x2                             # (out, in)
    grad_bias = None if bias is None else g2.sum(axis=0)  # (out,)
    return grad_x, grad_weight, grad_bias


# ---------------------------------------------------------------------------------------------
# Flatten: (N, C, H, W) -> (N, C*H*W)
# ---------------------------------------------------------------------------------------------

def flatten(x: np.ndarray, start_dim: int = 1, end_dim: int = -1) -> np.ndarray:
    """Merge the axes ``start_dim .. end_dim`` (inclusive) into one, as ``torch.flatten`` / ``nn.Flatten``.

    The default ``start_dim=1`` keeps the batch axis: (N, C, H, W) -> (N, C*H*W), which is what a
    fully connected layer after the convolutions needs. Values are not moved (C order): feature
    ``c*H*W + i*W + j`` is pixel (i, j) of channel c.

    Args:
        x: input of any shape (d0, d1, ..., d_{k-1}).
        start_dim, end_dim: first and last axis to merge; negative counts from the end.

    Returns:
        y: shape (d0, ..., d_{start-1}, d_start * ... * d_end, d_{end+1}, ...), a view of x when possible.
    """
    check_arrays("flatten", (x, "input"))
    start, end = flatten_dims(x, start_dim, end_dim, "flatten")
    return _flatten(x, _flat_shape(x, start, end))


def _flat_shape(x, start, end):
    return tuple(x.shape[:start]) + (math.prod(x.shape[start:end + 1]),) + tuple(x.shape[end + 1:])


def _flatten(x, shape):
    return x.reshape(shape)


def flatten_backward(grad_out: np.ndarray, x: np.ndarray, start_dim: int = 1, end_dim: int = -1) -> np.ndarray:
    """Gradient of ``flatten``: the same numbers, reshaped back to x's shape. Returns ``grad_x``."""
    op = "flatten_backward"
    check_arrays(op, (x, "input"), (grad_out, "grad_out"))
    start, end = flatten_dims(x, start_dim, end_dim, op)
    check_shape(grad_out, _flat_shape(x, start, end), "grad_out", op)
    return _flatten_backward(grad_out, x, tuple(grad_out.shape))


def _flatten_backward(grad_out, x, shape):
    return grad_out.reshape(x.shape)


# ---------------------------------------------------------------------------------------------
# Dropout (inverted): y = x * mask / (1 - p), mask = 1 with probability 1 - p
# ---------------------------------------------------------------------------------------------

def dropout_mask(shape, p: float = 0.5, rng=None) -> np.ndarray:
    """Draw a dropout mask: a bool array, True for the units that are *kept* (each with probability 1 - p).

    Args:
        shape: the shape of the input to be dropped out.
        p: probability of dropping a unit, in [0, 1].
        rng: a ``numpy.random.Generator``, an int seed, or None (fresh randomness).

    Returns:
        mask: bool array of the given shape. The same int seed always gives the same mask.
    """
    check_dropout_p(p, "dropout_mask")
    rng = np.random.default_rng(rng)  # a Generator passes through unchanged
    return rng.random(shape) >= p     # uniform in [0, 1): below p (probability p) means dropped


def _draw_mask(x, p, rng):
    return dropout_mask(x.shape, p, rng)


def _check_mask(mask, x, op):
    check_arrays(op, (x, "input"), (mask, "mask"))
    if mask.dtype != np.bool_:
        raise TypeError(f"{op}: mask must be a bool array (True = keep), as returned by dropout_mask, "
                        f"got dtype {mask.dtype}")
    check_shape(mask, x.shape, "mask", op)


def dropout(x: np.ndarray, p: float = 0.5, training: bool = True, rng=None,
            mask: np.ndarray | None = None) -> np.ndarray:
    """Inverted dropout, as ``torch.nn.functional.dropout``.

    ``p`` is the probability of DROPPING a unit (setting it to 0), as in torch and Keras. (Teaching codes
    differ here: some use p as the probability of keeping, some scale at test time instead.) The kept
    units are multiplied by ``1 / (1 - p)`` during training, so every unit's expected value is unchanged
    and at test time (``training=False``) dropout does nothing at all.

    Args:
        x: input of any shape (*), float.
        p: probability of dropping, in [0, 1]. p = 0 keeps everything; p = 1 drops everything (zeros).
        training: when False, x is returned unchanged.
        rng: where the mask comes from when ``mask`` is not given, as in ``dropout_mask``.
        mask: the bool keep-mask to use, shape (*), e.g. from ``dropout_mask(x.shape, p, rng)``. Pass it to
            know which units were dropped: ``dropout_backward`` needs the same mask.

    Returns:
        y: same shape and dtype as x: ``x / (1 - p)`` where kept, 0 where dropped.
    """
    op = "dropout"
    check_dropout_p(p, op)
    check_arrays(op, (x, "input"))
    check_float(x, "input", op)
    if mask is not None and rng is not None:
        raise ValueError(f"{op}: give rng or mask, not both (the mask already decides which units are dropped)")
    if not training or p == 0:
        return x
    if p != 1:
        if mask is None:
            mask = _draw_mask(x, p, rng)
        _check_mask(mask, x, op)
    return _dropout(x, p, mask)


def _dropout(x, p, mask):
    """``x / (1 - p)`` where the mask keeps, 0 elsewhere (all 0 for p = 1). The backward is the same."""
    if p == 1:
        return np.zeros_like(x)
    return np.where(mask, x / (1 - p), 0)


def dropout_backward(grad_out: np.ndarray, x: np.ndarray, p: float = 0.5, training: bool = True, rng=None,
                     mask: np.ndarray | None = None) -> np.ndarray:
    """Gradient of ``dropout``: the gradient flows, scaled by ``1 / (1 - p)``, exactly through the kept units.

    Backward is stateless, so in training it needs the forward's mask: draw it once with ``dropout_mask``
    and pass it to both (this is what the ``Dropout`` layer does)::

        mask = dropout_mask(x.shape, p, rng)
        y = dropout(x, p, mask=mask)
        grad_x = dropout_backward(grad_y, x, p, mask=mask)

    Args:
        grad_out: gradient of the output, shape (*) (that of x).
        x, p, training, rng, mask: as in the forward; ``rng`` is not used (a mask is never redrawn here).

    Returns:
        grad_x: shape (*).
    """
    op = "dropout_backward"
    check_dropout_p(p, op)
    check_arrays(op, (x, "input"), (grad_out, "grad_out"))
    check_float(x, "input", op)
    check_float(grad_out, "grad_out", op)
    check_shape(grad_out, x.shape, "grad_out", op)
    if not training or p == 0:
        return grad_out
    if p != 1:
        if mask is None:
            raise ValueError(f"{op}: mask is required in training with 0 < p < 1: pass the mask the forward "
                             f"used (draw it with dropout_mask(x.shape, p, rng) and give it to both)")
        _check_mask(mask, x, op)
    return _dropout_backward(grad_out, x, p, mask)


def _dropout_backward(grad_out, x, p, mask):
    return _dropout(grad_out, p, mask)
