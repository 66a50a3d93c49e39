"""Numerical gradient check on torch tensors: the twin of ``cnnlab/numpy/gradcheck.py``, which does the work.

A backward is right when, for a random upstream gradient ``g``, it gives the same derivative of
``L = sum(f(inputs) * g)`` as nudging each input element by ``±eps`` and watching L move.
(``torch.autograd.gradcheck`` does the same for the autograd Functions; the tests run both.)

The nudging loop is NumPy's: the inputs go to NumPy in float64, and every call of the op and of its
backward gets them back as float64 tensors on the inputs' device, under ``torch.no_grad()``.
"""

from __future__ import annotations

import torch

from ..numpy.gradcheck import backward_of
from ..numpy.gradcheck import gradcheck as numpy_gradcheck


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
        backward = backward_of(f)
    tensors = [None if x is None else torch.as_tensor(x).detach() for x in inputs]
    device = next((t.device for t in tensors if t is not None), torch.device("cpu"))

    def to_torch(array):  # NumPy float64 -> tensor on the inputs' device (None stays None)
        return None if array is None else torch.as_tensor(array).to(device)

    def to_numpy(tensor):
        return None if tensor is None else torch.as_tensor(tensor).detach().to(torch.float64).cpu().numpy()

    def f_numpy(*arrays, **kw):
        with torch.no_grad():
            return to_numpy(f(*map(to_torch, arrays), **kw))

    def backward_numpy(g, *arrays, **kw):
        with torch.no_grad():
            grads = backward(to_torch(g), *map(to_torch, arrays), **kw)
        return tuple(map(to_numpy, grads)) if isinstance(grads, tuple) else to_numpy(grads)

    return numpy_gradcheck(f_numpy, list(map(to_numpy, tensors)), backward=backward_numpy, eps=eps, seed=seed,
                           **kwargs)
