"""Layers (层) as ``torch.nn.Module``: the torch twin of ``cnnlab/numpy/layers.py``.

Each layer owns its parameters (``torch.nn.Parameter``) and calls the functional ops of
``cnnlab.torch``, whose backward passes are hand-written; so ``loss.backward()`` through these
layers runs the course's formulas, and everything torch offers around a ``Module`` works as usual:
``torch.optim``, ``torch.optim.lr_scheduler``, ``.to(device)``, ``state_dict()``, ``model.eval()``.
``Sequential([layer1, layer2, layer3])`` accepts a list, as ``keras.Sequential`` on the slides::

    model = Sequential([
        Conv2d(1, 6, 3, padding=1), ReLU(), MaxPool2d(2),
        Flatten(), Linear(6 * 4 * 4, 10),
    ])
    loss = cross_entropy(model(x), y)
    loss.backward()                         # every p.grad, by our *_backward functions

Differences from the NumPy layers, all torch's own conventions: there is no ``layer.backward`` (autograd
calls the backward of every op), parameters are ``torch.nn.Parameter`` and ``dtype`` is a torch dtype
(NumPy dtypes are accepted too). Names, constructor arguments, parameter names and shapes are torch's
and the NumPy backend's: the ``state_dict`` keys ("0.weight", "0.bias", ...) match both, so weights copy
across (see ``cnnlab.torch.convert``).

Weights are initialised as in the NumPy layers, by He (kaiming normal) or Xavier (Glorot uniform)
initialisation, biases at 0. Where they come from is ``rng``:

- an int seed or a ``numpy.random.Generator``: drawn by ``cnnlab.numpy.init_weight``, so a layer built
  with ``rng=0`` here has exactly the weights of the NumPy layer built with ``rng=0``;
- a ``torch.Generator``, or None (torch's global generator: ``torch.manual_seed`` makes it repeatable).

Every constructor that creates tensors takes ``device`` (default :func:`cnnlab.torch.default_device`,
i.e. the GPU when there is one) and ``dtype`` (default ``torch.float32``).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .._checks import _is_int, check_dropout_p
from ..numpy.layers import init_weight as numpy_init_weight
from . import activations as A
from ._device import resolve_device
from .conv import conv2d, conv_transpose2d
from .linear import dropout, dropout_mask, flatten, linear
from .pool import avg_pool2d, max_pool2d, max_unpool2d
from .upsample import interpolate

__all__ = [
    "Module", "Parameter", "init_weight",
    "Conv2d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "MaxUnpool2d", "Upsample",
    "Linear", "Dense", "Flatten", "Dropout",
    "Sigmoid", "Tanh", "Step", "Softplus", "ReLU", "LeakyReLU", "ELU", "Softsign", "LogSigmoid",
    "Swish", "SiLU", "Mish", "Sinc",
    "Sequential",
]

Module = torch.nn.Module
Parameter = torch.nn.Parameter


# ---------------------------------------------------------------------------------------------
# dtype, device and random initialisation
# ---------------------------------------------------------------------------------------------

def _float_dtype(dtype, layer: str) -> torch.dtype:
    """A torch float dtype from a torch dtype, a NumPy dtype or its name ("float64")."""
    if not isinstance(dtype, torch.dtype):
        try:
            dtype = getattr(torch, np.dtype(dtype).name)
        except (TypeError, AttributeError):
            raise TypeError(f"{layer}: dtype must be a float type (torch.float32 or torch.float64), "
                            f"got {dtype!r}") from None
    if not dtype.is_floating_point:
        raise TypeError(f"{layer}: dtype must be a float type (torch.float32 or torch.float64), got {dtype}")
    return dtype


def init_weight(shape, init: str = "he", rng=None, dtype=torch.float32, device=None) -> torch.Tensor:
    """Random initial weights for a layer, as ``cnnlab.numpy.init_weight``.

    ``fan_in`` / ``fan_out`` follow torch: ``shape[1] * k`` / ``shape[0] * k``, ``k`` the kernel's area.

    - ``"he"`` (kaiming normal, for ReLU networks): ``N(0, 2 / fan_in)``;
    - ``"xavier"`` (Glorot uniform, for tanh / sigmoid): ``U(-a, a)``, ``a = sqrt(6 / (fan_in + fan_out))``.

    ``rng``: an int seed or ``numpy.random.Generator`` (the very numbers ``cnnlab.numpy`` draws), a
    ``torch.Generator``, or None (torch's global generator).
    """
    dtype, device = _float_dtype(dtype, "init_weight"), resolve_device(device)
    if rng is not None and not isinstance(rng, torch.Generator):
        w = numpy_init_weight(tuple(shape), init, rng, np.float64)
        return torch.from_numpy(w).to(dtype=dtype, device=device)
    receptive = math.prod(shape[2:])
    fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
    gen_device = rng.device if rng is not None else "cpu"  # draw where the generator lives, then move
    if init == "he":
        w = torch.randn(shape, generator=rng, dtype=torch.float64, device=gen_device) * math.sqrt(2.0 / fan_in)
    elif init == "xavier":
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        w = (torch.rand(shape, generator=rng, dtype=torch.float64, device=gen_device) * 2 - 1) * bound
    else:
        raise ValueError(f"init must be 'he' or 'xavier', got {init!r}")
    return w.to(dtype=dtype, device=device)


def _positive_int(value, name: str, layer: str) -> int:
    if not _is_int(value) or value < 1:
        raise ValueError(f"{layer}: {name} must be a positive int, got {value!r}")
    return int(value)


def _fmt_pair(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


class _Weighted(Module):
    """A layer with ``weight`` and an optional ``bias`` (None with ``bias=False``, as torch)."""

    def _make_parameters(self, shape, n_bias, bias, init, rng, dtype, device, layer):
        dtype, device = _float_dtype(dtype, layer), resolve_device(device)
        self.weight = Parameter(init_weight(shape, init, rng, dtype, device))
        if bias:
            self.bias = Parameter(torch.zeros(n_bias, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)


# ---------------------------------------------------------------------------------------------
# Convolution and transposed convolution
# ---------------------------------------------------------------------------------------------

class _Conv(_Weighted):
    """What Conv2d and ConvTranspose2d share: checked channels, groups and kernel size, the weights, the repr."""

    def _make_conv(self, layer, in_channels, out_channels, kernel_size, groups, bias, init, rng, dtype, device,
                   transposed):
        self.in_channels = _positive_int(in_channels, "in_channels", layer)
        self.out_channels = _positive_int(out_channels, "out_channels", layer)
        self.groups = _positive_int(groups, "groups", layer)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{layer}: groups={groups} must divide in_channels={in_channels} and "
                             f"out_channels={out_channels}")
        kh, kw = _fmt_pair(kernel_size)
        _positive_int(kh, "kernel_size", layer), _positive_int(kw, "kernel_size", layer)
        self.kernel_size = (kh, kw)
        # torch's layouts: (C_out, C_in / groups, KH, KW), and C_in first for a transposed convolution
        shape = ((in_channels, out_channels // groups, kh, kw) if transposed
                 else (out_channels, in_channels // groups, kh, kw))
        self._make_parameters(shape, out_channels, bias, init, rng, dtype, device, layer)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={_fmt_pair(self.stride)}"
        if self.padding != 0:
            s += f", padding={self.padding if isinstance(self.padding, str) else _fmt_pair(self.padding)}"
        if getattr(self, "output_padding", 0) != 0:  # ConvTranspose2d only
            s += f", output_padding={_fmt_pair(self.output_padding)}"
        if self.dilation != 1:
            s += f", dilation={_fmt_pair(self.dilation)}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv2d(_Conv):
    """卷积层 (convolution layer): ``out = conv2d(x, weight, bias, stride, padding, dilation, groups)``.

    Args:
        in_channels, out_channels: C_in, C_out.
        kernel_size, stride, padding, dilation: int or pair (padding also "valid" or "same"), as torch.
        groups: C_in and C_out are split into ``groups`` independent convolutions.
        bias: learn a bias per output channel.
        init: "he" (default) or "xavier"; rng: int seed, NumPy or torch Generator, or None;
        dtype: torch.float32 by default; device: default ``default_device()``.

    Parameters: ``weight`` (C_out, C_in / groups, KH, KW), ``bias`` (C_out,).
    Shapes: (N, C_in, H, W) -> (N, C_out, OH, OW).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, init="he", rng=None, dtype=torch.float32, device=None):
        super().__init__()
        self._make_conv("Conv2d", in_channels, out_channels, kernel_size, groups, bias, init, rng, dtype, device,
                        transposed=False)
        self.stride, self.padding, self.dilation = stride, padding, dilation

    def forward(self, x):
        """(N, C_in, H, W) -> (N, C_out, OH, OW)."""
        return conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class ConvTranspose2d(_Conv):
    """转置卷积 / 反卷积 (transposed convolution): ``conv_transpose2d(x, weight, bias, ...)``.

    Args: as :class:`Conv2d`, plus ``output_padding`` (extra rows / columns on one side of the output).
    Parameters: ``weight`` (C_in, C_out / groups, KH, KW) (torch's layout, note C_in first), ``bias`` (C_out,).
    Shapes: (N, C_in, H, W) -> (N, C_out, (H - 1) * SH - 2 * PH + DH * (KH - 1) + output_padding + 1, ...).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, init="he", rng=None, dtype=torch.float32, device=None):
        super().__init__()
        self._make_conv("ConvTranspose2d", in_channels, out_channels, kernel_size, groups, bias, init, rng, dtype,
                        device, transposed=True)
        self.stride, self.padding, self.output_padding, self.dilation = stride, padding, output_padding, dilation

    def forward(self, x):
        return conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, self.output_padding,
                                self.groups, self.dilation)


# ---------------------------------------------------------------------------------------------
# Pooling, unpooling, upsampling
# ---------------------------------------------------------------------------------------------

class MaxPool2d(Module):
    """最大池化 (max pooling): the largest value of each window.

    Args: ``kernel_size, stride=None (= kernel_size), padding=0, dilation=1, return_indices=False,
    ceil_mode=False`` as torch. With ``return_indices`` the forward returns ``(out, indices)`` for a
    :class:`MaxUnpool2d`. Shapes: (N, C, H, W) -> (N, C, OH, OW).
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride, self.padding, self.dilation = kernel_size, stride, padding, dilation
        self.return_indices, self.ceil_mode = bool(return_indices), bool(ceil_mode)

    def forward(self, x):
        return max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                          self.return_indices)

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
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.count_include_pad, self.divisor_override = ceil_mode, count_include_pad, divisor_override

    def forward(self, x):
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                          self.divisor_override)

    def extra_repr(self):
        stride = self.kernel_size if self.stride is None else self.stride
        return f"kernel_size={self.kernel_size}, stride={stride}, padding={self.padding}"


