"""Layers: forward/backward against the functional ops and against torch.nn with the same weights (float64)."""

from __future__ import annotations

import numpy as np
import pytest

import cnnlab.numpy as cn
from cnnlab.numpy import layers as L

from ..ops.oracle import assert_close

torch = pytest.importorskip("torch")
nn = torch.nn


def T(a, grad=False):
    t = torch.from_numpy(np.array(a, dtype=np.float64))
    return t.requires_grad_(grad)


def copy_to_torch(ours, theirs):
    """Load our parameters into a torch module (the same state_dict keys and shapes)."""
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()}, strict=True)
    return theirs.double()


def check_against_torch(ours, theirs, x, *extra_inputs, rtol=1e-10, atol=1e-12, seed=1):
    """Forward, backward and parameter gradients of ``ours`` vs ``theirs`` (torch) on float64 input ``x``."""
    ours.astype(np.float64)
    copy_to_torch(ours, theirs)
    out = ours(x, *extra_inputs)
    xt = T(x, grad=True)
    out_t = theirs(xt, *[torch.from_numpy(e) if isinstance(e, np.ndarray) else e for e in extra_inputs])
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=rtol, atol=atol)
    g = np.random.default_rng(seed).standard_normal(out.shape)
    ours.zero_grad()
    grad_x = ours.backward(g)
    out_t.backward(torch.from_numpy(g))
    np.testing.assert_allclose(grad_x, xt.grad.numpy(), rtol=rtol, atol=atol)
    theirs_params = dict(theirs.named_parameters())
    assert list(theirs_params) == [name for name, _ in ours.named_parameters()]
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, theirs_params[name].grad.numpy(), rtol=rtol, atol=atol, err_msg=name)
    return out


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# ---------------------------------------------------------------------------------------------- vs torch.nn

@pytest.mark.parametrize("kwargs", [
    dict(in_channels=3, out_channels=4, kernel_size=3),
    dict(in_channels=2, out_channels=4, kernel_size=(3, 2), stride=2, padding=1, bias=False),
    dict(in_channels=4, out_channels=6, kernel_size=3, padding="same", dilation=2, groups=2),
    dict(in_channels=1, out_channels=2, kernel_size=5, stride=(1, 2), padding=(2, 0)),
])
def test_conv2d_matches_torch(rng, kwargs):
    x = rng.standard_normal((2, kwargs["in_channels"], 9, 8))
    ours = L.Conv2d(**kwargs, rng=1)
    check_against_torch(ours, nn.Conv2d(**kwargs), x)


@pytest.mark.parametrize("kwargs", [
    dict(in_channels=3, out_channels=2, kernel_size=3),
    dict(in_channels=2, out_channels=4, kernel_size=3, stride=2, padding=1, output_padding=1, groups=2),
    dict(in_channels=2, out_channels=3, kernel_size=(2, 3), stride=(2, 1), bias=False, dilation=2),
])
def test_conv_transpose2d_matches_torch(rng, kwargs):
    x = rng.standard_normal((2, kwargs["in_channels"], 5, 4))
    ours = L.ConvTranspose2d(**kwargs, rng=2)
    assert ours.weight.shape == nn.ConvTranspose2d(**kwargs).weight.shape
    check_against_torch(ours, nn.ConvTranspose2d(**kwargs), x)


@pytest.mark.parametrize("layer, torch_layer", [
    (lambda: L.MaxPool2d(2), lambda: nn.MaxPool2d(2)),
    (lambda: L.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), lambda: nn.MaxPool2d(3, 2, 1, ceil_mode=True)),
    (lambda: L.AvgPool2d(2), lambda: nn.AvgPool2d(2)),
    (lambda: L.AvgPool2d(3, 2, padding=1, count_include_pad=False), lambda: nn.AvgPool2d(3, 2, 1, count_include_pad=False)),
    (lambda: L.Upsample(scale_factor=2), lambda: nn.Upsample(scale_factor=2)),
    (lambda: L.Upsample(size=(9, 11), mode="bilinear"), lambda: nn.Upsample(size=(9, 11), mode="bilinear")),
    (lambda: L.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
     lambda: nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)),
    (lambda: L.Flatten(), lambda: nn.Flatten()),
    (lambda: L.Flatten(0, 2), lambda: nn.Flatten(0, 2)),
])
def test_parameter_free_layers_match_torch(rng, layer, torch_layer):
    x = rng.standard_normal((2, 3, 6, 7))
    check_against_torch(layer(), torch_layer(), x)


