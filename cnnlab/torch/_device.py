"""Where tensors live, and the checks that only torch needs (is it a tensor? on which device?).

The shape and dtype checks are shared with the NumPy backend (``cnnlab._checks``, ``cnnlab._geometry``); a torch op runs
those first, so both backends raise the same errors for the same bad input.
"""

from __future__ import annotations

import torch


def default_device() -> torch.device:
    """``cuda`` when a CUDA GPU is present, else ``cpu``: where new tensors and layers go by default."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_device(device=None) -> torch.device:
    """``None`` -> :func:`default_device`; a string or ``torch.device`` -> that device."""
    return default_device() if device is None else torch.device(device)


def check_tensor(x, name: str, op: str, optional: bool = False) -> None:
    """Require a ``torch.Tensor`` (or ``None`` when ``optional``), with a hint for NumPy arrays."""
    if x is None and optional:
        return
    if not isinstance(x, torch.Tensor):
        hint = " (convert it with cnnlab.torch.to_tensor)" if type(x).__module__ == "numpy" else ""
        raise TypeError(f"{op}: {name} must be a torch.Tensor, got {type(x).__module__}.{type(x).__name__}{hint}")


def check_same_device(a, b, names: tuple[str, str], op: str) -> None:
    """Require two tensors on one device: torch itself would fail deep inside with a less clear message."""
    if a.device != b.device:
        raise ValueError(
            f"{op}: {names[0]} is on {a.device} but {names[1]} is on {b.device}; "
            f"move one of them, e.g. {names[1]}.to({str(a.device)!r})")


def check_tensors(op: str, *named) -> None:
    """``named`` are ``(tensor_or_None, name)`` pairs: each must be a ``torch.Tensor`` (``None`` is skipped,
    for an absent bias) and all must be on the device of the first. The shape and dtype checks are
    the NumPy backend's, run after this one."""
    first = None
    for t, name in named:
        if t is None:
            continue
        check_tensor(t, name, op)
        if first is None:
            first = (t, name)
        else:
            check_same_device(first[0], t, (first[1], name), op)


# The name the shared op code (written in cnnlab.numpy, see _mirror.py) calls in both backends.
check_arrays = check_tensors