class MaxUnpool2d(Module):
    """反池化 (max unpooling): ``forward(x, indices, output_size=None)`` puts each value back where
    ``MaxPool2d(..., return_indices=True)`` found it, zeros elsewhere.

    Args: ``kernel_size, stride=None (= kernel_size), padding=0`` of the pooling being undone.
    Shapes: (N, C, H, W) and indices (N, C, H, W) -> (N, C, H_out, W_out).
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x, indices, output_size=None):
        return max_unpool2d(x, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self):
        stride = self.kernel_size if self.stride is None else self.stride
        return f"kernel_size={_fmt_pair(self.kernel_size)}, stride={_fmt_pair(stride)}, padding={_fmt_pair(self.padding)}"


class Upsample(Module):
    """上采样 (upsampling): ``interpolate(x, size, scale_factor, mode, align_corners)``.

    Args: ``size=None, scale_factor=None, mode="nearest" | "bilinear", align_corners=None`` as torch.
    Shapes: (N, C, H, W) -> (N, C, OH, OW).
    """

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None):
        super().__init__()
        self.size, self.scale_factor, self.mode, self.align_corners = size, scale_factor, mode, align_corners

    def forward(self, x):
        return interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners)

    def extra_repr(self):
        what = f"size={self.size}" if self.size is not None else f"scale_factor={float(self.scale_factor)}"
        return f"{what}, mode='{self.mode}'"


# ---------------------------------------------------------------------------------------------
# Fully connected, flatten, dropout
# ---------------------------------------------------------------------------------------------

class Linear(_Weighted):
    """全连接层 (fully connected layer): ``out = x @ weight.T + bias``.

    Args: ``in_features, out_features, bias=True``; ``init``, ``rng``, ``dtype``, ``device`` as :class:`Conv2d`.
    Parameters: ``weight`` (out_features, in_features), ``bias`` (out_features,).
    Shapes: (N, in_features) -> (N, out_features) (any leading axes work).
    """

    def __init__(self, in_features, out_features, bias=True, init="he", rng=None, dtype=torch.float32,
                 device=None):
        super().__init__()
        self.in_features = _positive_int(in_features, "in_features", "Linear")
        self.out_features = _positive_int(out_features, "out_features", "Linear")
        self._make_parameters((out_features, in_features), out_features, bias, init, rng, dtype, device, "Linear")

    def forward(self, x):
        return linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


#: Keras' name for a fully connected layer.
Dense = Linear


class Flatten(Module):
    """(N, C, H, W) -> (N, C*H*W): the bridge from the convolutions to the fully connected layers.

    Args: ``start_dim=1, end_dim=-1`` as ``torch.nn.Flatten``.
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """Dropout: in training, each unit is set to 0 with probability ``p`` and the others are scaled by
    ``1 / (1 - p)`` (inverted dropout, ``p`` = probability of DROPPING, as in torch); in ``eval()`` mode it
    passes everything through unchanged.

    Args: ``p=0.5``; ``rng`` draws the masks: None (torch's global generator), a ``torch.Generator``,
    or an int seed / ``numpy.random.Generator`` (then the masks are those the NumPy layer draws with
    the same seed). Shapes: (*) -> (*).
    """

    def __init__(self, p=0.5, rng=None):
        super().__init__()
        check_dropout_p(p, "Dropout")
        self.p = float(p)
        self.rng = np.random.default_rng(rng) if _is_int(rng) else rng  # a seed starts one stream of masks

    def forward(self, x):
        mask = None
        if self.training and 0 < self.p < 1:
            mask = dropout_mask(x.shape, self.p, self.rng, device=x.device)
        return dropout(x, self.p, self.training, mask=mask)

    def extra_repr(self):
        return f"p={self.p}"


