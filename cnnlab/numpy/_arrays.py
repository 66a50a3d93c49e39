"""The check only the NumPy backend needs: are the arguments NumPy arrays?

(The torch backend's twin, ``cnnlab.torch._device.check_arrays``, also checks that the tensors share a
device.) The shape and dtype checks are shared by both backends: ``cnnlab._checks``, ``cnnlab._geometry``.
"""

from __future__ import annotations

import numpy as np


def check_arrays(op: str, *named) -> None:
    """``named`` are ``(array_or_None, name)`` pairs: none may be an array of another library (a torch
    tensor: NumPy would fail deep inside, or silently copy it). ``None`` (an absent bias) passes; so do
    NumPy scalars, and objects without a dtype, which the dtype checks of ``cnnlab._checks`` refuse."""
    for x, name in named:
        if x is None or isinstance(x, (np.ndarray, np.generic)) or not hasattr(x, "dtype"):
            continue
        hint = " (convert it with cnnlab.torch.to_numpy)" if type(x).__module__.startswith("torch") else ""
        raise TypeError(f"{op}: {name} must be a numpy.ndarray, got {type(x).__module__}.{type(x).__name__}{hint}")
