"""Softmax, losses and weight penalties, forward and backward, in NumPy.

- ``softmax`` / ``log_softmax``: scores -> probabilities (log-probabilities) along one axis.
- ``cross_entropy(logits, target)``: the classification loss, mean over the batch, integer targets.
- ``mse_loss(input, target)``: mean squared error, for regression.
- ``l1_penalty`` / ``l2_penalty``: the L1 and L2 regularisation terms (L1、L2 正则化) added to a loss
  against overfitting (过拟合).

Names and semantics follow ``torch.nn.functional``. Each ``op_backward(grad_out, <op's inputs>, ...)``
returns the gradients of the op's inputs: a single array for ``softmax`` / ``log_softmax``; a tuple for
the two-input losses, with ``None`` for an integer ``target`` that has no gradient.

The public ``op`` and ``op_backward`` check their arguments; the private ``_op`` and ``_op_backward`` do
the math, one per direction (``cnnlab.torch`` runs these same functions on tensors, see
``cnnlab/torch/_mirror.py``).
"""

from __future__ import annotations

import math

import numpy as np

# The input checks, shared with cnnlab.torch (cnnlab/_checks.py): check_dim (dim is an axis of x),
# check_grad_like (grad_out has x's shape), check_cross_entropy (logits (N, C, ...) and classes in [0, C)),
# check_mse (input and target alike), penalty_params (params as a list of float arrays, lam >= 0).
from .._checks import check_cross_entropy, check_dim, check_float, check_grad_like, check_mse, penalty_params
from ._arrays import check_arrays
from .activations import _exp_nonpositive

__all__ = ["softmax", "softmax_backward", "log_softmax", "log_softmax_backward", "cross_entropy",
           "cross_entropy_backward", "mse_loss", "mse_loss_backward", "l1_penalty", "l1_penalty_grad",
           "l1_penalty_backward", "l2_penalty", "l2_penalty_grad", "l2_penalty_backward"]


def _check_input(x, dim, op) -> int:
    check_arrays(op, (x, "input"))
    check_float(x, "input", op)
    return check_dim(x, dim, op)


def _check_grad(grad_out, x, dim, op) -> int:
    check_arrays(op, (x, "input"), (grad_out, "grad_out"))
    check_grad_like(grad_out, x, op)
    return check_dim(x, dim, op)


def _loss_grad(grad_out, like, op):
    """The gradient of a loss (a mean, so a scalar), in the dtype of ``like``: a float64 ``grad_out``
    must not turn a float32 gradient into float64."""
    grad_out = np.asarray(grad_out, dtype=like.dtype)
    if grad_out.ndim != 0:
        raise ValueError(f"{op}: grad_out must be a scalar (the loss is a mean), got shape {tuple(grad_out.shape)}")
    return grad_out


# ---------------------------------------------------------------------------------------------
# Softmax: softmax(x)_i = e^{x_i} / sum_j e^{x_j}
# ---------------------------------------------------------------------------------------------

def softmax(x: np.ndarray, dim: int = -1) -> np.ndarray:
    """Softmax along ``dim``: non-negative values that sum to 1 along that axis. Shape ``(*) -> (*)``.

    Subtracting the maximum first changes nothing (the factor e^{-max} cancels) but makes every exponent
    <= 0, so ``exp`` cannot overflow even for scores of 1e4.
    """
    return _softmax(x, _check_input(x, dim, "softmax"))


