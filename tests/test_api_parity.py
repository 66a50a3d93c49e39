"""``cnnlab.numpy`` and ``cnnlab.torch`` offer the same API: a student who learns one can use the other.

Compared, from the two packages down through their public submodules (``layers``, ``training``, ...):

- names: a module's ``__all__``, or else its public functions and classes (a package: its public attributes
  and public submodules);
- callables: parameter names, kinds, order and defaults (``inspect.signature``); classes: the constructor and
  every public method or property that cnnlab defines.

Where one side is torch's own code (``cnnlab.torch.nn.Module`` *is* ``torch.nn.Module``), only the presence
of a name is compared: torch's signatures are torch's business. Every difference is in ``ALLOWED`` below with
its reason, and an entry that no longer matches a difference fails too, so the list stays true.

Keys: ``name`` (a name on one side only), ``name(param)`` (a parameter on one side only, or with another
kind or default), ``name(order)`` (the shared parameters in another order), ``name(type)`` (a class on one
side, a function on the other); submodules prefix their names (``layers.Conv2d(device)``), methods are named
after the most basic public class that has them (``layers.Module.backward``). Each object pair is compared
once, under its first name.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
import types
from functools import cache

import pytest

torch = pytest.importorskip("torch")

NUMPY, TORCH = "cnnlab.numpy", "cnnlab.torch"


def _each(reason, *keys):
    return dict.fromkeys(keys, reason)


ALLOWED = {
    # --- names on one side only ---------------------------------------------------------------------------
    **_each("the NumPy layers are also at cnnlab.numpy's top level; torch's are in cnnlab.torch.nn, as in torch",
            "AvgPool2d", "Conv2d", "ConvTranspose2d", "Dense", "Dropout", "ELU", "Flatten", "LeakyReLU", "Linear",
            "LogSigmoid", "MaxPool2d", "MaxUnpool2d", "Mish", "Module", "Parameter", "ReLU", "Sequential", "SiLU",
            "Sigmoid", "Sinc", "Softplus", "Softsign", "Step", "Swish", "Tanh", "Upsample", "init_weight"),
    **_each("NumPy has no optimizers, so cnnlab.numpy writes SGD and Adam; torch uses torch.optim",
            "optim", "SGD", "Adam"),
    **_each("the NumPy layers draw from one global generator; torch has torch.manual_seed",
            "manual_seed", "layers.manual_seed"),
    "default_device": "only torch has devices: cuda when present, else cpu",
    "nn": "torch's spelling of cnnlab.torch.layers (import cnnlab.torch.nn as nn)",
    **_each("conversion between the backends lives on the torch side (NumPy must not need torch)",
            "convert", "copy_weights", "from_torch", "to_numpy", "to_tensor", "to_torch"),
    "gradcheck.backward_of": "NumPy's gradcheck looks up op_backward by name; torch's uses autograd",
    "fast": "NumPy only: the fast versions of the hot ops that the NumPy layers use (cs231n's fast_layers); cnnlab.torch gets its speed from torch's primitives",
    # --- device= where torch creates tensors ----------------------------------------------------------------
    **_each("torch creates the tensor on a device (default: default_device())",
            "dropout_mask(device)", "layers.init_weight(device)", "layers.Conv2d(device)",
            "layers.ConvTranspose2d(device)", "layers.Linear(device)"),
    **_each("torch moves the model and the data to device= (default: where the model's parameters are)",
            "fit(device)", "evaluate(device)", "predict(device)"),
    # --- the same default spelled by each library -----------------------------------------------------------
    **_each("float32 as each library spells it (numpy.float32, torch.float32)",
            "layers.init_weight(dtype)", "layers.Conv2d(dtype)", "layers.ConvTranspose2d(dtype)",
            "layers.Linear(dtype)"),
    # --- what the NumPy layers do by hand and torch's autograd does for them --------------------------------
    "layers.Module.backward": "the NumPy layers run backward themselves; on torch, loss.backward() does",
    "layers.Parameter.accumulate": "torch's autograd adds into p.grad itself",
    "layers.Module.named_grads": "torch keeps each gradient on its parameter (p.grad)",
    "layers.Module.astype": "torch modules change dtype with .to(dtype) / .double()",
    "layers.Module.num_parameters": "torch.nn.Module has none: sum(p.numel() for p in model.parameters())",
}


# ----------------------------------------------------------------------------------------------------------
# Collecting the differences
# ----------------------------------------------------------------------------------------------------------

def _public_names(module) -> set[str]:
    """``__all__``, or the public functions and classes defined in the module; a package adds its public
    attributes and submodules."""
    if hasattr(module, "__all__"):
        names = set(module.__all__)
    elif hasattr(module, "__path__"):
        names = {k for k, v in vars(module).items() if not k.startswith("_") and not isinstance(v, types.ModuleType)}
    else:
        names = {k for k, v in vars(module).items() if not k.startswith("_")
                 and (inspect.isfunction(v) or inspect.isclass(v)) and v.__module__ == module.__name__}
    if hasattr(module, "__path__"):
        names |= {m.name for m in pkgutil.iter_modules(module.__path__) if not m.name.startswith("_")}
    return names


def _member(module, name):
    """``module.name``; a submodule also where the package attribute of that name is something else
    (``cnnlab.numpy.gradcheck`` is the function, ``cnnlab/numpy/gradcheck.py`` the module)."""
    value = getattr(module, name, None)
    if hasattr(module, "__path__") and (value is None or inspect.isfunction(value) or inspect.isclass(value)):
        spec = importlib.util.find_spec(f"{module.__name__}.{name}")
        if spec is not None and not isinstance(value, types.ModuleType):
            return value, importlib.import_module(f"{module.__name__}.{name}")
    return value, None


def _ours(obj) -> bool:
    return getattr(obj, "__module__", "").startswith("cnnlab.")


def _compare_signatures(key, a, b, diffs):
    """``a``, ``b``: callables or their signatures."""
    sa, sb = (s.parameters if isinstance(s, inspect.Signature) else inspect.signature(s).parameters for s in (a, b))
    for name in sa.keys() | sb.keys():
        pa, pb = sa.get(name), sb.get(name)
        if pa is None or pb is None:
            side, p = (TORCH, pb) if pa is None else (NUMPY, pa)
            diffs[f"{key}({name})"] = f"only in {side}: {p}"
        elif pa.kind != pb.kind or not _same_default(pa.default, pb.default):
            diffs[f"{key}({name})"] = f"{NUMPY}: {pa} ({pa.kind.description}); {TORCH}: {pb} ({pb.kind.description})"
    shared_a, shared_b = [n for n in sa if n in sb], [n for n in sb if n in sa]
    if shared_a != shared_b:
        diffs[f"{key}(order)"] = f"{NUMPY}: {shared_a}; {TORCH}: {shared_b}"


def _same_default(a, b) -> bool:
    if a is b:
        return True
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # an array default: == gives no single answer
        return False


def _methods(cls) -> dict[str, object]:
    """The public methods and properties that cnnlab code defines on ``cls`` or its bases."""
    found = {}
    for name in dir(cls):
        if name.startswith("_"):
            continue
        owner = next(k for k in cls.__mro__ if name in vars(k))
        attr = vars(owner)[name]
        if _ours(owner) and (callable(attr) or isinstance(attr, (property, staticmethod, classmethod))):
            found[name] = attr
    return found


def _owner(prefix, cls, name, public_classes, method=None) -> str:
    """``prefix + Base.name`` for the most basic public class of the namespace that has ``name`` (that very
    ``method``, if given)."""
    base = next(k for k in reversed(cls.__mro__) if k in public_classes and hasattr(k, name)
                and (method is None or inspect.getattr_static(k, name) is method))
    return f"{prefix}{public_classes[base]}.{name}"


def _constructor(cls):
    """What ``cls(...)`` takes: cnnlab's ``__init__``, nothing for ``object``'s or ``torch.nn.Module``'s (its
    ``*args, **kwargs`` accept nothing), None for another library's class (``torch.nn.Parameter``)."""
    init = cls.__init__
    if _ours(init):
        return inspect.signature(cls)
    return inspect.Signature() if init in (object.__init__, torch.nn.Module.__init__) else None