def test_max_unpool_matches_torch(rng):
    x = rng.standard_normal((2, 3, 6, 6))
    pool = L.MaxPool2d(2, return_indices=True)
    out, idx = pool(x)
    out_t, idx_t = nn.MaxPool2d(2, return_indices=True)(T(x))
    np.testing.assert_array_equal(idx, idx_t.numpy())
    check_against_torch(L.MaxUnpool2d(2), nn.MaxUnpool2d(2), out, idx)
    # pool -> unpool -> backward through both
    unpool = L.MaxUnpool2d(2)
    y = unpool(out, idx, output_size=x.shape[2:])
    g = rng.standard_normal(y.shape)
    grad_x = pool.backward(unpool.backward(g))
    assert y.shape == x.shape and grad_x.shape == x.shape
    assert np.count_nonzero(grad_x) == out.size  # only the maxima get gradient
    assert "return_indices=True" in repr(pool)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(rng, bias):
    x = rng.standard_normal((5, 7))
    ours = L.Linear(7, 3, bias=bias, rng=3)
    check_against_torch(ours, nn.Linear(7, 3, bias=bias), x)
    assert L.Dense is L.Linear


ACTIVATION_PAIRS = [
    (lambda: L.Sigmoid(), lambda: nn.Sigmoid()),
    (lambda: L.Tanh(), lambda: nn.Tanh()),
    (lambda: L.Softplus(), lambda: nn.Softplus()),
    (lambda: L.Softplus(beta=2.0, threshold=3.0), lambda: nn.Softplus(beta=2.0, threshold=3.0)),
    (lambda: L.ReLU(), lambda: nn.ReLU()),
    (lambda: L.LeakyReLU(), lambda: nn.LeakyReLU()),
    (lambda: L.LeakyReLU(0.2), lambda: nn.LeakyReLU(0.2)),
    (lambda: L.ELU(alpha=0.5), lambda: nn.ELU(alpha=0.5)),
    (lambda: L.Softsign(), lambda: nn.Softsign()),
    (lambda: L.LogSigmoid(), lambda: nn.LogSigmoid()),
    (lambda: L.Swish(), lambda: nn.SiLU()),
    (lambda: L.SiLU(), lambda: nn.SiLU()),
    (lambda: L.Mish(), lambda: nn.Mish()),
]


@pytest.mark.parametrize("layer, torch_layer", ACTIVATION_PAIRS)
def test_activation_layers_match_torch(rng, layer, torch_layer):
    x = rng.standard_normal((3, 2, 4, 5)) * 3
    check_against_torch(layer(), torch_layer(), x)


class _TorchSinc(nn.Module):
    def forward(self, x):
        return torch.sinc(x / torch.pi)  # torch's sinc is normalised: sin(pi x) / (pi x)


class _TorchStep(nn.Module):
    def forward(self, x):
        return (x > 0).to(x.dtype) + 0 * x  # gradient 0 everywhere


@pytest.mark.parametrize("layer, torch_layer", [(L.Sinc, _TorchSinc), (L.Step, _TorchStep)])
def test_slide_only_activations(rng, layer, torch_layer):
    x = rng.standard_normal((4, 6)) * 4
    check_against_torch(layer(), torch_layer(), x, rtol=1e-9)


def test_activation_layer_per_slide_function():
    # one layer for every activation of the slides' gallery
    layers = {"sigmoid": L.Sigmoid, "tanh": L.Tanh, "step": L.Step, "softplus": L.Softplus, "relu": L.ReLU,
              "softsign": L.Softsign, "elu": L.ELU, "log_sigmoid": L.LogSigmoid, "swish": L.Swish, "sinc": L.Sinc,
              "leaky_relu": L.LeakyReLU, "mish": L.Mish}
    assert set(layers) == set(cn.ACTIVATIONS)
    x = np.linspace(-3, 3, 13)
    for name, cls in layers.items():
        np.testing.assert_array_equal(cls()(x), cn.ACTIVATIONS[name].fn(x))


# ---------------------------------------------------------------------------------------------- the fast path

def _bias(layer):
    return None if layer.bias is None else layer.bias.data


