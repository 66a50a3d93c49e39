"""Crossing between the backends: arrays <-> tensors, NumPy models <-> torch models (same outputs, same gradients)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import cnnlab.torch as ct  # noqa: E402
from cnnlab.numpy import layers as L  # noqa: E402
from cnnlab.numpy.losses import cross_entropy, cross_entropy_backward  # noqa: E402
from cnnlab.torch import nn  # noqa: E402


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.uint8, np.bool_])
def test_array_tensor_round_trip_keeps_dtype_and_values(dtype):
    a = (np.random.default_rng(0).standard_normal((3, 4, 5)) * 10).astype(dtype)
    t = ct.to_tensor(a, device="cpu")
    assert t.device.type == "cpu" and str(t.dtype) == f"torch.{np.dtype(dtype).name}"
    back = ct.to_numpy(t)
    assert back.dtype == a.dtype
    np.testing.assert_array_equal(back, a)


def test_to_tensor_copies_and_handles_strides_and_scalars():
    a = np.arange(12.0).reshape(3, 4)[:, ::-2]  # negative strides: torch.from_numpy would refuse
    t = ct.to_tensor(a, device="cpu")
    np.testing.assert_array_equal(ct.to_numpy(t), a)
    t += 1
    assert a[0, 0] == 3.0  # the array is untouched
    assert ct.to_tensor(2.5, device="cpu").shape == ()
    assert ct.to_tensor(a, device="cpu", dtype=torch.float32).dtype == torch.float32


def test_to_tensor_default_device_and_to_numpy_of_structures():
    assert ct.to_tensor(np.zeros(2)).device.type == ct.default_device().type
    g = torch.ones(2, requires_grad=True) * 2
    out = ct.to_numpy((g, [torch.zeros(1)], None))
    assert isinstance(out, tuple) and isinstance(out[1], list) and out[2] is None
    np.testing.assert_array_equal(out[0], [2, 2])


def numpy_lenet(dtype=np.float64, dropout=False):
    layers = [L.Conv2d(1, 4, 3, padding=1, rng=0, dtype=dtype), L.ReLU(), L.MaxPool2d(2),
              L.Conv2d(4, 8, 3, rng=1, dtype=dtype), L.Sigmoid(), L.AvgPool2d(2, ceil_mode=True),
              L.Flatten(), L.Linear(8, 16, rng=2, dtype=dtype), L.LeakyReLU(0.1)]
    if dropout:
        layers.append(L.Dropout(0.3))
    return L.Sequential(layers + [L.Linear(16, 10, rng=3, dtype=dtype)])


def test_to_torch_gives_the_same_outputs_and_gradients():
    """The point of the crossing: the NumPy model and its torch copy compute the same numbers, forward and back."""
    np_model = numpy_lenet()
    t_model = ct.to_torch(np_model, device="cpu")
    assert isinstance(t_model, nn.Sequential) and list(t_model.state_dict()) == list(np_model.state_dict())
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((5, 1, 8, 8)), rng.integers(0, 10, 5)

    out = np_model(x)
    loss = cross_entropy(out, y)
    np_model.zero_grad()
    grad_x = np_model.backward(cross_entropy_backward(1.0, out, y)[0])

    xt = ct.to_tensor(x, device="cpu").requires_grad_()
    out_t = t_model(xt)
    loss_t = ct.cross_entropy(out_t, ct.to_tensor(y, device="cpu"))
    loss_t.backward()
    np.testing.assert_allclose(ct.to_numpy(out_t), out, rtol=1e-10, atol=1e-12)
    assert loss_t.item() == pytest.approx(float(loss), rel=1e-12)
    np.testing.assert_allclose(ct.to_numpy(xt.grad), grad_x, rtol=1e-9, atol=1e-12)
    for (name, p), (name_t, pt) in zip(np_model.named_parameters(), t_model.named_parameters()):
        assert name == name_t
        np.testing.assert_allclose(ct.to_numpy(pt.grad), p.grad, rtol=1e-9, atol=1e-12, err_msg=name)


def test_the_train_or_eval_mode_crosses_over_with_the_model():
    """A model in eval mode converts to a model in eval mode, the Sequential itself included (``model.training``
    is what code asks), and back."""
    np_model = numpy_lenet(dropout=True)
    np_model.eval()
    t_model = ct.to_torch(np_model, device="cpu")
    assert not t_model.training and not any(m.training for m in t_model.modules())
    back = ct.from_torch(t_model)
    assert not back.training and not any(layer.training for layer in back)
    np_model.train()
    assert ct.to_torch(np_model, device="cpu").training


def test_from_torch_and_copy_weights_back():
    np_model = numpy_lenet(np.float32, dropout=True)
    t_model = ct.to_torch(np_model, device="cpu")
    with torch.no_grad():
        for p in t_model.parameters():
            p.mul_(1.5)  # "training" on the torch side
    back = ct.from_torch(t_model)
    assert repr(back) == repr(t_model)
    ct.copy_weights(t_model, np_model)
    for k, v in t_model.state_dict().items():
        np.testing.assert_array_equal(np_model.state_dict()[k], ct.to_numpy(v))
        np.testing.assert_array_equal(back.state_dict()[k], ct.to_numpy(v))
        assert back.state_dict()[k].dtype == np.float32
    x = np.random.default_rng(1).standard_normal((2, 1, 8, 8)).astype(np.float32)
    np_model.eval(), t_model.eval(), back.eval()
    np.testing.assert_allclose(np_model(x), ct.to_numpy(t_model(ct.to_tensor(x, device="cpu"))), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(np_model(x), back(x))


def test_to_torch_dtype_and_device():
    t_model = ct.to_torch(numpy_lenet(np.float32), device="cpu", dtype=torch.float64)
    assert all(p.dtype == torch.float64 and p.device.type == "cpu" for p in t_model.parameters())
    assert all(p.device.type == ct.default_device().type for p in ct.to_torch(numpy_lenet()).parameters())


def test_from_torch_reads_plain_torch_nn_models():
    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3, padding=1), torch.nn.ELU(alpha=0.5), torch.nn.MaxPool2d(2),
                              torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 5), torch.nn.Softplus(beta=2))
    np_model = ct.from_torch(ref)
    assert [type(m).__name__ for m in np_model] == ["Conv2d", "ELU", "MaxPool2d", "Flatten", "Linear", "Softplus"]
    x = torch.randn(2, 1, 8, 8)
    np.testing.assert_allclose(np_model(x.numpy()), ref(x).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_copy_weights_refuses_models_that_differ():
    a = nn.Sequential([nn.Linear(3, 4, device="cpu"), nn.ReLU(), nn.Linear(4, 2, device="cpu")])
    with pytest.raises(KeyError, match=r"copy_weights: the two models differ: missing keys \['3.weight', '3.bias'\]"):
        ct.copy_weights(L.Sequential([L.Linear(3, 4), L.Linear(4, 2)]),
                        nn.Sequential([nn.Linear(3, 4, device="cpu"), nn.Linear(4, 2, device="cpu"), nn.ReLU(),
                                       nn.Linear(2, 2, device="cpu")]))
    with pytest.raises(ValueError, match=r"copy_weights: 2.weight has shape \(3, 4\) but the parameter has shape \(2, 4\)"):
        ct.copy_weights(L.Sequential([L.Linear(3, 4), L.ReLU(), L.Linear(4, 3)]), a)
    with pytest.raises(TypeError, match=r"to_torch: cnnlab.torch.layers has no layer Softmax"):
        class Softmax(L.Module):
            pass
        ct.to_torch(L.Sequential([Softmax()]))