def _compare_classes(key, prefix, a, b, public_a, public_b, diffs):
    if _ours(a) and _ours(b) and None not in (_constructor(a), _constructor(b)):
        _compare_signatures(key, _constructor(a), _constructor(b), diffs)
    methods_a, methods_b = _methods(a), _methods(b)
    for name in methods_a.keys() - methods_b.keys():
        if not hasattr(b, name):
            diffs[_owner(prefix, a, name, public_a)] = f"only in {NUMPY}"
    for name in methods_b.keys() - methods_a.keys():
        if not hasattr(a, name):
            diffs[_owner(prefix, b, name, public_b)] = f"only in {TORCH}"
    for name in methods_a.keys() & methods_b.keys():
        ma, mb = methods_a[name], methods_b[name]
        if inspect.isfunction(ma) and inspect.isfunction(mb):
            _compare_signatures(_owner(prefix, a, name, public_a, ma), ma, mb, diffs)


def _compare_modules(prefix, mod_a, mod_b, diffs, seen):
    names_a, names_b = _public_names(mod_a), _public_names(mod_b)
    for name in sorted(names_a ^ names_b):
        diffs[prefix + name] = f"only in {NUMPY if name in names_a else TORCH}"
    # a class or function under its own name first, aliases after (Linear before Dense = Linear)
    order = sorted(names_a & names_b, key=lambda n: (getattr(getattr(mod_a, n, None), "__name__", n) != n, n))
    members = {name: (_member(mod_a, name), _member(mod_b, name)) for name in order}
    public_a, public_b = {}, {}  # class -> its name here (the first: its own name before an alias's)
    for name, ((a, _), (b, _)) in members.items():
        for value, public in ((a, public_a), (b, public_b)):
            if inspect.isclass(value):
                public.setdefault(value, name)
    submodules = []
    for name, ((a, sub_a), (b, sub_b)) in members.items():
        key = prefix + name
        if sub_a is not None and sub_b is not None:
            submodules.append((name, sub_a, sub_b))
        elif isinstance(a, types.ModuleType) and isinstance(b, types.ModuleType):
            submodules.append((name, a, b))
            continue
        if a is b or (id(a), id(b)) in seen or not (callable(a) and callable(b)):
            continue
        seen.add((id(a), id(b)))
        if inspect.isclass(a) != inspect.isclass(b):
            diffs[f"{key}(type)"] = f"{NUMPY}: {type(a).__name__}; {TORCH}: {type(b).__name__}"
        elif inspect.isclass(a):
            _compare_classes(key, prefix, a, b, public_a, public_b, diffs)
        elif _ours(a) and _ours(b):
            _compare_signatures(key, a, b, diffs)
    for name, sub_a, sub_b in submodules:
        _compare_modules(f"{prefix}{name}.", sub_a, sub_b, diffs, seen)


@cache
def api_differences() -> dict[str, str]:
    """Every difference between the two public APIs: key -> what differs."""
    diffs = {}
    _compare_modules("", importlib.import_module(NUMPY), importlib.import_module(TORCH), diffs, set())
    return diffs


# ----------------------------------------------------------------------------------------------------------
# The tests
# ----------------------------------------------------------------------------------------------------------

def test_every_difference_is_allowed():
    new = {key: what for key, what in api_differences().items() if key not in ALLOWED}
    assert not new, ("cnnlab.numpy and cnnlab.torch differ where ALLOWED does not say why (make them agree, or add "
                     "the key with a reason):\n" + "\n".join(f"  {key}: {what}" for key, what in sorted(new.items())))


def test_every_allowed_difference_still_exists():
    stale = sorted(ALLOWED.keys() - api_differences().keys())
    assert not stale, "ALLOWED lists differences that are gone (remove them): " + ", ".join(stale)
