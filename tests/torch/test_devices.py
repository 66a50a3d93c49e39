"""Devices and dtypes, as a user meets them: results land where the inputs are, layers moved with
``.to(device)`` compute there, operands on two devices (or of two dtypes) get an error naming both, and
new tensors go to ``default_device()``, the GPU when there is one.

Most machines that run these tests have no GPU, so torch's "meta" device (tensors with a shape and a dtype
but no data) stands in for a second device: an op on meta tensors must give meta results, which catches
code that makes a tensor on the CPU by accident. Ops that must read values (unpooling's and the loss's
index checks) cannot run on meta; they run on cuda, with every other case, where a GPU is present.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import cnnlab.torch as ct  # noqa: E402
from cnnlab.torch import nn  # noqa: E402

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
NO_DATA = pytest.mark.skip(reason="reads the values, which meta tensors do not have (runs on cuda)")


def on_devices(cases):
    """``(id, *case, reads_values)`` -> pytest params ``(device, *case)`` for meta and cuda: cuda skips without a
    GPU, meta skips what must read values."""
    return [pytest.param(device, *case, id=f"{name}-{device}",
                         marks=[cuda] if device == "cuda" else [NO_DATA] if reads_values else [])
            for device in ("meta", "cuda") for name, *case, reads_values in cases]


class Maker:
    """Tensors on ``device`` with the same numbers on every device (drawn on the CPU from one seed)."""

    def __init__(self, device):
        self.device = device
        self.generator = torch.Generator().manual_seed(0)

    def __call__(self, *shape):
        return torch.randn(shape, generator=self.generator, dtype=torch.float64).to(self.device)  # shape () too

    def ints(self, values):
        return torch.tensor(values).to(self.device)

    def mask(self, *shape):
        return (torch.rand(shape, generator=self.generator) < 0.5).to(self.device)


def tensors(value):
    """Every tensor in a result (a tensor, or tuples / lists of them and None)."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in tensors(v)]
    return []


