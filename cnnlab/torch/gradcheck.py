"""Numerical gradient check on torch tensors: the twin of ``cnnlab/numpy/gradcheck.py``.

A backward is right when, for a random upstream gradient ``g``, it gives the same derivative of
``L = sum(f(inputs) * g)`` as nudging each input element by ``±eps`` and watching L move.
(``torch.autograd.gradcheck`` does the same for the autograd Functions; the tests run both.)
"""

from __future__ import annotations

import importlib

import numpy as np
import torch


def gradcheck(f, inputs, backward=None, eps: float = 1e-6, seed: int = 0, **kwargs) -> list:
    """Compare an op's backward with central differences; return the relative error per input.

    Args:
        f: the forward op, called as ``f(*inputs, **kwargs)``.
        inputs: sequence of tensors or arrays (converted to float64 tensors, on their device); ``None``
            entries (e.g. ``bias=None``) are passed through and get ``None`` as their error.
        backward: ``backward(grad_out, *inputs, **kwargs) -> tuple of grads`` in the order of the
            inputs. By default the ``<f.__name__>_backward`` next to ``f`` in its module.
        eps: the step of the central difference.
        seed: seeds the random upstream gradient (drawn by NumPy, so it is the same as cnnlab.numpy's).

    Returns:
        ``[err_0, err_1, ...]``, where ``err = ||analytic - numeric|| / max(||analytic|| + ||numeric||, 1e-12)``;
        below ~1e-7 means the backward is right.
    """
    if backward is None:
        module = importlib.import_module(f.__module__)
        name = f.__name__ + "_backward"
        if not hasattr(module, name):
            raise ValueError(f"gradcheck: no backward given and {f.__module__} has no {name}")
        backward = getattr(module, name)
    xs = [None if x is None else torch.as_tensor(x).detach().to(torch.float64).clone() for x in inputs]
    with torch.no_grad():
        out = f(*xs, **kwargs)
        g = torch.from_numpy(np.random.default_rng(seed).standard_normal(tuple(out.shape))).to(out.device)
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
            numeric = torch.zeros_like(x)
            flat, num = x.view(-1), numeric.view(-1)  # views: nudging flat nudges x
            for j in range(flat.numel()):
                old = flat[j].item()
                flat[j] = old + eps
                plus = torch.sum(f(*xs, **kwargs) * g).item()
                flat[j] = old - eps
                minus = torch.sum(f(*xs, **kwargs) * g).item()
                flat[j] = old
                num[j] = (plus - minus) / (2 * eps)
            a = torch.as_tensor(analytic[i]).to(torch.float64)
            if a.shape != x.shape:
                raise ValueError(f"gradcheck: gradient of input {i} has shape {tuple(a.shape)}, expected {tuple(x.shape)}")
            diff = torch.linalg.norm(a - numeric)
            errors.append(float(diff / max(torch.linalg.norm(a) + torch.linalg.norm(numeric), 1e-12)))
    return errors
