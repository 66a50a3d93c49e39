"""Crossing between the two backends: arrays <-> tensors, NumPy models <-> torch models.

A lab builds a network with ``cnnlab.numpy``, understands every line of it, then moves it to torch
(and to the GPU) to train it fast, and back to look at the result with the NumPy tools::

    torch_model = to_torch(numpy_model)          # the same layers, the same weights, on default_device()
    out = torch_model(to_tensor(x))              # equals numpy_model(x) to float rounding
    ...train torch_model...
    copy_weights(torch_model, numpy_model)       # the trained weights back into the NumPy model

Weights travel through ``state_dict()``: both backends name parameters as torch does ("0.weight",
"0.bias", "3.weight", ...) with the same shapes, so any torch ``nn.Module`` with the same structure
(``torch.nn.Sequential`` of ``torch.nn.Conv2d``, ... too) exchanges weights with a NumPy ``Sequential``.
"""

from __future__ import annotations

import inspect

import numpy as np
import torch

from ._device import resolve_device

__all__ = ["to_tensor", "to_numpy", "copy_weights", "to_torch", "from_torch"]


# ---------------------------------------------------------------------------------------------
# Arrays and tensors
# ---------------------------------------------------------------------------------------------

def to_tensor(x, device=None, dtype=None) -> torch.Tensor:
    """A NumPy array (or anything ``np.asarray`` takes, or a tensor) -> a tensor on ``device``.

    The dtype is kept (float64 stays float64, int64 labels stay int64) unless ``dtype`` is given;
    ``device`` defaults to :func:`cnnlab.torch.default_device`. The values are copied: changing the
    tensor never changes the array.
    """
    device = resolve_device(device)
    if isinstance(x, torch.Tensor):
        return x.detach().to(device=device, dtype=dtype or x.dtype, copy=True)
    t = torch.from_numpy(np.array(x, order="C"))  # a fresh C-ordered copy: any strides, never shared
    return t.to(device=device, dtype=dtype or t.dtype)


def to_numpy(x):
    """A tensor (any device, with or without grad) -> a NumPy array of the same dtype.

    Tuples and lists are converted element by element (``None`` stays ``None``); NumPy arrays and
    numbers pass through.
    """
    if isinstance(x, (tuple, list)):
        return type(x)(to_numpy(v) for v in x)
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return x


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------

def _is_torch(model) -> bool:
    return isinstance(model, torch.nn.Module)


def copy_weights(src, dst):
    """Copy every parameter of ``src`` into ``dst``; each may be a NumPy or a torch model. Returns ``dst``.

    The keys of both ``state_dict()`` must match exactly, and the shapes too; each value is converted to
    the dtype and device of the parameter it goes into.
    """
    state = src.state_dict()
    if _is_torch(dst):
        state = {k: v if isinstance(v, torch.Tensor) else torch.from_numpy(np.asarray(v)) for k, v in state.items()}
        own = dst.state_dict()
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if missing or unexpected:
            raise KeyError(f"copy_weights: the two models differ: missing keys {missing}, unexpected keys {unexpected}")
        for k, v in state.items():
            if tuple(v.shape) != tuple(own[k].shape):
                raise ValueError(f"copy_weights: {k} has shape {tuple(v.shape)} but the parameter has shape "
                                 f"{tuple(own[k].shape)}")
        dst.load_state_dict(state)  # copies into each parameter, converting dtype and device
    else:
        dst.load_state_dict(state)  # the NumPy load_state_dict takes tensors and checks keys and shapes
    return dst


# Constructor arguments that do not describe the layer's structure.
_SKIP = {"self", "init", "rng", "dtype", "device", "bias", "inplace"}


def _convert(layer, target, dtype, device, op):
    """A layer of one backend -> the layer of the same class name in ``target``, same weights."""
    name = type(layer).__name__
    cls = getattr(target, name, None)
    if cls is None:
        raise TypeError(f"{op}: {target.__name__} has no layer {name} (it has Conv2d, ConvTranspose2d, MaxPool2d, "
                        f"AvgPool2d, MaxUnpool2d, Upsample, Linear, Flatten, Dropout, Sequential and the activations)")
    if name == "Sequential":
        new = cls([_convert(child, target, dtype, device, op) for child in layer])
        new.training = getattr(layer, "training", True)  # the container's own mode (each child carries its own)
        return new
    params = inspect.signature(cls.__init__).parameters
    kwargs = {}
    for p in params:
        if p in _SKIP or params[p].kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        if hasattr(layer, p):
            kwargs[p] = getattr(layer, p)
    if "bias" in params:
        kwargs["bias"] = getattr(layer, "bias", None) is not None
    weight = getattr(layer, "weight", None)
    if "dtype" in params and weight is not None:
        kwargs["dtype"] = dtype if dtype is not None else weight.dtype
    if "device" in params:
        kwargs["device"] = device
    new = cls(**kwargs)
    if hasattr(new, "train"):
        new.train(getattr(layer, "training", True))
    return copy_weights(layer, new) if weight is not None else new


def to_torch(model, device=None, dtype=None):
    """A ``cnnlab.numpy`` layer or ``Sequential`` -> the same ``cnnlab.torch.nn`` model, same weights.

    Args:
        model: e.g. ``cnnlab.numpy.layers.Sequential([Conv2d(1, 6, 5), ReLU(), ...])``.
        device: where the torch model lives; default :func:`cnnlab.torch.default_device`.
        dtype: the torch dtype of its parameters; default that of the NumPy parameters (float32 -> float32).

    Returns:
        a ``torch.nn.Module`` whose forward gives the NumPy model's output (to float rounding) and whose
        ``backward`` gives the same gradients.
    """
    from . import layers

    return _convert(model, layers, dtype=dtype, device=resolve_device(device), op="to_torch")


def from_torch(model, dtype=None):
    """A torch model -> the same ``cnnlab.numpy`` model, same weights (on the CPU, as NumPy arrays).

    Works for ``cnnlab.torch.nn`` models and for plain ``torch.nn`` ones built from the layers the NumPy
    backend has (``torch.nn.Sequential(torch.nn.Conv2d(...), torch.nn.ReLU(), ...)``).

    Args:
        model: a ``torch.nn.Module``.
        dtype: the NumPy dtype of the parameters; default that of the torch parameters.
    """
    from ..numpy import layers

    if dtype is None:  # the dtype of the first parameter, in NumPy's spelling
        first = next(iter(model.parameters()), None)
        dtype = np.float32 if first is None else torch.empty((), dtype=first.dtype).numpy().dtype
    return _convert(model, layers, dtype=np.dtype(dtype), device=None, op="from_torch")
