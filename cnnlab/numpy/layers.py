"""Layers (层): the functional ops of ``cnnlab.numpy`` with their weights and their memory.

A functional op such as ``conv2d(x, weight, bias)`` is stateless; a layer such as ``Conv2d`` owns its
``weight`` and ``bias`` and remembers its input, so that after ``y = layer(x)`` a call
``grad_x = layer.backward(grad_y)`` needs nothing else. ``Sequential([layer1, layer2, layer3])``
chains them, as ``keras.Sequential`` on the slides and ``torch.nn.Sequential``::

    model = Sequential([
        Conv2d(1, 6, 3, padding=1), ReLU(), MaxPool2d(2),
        Flatten(), Linear(6 * 4 * 4, 10),
    ])
    logits = model(x)                       # forward: (N, 1, 8, 8) -> (N, 10)
    grad_x = model.backward(grad_logits)    # backward: fills every p.grad, returns dLoss/dx

The design, in one screen:

- Every layer writes out its two passes where it is defined: ``forward(x)`` keeps ``self.x = x`` and
  returns ``op(x, ...)``; ``backward(grad_out)`` calls ``op_backward(grad_out, self.x, ...)``, adds the
  weights' gradients to ``weight.grad`` / ``bias.grad`` and returns the gradient of the input.
- The layers a CNN spends its time in (``Conv2d``, ``ConvTranspose2d``, ``MaxPool2d``, ``ReLU``) call
  :mod:`cnnlab.numpy.fast` instead: the same numbers as the reference ops (tests hold them equal), but the
  forward keeps what it computed for the backward (``self.cache``: the im2col columns, where each window's
  maximum is; ``ReLU`` keeps its output ``self.out``), as torch does. The backward uses it once and frees
  it; a second forward before the backward replaces it (the backward follows the last forward, as
  ``self.x`` of the other layers).
- A :class:`Parameter` is a trainable array ``.data`` and its gradient ``.grad`` (``None`` until a
  backward pass; gradients of several backward passes add up until ``zero_grad()``, as in torch).
- :class:`Module`, the base of every layer, holds what teaches nothing: ``layer(x)`` calls
  ``forward``; ``parameters()`` / ``named_parameters()`` find the Parameter attributes; ``zero_grad()``,
  ``train()`` / ``eval()`` (only ``Dropout`` behaves differently), ``state_dict()`` / ``load_state_dict()``.
- Names, constructor arguments, parameter names and shapes are torch's: a ``Sequential`` here and a
  ``torch.nn.Sequential`` with the same layers have the same ``state_dict`` keys (``"0.weight"``,
  ``"0.bias"``, ``"3.weight"``, ...) and shapes, so weights copy across both ways.
- Weights are initialised from a seeded ``numpy.random.Generator`` (argument ``rng``: a Generator, an
  int seed, or None for the module's default generator, see :func:`manual_seed`), by He (kaiming)
  or Xavier initialisation (``init="he" | "xavier"``); biases start at 0.
- Parameters are float32 by default (``dtype=np.float64`` for gradient checks, or ``model.astype``).
"""

from __future__ import annotations

import functools
import inspect
import math
from collections import OrderedDict

import numpy as np

from .._checks import _is_int, check_dropout_p, pair, positive_int
from . import activations as A
from . import fast
from .linear import dropout, dropout_backward, dropout_mask, flatten, flatten_backward
from .pool import (avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward, max_unpool2d,
                   max_unpool2d_backward)
from .upsample import interpolate, interpolate_backward

__all__ = [
    "Parameter", "Module", "manual_seed", "init_weight",
    "Conv2d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "MaxUnpool2d", "Upsample",
    "Linear", "Dense", "Flatten", "Dropout",
    "Sigmoid", "Tanh", "Step", "Softplus", "ReLU", "LeakyReLU", "ELU", "Softsign", "LogSigmoid",
    "Swish", "SiLU", "Mish", "Sinc",
    "Sequential",
]


# ---------------------------------------------------------------------------------------------
# Parameters, random initialisation
# ---------------------------------------------------------------------------------------------

