"""cnnlab.torch runs cnnlab.numpy's code: the same functions, with NumPy's names bound to torch's.

The NumPy reference is written so that it reads as plain NumPy and also runs on torch tensors: its math
uses what both spell alike (``reshape``, ``@``, ``.sum(axis=)``, ``swapaxes``, ``np.exp``, ``np.where``,
``np.zeros_like``, ... are ``torch.exp``, ``torch.where``, ... once ``np`` is ``torch``), and the few things
spelled differently live in a primitive layer each backend has (``windows.py``: ``pad2d``,
``sliding_windows``, ``col2im``; ``check_arrays``). A torch module such as ``cnnlab/torch/conv.py`` says
``np = torch``, imports its own primitives, defines what torch does differently, and calls
``mirror(globals(), differentiable={"_conv2d": 3})`` as its last line:

- every function of the NumPy module is re-created with the torch module's globals, so when it looks up
  ``np``, ``pad2d`` or ``_conv2d`` it finds torch's (a name the torch module defines itself is kept);
- each private forward named in ``differentiable`` becomes an autograd node whose backward is the
  hand-written ``<name>_backward``, so ``loss.backward()`` runs the course's formulas, not torch's. By
  convention the forward is ``_op(*inputs, *plan)`` and the backward ``_op_backward(grad_out, *inputs,
  *plan)``, returning the gradients of the inputs; the number given (3 for ``_conv2d``: x, weight, bias)
  says how many of the leading arguments are inputs. A backward with an ``input_grad`` keyword is called with
  ``input_grad=False`` when its first input needs no gradient (a network's images) and returns None for it.

The docstrings, signatures and math are written once, in cnnlab.numpy; a test holds the two public APIs equal.
"""

from __future__ import annotations

import importlib
import inspect
import threading
import types

import torch

from .._memory import keep_freed_memory_once

# What a NumPy module may share with its torch twin as it is: names from modules that know no backend.
_BACKEND_MODULES = ("numpy", "cnnlab.numpy")


def numpy_twin(torch_module_name: str) -> types.ModuleType:
    """The NumPy module a torch module mirrors: ``cnnlab.torch.conv`` -> ``cnnlab.numpy.conv``. (Imported by
    name: ``cnnlab.numpy.linear`` as an attribute is the function ``linear``, not its module.)"""
    return importlib.import_module(torch_module_name.replace("cnnlab.torch.", "cnnlab.numpy.", 1))


def mirror(namespace: dict, differentiable: dict | None = None, no_grad: tuple = (), keep: tuple = ()) -> None:
    """Define in ``namespace`` (a torch module's ``globals()``) every function of its NumPy twin.

    Names the torch module already defines are kept (torch's own version wins). Other globals of
    ``module`` are shared only when they know no backend (``math``, ``cnnlab._checks``, a string, ...);
    a NumPy object the torch module has not replaced is an error at import time, never a silent NumPy
    call on a tensor. The functions named in ``no_grad`` compute a choice that has no gradient (where each
    maximum is): they run under ``torch.no_grad()``, so autograd records none of their steps. The results
    of the functions named in ``keep`` (conv2d's im2col) are kept by the node whose forward computed them
    and handed back when its backward asks again for the same thing, instead of computed twice.
    """
    module = numpy_twin(namespace["__name__"])
    for name, value in vars(module).items():
        if name.startswith("__") or name in namespace:
            continue
        if isinstance(value, types.FunctionType) and value.__module__ == module.__name__:
            namespace[name] = _rebind(value, namespace)
        elif _knows_backend(value):
            raise ImportError(f"{namespace['__name__']} must define {name!r}: {module.__name__} uses the NumPy one")
        else:
            namespace[name] = value
    for name, n_inputs in (differentiable or {}).items():
        namespace[name] = _autograd_node(namespace[name], namespace[name + "_backward"], n_inputs)
    for name in no_grad:
        namespace[name] = torch.no_grad()(namespace[name])
    for name in keep:
        namespace[name] = _kept(namespace[name])


def _knows_backend(value) -> bool:
    """Whether ``value`` is, holds or comes from NumPy or cnnlab.numpy (then a torch module must replace it)."""
    if isinstance(value, types.ModuleType):
        origin = value.__name__
    elif isinstance(value, (str, bytes, int, float, bool, type(None))):
        return False
    elif isinstance(value, (tuple, list, set, frozenset)):
        return any(_knows_backend(v) for v in value)
    elif isinstance(value, dict):  # a registry of functions, e.g. activations.ACTIVATIONS
        return any(_knows_backend(v) for v in value.values())
    else:
        origin = getattr(value, "__module__", None) or type(value).__module__
    return any(origin == m or origin.startswith(m + ".") for m in _BACKEND_MODULES)