# (name, layer, input shape, the reference op and its backward called with the layer's settings)
FAST_LAYERS = [
    ("Conv2d 3x3 pad 1", lambda: L.Conv2d(3, 4, 3, padding=1, rng=0), (2, 3, 7, 7),
     lambda l, x: cn.conv2d(x, l.weight.data, _bias(l), padding=1),
     lambda l, g, x: cn.conv2d_backward(g, x, l.weight.data, _bias(l), padding=1)),
    ("Conv2d stride 2, groups, no bias", lambda: L.Conv2d(4, 6, (3, 2), stride=2, padding=1, groups=2, bias=False,
                                                            rng=0), (2, 4, 9, 8),
     lambda l, x: cn.conv2d(x, l.weight.data, None, stride=2, padding=1, groups=2),
     lambda l, g, x: cn.conv2d_backward(g, x, l.weight.data, None, stride=2, padding=1, groups=2)),
    ("ConvTranspose2d 4x4 s2 p1", lambda: L.ConvTranspose2d(4, 3, 4, stride=2, padding=1, rng=0), (2, 4, 5, 6),
     lambda l, x: cn.conv_transpose2d(x, l.weight.data, _bias(l), stride=2, padding=1),
     lambda l, g, x: cn.conv_transpose2d_backward(g, x, l.weight.data, _bias(l), stride=2, padding=1)),
    ("MaxPool2d 2", lambda: L.MaxPool2d(2), (2, 3, 8, 9),
     lambda l, x: cn.max_pool2d(x, 2), lambda l, g, x: (cn.max_pool2d_backward(g, x, 2),)),
    ("MaxPool2d 3 s2 p1 ceil", lambda: L.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), (2, 3, 8, 9),
     lambda l, x: cn.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True),
     lambda l, g, x: (cn.max_pool2d_backward(g, x, 3, stride=2, padding=1, ceil_mode=True),)),
    ("ReLU", lambda: L.ReLU(), (2, 3, 5, 4), lambda l, x: cn.relu(x), lambda l, g, x: (cn.relu_backward(g, x),)),
]
TOL = {np.float64: 1e-12, np.float32: 2e-5}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name, make, shape, op, op_backward", FAST_LAYERS, ids=[c[0] for c in FAST_LAYERS])
def test_layers_on_the_fast_path_equal_the_reference_ops(fast_path, dtype, name, make, shape, op, op_backward):
    """Conv2d, ConvTranspose2d, MaxPool2d and ReLU call cnnlab.numpy.fast: the reference op's numbers."""
    rng = np.random.default_rng(3)
    layer = make().astype(dtype)
    x = rng.standard_normal(shape).astype(dtype)
    if isinstance(layer, L.MaxPool2d):
        x = np.maximum(x, 0)  # after a ReLU: windows tie at 0, the first element gets the gradient
    out = layer(x)
    assert out.dtype == dtype
    assert_close(out, op(layer, x), tol=TOL[dtype])
    g = rng.standard_normal(out.shape).astype(dtype)
    layer.zero_grad()
    grad_x = layer.backward(g)
    grad_x_ref, *grad_params_ref = op_backward(layer, g, x)
    assert grad_x.dtype == dtype
    assert_close(grad_x, grad_x_ref, tol=TOL[dtype])
    for p, expected in zip(layer.parameters(), [e for e in grad_params_ref if e is not None]):
        assert p.grad.dtype == dtype
        assert_close(p.grad, expected, tol=TOL[dtype])


@pytest.mark.parametrize("name, make, shape, op, op_backward", FAST_LAYERS, ids=[c[0] for c in FAST_LAYERS])
def test_fast_layers_backward_follows_the_last_forward_and_frees_its_cache(fast_path, name, make, shape, op,
                                                                           op_backward):
    """Two forwards, one backward: the gradient of the second (as the layers that keep ``self.x``). The
    backward frees what the forward kept: a second backward asks for a forward."""
    rng = np.random.default_rng(4)
    layer = make().astype(np.float64)
    first, second = rng.standard_normal(shape), rng.standard_normal(shape)
    layer(first)
    out = layer(second)
    g = rng.standard_normal(out.shape)
    assert_close(layer.backward(g), op_backward(layer, g, second)[0], tol=1e-12)
    assert not hasattr(layer, "cache") and not hasattr(layer, "out")  # nothing kept after the backward
    with pytest.raises(RuntimeError, match=f"{type(layer).__name__}.backward: call forward first"):
        layer.backward(g)