class Parameter:
    """A trainable array and its gradient.

    Attributes:
        data: the values (an ndarray, updated in place by the optimizers).
        grad: dLoss/d(data), same shape, or None when no backward pass has run since ``zero_grad``.
    """

    __slots__ = ("data", "grad")

    def __init__(self, data):
        self.data = np.array(data)  # a copy: the parameter owns its values
        self.grad = None

    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    def accumulate(self, grad) -> None:
        """Add ``grad`` to ``self.grad`` (which starts as None): gradients add up, as in torch."""
        grad = np.asarray(grad, dtype=self.data.dtype)
        if grad.shape != self.data.shape:
            raise ValueError(f"Parameter: gradient of shape {grad.shape} for a parameter of shape {self.data.shape}")
        self.grad = grad.copy() if self.grad is None else self.grad + grad

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


_default_rng = np.random.default_rng(0)


def manual_seed(seed: int) -> None:
    """Re-seed the default generator used by layers built without ``rng=`` (like ``torch.manual_seed``)."""
    global _default_rng
    _default_rng = np.random.default_rng(seed)


def _rng(rng) -> np.random.Generator:
    if rng is None:
        return _default_rng
    if isinstance(rng, np.random.Generator):
        return rng
    if _is_int(rng):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")


def init_weight(shape, init: str = "he", rng=None, dtype=np.float32) -> np.ndarray:
    """Random initial weights for a layer.

    ``fan_in`` / ``fan_out`` follow torch: ``shape[1] * k`` / ``shape[0] * k``, ``k`` the kernel's area
    (1 for ``Linear``), so for ``Conv2d`` fan_in = in_channels / groups * KH * KW.

    - ``"he"`` (kaiming normal, He et al. 2015, for ReLU networks): ``N(0, 2 / fan_in)``; it keeps the
      variance of the activations the same from layer to layer when half of them are cut by ReLU.
    - ``"xavier"`` (Glorot uniform, 2010, for tanh / sigmoid): ``U(-a, a)``, ``a = sqrt(6 / (fan_in + fan_out))``.
    """
    receptive = math.prod(shape[2:])
    fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
    rng = _rng(rng)
    if init == "he":
        w = rng.normal(0.0, math.sqrt(2.0 / fan_in), size=shape)
    elif init == "xavier":
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        w = rng.uniform(-bound, bound, size=shape)
    else:
        raise ValueError(f"init must be 'he' or 'xavier', got {init!r}")
    return w.astype(dtype)


def _float_dtype(dtype, layer: str):
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"{layer}: dtype must be a float type (float32 or float64), got {dtype}")
    return dtype


# ---------------------------------------------------------------------------------------------
# Module: what every layer shares (none of it is a forward or backward pass)
# ---------------------------------------------------------------------------------------------

class _NoForwardYet(RuntimeError, AttributeError):
    """``backward`` before ``forward``; an AttributeError too, so that ``hasattr(layer, "x")`` is False."""


_SAVED_FOR_BACKWARD = ("x", "cache", "out")  # what a forward keeps: its input, the fast ops' cache, ReLU's output