def assert_like(result, reference, device):
    """``result`` (computed on ``device``) has ``reference``'s tensors (computed on the CPU), on ``device``."""
    got, want = tensors(result), tensors(reference)
    assert len(got) == len(want) > 0
    for a, b in zip(got, want):
        assert a.device.type == device, f"a result is on {a.device}, the inputs on {device}"
        assert (a.shape, a.dtype) == (b.shape, b.dtype)
        if a.device.type != "meta":
            torch.testing.assert_close(a.cpu(), b, rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# ops: results on the device of the inputs
# ---------------------------------------------------------------------------------------------

OPS = [  # (op, (args, kwargs) from a Maker, reads values); op_backward and op_grad are checked with the same arguments
    ("conv2d", lambda t: ((t(2, 3, 6, 6), t(4, 3, 3, 3), t(4)), dict(padding=1)), False),
    ("conv2d_naive", lambda t: ((t(1, 2, 4, 4), t(2, 2, 3, 3), t(2)), dict(stride=2, padding=1)), False),
    ("conv_transpose2d", lambda t: ((t(2, 3, 4, 4), t(3, 2, 3, 3), t(2)), dict(stride=2)), False),
    ("max_pool2d", lambda t: ((t(2, 3, 6, 6), 3), dict(stride=2, padding=1)), False),
    ("avg_pool2d", lambda t: ((t(2, 3, 6, 6), 2), {}), False),
    ("max_unpool2d", lambda t: ((t(1, 1, 2, 2), t.ints([[[[0, 3], [8, 15]]]]), 2), {}), True),
    ("interpolate", lambda t: ((t(2, 3, 4, 4),), dict(scale_factor=1.5, mode="bilinear")), False),
    ("linear", lambda t: ((t(2, 5), t(3, 5), t(3)), {}), False),
    ("flatten", lambda t: ((t(2, 3, 4, 4),), {}), False),
    ("dropout", lambda t: ((t(3, 4),), dict(p=0.5, mask=t.mask(3, 4))), False),
    ("softmax", lambda t: ((t(2, 5),), {}), False),
    ("log_softmax", lambda t: ((t(2, 5),), {}), False),
    ("cross_entropy", lambda t: ((t(2, 5), t.ints([1, 4])), {}), True),
    ("mse_loss", lambda t: ((t(3, 2), t(3, 2)), {}), False),
    ("l1_penalty", lambda t: (([t(3), t(2, 2)], 0.1), {}), False),
    ("l2_penalty", lambda t: (([t(3), t(2, 2)], 0.1), {}), False),
    *[(name, lambda t: ((t(2, 3),), {}), False) for name in sorted({*ct.ACTIVATIONS, "silu"})],  # silu: swish's torch name
]


def test_every_op_is_in_the_device_table():
    differentiable = {name.removesuffix("_backward") for name in dir(ct) if name.endswith("_backward")}
    missing = differentiable - {op for op, _, _ in OPS}
    assert not missing, f"add these ops to OPS: {sorted(missing)}"


def _run(op, make, device):
    """The op, its ``_backward`` and ``_grad`` (where they exist) on ``device``: every result."""
    t = Maker(device)
    args, kwargs = make(t)
    out = getattr(ct, op)(*args, **kwargs)
    results = [out]
    if hasattr(ct, op + "_backward"):
        grad_out = t(*out.shape)
        results.append(getattr(ct, op + "_backward")(grad_out, *args, **kwargs))
    if hasattr(ct, op + "_grad"):
        results.append(getattr(ct, op + "_grad")(*args, **kwargs))
    return results


@pytest.mark.parametrize("device, op, make", on_devices((op, op, make, reads) for op, make, reads in OPS))
def test_results_are_on_the_device_of_the_inputs(device, op, make):
    assert_like(_run(op, make, device), _run(op, make, "cpu"), device)


# ---------------------------------------------------------------------------------------------
# layers: moved with .to(device), they compute there
# ---------------------------------------------------------------------------------------------

def _layers():
    """(name, layer built on the CPU, input shape, reads values) for every layer class of cnnlab.torch.nn
    (MaxUnpool2d, which needs indices from a max pooling: test_max_unpool_layer_on_cuda)."""
    cpu = dict(rng=0, device="cpu")
    built = [(nn.Conv2d(3, 4, 3, padding=1, **cpu), (2, 3, 6, 6)),
             (nn.ConvTranspose2d(3, 2, 3, stride=2, **cpu), (2, 3, 4, 4)),
             (nn.Linear(5, 3, **cpu), (2, 5)),
             (nn.Sequential([nn.Conv2d(1, 2, 3, **cpu), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(8, 3, **cpu)]),
              (2, 1, 6, 6)),
             (nn.MaxPool2d(2), (2, 3, 4, 4)), (nn.AvgPool2d(2), (2, 3, 4, 4)), (nn.Flatten(), (2, 3, 4, 4)),
             (nn.Upsample(scale_factor=2, mode="bilinear"), (2, 3, 4, 4)), (nn.Dropout(0.5), (4, 5))]
    classes = {getattr(nn, name) for name in nn.__all__}
    classes = {c for c in classes if isinstance(c, type) and issubclass(c, torch.nn.Module)} - {nn.Module, nn.MaxUnpool2d}
    rest = sorted(classes - {type(layer) for layer, _ in built}, key=lambda c: c.__name__)
    built += [(cls(), (2, 3)) for cls in rest]  # the activations, with their default arguments
    return [(type(layer).__name__, layer, shape, False) for layer, shape in built]


@pytest.mark.parametrize("device, layer, shape", on_devices(_layers()))
def test_a_layer_moved_to_a_device_computes_there(device, layer, shape):
    layer = layer.to(device)
    x = torch.randn(shape).to(device).requires_grad_()
    out = layer(x)
    assert out.device.type == device and out.shape[0] == shape[0]
    out.sum().backward()  # through the hand-written backward of every op
    for tensor in [x.grad, *(p.grad for p in layer.parameters())]:
        assert tensor is not None and tensor.device.type == device


# ---------------------------------------------------------------------------------------------
# where new tensors go: default_device(), or device=
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("gpu_present, expected", [(True, "cuda"), (False, "cpu")])
def test_default_device_is_cuda_when_a_gpu_is_present(monkeypatch, gpu_present, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu_present)
    assert ct.default_device() == torch.device(expected)


@cuda
def test_default_device_is_cuda_on_this_gpu_machine():
    assert ct.default_device().type == "cuda"


def _new_tensors(**device):
    """A tensor from each function that creates one, with ``device`` passed through."""
    return {"nn.Linear": nn.Linear(2, 3, **device).weight,
            "nn.Conv2d": nn.Conv2d(1, 2, 3, **device).weight,
            "nn.ConvTranspose2d": nn.ConvTranspose2d(1, 2, 3, **device).bias,
            "init_weight": nn.init_weight((2, 3), rng=0, **device),
            "dropout_mask": ct.dropout_mask((2, 3), 0.5, **device),
            "to_tensor": ct.to_tensor(np.ones(3), **device)}


def test_new_tensors_go_to_the_default_device():
    wrong = {name: t.device for name, t in _new_tensors().items() if t.device.type != ct.default_device().type}
    assert not wrong, f"not on default_device() = {ct.default_device()}: {wrong}"


def test_new_tensors_go_to_the_device_asked_for():
    wrong = {name: t.device for name, t in _new_tensors(device="meta").items() if t.device.type != "meta"}
    assert not wrong, f"device='meta' was asked for: {wrong}"


# ---------------------------------------------------------------------------------------------
# operands on two devices: a clear error naming both
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
def test_operands_on_two_devices_get_an_error_naming_both(op, make, kwargs, names):
    a, b = (name.replace("[", r"\[").replace("]", r"\]") for name in names)
    with pytest.raises(ValueError, match=rf"^{op}: {a} is on cpu but {b} is on meta; move one of them, "
                                         rf"e\.g\. {b}\.to\('cpu'\)$"):
        getattr(ct, op)(*make(), **kwargs)


def test_a_layer_on_another_device_than_its_input_names_both():
    layer = nn.Linear(3, 2, device=META)
    with pytest.raises(ValueError, match=r"linear: input is on cpu but weight is on meta"):
        layer(torch.zeros(4, 3))


@cuda
def test_cuda_and_cpu_operands_are_refused():
    with pytest.raises(ValueError, match=r"conv2d: input is on cpu but weight is on cuda:0"):
        ct.conv2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 2, 2, device="cuda"))