def _rebind(function: types.FunctionType, namespace: dict) -> types.FunctionType:
    """``function`` with ``namespace`` as its globals (its code, defaults and docstring unchanged)."""
    twin = types.FunctionType(function.__code__, namespace, function.__name__, function.__defaults__,
                              function.__closure__)
    twin.__kwdefaults__ = function.__kwdefaults__
    twin.__doc__, twin.__qualname__ = function.__doc__, function.__qualname__
    twin.__annotations__ = dict(function.__annotations__)
    return twin


# While a node's forward or backward runs: its dict of kept results (see _kept), else None.
_node_state = threading.local()


def _kept(function):
    """``function``, whose result inside a node's forward is kept by the node and returned again when the node's
    backward calls it with the same arguments (the same tensors: same memory, shape and strides)."""

    def call(*args):
        kept = getattr(_node_state, "kept", None)
        if kept is None:
            return function(*args)
        key = tuple((a.data_ptr(), a.shape, a.stride(), a.dtype) if isinstance(a, torch.Tensor) else a for a in args)
        if key not in kept:
            kept[key] = function(*args)
        return kept[key]

    call.__name__, call.__qualname__, call.__doc__ = function.__name__, function.__qualname__, function.__doc__
    return call


class _Node(torch.autograd.Function):
    """``forward(*inputs, *plan)`` as an autograd node whose backward is the hand-written
    ``backward(grad_out, *inputs, *plan)``, returning the inputs' gradients (one, or a tuple in order).
    The inputs are the op's tensors (``None`` for an absent bias); the plan is what the checks worked out
    (padding, stride, output size, a dropout mask, ...), passed to both unchanged."""

    @staticmethod
    def forward(ctx, forward, backward, n_inputs, *args):
        keep_freed_memory_once()  # the first node lets malloc keep what a training step frees (cnnlab/_memory.py)
        ctx.backward_fn, ctx.plan = backward, args[n_inputs:]
        ctx.save_for_backward(*args[:n_inputs])
        _node_state.kept = ctx.kept = {}
        try:
            out = forward(*args)
        finally:
            _node_state.kept = None
        if isinstance(out, tuple):  # (values, indices): only the first output has a gradient
            ctx.mark_non_differentiable(*out[1:])
        return out

    @staticmethod
    def backward(ctx, grad_out, *_grads_of_indices):
        _node_state.kept = ctx.kept
        # a backward that can skip its first input's gradient (``input_grad``) does when nobody wants it (images)
        skip = {"input_grad": False} if ctx.backward_fn in _SKIPS_INPUT_GRAD and not ctx.needs_input_grad[3] else {}
        try:
            grads = ctx.backward_fn(grad_out.contiguous(), *ctx.saved_tensors, *ctx.plan, **skip)
        finally:
            _node_state.kept = ctx.kept = None  # what was kept is freed with the backward
        grads = grads if isinstance(grads, tuple) else (grads,)
        return (None, None, None, *grads, *(None for _ in ctx.plan))


_SKIPS_INPUT_GRAD = set()  # the hand-written backwards that take ``input_grad`` (``_conv2d_backward``)


def _autograd_node(forward, backward, n_inputs: int):
    """``forward`` as a function that records a node; the node's class is named after it, so that
    ``out.grad_fn`` reads ``_Conv2dBackward`` (from ``_conv2d``)."""
    name = "_" + "".join(w[:1].upper() + w[1:] for w in forward.__name__.split("_") if w)
    node = type(name, (_Node,), {"__doc__": f"``{forward.__name__}`` as an autograd node; backward "
                                           f"``{backward.__name__}`` (hand-written)."})
    if "input_grad" in inspect.signature(backward).parameters:
        _SKIPS_INPUT_GRAD.add(backward)

    def record(*args):
        if not torch.is_grad_enabled():  # inside another node's forward or backward, or under no_grad: no node
            return forward(*args)
        return node.apply(forward, backward, n_inputs, *args)

    record.__name__ = record.__qualname__ = forward.__name__
    record.__doc__ = forward.__doc__
    return record