def test_fast_layers_gradcheck_in_float64(fast_path, rng):
    model = L.Sequential(L.Conv2d(2, 3, 3, padding=1, rng=0), L.ReLU(), L.MaxPool2d(2),
                         L.ConvTranspose2d(3, 2, 2, stride=2, rng=1), L.Flatten(),
                         L.Linear(2 * 6 * 6, 3, rng=2)).astype(np.float64)
    x = rng.standard_normal((2, 2, 6, 6))
    errors = cn.gradcheck(lambda v: model(v), [x], backward=lambda g, v: (model(v), model.backward(g))[1])
    assert errors[0] < 1e-7


def test_fit_with_cross_entropy_trains_as_with_the_reference_loss(fast_path, rng):
    """fit's "cross_entropy" runs fast.cross_entropy: the same history as the reference loss in float64."""
    x = rng.standard_normal((40, 1, 6, 6))
    y = rng.integers(0, 3, 40)
    histories = []
    for loss in ("cross_entropy", (lambda out, t: cn.cross_entropy(out, t), cn.cross_entropy_backward)):
        model = L.Sequential(L.Conv2d(1, 4, 3, rng=0), L.ReLU(), L.MaxPool2d(2), L.Flatten(),
                             L.Linear(16, 3, rng=1)).astype(np.float64)
        history = cn.fit(model, cn.SGD(model.parameters(), lr=0.1, momentum=0.9), x, y, loss=loss, epochs=3,
                         batch_size=8, progress=False)
        histories.append((history, model.state_dict()))
    (fast_history, fast_state), (ref_history, ref_state) = histories
    np.testing.assert_allclose(fast_history.train_loss, ref_history.train_loss, rtol=1e-12)
    assert fast_history.train_acc == ref_history.train_acc
    for name in ref_state:
        np.testing.assert_allclose(fast_state[name], ref_state[name], rtol=1e-10, atol=1e-12, err_msg=name)


# ---------------------------------------------------------------------------------------------- Dropout

def test_dropout_train_and_eval(rng):
    x = rng.standard_normal((200, 50))
    d = L.Dropout(0.3, rng=0)
    y = d(x)
    kept = y != 0
    assert 0.65 < kept.mean() < 0.75
    np.testing.assert_allclose(y[kept], x[kept] / 0.7)
    g = rng.standard_normal(x.shape)
    np.testing.assert_allclose(d.backward(g), np.where(kept, g / 0.7, 0))
    # a new mask each call
    assert not np.array_equal(d(x) != 0, kept)
    # the same seed, the same masks
    np.testing.assert_array_equal(L.Dropout(0.3, rng=0)(x), y)
    d.eval()
    assert d(x) is x or np.array_equal(d(x), x)
    np.testing.assert_array_equal(d.backward(g), g)
    assert repr(d) == "Dropout(p=0.3)"
    with pytest.raises(ValueError, match="probability of dropping"):
        L.Dropout(1.5)


def test_train_eval_propagate_through_sequential(rng):
    model = L.Sequential([L.Linear(4, 4, rng=0), L.Dropout(0.5, rng=0), L.Linear(4, 2, rng=1)])
    assert model.training and model[1].training
    assert model.eval() is model
    assert not model.training and not model[1].training
    x = rng.standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_array_equal(model(x), model(x))  # deterministic in eval mode
    model.train()
    assert model[1].training


# ---------------------------------------------------------------------------------------------- Sequential

def small_cnn(rng=0):
    return L.Sequential([
        L.Conv2d(2, 4, 3, padding=1, rng=rng), L.ReLU(), L.MaxPool2d(2),
        L.Conv2d(4, 6, 3, rng=rng), L.Tanh(), L.AvgPool2d(2),
        L.Flatten(), L.Linear(6 * 1 * 1, 8, rng=rng), L.ELU(), L.Dropout(0.0), L.Linear(8, 3, rng=rng),
    ])


def torch_small_cnn():
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3), nn.Tanh(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(6, 8), nn.ELU(), nn.Dropout(0.0), nn.Linear(8, 3),
    )