class Module:
    """Base class of every layer: ``layer(x)``, the parameters, train/eval mode, the state dict, the repr.

    A subclass defines ``forward(x)`` and ``backward(grad_out)``; its :class:`Parameter` attributes
    (``self.weight``, ``self.bias``, in the order they are set; None ones are skipped) are its parameters.
    """

    training: bool = True

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad_out):  # pragma: no cover - abstract
        raise NotImplementedError

    def __getattr__(self, name):
        # Python calls this only for an attribute that is not set: ``self.x`` before the first forward pass,
        # ``self.cache`` before it or after the backward that used it.
        if name in _SAVED_FOR_BACKWARD:
            raise _NoForwardYet(f"{type(self).__name__}.backward: call forward first (nothing is stored "
                                f"for the backward pass; a backward uses what its forward stored once)")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # -- structure -----------------------------------------------------------------------------
    def named_children(self):
        """``(name, child)`` for each sub-layer (only ``Sequential`` has any)."""
        return iter(())

    def named_parameters(self, prefix: str = ""):
        """``(name, Parameter)`` pairs in torch's order and with torch's names ("0.weight", "0.bias", ...)."""
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield prefix + name, value
        for child_name, child in self.named_children():
            yield from child.named_parameters(prefix + child_name + ".")

    def parameters(self):
        """Every :class:`Parameter`, e.g. for ``SGD(model.parameters(), lr=0.1)``."""
        return [p for _, p in self.named_parameters()]

    def named_grads(self):
        """``(name, grad)`` pairs (grad None where no backward pass has run)."""
        return [(name, p.grad) for name, p in self.named_parameters()]

    def num_parameters(self) -> int:
        """How many numbers are learnt."""
        return sum(p.size for p in self.parameters())

    def zero_grad(self) -> None:
        """Forget the gradients (``p.grad = None`` for every parameter)."""
        for p in self.parameters():
            p.grad = None

    def train(self, mode: bool = True):
        """Training mode (the default): ``Dropout`` drops. Returns the module."""
        self.training = bool(mode)
        for _, child in self.named_children():
            child.train(mode)
        return self

    def eval(self):
        """Evaluation mode: ``Dropout`` passes everything through. Returns the module."""
        return self.train(False)

    def astype(self, dtype):
        """Convert every parameter to ``dtype`` (e.g. ``np.float64`` for gradient checks); returns the module."""
        dtype = _float_dtype(dtype, type(self).__name__)
        for p in self.parameters():
            p.data = p.data.astype(dtype)
            p.grad = None if p.grad is None else p.grad.astype(dtype)
        if "dtype" in vars(self):
            self.dtype = dtype
        for _, child in self.named_children():
            child.astype(dtype)
        return self

    # -- saving and loading ----------------------------------------------------------------------
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """``name -> copy of the values``, with torch's names and shapes."""
        return OrderedDict((name, p.data.copy()) for name, p in self.named_parameters())

    def load_state_dict(self, state_dict, strict: bool = True) -> None:
        """Copy values into the parameters (keeping each parameter's dtype).

        Accepts NumPy arrays or torch tensors (``torch_model.state_dict()`` works directly). With
        ``strict``, the keys must match exactly; shapes must always match.
        """
        layer = type(self).__name__
        params = dict(self.named_parameters())
        missing = [k for k in params if k not in state_dict]
        unexpected = [k for k in state_dict if k not in params]
        if strict and (missing or unexpected):
            raise KeyError(f"{layer}.load_state_dict: missing keys {missing}, unexpected keys {unexpected}")
        new = {}
        for name, value in state_dict.items():
            if name not in params:
                continue
            if hasattr(value, "detach"):  # a torch tensor
                value = value.detach().cpu().numpy()
            value = np.asarray(value)
            if value.shape != params[name].shape:
                raise ValueError(f"{layer}.load_state_dict: {name} has shape {value.shape} but the parameter "
                                 f"has shape {params[name].shape}")
            new[name] = value
        for name, value in new.items():  # all checked before anything is written
            params[name].data = value.astype(params[name].dtype, copy=True)

    # -- printing --------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


# The constructors' checks and torch's printed text, shared with the twins in cnnlab/torch/layers.py.

def _conv_channels(layer: str, in_channels, out_channels, groups) -> tuple[int, int, int]:
    """Checked ``(in_channels, out_channels, groups)`` of a (transposed) convolution (also for cnnlab.torch)."""
    in_channels = positive_int(in_channels, "in_channels", layer)
    out_channels = positive_int(out_channels, "out_channels", layer)
    groups = positive_int(groups, "groups", layer)
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"{layer}: groups={groups} must divide in_channels={in_channels} and "
                         f"out_channels={out_channels}")
    return in_channels, out_channels, groups


def _layers_of(layers: tuple, module_type) -> tuple:
    """``Sequential``'s arguments, the layers or one list of them, checked (also for cnnlab.torch)."""
    if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
        layers = tuple(layers[0])
    for i, layer in enumerate(layers):
        if not isinstance(layer, module_type):
            raise TypeError(f"Sequential: layer {i} is a {type(layer).__name__}, not a layer (Module); "
                            f"did you forget the parentheses, e.g. ReLU instead of ReLU()?")
    return layers


