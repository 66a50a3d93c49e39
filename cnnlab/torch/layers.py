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

The classes mirror their NumPy twins, in the same order and with the same ``forward``, without the
``backward``; what a layer prints (``extra_repr``) and the constructors' checks are written once, in
``cnnlab/numpy/layers.py``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .._checks import _is_int, check_dropout_p, pair, positive_int
from ..numpy import layers as numpy_layers
from ..numpy.layers import _conv_channels, _layers_of
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
        w = numpy_layers.init_weight(tuple(shape), init, rng, np.float64)
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


# ---------------------------------------------------------------------------------------------
# Convolution and transposed convolution
# ---------------------------------------------------------------------------------------------

class Conv2d(Module):
    """卷积层 (convolution layer): ``conv2d(x, weight, bias, stride, padding, dilation, groups)``.

    Arguments, parameters (``weight`` (C_out, C_in / groups, KH, KW), ``bias`` (C_out,)) and shapes as
    ``cnnlab.numpy.Conv2d``; ``rng`` may also be a ``torch.Generator``, ``dtype`` a torch dtype, and
    ``device`` (default ``default_device()``) says where the parameters live.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, init="he", rng=None, dtype=torch.float32, device=None):
        super().__init__()
        self.in_channels, self.out_channels, self.groups = _conv_channels("Conv2d", in_channels, out_channels, groups)
        self.kernel_size = pair(kernel_size, "kernel_size", "Conv2d")
        self.stride, self.padding, self.dilation = stride, padding, dilation
        dtype, device = _float_dtype(dtype, "Conv2d"), resolve_device(device)
        shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)  # torch's layout
        self.weight = Parameter(init_weight(shape, init, rng, dtype, device))
        self.register_parameter("bias", Parameter(torch.zeros(self.out_channels, dtype=dtype, device=device))
                                if bias else None)

    def forward(self, x):
        return conv2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding, dilation=self.dilation,
                      groups=self.groups)

    extra_repr = numpy_layers.Conv2d.extra_repr


class ConvTranspose2d(Module):
    """转置卷积 / 反卷积 (transposed convolution): ``conv_transpose2d(x, weight, bias, ...)``.

    As ``cnnlab.numpy.ConvTranspose2d`` (``weight`` (C_in, C_out / groups, KH, KW), C_in first as in torch),
    with ``rng``, ``dtype`` and ``device`` as :class:`Conv2d`.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, init="he", rng=None, dtype=torch.float32, device=None):
        super().__init__()
        self.in_channels, self.out_channels, self.groups = _conv_channels("ConvTranspose2d", in_channels,
                                                                          out_channels, groups)
        self.kernel_size = pair(kernel_size, "kernel_size", "ConvTranspose2d")
        self.stride, self.padding, self.output_padding, self.dilation = stride, padding, output_padding, dilation
        dtype, device = _float_dtype(dtype, "ConvTranspose2d"), resolve_device(device)
        shape = (self.in_channels, self.out_channels // self.groups, *self.kernel_size)  # torch's layout: C_in first
        self.weight = Parameter(init_weight(shape, init, rng, dtype, device))
        self.register_parameter("bias", Parameter(torch.zeros(self.out_channels, dtype=dtype, device=device))
                                if bias else None)

    def forward(self, x):
        return conv_transpose2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding,
                                output_padding=self.output_padding, groups=self.groups, dilation=self.dilation)

    extra_repr = numpy_layers.ConvTranspose2d.extra_repr


# ---------------------------------------------------------------------------------------------
# Pooling, unpooling, upsampling
# ---------------------------------------------------------------------------------------------

class MaxPool2d(Module):
    """最大池化 (max pooling): the largest value of each window, as ``cnnlab.numpy.MaxPool2d``.

    With ``return_indices`` the forward returns ``(out, indices)`` for a :class:`MaxUnpool2d`.
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride, self.padding, self.dilation = kernel_size, stride, padding, dilation
        self.return_indices, self.ceil_mode = bool(return_indices), bool(ceil_mode)

    def forward(self, x):
        return max_pool2d(x, self.kernel_size, stride=self.stride, padding=self.padding, dilation=self.dilation,
                          ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    extra_repr = numpy_layers.MaxPool2d.extra_repr


class AvgPool2d(Module):
    """平均池化 (average pooling): the mean of each window, as ``cnnlab.numpy.AvgPool2d``."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.count_include_pad, self.divisor_override = ceil_mode, count_include_pad, divisor_override

    def forward(self, x):
        return avg_pool2d(x, self.kernel_size, stride=self.stride, padding=self.padding, ceil_mode=self.ceil_mode,
                          count_include_pad=self.count_include_pad, divisor_override=self.divisor_override)

    extra_repr = numpy_layers.AvgPool2d.extra_repr