def test_sequential_backward_matches_torch_autograd(rng):
    model = small_cnn().astype(np.float64)
    ref = copy_to_torch(model, torch_small_cnn())
    assert list(model.state_dict()) == list(ref.state_dict())
    x = rng.standard_normal((5, 2, 8, 8))
    y = np.array([0, 2, 1, 1, 0])
    logits = model(x)
    loss = cn.cross_entropy(logits, y)
    grad_logits, _ = cn.cross_entropy_backward(1.0, logits, y)
    model.zero_grad()
    grad_x = model.backward(grad_logits)

    xt = T(x, grad=True)
    loss_t = nn.functional.cross_entropy(ref(xt), torch.from_numpy(y))
    loss_t.backward()
    assert float(loss) == pytest.approx(loss_t.item(), abs=1e-12)
    np.testing.assert_allclose(grad_x, xt.grad.numpy(), rtol=1e-9, atol=1e-13)
    ref_params = dict(ref.named_parameters())
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad, ref_params[name].grad.numpy(), rtol=1e-9, atol=1e-13, err_msg=name)


class _LoggedConv2d(L.Conv2d):
    """A student's subclass whose backward has the old signature (no ``input_grad``)."""

    def backward(self, grad_out):
        return super().backward(grad_out)


@pytest.mark.parametrize("first", ["conv", "linear", "relu", "nested", "empty", "subclass"])
def test_a_training_backward_skips_the_input_gradient_and_fills_the_same_grads(rng, first, monkeypatch):
    """``backward(g, input_grad=False)`` (what fit runs): None for the input, every parameter's gradient as with
    ``input_grad=True``; a first layer that cannot skip it (ReLU) still runs its backward."""
    asked = []  # input_grad of every convolution's backward, last layer first
    conv2d_backward = L.fast.conv2d_backward
    monkeypatch.setattr(L.fast, "conv2d_backward", lambda g, cache, input_grad=True: (
        asked.append(input_grad), conv2d_backward(g, cache, input_grad))[1])
    layers = {"conv": [L.Conv2d(2, 3, 3, padding=1, rng=0), L.ReLU(), L.Flatten(), L.Linear(3 * 4 * 4, 2, rng=1)],
              "linear": [L.Flatten(), L.Linear(2 * 4 * 4, 3, rng=0), L.Tanh(), L.Linear(3, 2, rng=1)],
              "relu": [L.ReLU(), L.Conv2d(2, 3, 3, rng=0), L.Flatten(), L.Linear(3 * 2 * 2, 2, rng=1)],
              "nested": [L.Sequential(L.Conv2d(2, 3, 3, rng=0), L.ReLU()), L.Flatten(), L.Linear(12, 2, rng=1)],
              "subclass": [_LoggedConv2d(2, 3, 3, rng=0), L.Flatten(), L.Linear(12, 2, rng=1)],
              "empty": []}[first]
    if first == "linear":  # a Linear first: flatten outside
        layers = layers[1:]
    model = L.Sequential(*layers).astype(np.float64)
    x = rng.standard_normal((5, 32) if first == "linear" else (5, 2, 4, 4))
    grad_out = rng.standard_normal(model(x).shape)
    model.zero_grad()
    grad_x = model.backward(grad_out)
    expected = {name: p.grad.copy() for name, p in model.named_parameters()}
    model(x)
    model.zero_grad()
    asked.clear()
    assert model.backward(grad_out, input_grad=False) is None
    assert asked == {"conv": [False], "nested": [False], "relu": [True], "subclass": [True]}.get(first, [])
    assert grad_x is not None and grad_x.shape == x.shape
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(p.grad, expected[name], err_msg=name)


def test_sequential_gradcheck_wrt_input(rng):
    model = L.Sequential(L.Conv2d(1, 2, 3, rng=0), L.Softplus(), L.AvgPool2d(2), L.Flatten(),
                         L.Linear(2 * 2 * 2, 3, rng=0), L.Sigmoid(), L.Mish()).astype(np.float64)
    x = rng.standard_normal((2, 1, 6, 6))
    errors = cn.gradcheck(lambda v: model(v), [x], backward=lambda g, v: (model(v), model.backward(g))[1])
    assert errors[0] < 1e-7


