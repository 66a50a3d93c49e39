"""Softmax, losses and weight penalties, forward and backward, on torch tensors.

The torch twin of ``cnnlab/numpy/losses.py``:

- ``softmax`` / ``log_softmax``: scores -> probabilities (log-probabilities) along one axis.
- ``cross_entropy(logits, target)``: the classification loss, mean over the batch, integer targets.
- ``mse_loss(input, target)``: mean squared error, for regression.
- ``l1_penalty`` / ``l2_penalty``: the L1 and L2 regularisation terms (L1、L2 正则化) added to a loss
  against overfitting (过拟合). L2 is ``lam / 2 * sum w^2``, whose gradient ``lam * w`` is torch's
  ``weight_decay``.

Names and semantics follow ``torch.nn.functional``. Each ``op_backward(grad_out, <op's inputs>, ...)``
returns the gradients of the op's inputs: a single tensor for ``softmax`` / ``log_softmax``; a tuple for
the two-input losses, with ``None`` for an integer ``target`` that has no gradient. Each op is a
``torch.autograd.Function`` whose backward is that hand-written math.
"""

from __future__ import annotations

import torch

from .._checks import check_cross_entropy, check_dim, check_float, check_grad_like, check_mse, penalty_params
from ._device import check_tensors, default_device

__all__ = ["softmax", "softmax_backward", "log_softmax", "log_softmax_backward", "cross_entropy",
           "cross_entropy_backward", "mse_loss", "mse_loss_backward", "l1_penalty", "l1_penalty_grad",
           "l1_penalty_backward", "l2_penalty", "l2_penalty_grad", "l2_penalty_backward"]


def _check_scalar(grad_out, op):
    if torch.as_tensor(grad_out).ndim != 0:
        raise ValueError(f"{op}: grad_out must be a scalar (the loss is a mean), got shape "
                         f"{tuple(torch.as_tensor(grad_out).shape)}")


# ---------------------------------------------------------------------------------------------
# Softmax: softmax(x)_i = e^{x_i} / sum_j e^{x_j}
# ---------------------------------------------------------------------------------------------

def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Softmax along ``dim``: non-negative values that sum to 1 along that axis. Shape ``(*) -> (*)``.

    Subtracting the maximum first changes nothing (the factor e^{-max} cancels) but makes every exponent
    <= 0, so ``exp`` cannot overflow even for scores of 1e4.
    """
    op = "softmax"
    check_tensors(op, (x, "input"))
    check_float(x, "input", op)
    dim = check_dim(x, dim, op)
    return _Softmax.apply(_softmax, _identity, _softmax_backward, x, dim)


def _softmax(x, dim):
    e = torch.exp(x - x.amax(dim=dim, keepdim=True))
    return e / e.sum(dim=dim, keepdim=True)


def softmax_backward(grad_out: torch.Tensor, x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Gradient of ``softmax``. With s = softmax(x) and g = grad_out, along ``dim``:
    ``grad_x = s * (g - sum(g * s))`` (the Jacobian diag(s) - s s^T applied to g). Shapes ``(*), (*) -> (*)``."""
    op = "softmax_backward"
    check_tensors(op, (x, "input"), (grad_out, "grad_out"))
    check_grad_like(grad_out, x, op)
    dim = check_dim(x, dim, op)
    return _softmax_backward(grad_out, _softmax(x, dim), dim)


def _softmax_backward(grad_out, s, dim):
    return s * (grad_out - (grad_out * s).sum(dim=dim, keepdim=True))


class _SoftmaxNode(torch.autograd.Function):
    """softmax or log_softmax as an autograd node: forward ``fn(x, dim)``; it keeps the output, from which
    ``to_softmax`` recovers s = softmax(x), all that the hand-written ``backward_fn(grad_out, s, dim)`` needs.
    One subclass per op, so that ``out.grad_fn`` reads ``_SoftmaxBackward`` or ``_LogSoftmaxBackward``."""

    @staticmethod
    def forward(ctx, fn, to_softmax, backward_fn, x, dim):
        out = fn(x, dim)
        ctx.save_for_backward(out)
        ctx.to_softmax, ctx.backward_fn, ctx.dim = to_softmax, backward_fn, dim
        return out

    @staticmethod
    def backward(ctx, grad_out):
        (out,) = ctx.saved_tensors
        return None, None, None, ctx.backward_fn(grad_out, ctx.to_softmax(out), ctx.dim), None


class _Softmax(_SoftmaxNode):
    """softmax as an autograd node; its output s is all its backward needs."""


def log_softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """``log(softmax(x))`` along ``dim``, computed as ``x - max - log(sum(exp(x - max)))``: never log(0),
    even where softmax rounds to 0. Shape ``(*) -> (*)``."""
    op = "log_softmax"
    check_tensors(op, (x, "input"))
    check_float(x, "input", op)
    dim = check_dim(x, dim, op)
    return _LogSoftmax.apply(_log_softmax, torch.exp, _log_softmax_backward, x, dim)