# ---------------------------------------------------------------------------------------------
# Activations: one layer per function of the slides' gallery
# ---------------------------------------------------------------------------------------------

class _Activation(Module):
    """An elementwise activation ``f`` with keyword arguments. Subclasses set ``_fn`` (the functional op,
    an autograd node whose backward is ``f_backward``). Shapes: (*) -> (*)."""

    _fn = None

    def __init__(self, **kwargs):
        super().__init__()
        self._kwargs = kwargs

    def forward(self, x):
        return self._fn(x, **self._kwargs)

    def extra_repr(self):
        return ", ".join(f"{k}={v}" for k, v in self._kwargs.items())


class Sigmoid(_Activation):
    """Sigmoid: ``1 / (1 + exp(-x))``. Shapes: (*) -> (*)."""
    _fn = staticmethod(A.sigmoid)


class Tanh(_Activation):
    """Tanh: ``tanh(x)``. Shapes: (*) -> (*)."""
    _fn = staticmethod(A.tanh)


class Step(_Activation):
    """Step function: 1 for x > 0, else 0; its gradient is 0 everywhere (nothing to learn from)."""
    _fn = staticmethod(A.step)


class Softplus(_Activation):
    """Softplus: ``log(1 + exp(beta * x)) / beta`` (x itself where ``beta * x > threshold``)."""
    _fn = staticmethod(A.softplus)

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__(beta=beta, threshold=threshold)