def test_sequential_construction_and_indexing():
    a, b, c = L.Linear(3, 4, rng=0), L.ReLU(), L.Linear(4, 2, rng=0)
    s1, s2 = L.Sequential([a, b, c]), L.Sequential(a, b, c)
    assert s1.layers == s2.layers == [a, b, c]
    assert len(s1) == 3 and s1[0] is a and s1[-1] is c and list(s1) == [a, b, c]
    assert isinstance(s1[:2], L.Sequential) and len(s1[:2]) == 2
    assert [n for n, _ in s1.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert s1.num_parameters() == 3 * 4 + 4 + 4 * 2 + 2
    nested = L.Sequential(L.Sequential(a, b), c)
    assert [n for n, _ in nested.named_parameters()] == ["0.0.weight", "0.0.bias", "1.weight", "1.bias"]
    assert L.Sequential().forward(np.ones(3)).tolist() == [1, 1, 1]
    s1.append(L.Softsign())
    assert len(s1) == 4
    with pytest.raises(TypeError, match="forget the parentheses"):
        L.Sequential([a, L.ReLU])
    with pytest.raises(TypeError, match="cannot be chained"):
        L.Sequential(L.MaxPool2d(2, return_indices=True))(np.zeros((1, 1, 4, 4)))


def test_repr_like_torch():
    model = L.Sequential([L.Conv2d(1, 6, 5, padding=2), L.ReLU(), L.MaxPool2d(2), L.Flatten(),
                          L.Linear(400, 120), L.LeakyReLU(0.1), L.AvgPool2d(2)])
    ref = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(400, 120), nn.LeakyReLU(0.1), nn.AvgPool2d(2))
    assert repr(model) == repr(ref)
    assert repr(L.Conv2d(3, 8, 3, stride=2, bias=False)) == repr(nn.Conv2d(3, 8, 3, stride=2, bias=False))
    assert repr(L.ConvTranspose2d(4, 2, 2, stride=2)) == repr(nn.ConvTranspose2d(4, 2, 2, stride=2))


# ---------------------------------------------------------------------------------------------- parameters

def test_gradients_accumulate_until_zero_grad(rng):
    layer = L.Linear(3, 2, rng=0, dtype=np.float64)
    x, g = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    assert layer.weight.grad is None
    layer(x)
    layer.backward(g)
    first = layer.weight.grad.copy()
    layer(x)
    layer.backward(g)
    np.testing.assert_allclose(layer.weight.grad, 2 * first)
    layer.zero_grad()
    assert layer.weight.grad is None and layer.bias.grad is None
    assert [n for n, _ in layer.named_grads()] == ["weight", "bias"]