class MaxUnpool2d(Module):
    """反池化 (max unpooling): ``forward(x, indices, output_size=None)`` puts each value back where
    ``MaxPool2d(..., return_indices=True)`` found it, zeros elsewhere; as ``cnnlab.numpy.MaxUnpool2d``.
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x, indices, output_size=None):
        return max_unpool2d(x, indices, self.kernel_size, stride=self.stride, padding=self.padding,
                            output_size=output_size)

    extra_repr = numpy_layers.MaxUnpool2d.extra_repr


class Upsample(Module):
    """上采样 (upsampling): ``interpolate(x, size, scale_factor, mode, align_corners)``, as ``cnnlab.numpy.Upsample``."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None):
        super().__init__()
        self.size, self.scale_factor, self.mode, self.align_corners = size, scale_factor, mode, align_corners

    def forward(self, x):
        return interpolate(x, size=self.size, scale_factor=self.scale_factor, mode=self.mode,
                           align_corners=self.align_corners)

    extra_repr = numpy_layers.Upsample.extra_repr


# ---------------------------------------------------------------------------------------------
# Fully connected, flatten, dropout
# ---------------------------------------------------------------------------------------------

class Linear(Module):
    """全连接层 (fully connected layer): ``out = x @ weight.T + bias``, as ``cnnlab.numpy.Linear``.

    Parameters: ``weight`` (out_features, in_features), ``bias`` (out_features,); ``rng``, ``dtype`` and
    ``device`` as :class:`Conv2d`.
    """

    def __init__(self, in_features, out_features, bias=True, init="he", rng=None, dtype=torch.float32,
                 device=None):
        super().__init__()
        self.in_features = positive_int(in_features, "in_features", "Linear")
        self.out_features = positive_int(out_features, "out_features", "Linear")
        dtype, device = _float_dtype(dtype, "Linear"), resolve_device(device)
        self.weight = Parameter(init_weight((self.out_features, self.in_features), init, rng, dtype, device))
        self.register_parameter("bias", Parameter(torch.zeros(self.out_features, dtype=dtype, device=device))
                                if bias else None)

    def forward(self, x):
        return linear(x, self.weight, self.bias)

    extra_repr = numpy_layers.Linear.extra_repr


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

    extra_repr = numpy_layers.Flatten.extra_repr


class Dropout(Module):
    """Dropout (inverted: ``p`` is the probability of DROPPING a unit; ``eval()`` passes everything through),
    as ``cnnlab.numpy.Dropout``.

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

    extra_repr = numpy_layers.Dropout.extra_repr


# ---------------------------------------------------------------------------------------------
# Activations: one layer per function of the slides' gallery (each op's backward is hand-written)
# ---------------------------------------------------------------------------------------------

class Sigmoid(Module):
    """Sigmoid: ``1 / (1 + exp(-x))``. Shapes: (*) -> (*)."""

    def forward(self, x):
        return A.sigmoid(x)


class Tanh(Module):
    """Tanh: ``tanh(x)``. Shapes: (*) -> (*)."""

    def forward(self, x):
        return A.tanh(x)


class Step(Module):
    """Step function: 1 for x > 0, else 0; its gradient is 0 everywhere (nothing to learn from)."""

    def forward(self, x):
        return A.step(x)


class Softplus(Module):
    """Softplus: ``log(1 + exp(beta * x)) / beta`` (x itself where ``beta * x > threshold``)."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return A.softplus(x, self.beta, self.threshold)

    extra_repr = numpy_layers.Softplus.extra_repr


class ReLU(Module):
    """ReLU: ``max(0, x)``; the gradient passes where x > 0 and stops elsewhere. Shapes: (*) -> (*)."""

    def forward(self, x):
        return A.relu(x)


class LeakyReLU(Module):
    """Leaky ReLU: x for x > 0, ``negative_slope * x`` otherwise."""

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return A.leaky_relu(x, self.negative_slope)

    extra_repr = numpy_layers.LeakyReLU.extra_repr


class ELU(Module):
    """ELU: x for x > 0, ``alpha * (exp(x) - 1)`` otherwise."""

    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        return A.elu(x, self.alpha)

    extra_repr = numpy_layers.ELU.extra_repr


class Softsign(Module):
    """Softsign: ``x / (1 + |x|)``."""

    def forward(self, x):
        return A.softsign(x)


class LogSigmoid(Module):
    """Log of sigmoid: ``log(1 / (1 + exp(-x)))``."""

    def forward(self, x):
        return A.log_sigmoid(x)


class Swish(Module):
    """Swish (torch calls it SiLU): ``x * sigmoid(x)``."""

    def forward(self, x):
        return A.swish(x)


#: torch's name for Swish.
SiLU = Swish


class Mish(Module):
    """Mish: ``x * tanh(softplus(x))``."""

    def forward(self, x):
        return A.mish(x)


class Sinc(Module):
    """Sinc: ``sin(x) / x`` and 1 at 0 (unnormalised, as on the slide; not torch.sinc)."""

    def forward(self, x):
        return A.sinc(x)


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
        super().__init__(*_layers_of(layers, Module))

    def forward(self, x):
        for i, layer in enumerate(self):
            x = layer(x)
            if isinstance(x, tuple):
                raise TypeError(f"Sequential: layer {i} ({layer!r}) returned a tuple; a layer inside a Sequential "
                                f"must return one tensor (MaxPool2d with return_indices=True cannot be chained)")
        return x
