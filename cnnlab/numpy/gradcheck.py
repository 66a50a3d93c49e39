"""Numerical gradient check: central differences in float64.

A backward is right when, for a random upstream gradient ``g``, it gives the same derivative of
``L = sum(f(inputs) * g)`` as nudging each input element by ``±eps`` and watching L move.
"""

from __future__ import annotations

import importlib

import numpy as np


def gradcheck(f, inputs, backward=None, eps: float = 1e-6, seed: int = 0, **kwargs) -> list:
    """Compare an op's backward with central differences; return the relative error per input.

    Args:
        f: the forward op, called as ``f(*inputs, **kwargs)``.
        inputs: sequence of arrays (converted to float64); ``None`` entries (e.g. ``bias=None``)
            are passed through and get ``None`` as their error.
        backward: ``backward(grad_out, *inputs, **kwargs) -> tuple of grads`` in the order of the
            inputs. By default the ``<f.__name__>_backward`` next to ``f`` in its module.
        eps: the step of the central difference.
        seed: seeds the random upstream gradient.

    Returns:
        ``[err_0, err_1, ...]``, where ``err = ||analytic - numeric|| / max(||analytic|| + ||numeric||, 1e-12)``;
        below ~1e-7 means the backward is right.
    """
    if backward is None:
        backward = backward_of(f)
    xs = [None if x is None else np.array(x, dtype=np.float64) for x in inputs]
    out = np.asarray(f(*xs, **kwargs))
    g = np.random.default_rng(seed).standard_normal(out.shape)
    analytic = backward(g, *xs, **kwargs)
    if not isinstance(analytic, tuple):
        analytic = (analytic,)
    if len(analytic) < len(xs):
        raise ValueError(f"gradcheck: backward returned {len(analytic)} gradients for {len(xs)} inputs")

    errors = []
    for i, x in enumerate(xs):
        if x is None:
            errors.append(None)
            continue
        numeric = np.zeros_like(x)
        flat, num = x.reshape(-1), numeric.reshape(-1)  # views: nudging flat nudges x
        for j in range(flat.size):
            old = flat[j]
            flat[j] = old + eps
            plus = np.sum(np.asarray(f(*xs, **kwargs)) * g)
            flat[j] = old - eps
            minus = np.sum(np.asarray(f(*xs, **kwargs)) * g)
            flat[j] = old
            num[j] = (plus - minus) / (2 * eps)
        a = np.asarray(analytic[i], dtype=np.float64)
        if a.shape != x.shape:
            raise ValueError(f"gradcheck: gradient of input {i} has shape {a.shape}, expected {x.shape}")
        diff = np.linalg.norm(a - numeric)
        errors.append(float(diff / max(np.linalg.norm(a) + np.linalg.norm(numeric), 1e-12)))
    return errors


def backward_of(f):
    """The backward of an op by the naming rule: ``<f.__name__>_backward`` in f's module (conv2d -> conv2d_backward)."""
    module = importlib.import_module(f.__module__)
    name = f.__name__ + "_backward"
    if not hasattr(module, name):
        raise ValueError(f"gradcheck: no backward given and {f.__module__} has no {name}")
    return getattr(module, name)