def test_initialisation_is_seeded_and_scaled():
    a = L.Conv2d(16, 32, 3, rng=7)
    b = L.Conv2d(16, 32, 3, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    assert a.weight.dtype == np.float32 and np.all(a.bias.data == 0)
    fan_in = 16 * 9
    assert a.weight.data.std() == pytest.approx(np.sqrt(2 / fan_in), rel=0.05)  # He
    x = L.Linear(300, 200, init="xavier", rng=0)
    bound = np.sqrt(6 / 500)
    assert np.abs(x.weight.data).max() <= bound and np.abs(x.weight.data).max() > 0.95 * bound
    L.manual_seed(3)
    c = L.Linear(5, 5)
    L.manual_seed(3)
    np.testing.assert_array_equal(L.Linear(5, 5).weight.data, c.weight.data)
    with pytest.raises(ValueError, match="init must be 'he' or 'xavier'"):
        L.Linear(2, 2, init="normal")
    with pytest.raises(TypeError, match="rng must be"):
        L.Linear(2, 2, rng="seed")


def test_state_dict_round_trip_and_torch_exchange(rng):
    model = small_cnn(rng=1)
    state = model.state_dict()
    assert all(v.dtype == np.float32 for v in state.values())
    state["0.weight"][:] = 0  # a copy: the model is untouched
    assert model[0].weight.data.any()
    other = small_cnn(rng=2)
    other.load_state_dict(model.state_dict())
    x = rng.standard_normal((2, 2, 8, 8)).astype(np.float32)
    np.testing.assert_array_equal(other(x), model(x))
    # torch -> ours, straight from torch's state_dict (tensors)
    ref = torch_small_cnn()
    model.load_state_dict(ref.state_dict())
    assert model[0].weight.dtype == np.float32
    with torch.no_grad():
        expected = ref(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model.eval()(x), expected, rtol=1e-5, atol=1e-6)
    # errors
    with pytest.raises(KeyError, match=r"missing keys \['10.bias'\]"):
        model.load_state_dict({k: v for k, v in model.state_dict().items() if k != "10.bias"})
    bad = model.state_dict()
    bad["7.weight"] = np.zeros((3, 3))
    with pytest.raises(ValueError, match=r"7.weight has shape \(3, 3\) but the parameter has shape \(8, 6\)"):
        model.load_state_dict(bad)
    model.load_state_dict({"0.bias": np.ones(4)}, strict=False)
    assert np.all(model[0].bias.data == 1)


def test_astype(rng):
    model = small_cnn().astype(np.float64)
    assert all(p.dtype == np.float64 for p in model.parameters())
    assert model(rng.standard_normal((1, 2, 8, 8))).dtype == np.float64
    with pytest.raises(TypeError, match="float type"):
        model.astype(np.int32)


@pytest.mark.parametrize("make, error, message", [
    (lambda: L.Conv2d(0, 4, 3), ValueError, "in_channels must be a positive int"),
    (lambda: L.Conv2d(3, 4, 0), ValueError, "kernel_size must be a positive int"),
    (lambda: L.Conv2d(3, 4, 3, groups=2), ValueError, "groups=2 must divide"),
    (lambda: L.Linear(3, 2.5), ValueError, "out_features must be a positive int"),
    (lambda: L.Linear(3, 2, dtype=np.int64), TypeError, "dtype must be a float type"),
    (lambda: L.ReLU().backward(np.ones(3)), RuntimeError, "call forward first"),
    (lambda: L.Conv2d(3, 4, 3)(np.zeros((1, 2, 5, 5), np.float32)), ValueError, "input has 2 channels but weight expects 3"),
])
def test_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_kernel_size_must_be_an_int_or_a_pair():
    with pytest.raises(ValueError, match=r"ConvTranspose2d: kernel_size must be a positive int or a pair of them, "
                                         r"got \(3, 3, 3\)"):
        L.ConvTranspose2d(2, 2, (3, 3, 3))
    assert L.Conv2d(2, 2, [3, 2]).kernel_size == (3, 2)


def _every_layer():
    """One instance of every layer class, built with its simplest arguments, and an input for it."""
    x4 = np.ones((1, 2, 4, 4))
    layers = [(L.Conv2d(2, 2, 3), x4), (L.ConvTranspose2d(2, 2, 3), x4), (L.MaxPool2d(2), x4),
              (L.AvgPool2d(2), x4), (L.Upsample(scale_factor=2), x4), (L.Linear(4, 3), x4),
              (L.Flatten(), x4), (L.Dropout(), x4), (L.Sequential(L.ReLU()), x4)]
    done = {type(layer) for layer, _ in layers} | {L.Module, L.Parameter, L.MaxUnpool2d}  # unpool: see above
    rest = {getattr(L, n) for n in L.__all__} - done
    layers += [(cls(), x4) for cls in sorted((c for c in rest if isinstance(c, type)), key=lambda c: c.__name__)]
    return [pytest.param(layer, x, id=type(layer).__name__) for layer, x in layers]


@pytest.mark.parametrize("layer, x", _every_layer())
def test_backward_needs_a_forward_first(layer, x):
    layer = layer.astype(np.float64)
    assert not hasattr(layer, "x") or isinstance(layer, L.Sequential)
    if not isinstance(layer, L.Sequential):
        with pytest.raises(RuntimeError, match=f"{type(layer).__name__}.backward: call forward first"):
            layer.backward(np.ones(3))
    out = layer(x)
    assert layer.backward(np.ones_like(out)).shape == x.shape  # after a forward pass it works


def test_a_layer_written_by_hand_takes_part_like_the_built_in_ones(rng):
    """A student's own layer: a Module with a Parameter attribute and its two passes (here y = a * x)."""

    class Scale(L.Module):
        def __init__(self):
            self.a = L.Parameter(np.array([2.0]))

        def forward(self, x):
            self.x = x
            return self.a.data * x

        def backward(self, grad_out):
            self.a.accumulate(np.array([(grad_out * self.x).sum()]))
            return grad_out * self.a.data

    model = L.Sequential(L.Linear(3, 2, rng=0, dtype=np.float64), Scale())
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "1.a"]
    assert list(model.state_dict()) == ["0.weight", "0.bias", "1.a"]
    x = rng.standard_normal((4, 3))
    errors = cn.gradcheck(lambda v: model(v), [x], backward=lambda g, v: (model(v), model.backward(g))[1])
    assert errors[0] < 1e-7
    model.zero_grad()
    model.backward(np.ones_like(model(x)))
    np.testing.assert_allclose(model[1].a.grad, [model[0](x).sum()])  # dL/da = sum of Scale's inputs
    model.zero_grad()
    assert model[1].a.grad is None