# ---------------------------------------------------------------------------------------------
# operands of two dtypes, and arrays that are not tensors: clear errors
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
# the GPU (skipped without one): what only real data on a second device shows
# ---------------------------------------------------------------------------------------------

@cuda
def test_autograd_through_every_op_on_cuda_agrees_with_cpu():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 8, 8, generator=g, dtype=torch.float64)
    w = torch.randn(4, 3, 3, 3, generator=g, dtype=torch.float64)
    wt = torch.randn(4, 2, 2, 2, generator=g, dtype=torch.float64)

    def run(device):
        xs = x.detach().to(device).requires_grad_()  # a new leaf each run: x.to('cpu') would be x itself
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
def test_max_unpool_layer_on_cuda():
    x = torch.randn(2, 3, 4, 4, device="cuda", requires_grad=True)
    pooled, indices = nn.MaxPool2d(2, return_indices=True)(x)
    out = nn.MaxUnpool2d(2).to("cuda")(pooled, indices)
    assert out.device.type == "cuda" and out.shape == x.shape
    out.sum().backward()
    assert x.grad.device.type == "cuda"


@cuda
def test_numpy_model_converted_to_cuda_gives_the_numpy_outputs():
    from cnnlab.numpy import layers as L

    np_model = L.Sequential([L.Conv2d(1, 2, 3, rng=0), L.ReLU(), L.Flatten(), L.Dropout(0.5, rng=1), L.Linear(8, 3, rng=2)])
    np_model.eval()  # dropout off: NumPy's and torch's generators draw different masks
    model = ct.to_torch(np_model, device="cuda")
    assert not model.training  # the mode travels with the model
    assert all(p.device.type == "cuda" for p in model.parameters())
    x = np.random.default_rng(0).standard_normal((4, 1, 4, 4)).astype(np.float32)
    np.testing.assert_allclose(ct.to_numpy(model(ct.to_tensor(x, device="cuda"))), np_model(x), rtol=1e-5, atol=1e-6)


@cuda
def test_dropout_mask_from_a_cuda_generator_is_on_cuda():
    mask = ct.dropout_mask((10, 10), 0.5, rng=torch.Generator(device="cuda").manual_seed(0))
    assert mask.device.type == "cuda" and mask.dtype == torch.bool


@cuda
def test_predict_on_a_cuda_model_gives_cuda_results():
    model = nn.Sequential([nn.Flatten(), nn.Linear(16, 3, rng=0, device="cuda")])
    out = ct.predict(model, np.zeros((5, 1, 4, 4), np.float32))
    assert out.device.type == "cuda" and out.shape == (5, 3)