class ReLU(_Activation):
    """ReLU: ``max(0, x)``; the gradient passes where x > 0 and stops elsewhere. Shapes: (*) -> (*)."""
    _fn = staticmethod(A.relu)


class LeakyReLU(_Activation):
    """Leaky ReLU: x for x > 0, ``negative_slope * x`` otherwise."""
    _fn = staticmethod(A.leaky_relu)

    def __init__(self, negative_slope=0.01):
        super().__init__(negative_slope=negative_slope)


class ELU(_Activation):
    """ELU: x for x > 0, ``alpha * (exp(x) - 1)`` otherwise."""
    _fn = staticmethod(A.elu)

    def __init__(self, alpha=1.0):
        super().__init__(alpha=alpha)


class Softsign(_Activation):
    """Softsign: ``x / (1 + |x|)``."""
    _fn = staticmethod(A.softsign)


class LogSigmoid(_Activation):
    """Log of sigmoid: ``log(1 / (1 + exp(-x)))``."""
    _fn = staticmethod(A.log_sigmoid)


class Swish(_Activation):
    """Swish (torch calls it SiLU): ``x * sigmoid(x)``."""
    _fn = staticmethod(A.swish)


#: torch's name for Swish.
SiLU = Swish


class Mish(_Activation):
    """Mish: ``x * tanh(softplus(x))``."""
    _fn = staticmethod(A.mish)


class Sinc(_Activation):
    """Sinc: ``sin(x) / x`` and 1 at 0 (unnormalised, as on the slide; not torch.sinc)."""
    _fn = staticmethod(A.sinc)


# ---------------------------------------------------------------------------------------------
# Sequential
# ---------------------------------------------------------------------------------------------

class Sequential(torch.nn.Sequential):
    """Layers applied one after the other: ``Sequential([layer1, layer2, layer3])`` (the slides' Keras style)
    or ``Sequential(layer1, layer2, layer3)`` (torch's style).

    A ``torch.nn.Sequential`` in every other respect: children are named "0", "1", ..., so parameters
    are "0.weight", "0.bias", ... as in the NumPy ``Sequential``. Any ``torch.nn.Module`` may be a layer.
    """

    def __init__(self, *layers):
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: layer {i} is a {type(layer).__name__}, not a layer (Module); "
                                f"did you forget the parentheses, e.g. ReLU instead of ReLU()?")
        super().__init__(*layers)

    def forward(self, x):
        for i, layer in enumerate(self):
            x = layer(x)
            if isinstance(x, tuple):
                raise TypeError(f"Sequential: layer {i} ({layer!r}) returned a tuple; a layer inside a Sequential "
                                f"must return one tensor (MaxPool2d with return_indices=True cannot be chained)")
        return x