def _pair_repr(value) -> tuple:
    """``2`` -> ``(2, 2)``: torch prints the sizes of a layer as pairs."""
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _conv_repr(layer) -> str:
    """What ``repr`` shows of a Conv2d or ConvTranspose2d, torch's text (also for cnnlab.torch)."""
    s = f"{layer.in_channels}, {layer.out_channels}, kernel_size={layer.kernel_size}, stride={_pair_repr(layer.stride)}"
    if layer.padding != 0:
        s += f", padding={layer.padding if isinstance(layer.padding, str) else _pair_repr(layer.padding)}"
    if getattr(layer, "output_padding", 0) != 0:  # ConvTranspose2d only
        s += f", output_padding={_pair_repr(layer.output_padding)}"
    if layer.dilation != 1:
        s += f", dilation={_pair_repr(layer.dilation)}"
    if layer.groups != 1:
        s += f", groups={layer.groups}"
    if layer.bias is None:
        s += ", bias=False"
    return s


# ---------------------------------------------------------------------------------------------
# Convolution and transposed convolution
# ---------------------------------------------------------------------------------------------

class Conv2d(Module):
    """卷积层 (convolution layer): ``out = conv2d(x, weight, bias, stride, padding, dilation, groups)``.

    Args:
        in_channels, out_channels: C_in, C_out.
        kernel_size, stride, padding, dilation: int or pair (padding also "valid" or "same"), as torch.
        groups: C_in and C_out are split into ``groups`` independent convolutions.
        bias: learn a bias per output channel.
        init: "he" (default) or "xavier"; rng: Generator, int seed or None; dtype: float32 by default.

    Parameters: ``weight`` (C_out, C_in / groups, KH, KW), ``bias`` (C_out,).
    Shapes: (N, C_in, H, W) -> (N, C_out, OH, OW); ``backward`` adds to ``weight.grad`` and ``bias.grad``.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, init="he", rng=None, dtype=np.float32):
        self.in_channels, self.out_channels, self.groups = _conv_channels("Conv2d", in_channels, out_channels, groups)
        self.kernel_size = pair(kernel_size, "kernel_size", "Conv2d")
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.dtype = _float_dtype(dtype, "Conv2d")
        shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)  # torch's layout
        self.weight = Parameter(init_weight(shape, init, rng, self.dtype))
        self.bias = Parameter(np.zeros(self.out_channels, self.dtype)) if bias else None

    def forward(self, x):
        bias = None if self.bias is None else self.bias.data
        # fast.conv2d computes what conv2d (conv.py) computes, tests hold them equal; its cache keeps the
        # im2col columns, so the backward needs no second im2col
        out, self.cache = fast.conv2d(x, self.weight.data, bias, stride=self.stride, padding=self.padding,
                                      dilation=self.dilation, groups=self.groups)
        return out

    def backward(self, grad_out, input_grad=True):
        """The parameters' gradients added to ``.grad``; returns the input's (None with ``input_grad=False``)."""
        # = conv2d_backward(grad_out, x, weight, bias, stride, padding, dilation, groups)
        grad_x, grad_w, grad_b = fast.conv2d_backward(grad_out, self.cache, input_grad)
        del self.cache  # the columns are freed now, not at the next forward
        self.weight.accumulate(grad_w)
        if self.bias is not None:
            self.bias.accumulate(grad_b)
        return grad_x

    def extra_repr(self):
        return _conv_repr(self)


class ConvTranspose2d(Module):
    """转置卷积 / 反卷积 (transposed convolution): ``conv_transpose2d(x, weight, bias, ...)``.

    Args: as :class:`Conv2d`, plus ``output_padding`` (extra rows / columns on one side of the output).
    Parameters: ``weight`` (C_in, C_out / groups, KH, KW) (torch's layout, note C_in first), ``bias`` (C_out,).
    Shapes: (N, C_in, H, W) -> (N, C_out, (H - 1) * SH - 2 * PH + DH * (KH - 1) + output_padding + 1, ...).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, init="he", rng=None, dtype=np.float32):
        self.in_channels, self.out_channels, self.groups = _conv_channels("ConvTranspose2d", in_channels,
                                                                          out_channels, groups)
        self.kernel_size = pair(kernel_size, "kernel_size", "ConvTranspose2d")
        self.stride, self.padding, self.output_padding, self.dilation = stride, padding, output_padding, dilation
        self.dtype = _float_dtype(dtype, "ConvTranspose2d")
        shape = (self.in_channels, self.out_channels // self.groups, *self.kernel_size)  # torch's layout: C_in first
        self.weight = Parameter(init_weight(shape, init, rng, self.dtype))
        self.bias = Parameter(np.zeros(self.out_channels, self.dtype)) if bias else None

    def forward(self, x):
        bias = None if self.bias is None else self.bias.data
        # fast.conv_transpose2d computes what conv_transpose2d (conv.py) computes, tests hold them equal
        out, self.cache = fast.conv_transpose2d(x, self.weight.data, bias, stride=self.stride, padding=self.padding,
                                                output_padding=self.output_padding, groups=self.groups,
                                                dilation=self.dilation)
        return out

    def backward(self, grad_out):
        # = conv_transpose2d_backward(grad_out, x, weight, bias, stride, padding, output_padding, groups, dilation)
        grad_x, grad_w, grad_b = fast.conv_transpose2d_backward(grad_out, self.cache)
        del self.cache  # freed now, not at the next forward
        self.weight.accumulate(grad_w)
        if self.bias is not None:
            self.bias.accumulate(grad_b)
        return grad_x

    def extra_repr(self):
        return _conv_repr(self)


# ---------------------------------------------------------------------------------------------
# Pooling, unpooling, upsampling
# ---------------------------------------------------------------------------------------------

class MaxPool2d(Module):
    """最大池化 (max pooling): the largest value of each window.

    Args: ``kernel_size, stride=None (= kernel_size), padding=0, dilation=1, return_indices=False,
    ceil_mode=False`` as torch. With ``return_indices`` the forward returns ``(out, indices)`` for a
    :class:`MaxUnpool2d` (such a layer cannot sit inside a ``Sequential``; the backward takes the gradient
    of ``out`` only). Shapes: (N, C, H, W) -> (N, C, OH, OW).
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        self.kernel_size, self.stride, self.padding, self.dilation = kernel_size, stride, padding, dilation
        self.return_indices, self.ceil_mode = bool(return_indices), bool(ceil_mode)

    def forward(self, x):
        if self.return_indices:  # for MaxUnpool2d: the reference op, which returns torch's indices
            self.x = x
            return max_pool2d(x, self.kernel_size, stride=self.stride, padding=self.padding,
                              dilation=self.dilation, ceil_mode=self.ceil_mode, return_indices=True)
        # fast.max_pool2d computes what max_pool2d (pool.py) computes, tests hold them equal; its cache keeps
        # where each window's maximum is, so the backward needs no second search
        out, self.cache = fast.max_pool2d(x, self.kernel_size, stride=self.stride, padding=self.padding,
                                          dilation=self.dilation, ceil_mode=self.ceil_mode)
        return out

    def backward(self, grad_out):
        if self.return_indices:
            return max_pool2d_backward(grad_out, self.x, self.kernel_size, stride=self.stride,
                                       padding=self.padding, dilation=self.dilation, ceil_mode=self.ceil_mode)
        grad_x = fast.max_pool2d_backward(grad_out, self.cache)  # = max_pool2d_backward(grad_out, x, ...)
        del self.cache
        return grad_x

    def extra_repr(self):
        stride = self.kernel_size if self.stride is None else self.stride
        s = f"kernel_size={self.kernel_size}, stride={stride}, padding={self.padding}, dilation={self.dilation}"
        if self.return_indices:
            s += ", return_indices=True"
        return s + f", ceil_mode={self.ceil_mode}"


class AvgPool2d(Module):
    """平均池化 (average pooling): the mean of each window.

    Args: ``kernel_size, stride=None (= kernel_size), padding=0, ceil_mode=False, count_include_pad=True,
    divisor_override=None`` as torch. Shapes: (N, C, H, W) -> (N, C, OH, OW).
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.count_include_pad, self.divisor_override = ceil_mode, count_include_pad, divisor_override

    def forward(self, x):
        self.x = x
        return avg_pool2d(x, self.kernel_size, stride=self.stride, padding=self.padding, ceil_mode=self.ceil_mode,
                          count_include_pad=self.count_include_pad, divisor_override=self.divisor_override)

    def backward(self, grad_out):
        return avg_pool2d_backward(grad_out, self.x, self.kernel_size, stride=self.stride, padding=self.padding,
                                   ceil_mode=self.ceil_mode, count_include_pad=self.count_include_pad,
                                   divisor_override=self.divisor_override)

    def extra_repr(self):
        stride = self.kernel_size if self.stride is None else self.stride
        return f"kernel_size={self.kernel_size}, stride={stride}, padding={self.padding}"


class MaxUnpool2d(Module):
    """反池化 (max unpooling): ``forward(x, indices, output_size=None)`` puts each value back where
    ``MaxPool2d(..., return_indices=True)`` found it, zeros elsewhere.

    Args: ``kernel_size, stride=None (= kernel_size), padding=0`` of the pooling being undone.
    Shapes: (N, C, H, W) and indices (N, C, H, W) -> (N, C, H_out, W_out). ``backward`` returns grad_x only.
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x, indices, output_size=None):
        self.x, self.indices, self.output_size = x, indices, output_size
        return max_unpool2d(x, indices, self.kernel_size, stride=self.stride, padding=self.padding,
                            output_size=output_size)

    def backward(self, grad_out):
        grad_x, _ = max_unpool2d_backward(grad_out, self.x, self.indices, self.kernel_size, stride=self.stride,
                                          padding=self.padding, output_size=self.output_size)
        return grad_x  # the indices get no gradient

    def extra_repr(self):
        stride = self.kernel_size if self.stride is None else self.stride
        return (f"kernel_size={_pair_repr(self.kernel_size)}, stride={_pair_repr(stride)}, "
                f"padding={_pair_repr(self.padding)}")


class Upsample(Module):
    """上采样 (upsampling): ``interpolate(x, size, scale_factor, mode, align_corners)``.

    Args: ``size=None, scale_factor=None, mode="nearest" | "bilinear", align_corners=None`` as torch.
    Shapes: (N, C, H, W) -> (N, C, OH, OW).
    """

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None):
        self.size, self.scale_factor, self.mode, self.align_corners = size, scale_factor, mode, align_corners

    def forward(self, x):
        self.x = x
        return interpolate(x, size=self.size, scale_factor=self.scale_factor, mode=self.mode,
                           align_corners=self.align_corners)

    def backward(self, grad_out):
        return interpolate_backward(grad_out, self.x, size=self.size, scale_factor=self.scale_factor, mode=self.mode,
                                    align_corners=self.align_corners)

    def extra_repr(self):
        what = f"size={self.size}" if self.size is not None else f"scale_factor={float(self.scale_factor)}"
        return f"{what}, mode='{self.mode}'"


# ---------------------------------------------------------------------------------------------
# Fully connected, flatten, dropout
# ---------------------------------------------------------------------------------------------

class Linear(Module):
    """全连接层 (fully connected layer): ``out = x @ weight.T + bias``.

    Args: ``in_features, out_features, bias=True``; ``init``, ``rng``, ``dtype`` as :class:`Conv2d`.
    Parameters: ``weight`` (out_features, in_features), ``bias`` (out_features,).
    Shapes: (N, in_features) -> (N, out_features) (any leading axes work).
    """

    def __init__(self, in_features, out_features, bias=True, init="he", rng=None, dtype=np.float32):
        self.in_features = positive_int(in_features, "in_features", "Linear")
        self.out_features = positive_int(out_features, "out_features", "Linear")
        self.dtype = _float_dtype(dtype, "Linear")
        self.weight = Parameter(init_weight((self.out_features, self.in_features), init, rng, self.dtype))
        self.bias = Parameter(np.zeros(self.out_features, self.dtype)) if bias else None

    def forward(self, x):
        self.x = x  # fast.linear computes what linear (linear.py) computes, tests hold them equal
        return fast.linear(x, self.weight.data, None if self.bias is None else self.bias.data)

    def backward(self, grad_out, input_grad=True):
        """The parameters' gradients added to ``.grad``; returns the input's (None with ``input_grad=False``)."""
        bias = None if self.bias is None else self.bias.data
        grad_x, grad_w, grad_b = fast.linear_backward(grad_out, self.x, self.weight.data, bias, input_grad)
        self.weight.accumulate(grad_w)
        if self.bias is not None:
            self.bias.accumulate(grad_b)
        return grad_x

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


#: Keras' name for a fully connected layer.
Dense = Linear


class Flatten(Module):
    """(N, C, H, W) -> (N, C*H*W): the bridge from the convolutions to the fully connected layers.

    Args: ``start_dim=1, end_dim=-1`` as ``torch.nn.Flatten``.
    """

    def __init__(self, start_dim=1, end_dim=-1):
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        self.x = x
        return flatten(x, self.start_dim, self.end_dim)

    def backward(self, grad_out):
        return flatten_backward(grad_out, self.x, self.start_dim, self.end_dim)  # back to x's shape

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """Dropout: in training, each unit is set to 0 with probability ``p`` and the others are scaled by
    ``1 / (1 - p)`` (inverted dropout, ``p`` = probability of DROPPING, as in torch); in ``eval()`` mode it
    passes everything through unchanged.

    Args: ``p=0.5``; ``rng`` (Generator, int seed or None) draws the masks. Shapes: (*) -> (*).
    """

    def __init__(self, p=0.5, rng=None):
        check_dropout_p(p, "Dropout")
        self.p = float(p)
        self.rng = None if rng is None else _rng(rng)  # None: the default generator of the moment

    def forward(self, x):
        self.x, self.dropping, self.mask = x, self.training, None  # backward drops what forward dropped
        if self.training and 0 < self.p < 1:
            self.mask = dropout_mask(x.shape, self.p, _rng(self.rng))
        return dropout(x, self.p, self.training, mask=self.mask)

    def backward(self, grad_out):
        return dropout_backward(grad_out, self.x, self.p, self.dropping, mask=self.mask)

    def extra_repr(self):
        return f"p={self.p}"


# ---------------------------------------------------------------------------------------------
# Activations: one layer per function of the slides' gallery; backward is grad_out * f'(x)
# ---------------------------------------------------------------------------------------------

class Sigmoid(Module):
    """Sigmoid: ``1 / (1 + exp(-x))``. Shapes: (*) -> (*)."""

    def forward(self, x):
        self.x = x
        return A.sigmoid(x)

    def backward(self, grad_out):
        return A.sigmoid_backward(grad_out, self.x)


class Tanh(Module):
    """Tanh: ``tanh(x)``. Shapes: (*) -> (*)."""

    def forward(self, x):
        self.x = x
        return A.tanh(x)

    def backward(self, grad_out):
        return A.tanh_backward(grad_out, self.x)


class Step(Module):
    """Step function: 1 for x > 0, else 0; its gradient is 0 everywhere (nothing to learn from)."""

    def forward(self, x):
        self.x = x
        return A.step(x)

    def backward(self, grad_out):
        return A.step_backward(grad_out, self.x)


class Softplus(Module):
    """Softplus: ``log(1 + exp(beta * x)) / beta`` (x itself where ``beta * x > threshold``)."""

    def __init__(self, beta=1.0, threshold=20.0):
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        self.x = x
        return A.softplus(x, self.beta, self.threshold)

    def backward(self, grad_out):
        return A.softplus_backward(grad_out, self.x, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class ReLU(Module):
    """ReLU: ``max(0, x)``; the gradient passes where x > 0 and stops elsewhere. Shapes: (*) -> (*)."""

    def forward(self, x):
        # fast.relu computes what relu (activations.py) computes, tests hold them equal; the backward needs
        # only the output (out > 0 exactly where x > 0)
        self.out = fast.relu(x)
        return self.out

    def backward(self, grad_out):
        grad_x = fast.relu_backward(grad_out, self.out)  # = relu_backward(grad_out, x)
        del self.out
        return grad_x


class LeakyReLU(Module):
    """Leaky ReLU: x for x > 0, ``negative_slope * x`` otherwise."""

    def __init__(self, negative_slope=0.01):
        self.negative_slope = negative_slope

    def forward(self, x):
        self.x = x
        return A.leaky_relu(x, self.negative_slope)

    def backward(self, grad_out):
        return A.leaky_relu_backward(grad_out, self.x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """ELU: x for x > 0, ``alpha * (exp(x) - 1)`` otherwise."""

    def __init__(self, alpha=1.0):
        self.alpha = alpha

    def forward(self, x):
        self.x = x
        return A.elu(x, self.alpha)

    def backward(self, grad_out):
        return A.elu_backward(grad_out, self.x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class Softsign(Module):
    """Softsign: ``x / (1 + |x|)``."""

    def forward(self, x):
        self.x = x
        return A.softsign(x)

    def backward(self, grad_out):
        return A.softsign_backward(grad_out, self.x)


class LogSigmoid(Module):
    """Log of sigmoid: ``log(1 / (1 + exp(-x)))``."""

    def forward(self, x):
        self.x = x
        return A.log_sigmoid(x)

    def backward(self, grad_out):
        return A.log_sigmoid_backward(grad_out, self.x)


class Swish(Module):
    """Swish (torch calls it SiLU): ``x * sigmoid(x)``."""

    def forward(self, x):
        self.x = x
        return A.swish(x)

    def backward(self, grad_out):
        return A.swish_backward(grad_out, self.x)


#: torch's name for Swish.
SiLU = Swish


class Mish(Module):
    """Mish: ``x * tanh(softplus(x))``."""

    def forward(self, x):
        self.x = x
        return A.mish(x)

    def backward(self, grad_out):
        return A.mish_backward(grad_out, self.x)


class Sinc(Module):
    """Sinc: ``sin(x) / x`` and 1 at 0 (unnormalised, as on the slide; not torch.sinc)."""

    def forward(self, x):
        self.x = x
        return A.sinc(x)

    def backward(self, grad_out):
        return A.sinc_backward(grad_out, self.x)


# ---------------------------------------------------------------------------------------------
# Sequential
# ---------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _can_skip_input_grad(backward) -> bool:
    """Whether a layer class's ``backward`` takes ``input_grad`` (Conv2d's, Linear's, Sequential's do)."""
    return "input_grad" in inspect.signature(backward).parameters


def _backward_of(layer, grad_out, input_grad):
    """``layer.backward(grad_out)``, returning the input's gradient, or None with ``input_grad=False``: then a layer
    whose class's ``backward`` takes ``input_grad`` does not compute it; any other (ReLU, a student's subclass of
    Conv2d with its own ``backward(grad_out)``) is called as it is and its result dropped."""
    if _can_skip_input_grad(type(layer).backward):
        return layer.backward(grad_out, input_grad=input_grad)
    grad_x = layer.backward(grad_out)
    return grad_x if input_grad else None


class Sequential(Module):
    """Layers applied one after the other: ``Sequential([layer1, layer2, layer3])`` (the slides' Keras style)
    or ``Sequential(layer1, layer2, layer3)`` (torch's style).

    ``forward`` runs the layers in order; ``backward`` runs their backward passes in reverse order
    (backpropagation, 反向传播) and returns the gradient of the input. Children are named "0", "1", ...
    as in torch, so parameters are "0.weight", "0.bias", ... .

    ``backward(grad_out, input_grad=False)`` is a training step's backward (``fit`` runs it): the input is data,
    nobody wants its gradient, so a first ``Conv2d`` or ``Linear`` (or ``Sequential``) does not compute it (as
    torch, whose images do not require grad) and None is returned.
    """

    def __init__(self, *layers):
        self.layers = list(_layers_of(layers, Module))

    def named_children(self):
        return ((str(i), layer) for i, layer in enumerate(self.layers))

    def append(self, layer):
        if not isinstance(layer, Module):
            raise TypeError(f"Sequential.append: expected a layer (Module), got {type(layer).__name__}")
        self.layers.append(layer)
        return self

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(self.layers[index])
        return self.layers[index]

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if isinstance(x, tuple):
                raise TypeError(f"Sequential: layer {i} ({layer!r}) returned a tuple; a layer inside a Sequential "
                                f"must return one array (MaxPool2d with return_indices=True cannot be chained)")
        return x

    def backward(self, grad_out, input_grad=True):
        for i in range(len(self.layers) - 1, 0, -1):
            grad_out = self.layers[i].backward(grad_out)
        if not self.layers:
            return grad_out if input_grad else None
        return _backward_of(self.layers[0], grad_out, input_grad)

    def __repr__(self):
        if not self.layers:
            return "Sequential()"
        lines = [f"  ({i}): " + repr(layer).replace("\n", "\n  ") for i, layer in enumerate(self.layers)]
        return "Sequential(\n" + "\n".join(lines) + "\n)"
