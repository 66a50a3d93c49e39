"""Devices and dtypes: clear errors when operands disagree, ops and layers on the GPU when there is one.

There is no GPU on most machines that run these tests, so a second device is simulated with torch's
"meta" device (tensors with a shape and a dtype but no data): an input on cpu and a weight on meta
must raise the same clear error an input on cpu and a weight on cuda would. The cuda tests skip with
a reason where no GPU is present.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import cnnlab.torch as ct  # noqa: E402
from cnnlab.torch import nn  # noqa: E402

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")


def test_default_device_is_cuda_when_present():
    assert ct.default_device() == torch.device("cuda" if torch.cuda.is_available() else "cpu")


# ---------------------------------------------------------------------------------------------
# dtype mismatch: float32 input, float64 weight
# ---------------------------------------------------------------------------------------------

F32, F64 = torch.float32, torch.float64
DTYPE_CASES = [  # (op, inputs, keyword arguments, the two names in the message)
    ("conv2d", lambda: (torch.ones(1, 1, 3, 3, dtype=F32), torch.ones(1, 1, 2, 2, dtype=F64)), {}, ("input", "weight")),
    ("conv2d_backward", lambda: (torch.ones(1, 1, 2, 2, dtype=F32), torch.ones(1, 1, 3, 3, dtype=F32),
                                 torch.ones(1, 1, 2, 2, dtype=F64)), {}, ("input", "weight")),
    ("conv_transpose2d", lambda: (torch.ones(1, 1, 3, 3, dtype=F32), torch.ones(1, 1, 2, 2, dtype=F64)), {},
     ("input", "weight")),
    ("linear", lambda: (torch.ones(2, 3, dtype=F32), torch.ones(4, 3, dtype=F64)), {}, ("input", "weight")),
    ("linear", lambda: (torch.ones(2, 3, dtype=F64), torch.ones(4, 3, dtype=F64), torch.ones(4, dtype=F32)), {},
     ("input", "bias")),
    ("mse_loss", lambda: (torch.ones(3, dtype=F32), torch.ones(3, dtype=F64)), {}, ("input", "target")),
]


@pytest.mark.parametrize("op, make, kwargs, names", DTYPE_CASES, ids=[f"{c[0]}-{c[3][1]}" for c in DTYPE_CASES])
def test_dtype_mismatch_is_a_clear_type_error(op, make, kwargs, names):
    a, b = names
    first, second = ("float32", "float64") if b != "bias" else ("float64", "float32")
    with pytest.raises(TypeError, match=rf"^{op}: {a} has dtype torch\.{first} but {b} has dtype torch\.{second}; "
                                        r"convert one of them$"):
        getattr(ct, op)(*make(), **kwargs)


def test_a_float64_layer_refuses_float32_input():
    layer = nn.Conv2d(1, 2, 3, dtype=torch.float64, device="cpu")
    with pytest.raises(TypeError, match=r"conv2d: input has dtype torch\.float32 but weight has dtype torch\.float64"):
        layer(torch.zeros(1, 1, 5, 5))


# ---------------------------------------------------------------------------------------------
# device mismatch, simulated with the "meta" device
# ---------------------------------------------------------------------------------------------

META = "meta"
DEVICE_CASES = [  # (op, inputs, keyword arguments, the two names in the message)
    ("conv2d", lambda: (torch.ones(1, 1, 3, 3), torch.ones(1, 1, 2, 2, device=META)), {}, ("input", "weight")),
    ("conv2d", lambda: (torch.ones(1, 1, 3, 3), torch.ones(1, 1, 2, 2), torch.ones(1, device=META)), {},
     ("input", "bias")),
    ("conv2d_backward", lambda: (torch.ones(1, 1, 2, 2, device=META), torch.ones(1, 1, 3, 3), torch.ones(1, 1, 2, 2)),
     {}, ("input", "grad_out")),
    ("conv_transpose2d", lambda: (torch.ones(1, 1, 3, 3), torch.ones(1, 1, 2, 2, device=META)), {}, ("input", "weight")),
    ("max_unpool2d", lambda: (torch.ones(1, 1, 2, 2), torch.zeros(1, 1, 2, 2, dtype=torch.int64, device=META)),
     dict(kernel_size=2), ("input", "indices")),
    ("linear", lambda: (torch.ones(2, 3), torch.ones(4, 3, device=META)), {}, ("input", "weight")),
    ("relu_backward", lambda: (torch.ones(3, device=META), torch.ones(3)), {}, ("input", "grad_out")),
    ("cross_entropy", lambda: (torch.ones(2, 3), torch.zeros(2, dtype=torch.int64, device=META)), {},
     ("logits", "target")),
    ("mse_loss", lambda: (torch.ones(3), torch.ones(3, device=META)), {}, ("input", "target")),
    ("dropout", lambda: (torch.ones(3),), dict(p=0.5, mask=torch.ones(3, dtype=torch.bool, device=META)),
     ("input", "mask")),
    ("l2_penalty", lambda: ([torch.ones(3), torch.ones(2, device=META)],), dict(lam=0.1), ("params[0]", "params[1]")),
]


@pytest.mark.parametrize("op, make, kwargs, names", DEVICE_CASES, ids=[f"{c[0]}-{c[3][1]}" for c in DEVICE_CASES])
def test_device_mismatch_is_a_clear_value_error(op, make, kwargs, names):
    a, b = (name.replace("[", r"\[").replace("]", r"\]") for name in names)
    with pytest.raises(ValueError, match=rf"^{op}: {a} is on cpu but {b} is on meta; move one of them, "
                                         rf"e\.g\. {b}\.to\('cpu'\)$"):
        getattr(ct, op)(*make(), **kwargs)


def test_a_layer_on_another_device_names_both_devices():
    layer = nn.Linear(3, 2, device=META)
    with pytest.raises(ValueError, match=r"linear: input is on cpu but weight is on meta"):
        layer(torch.zeros(4, 3))


# ---------------------------------------------------------------------------------------------
# not a tensor
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("op, args", [
    ("conv2d", (np.ones((1, 1, 3, 3)), torch.ones(1, 1, 2, 2))),
    ("max_pool2d", (np.ones((1, 1, 4, 4)), 2)),
    ("relu", (np.ones(3),)),
    ("cross_entropy", (torch.ones(2, 3), np.zeros(2, dtype=np.int64))),
])
def test_numpy_arrays_get_a_hint(op, args):
    with pytest.raises(TypeError, match=rf"^{op}: .* must be a torch\.Tensor, got numpy\.ndarray "
                                        r"\(convert it with cnnlab\.torch\.to_tensor\)$"):
        getattr(ct, op)(*args)


def test_lists_are_refused_too():
    with pytest.raises(TypeError, match=r"^linear: weight must be a torch\.Tensor, got builtins\.list$"):
        ct.linear(torch.ones(2, 3), [[1.0, 2.0, 3.0]])


# ---------------------------------------------------------------------------------------------
# the GPU (skipped without one)
# ---------------------------------------------------------------------------------------------

@cuda
def test_cuda_and_cpu_operands_are_refused():
    with pytest.raises(ValueError, match=r"conv2d: input is on cpu but weight is on cuda:0"):
        ct.conv2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 2, 2, device="cuda"))


@cuda
def test_every_op_runs_on_cuda_and_agrees_with_cpu():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 8, 8, generator=g, dtype=torch.float64)
    w = torch.randn(4, 3, 3, 3, generator=g, dtype=torch.float64)
    wt = torch.randn(4, 2, 2, 2, generator=g, dtype=torch.float64)

    def run(device):
        xs = x.to(device).requires_grad_()
        y = ct.conv2d(xs, w.to(device), padding=1)
        y = ct.conv_transpose2d(y, wt.to(device), stride=2)
        y, idx = ct.max_pool2d(y, 3, stride=2, padding=1, return_indices=True)
        y = ct.max_unpool2d(y, idx, 3, stride=2, padding=1, output_size=(16, 16))
        y = ct.avg_pool2d(y, 2)
        y = ct.interpolate(y, scale_factor=1.5, mode="bilinear") + ct.interpolate(y, size=(12, 12))
        for name in ct.ACTIVATIONS:
            y = getattr(ct, name)(y) + y
        y = ct.flatten(y)
        y = ct.linear(y, torch.ones(5, y.shape[1], dtype=torch.float64, device=device) / y.shape[1])
        loss = ct.cross_entropy(y, torch.tensor([1, 3], device=device)) + ct.l2_penalty(y, 0.1)
        loss.backward()
        return loss.detach().cpu(), xs.grad.cpu()

    (loss_cpu, grad_cpu), (loss_gpu, grad_gpu) = run("cpu"), run("cuda")
    torch.testing.assert_close(loss_gpu, loss_cpu, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(grad_gpu, grad_cpu, rtol=1e-9, atol=1e-12)


@cuda
def test_layers_conversion_and_dropout_on_cuda():
    from cnnlab.numpy import layers as L

    np_model = L.Sequential([L.Conv2d(1, 2, 3, rng=0), L.ReLU(), L.Flatten(), L.Dropout(0.5, rng=1), L.Linear(8, 3, rng=2)])
    model = ct.to_torch(np_model, device="cuda")
    assert all(p.device.type == "cuda" for p in model.parameters())
    x = np.random.default_rng(0).standard_normal((4, 1, 4, 4)).astype(np.float32)
    np.testing.assert_allclose(ct.to_numpy(model(ct.to_tensor(x, device="cuda"))), np_model(x), rtol=1e-5, atol=1e-6)
    assert nn.Linear(2, 2).weight.device.type == "cuda"
    mask = ct.dropout_mask((10, 10), 0.5, rng=torch.Generator(device="cuda").manual_seed(0))
    assert mask.device.type == "cuda" and mask.dtype == torch.bool