def _softmax(x, dim):
    e = _exp_nonpositive(x - np.amax(x, axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


def softmax_backward(grad_out: np.ndarray, x: np.ndarray, dim: int = -1) -> np.ndarray:
    """Gradient of ``softmax``. With s = softmax(x) and g = grad_out, along ``dim``:
    ``grad_x = s * (g - sum(g * s))`` (the Jacobian diag(s) - s s^T applied to g). Shapes ``(*), (*) -> (*)``."""
    return _softmax_backward(grad_out, x, _check_grad(grad_out, x, dim, "softmax_backward"))


def _softmax_backward(grad_out, x, dim):
    s = _softmax(x, dim)
    return s * (grad_out - (grad_out * s).sum(axis=dim, keepdims=True))


def log_softmax(x: np.ndarray, dim: int = -1) -> np.ndarray:
    """``log(softmax(x))`` along ``dim``, computed as ``x - max - log(sum(exp(x - max)))``: never log(0),
    even where softmax rounds to 0. Shape ``(*) -> (*)``."""
    return _log_softmax(x, _check_input(x, dim, "log_softmax"))


def _log_softmax(x, dim):
    shifted = x - np.amax(x, axis=dim, keepdims=True)
    return shifted - np.log(_exp_nonpositive(shifted).sum(axis=dim, keepdims=True))


def log_softmax_backward(grad_out: np.ndarray, x: np.ndarray, dim: int = -1) -> np.ndarray:
    """Gradient of ``log_softmax``: ``grad_x = g - softmax(x) * sum(g)`` along ``dim``. Shapes ``(*), (*) -> (*)``."""
    return _log_softmax_backward(grad_out, x, _check_grad(grad_out, x, dim, "log_softmax_backward"))


def _log_softmax_backward(grad_out, x, dim):
    return grad_out - _softmax(x, dim) * grad_out.sum(axis=dim, keepdims=True)


# ---------------------------------------------------------------------------------------------
# Cross entropy: -mean(log softmax(logits)[target])
# ---------------------------------------------------------------------------------------------

def _one_hot(target, logits):
    """``y`` of logits' shape and dtype: 1 at the true class ``[n, target[n], ...]``, 0 elsewhere."""
    # Row t of the identity matrix is the one-hot vector of class t; move its class axis to axis 1.
    return np.moveaxis(np.eye(logits.shape[1], dtype=logits.dtype)[target], -1, 1)


def cross_entropy(logits: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Cross-entropy loss of class scores against true classes, mean over all samples (as torch's default).

    ``loss = mean_n( -log softmax(logits[n])[target[n]] )``: minus the log-probability the model gives to
    the right class. Computed from ``log_softmax``, so scores of 1e4 give no overflow.

    Args:
        logits: class scores (not probabilities), shape (N, C), or (N, C, d1, ...) for a class per pixel.
        target: true classes, integers in [0, C), shape (N,), or (N, d1, ...).

    Returns:
        loss: a scalar of logits' dtype.
    """
    op = "cross_entropy"
    check_arrays(op, (logits, "logits"), (target, "target"))
    check_cross_entropy(logits, target, op)
    return _cross_entropy(logits, target)


def _cross_entropy(logits, target):
    log_p = _log_softmax(logits, 1)
    # For every sample (and pixel) the log-probability of its true class: where the one-hot y is 1.
    picked = np.where(_one_hot(target, logits) == 1, log_p, 0).sum(axis=1)
    return -picked.mean()


def cross_entropy_backward(grad_out, logits: np.ndarray, target: np.ndarray):
    """Gradient of ``cross_entropy``: ``(softmax(logits) - one_hot(target)) / M`` times ``grad_out``,
    with M the number of samples (N times the pixels per sample).

    Args:
        grad_out: gradient of the loss, a scalar (1.0 when the loss is the final output).
        logits, target: as in the forward.

    Returns:
        ``(grad_logits, None)``: grad_logits has logits' shape; target gets no gradient.
    """
    op = "cross_entropy_backward"
    check_arrays(op, (logits, "logits"), (target, "target"))
    check_cross_entropy(logits, target, op)
    return _cross_entropy_backward(_loss_grad(grad_out, logits, op), logits, target)


def _cross_entropy_backward(grad_out, logits, target):
    m = math.prod(logits.shape) // logits.shape[1]  # the number of samples: N times the pixels per sample
    return (_softmax(logits, 1) - _one_hot(target, logits)) * (grad_out / m), None


# ---------------------------------------------------------------------------------------------
# Mean squared error: mean((input - target)^2)
# ---------------------------------------------------------------------------------------------

def mse_loss(input: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Mean squared error ``mean((input - target)^2)`` over all elements (torch's default reduction).

    Args:
        input: predictions, shape (*).
        target: true values, the same shape (*).

    Returns:
        loss: a scalar of input's dtype.
    """
    op = "mse_loss"
    check_arrays(op, (input, "input"), (target, "target"))
    check_mse(input, target, op)
    return _mse_loss(input, target)


def _mse_loss(input, target):
    diff = input - target
    return (diff * diff).mean()


def mse_loss_backward(grad_out, input: np.ndarray, target: np.ndarray):
    """Gradient of ``mse_loss``: ``2 (input - target) / n`` times ``grad_out``, n = number of elements.

    Returns:
        ``(grad_input, grad_target)``, both of shape (*); ``grad_target = -grad_input``.
    """
    op = "mse_loss_backward"
    check_arrays(op, (input, "input"), (target, "target"))
    check_mse(input, target, op)
    return _mse_loss_backward(_loss_grad(grad_out, input, op), input, target)


def _mse_loss_backward(grad_out, input, target):
    grad = 2 * (input - target) * (grad_out / math.prod(input.shape))
    return grad, -grad


# ---------------------------------------------------------------------------------------------
# Weight penalties: L1 = lam * sum |w|,  L2 = lam / 2 * sum w^2
# ---------------------------------------------------------------------------------------------

def _weights(params, lam, op) -> list:
    """``params`` as a list of float arrays (one array is a list of one); ``lam >= 0``."""
    arrays = list(params) if isinstance(params, (list, tuple)) else [params]
    check_arrays(op, *((w, f"params[{i}]") for i, w in enumerate(arrays)))
    return penalty_params(params, lam, op)


def _all_weights(weights):
    """Every element of every array, in one vector: the penalty is one sum over all of them."""
    return np.concatenate([w.reshape(-1) for w in weights]) if weights else np.zeros(0)


def _like(params, grads: list):
    """The gradients in the structure of params: a list for a list (or tuple), an array for an array."""
    return grads if isinstance(params, (list, tuple)) else grads[0]


def l1_penalty(params, lam: float):
    """L1 penalty ``lam * sum |w|`` over every element of every array in ``params``; it pushes weights
    to exactly 0 (sparse weights).

    Args:
        params: an array, or a list of arrays (any shapes), e.g. the weights of every layer.
        lam: the penalty's strength, >= 0.

    Returns:
        a scalar.
    """
    return _l1_penalty(_all_weights(_weights(params, lam, "l1_penalty")), lam)


def _l1_penalty(w, lam):
    return lam * np.abs(w).sum()


def l1_penalty_grad(params, lam: float):
    """Gradient of ``l1_penalty``: ``lam * sign(w)`` for each w (0 at w = 0, as torch's ``abs``).
    Returns an array for an array, a list of arrays for a list."""
    return _like(params, [lam * np.sign(w) for w in _weights(params, lam, "l1_penalty_grad")])


def l1_penalty_backward(grad_out, params, lam: float):
    """Backward of ``l1_penalty``: ``grad_out * lam * sign(w)`` for each w, in the structure of params."""
    return _like(params, [_l1_penalty_backward(grad_out, w, lam)
                          for w in _weights(params, lam, "l1_penalty_backward")])


def _l1_penalty_backward(grad_out, w, lam):
    return grad_out * lam * np.sign(w)


def l2_penalty(params, lam: float):
    """L2 penalty ``lam / 2 * sum w^2`` over every element of every array in ``params``; it pulls all
    weights towards 0 without making them exactly 0.

    Convention: the factor 1/2 makes the gradient exactly ``lam * w``, which is what
    ``torch.optim.SGD(..., weight_decay=lam)`` adds to each gradient ("weight decay").
    Some texts write ``lam * sum w^2``: that is this penalty with twice the lam.

    Args:
        params: an array, or a list of arrays (any shapes).
        lam: the penalty's strength, >= 0.

    Returns:
        a scalar.
    """
    return _l2_penalty(_all_weights(_weights(params, lam, "l2_penalty")), lam)


def _l2_penalty(w, lam):
    return lam / 2 * (w * w).sum()


def l2_penalty_grad(params, lam: float):
    """Gradient of ``l2_penalty``: ``lam * w`` for each w. Returns an array for an array, a list for a list."""
    return _like(params, [lam * w for w in _weights(params, lam, "l2_penalty_grad")])


def l2_penalty_backward(grad_out, params, lam: float):
    """Backward of ``l2_penalty``: ``grad_out * lam * w`` for each w, in the structure of params."""
    return _like(params, [_l2_penalty_backward(grad_out, w, lam)
                          for w in _weights(params, lam, "l2_penalty_backward")])


def _l2_penalty_backward(grad_out, w, lam):
    return grad_out * lam * w