def _log_softmax(x, dim):
    shifted = x - x.amax(dim=dim, keepdim=True)
    return shifted - torch.log(torch.exp(shifted).sum(dim=dim, keepdim=True))


def log_softmax_backward(grad_out: torch.Tensor, x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Gradient of ``log_softmax``: ``grad_x = g - softmax(x) * sum(g)`` along ``dim``. Shapes ``(*), (*) -> (*)``."""
    op = "log_softmax_backward"
    check_tensors(op, (x, "input"), (grad_out, "grad_out"))
    check_grad_like(grad_out, x, op)
    dim = check_dim(x, dim, op)
    return _log_softmax_backward(grad_out, _softmax(x, dim), dim)


def _log_softmax_backward(grad_out, s, dim):
    return grad_out - s * grad_out.sum(dim=dim, keepdim=True)


class _LogSoftmax(_SoftmaxNode):
    """log_softmax as an autograd node; its backward needs softmax(x) = exp(output)."""


# ---------------------------------------------------------------------------------------------
# Cross entropy: -mean(log softmax(logits)[target])
# ---------------------------------------------------------------------------------------------

def _check_cross_entropy(logits, target, op):
    check_tensors(op, (logits, "logits"), (target, "target"))
    check_cross_entropy(logits, target, op)


def cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy loss of class scores against true classes, mean over all samples (as torch's default).

    ``loss = mean_n( -log softmax(logits[n])[target[n]] )``: minus the log-probability the model gives to
    the right class. Computed from ``log_softmax``, so scores of 1e4 give no overflow.

    Args:
        logits: class scores (not probabilities), shape (N, C), or (N, C, d1, ...) for a class per pixel.
        target: true classes, integers in [0, C), shape (N,), or (N, d1, ...).

    Returns:
        loss: a 0-D tensor of logits' dtype.
    """
    _check_cross_entropy(logits, target, "cross_entropy")
    return _CrossEntropy.apply(_cross_entropy, _cross_entropy_backward, logits, target)


def _cross_entropy(logits, target):
    log_p = _log_softmax(logits, dim=1)
    # Pick, for every sample (and pixel), the log-probability of its true class.
    picked = torch.take_along_dim(log_p, target.long().unsqueeze(1), dim=1)
    return -picked.mean()


def cross_entropy_backward(grad_out, logits: torch.Tensor, target: torch.Tensor):
    """Gradient of ``cross_entropy``: ``(softmax(logits) - one_hot(target)) / M`` times ``grad_out``,
    with M the number of samples (N times the pixels per sample).

    Args:
        grad_out: gradient of the loss, a scalar (1.0 when the loss is the final output).
        logits, target: as in the forward.

    Returns:
        ``(grad_logits, None)``: grad_logits has logits' shape; target gets no gradient.
    """
    op = "cross_entropy_backward"
    _check_cross_entropy(logits, target, op)
    _check_scalar(grad_out, op)
    return _cross_entropy_backward(grad_out, logits, target)


def _cross_entropy_backward(grad_out, logits, target):
    """``(grad_logits, None)``: the integer target has no gradient."""
    n_classes = logits.shape[1]
    # Row t of the identity matrix is the one-hot vector of class t; move its class axis to axis 1.
    eye = torch.eye(n_classes, dtype=logits.dtype, device=logits.device)
    one_hot = torch.movedim(eye[target.long()], -1, 1)
    m = logits.numel() // n_classes
    return (_softmax(logits, dim=1) - one_hot) * (grad_out / m), None


class _LossNode(torch.autograd.Function):
    """A loss of (input, target) as an autograd node: forward ``fn(input, target)``, backward the hand-written
    ``backward_fn(grad_out, input, target) -> (grad_input, grad_target)``. One subclass per loss, so that
    ``loss.grad_fn`` reads ``_CrossEntropyBackward`` or ``_MSELossBackward``."""

    @staticmethod
    def forward(ctx, fn, backward_fn, input, target):
        ctx.save_for_backward(input, target)
        ctx.backward_fn = backward_fn
        return fn(input, target)

    @staticmethod
    def backward(ctx, grad_out):
        input, target = ctx.saved_tensors
        return (None, None, *ctx.backward_fn(grad_out, input, target))  # no gradient for the functions


class _CrossEntropy(_LossNode):
    """cross_entropy as an autograd node; backward is ``_cross_entropy_backward`` (hand-written)."""


# ---------------------------------------------------------------------------------------------
# Mean squared error: mean((input - target)^2)
# ---------------------------------------------------------------------------------------------

def mse_loss(input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error ``mean((input - target)^2)`` over all elements (torch's default reduction).

    Args:
        input: predictions, shape (*).
        target: true values, the same shape (*).

    Returns:
        loss: a 0-D tensor of input's dtype.
    """
    check_tensors("mse_loss", (input, "input"), (target, "target"))
    check_mse(input, target, "mse_loss")
    return _MSELoss.apply(_mse_loss, _mse_loss_backward, input, target)


def _mse_loss(input, target):
    diff = input - target
    return (diff * diff).mean()


def mse_loss_backward(grad_out, input: torch.Tensor, target: torch.Tensor):
    """Gradient of ``mse_loss``: ``2 (input - target) / n`` times ``grad_out``, n = number of elements.

    Returns:
        ``(grad_input, grad_target)``, both of shape (*); ``grad_target = -grad_input``.
    """
    op = "mse_loss_backward"
    check_tensors(op, (input, "input"), (target, "target"))
    check_mse(input, target, op)
    _check_scalar(grad_out, op)
    return _mse_loss_backward(grad_out, input, target)


def _mse_loss_backward(grad_out, input, target):
    grad = 2 * (input - target) * (grad_out / input.numel())
    return grad, -grad


class _MSELoss(_LossNode):
    """mse_loss as an autograd node; backward is ``_mse_loss_backward`` (hand-written)."""


# ---------------------------------------------------------------------------------------------
# Weight penalties: L1 = lam * sum |w|,  L2 = lam / 2 * sum w^2
# ---------------------------------------------------------------------------------------------

def _tensors(params, lam, op) -> list:
    """``params`` as a list of float tensors on one device (one tensor is a list of one)."""
    tensors = list(params) if isinstance(params, (list, tuple)) else [params]
    check_tensors(op, *((t, f"params[{i}]") for i, t in enumerate(tensors)))
    return penalty_params(params, lam, op)


def _like(params, grads: list):
    """The gradients in the structure of params: a list for a list (or tuple), a tensor for a tensor."""
    return grads if isinstance(params, (list, tuple)) else grads[0]


class _Penalty(torch.autograd.Function):
    """``lam * sum_w value(w)`` over many tensors as one autograd node; backward is ``grad_out * grad(w)``."""

    @staticmethod
    def forward(ctx, value, grad, lam, *tensors):
        ctx.save_for_backward(*tensors)
        ctx.grad, ctx.lam = grad, lam
        return lam * sum(value(w) for w in tensors)

    @classmethod
    def of(cls, value, grad, lam, tensors):
        if not tensors:  # the penalty of no parameters at all is 0
            return torch.zeros((), device=default_device())
        return cls.apply(value, grad, lam, *tensors)

    @staticmethod
    def backward(ctx, grad_out):
        return (None, None, None, *(grad_out * ctx.lam * ctx.grad(w) for w in ctx.saved_tensors))


def _sum_abs(w):
    return torch.abs(w).sum()


def _half_sum_squares(w):
    return (w * w).sum() / 2


def l1_penalty(params, lam: float):
    """L1 penalty ``lam * sum |w|`` over every element of every tensor in ``params``; it pushes weights
    to exactly 0 (sparse weights).

    Args:
        params: a tensor, or a list of tensors (any shapes), e.g. ``list(model.parameters())``.
        lam: the penalty's strength, >= 0.

    Returns:
        a 0-D tensor, differentiable (its backward is ``l1_penalty_backward``).
    """
    return _Penalty.of(_sum_abs, torch.sign, lam, _tensors(params, lam, "l1_penalty"))


def l1_penalty_grad(params, lam: float):
    """Gradient of ``l1_penalty``: ``lam * sign(w)`` for each w (0 at w = 0, as torch's ``abs``).
    Returns a tensor for a tensor, a list of tensors for a list."""
    return _like(params, [lam * torch.sign(w) for w in _tensors(params, lam, "l1_penalty_grad")])


def l1_penalty_backward(grad_out, params, lam: float):
    """Backward of ``l1_penalty``: ``grad_out * lam * sign(w)`` for each w, in the structure of params."""
    return _like(params, [grad_out * lam * torch.sign(w) for w in _tensors(params, lam, "l1_penalty_backward")])


def l2_penalty(params, lam: float):
    """L2 penalty ``lam / 2 * sum w^2`` over every element of every tensor in ``params``; it pulls all
    weights towards 0 without making them exactly 0.

    Convention: the factor 1/2 makes the gradient exactly ``lam * w``, which is what
    ``torch.optim.SGD(..., weight_decay=lam)`` adds to each gradient ("weight decay").
    Some texts write ``lam * sum w^2``: that is this penalty with twice the lam.

    Args:
        params: a tensor, or a list of tensors (any shapes).
        lam: the penalty's strength, >= 0.

    Returns:
        a 0-D tensor, differentiable (its backward is ``l2_penalty_backward``).
    """
    return _Penalty.of(_half_sum_squares, _identity, lam, _tensors(params, lam, "l2_penalty"))


def _identity(w):
    return w


def l2_penalty_grad(params, lam: float):
    """Gradient of ``l2_penalty``: ``lam * w`` for each w. Returns a tensor for a tensor, a list for a list."""
    return _like(params, [lam * w for w in _tensors(params, lam, "l2_penalty_grad")])


def l2_penalty_backward(grad_out, params, lam: float):
    """Backward of ``l2_penalty``: ``grad_out * lam * w`` for each w, in the structure of params."""
    return _like(params, [grad_out * lam * w for w in _tensors(params, lam, "l2_penalty_backward")])
