"""cnnlab.torch.nn layers against torch.nn (the oracle), with torch.optim and lr_scheduler."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import cnnlab.torch as ct  # noqa: E402
from cnnlab.torch import nn  # noqa: E402

D = torch.float64


def close(a, b, tol=1e-10):
    torch.testing.assert_close(a, b, rtol=tol, atol=tol)


def compare(ours, theirs, x, tol=1e-10):
    """Same weights, then the same output and the same gradients of input and parameters."""
    ct.copy_weights(theirs, ours)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, yb = ours(xa), theirs(xb)
    close(ya, yb, tol)
    g = torch.randn_like(ya)
    ya.backward(g)
    yb.backward(g)
    close(xa.grad, xb.grad, tol)
    for (name, pa), (_, pb) in zip(ours.named_parameters(), theirs.named_parameters()):
        close(pa.grad, pb.grad, tol)


def x(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=D)


PAIRS = [  # (id, ours, torch's, input shape)
    ("Conv2d", lambda: nn.Conv2d(3, 4, 3, stride=2, padding=1, dtype=D, device="cpu"),
     lambda: torch.nn.Conv2d(3, 4, 3, stride=2, padding=1, dtype=D), (2, 3, 7, 6)),
    ("Conv2d groups same", lambda: nn.Conv2d(4, 6, (3, 2), padding="same", dilation=2, groups=2, bias=False, dtype=D,
                                             device="cpu"),
     lambda: torch.nn.Conv2d(4, 6, (3, 2), padding="same", dilation=2, groups=2, bias=False, dtype=D), (2, 4, 6, 6)),
    ("ConvTranspose2d", lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2,
                                                   dtype=D, device="cpu"),
     lambda: torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, dtype=D), (2, 4, 3, 5)),
    ("MaxPool2d", lambda: nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
     lambda: torch.nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), (2, 3, 7, 8)),
    ("AvgPool2d", lambda: nn.AvgPool2d(2, padding=1, count_include_pad=False),
     lambda: torch.nn.AvgPool2d(2, padding=1, count_include_pad=False), (2, 3, 5, 6)),
    ("Upsample nearest", lambda: nn.Upsample(scale_factor=2), lambda: torch.nn.Upsample(scale_factor=2), (1, 2, 3, 4)),
    ("Upsample bilinear", lambda: nn.Upsample(size=(7, 5), mode="bilinear"),
     lambda: torch.nn.Upsample(size=(7, 5), mode="bilinear"), (1, 2, 3, 4)),
    ("Linear", lambda: nn.Linear(5, 3, dtype=D, device="cpu"), lambda: torch.nn.Linear(5, 3, dtype=D), (4, 5)),
    ("Dense no bias", lambda: nn.Dense(5, 3, bias=False, dtype=D, device="cpu"),
     lambda: torch.nn.Linear(5, 3, bias=False, dtype=D), (2, 4, 5)),
    ("Flatten", lambda: nn.Flatten(), lambda: torch.nn.Flatten(), (2, 3, 4, 5)),
    ("Sigmoid", lambda: nn.Sigmoid(), lambda: torch.nn.Sigmoid(), (3, 7)),
    ("Tanh", lambda: nn.Tanh(), lambda: torch.nn.Tanh(), (3, 7)),
    ("Softplus", lambda: nn.Softplus(beta=2, threshold=5), lambda: torch.nn.Softplus(beta=2, threshold=5), (3, 7)),
    ("ReLU", lambda: nn.ReLU(), lambda: torch.nn.ReLU(), (3, 7)),
    ("LeakyReLU", lambda: nn.LeakyReLU(0.2), lambda: torch.nn.LeakyReLU(0.2), (3, 7)),
    ("ELU", lambda: nn.ELU(alpha=0.5), lambda: torch.nn.ELU(alpha=0.5), (3, 7)),
    ("Softsign", lambda: nn.Softsign(), lambda: torch.nn.Softsign(), (3, 7)),
    ("LogSigmoid", lambda: nn.LogSigmoid(), lambda: torch.nn.LogSigmoid(), (3, 7)),
    ("Swish", lambda: nn.Swish(), lambda: torch.nn.SiLU(), (3, 7)),
    ("SiLU", lambda: nn.SiLU(), lambda: torch.nn.SiLU(), (3, 7)),
    ("Mish", lambda: nn.Mish(), lambda: torch.nn.Mish(), (3, 7)),
    ("Sequential", lambda: nn.Sequential([nn.Conv2d(1, 2, 3, dtype=D, device="cpu"), nn.ReLU(), nn.MaxPool2d(2),
                                          nn.Flatten(), nn.Linear(2 * 3 * 3, 4, dtype=D, device="cpu"), nn.Tanh()]),
     lambda: torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, dtype=D), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                 torch.nn.Flatten(), torch.nn.Linear(2 * 3 * 3, 4, dtype=D), torch.nn.Tanh()),
     (3, 1, 8, 8)),
]


@pytest.mark.parametrize("ours, theirs, shape", [p[1:] for p in PAIRS], ids=[p[0] for p in PAIRS])
def test_layer_matches_torch_nn(ours, theirs, shape):
    torch.manual_seed(0)
    compare(ours(), theirs(), x(*shape))


def test_step_and_sinc_layers():
    """The two activations torch.nn lacks: the step (gradient 0) and the unnormalised sinc."""
    a = x(4, 5).requires_grad_()
    nn.Step()(a).sum().backward()
    assert torch.equal(a.grad, torch.zeros_like(a))
    b = x(4, 5).requires_grad_()
    y = nn.Sinc()(b)
    close(y, torch.sinc(b / math.pi))
    y.sum().backward()
    close(b.grad, ct.sinc_grad(b.detach()))


def test_max_pool_with_indices_and_unpool_match_torch():
    a = x(2, 3, 6, 8)
    out, idx = nn.MaxPool2d(2, return_indices=True)(a)
    t_out, t_idx = torch.nn.MaxPool2d(2, return_indices=True)(a)
    assert torch.equal(out, t_out) and torch.equal(idx, t_idx)
    v = out.clone().requires_grad_()
    y = nn.MaxUnpool2d(2)(v, idx, output_size=a.shape)
    assert torch.equal(y, torch.nn.MaxUnpool2d(2)(out, idx, output_size=a.shape))
    y.backward(torch.ones_like(y))
    assert torch.equal(v.grad, torch.ones_like(v))


def test_dropout_layer_train_and_eval():
    layer = nn.Dropout(p=0.25)
    a = torch.ones(200, 100, dtype=D)
    y = layer(a)
    kept = y != 0
    assert abs(kept.double().mean().item() - 0.75) < 0.02
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / 0.75))
    layer.eval()
    assert torch.equal(layer(a), a)


def test_dropout_layer_with_a_seed_draws_the_numpy_layers_masks():
    from cnnlab.numpy import layers as L

    a = np.ones((4, 10), np.float32)
    ours, theirs = nn.Dropout(0.5, rng=7), L.Dropout(0.5, rng=7)
    for _ in range(3):  # the same stream of masks, step after step
        np.testing.assert_array_equal(ct.to_numpy(ours(ct.to_tensor(a, device="cpu"))), theirs(a))


def test_sequential_accepts_a_list_and_has_torch_names():
    model = nn.Sequential([nn.Conv2d(1, 6, 5, device="cpu"), nn.ReLU(), nn.Flatten(), nn.Linear(6 * 4 * 4, 10, device="cpu")])
    same = nn.Sequential(*model)
    ref = torch.nn.Sequential(torch.nn.Conv2d(1, 6, 5), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(96, 10))
    assert list(model.state_dict()) == list(ref.state_dict()) == ["0.weight", "0.bias", "3.weight", "3.bias"]
    assert [k for k, _ in same.named_parameters()] == list(ref.state_dict())
    assert model(torch.zeros(2, 1, 8, 8)).shape == (2, 10)


def test_sequential_rejects_a_class_instead_of_a_layer():
    with pytest.raises(TypeError, match=r"Sequential: layer 1 is a type, not a layer .*ReLU instead of ReLU\(\)"):
        nn.Sequential([nn.Linear(2, 2, device="cpu"), nn.ReLU])


def test_sequential_rejects_a_layer_returning_a_tuple():
    model = nn.Sequential([nn.MaxPool2d(2, return_indices=True), nn.ReLU()])
    with pytest.raises(TypeError, match="returned a tuple"):
        model(torch.zeros(1, 1, 4, 4))


def test_layers_train_with_torch_optim_and_lr_scheduler():
    torch.manual_seed(0)
    model = nn.Sequential([nn.Linear(2, 16, device="cpu"), nn.Tanh(), nn.Linear(16, 1, device="cpu")])
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=200)
    data = torch.rand(64, 2) * 2 - 1
    target = (data[:, :1] * data[:, 1:]).detach()  # xy: needs the hidden layer
    first = None
    for _ in range(200):
        loss = ct.mse_loss(model(data), target)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    assert loss.item() < 0.05 * first
    assert sched.get_last_lr()[0] == pytest.approx(0.0, abs=1e-9)


def test_weights_from_a_seed_equal_the_numpy_layers():
    from cnnlab.numpy import layers as L

    for ours, theirs in [(nn.Conv2d(3, 8, 3, rng=5, device="cpu"), L.Conv2d(3, 8, 3, rng=5)),
                         (nn.Linear(7, 4, init="xavier", rng=np.random.default_rng(1), device="cpu"),
                          L.Linear(7, 4, init="xavier", rng=np.random.default_rng(1))),
                         (nn.ConvTranspose2d(2, 4, 2, groups=2, rng=3, dtype=D, device="cpu"),
                          L.ConvTranspose2d(2, 4, 2, groups=2, rng=3, dtype=np.float64))]:
        np.testing.assert_array_equal(ct.to_numpy(ours.weight), theirs.weight.data)
        np.testing.assert_array_equal(ct.to_numpy(ours.bias), theirs.bias.data)


def test_he_and_xavier_statistics_from_torchs_generator():
    torch.manual_seed(0)
    w = nn.Conv2d(16, 32, 3, device="cpu").weight
    assert w.dtype == torch.float32 and w.std().item() == pytest.approx(math.sqrt(2 / (16 * 9)), rel=0.05)
    w = nn.Linear(100, 300, init="xavier", rng=torch.Generator().manual_seed(0), device="cpu").weight
    bound = math.sqrt(6 / 400)
    assert w.abs().max().item() <= bound and w.abs().max().item() > 0.95 * bound


def test_dtype_and_device_arguments():
    layer = nn.Conv2d(1, 2, 3, dtype=np.float64, device="cpu")
    assert layer.weight.dtype == torch.float64 and layer.bias.device.type == "cpu"
    assert nn.Linear(2, 3).weight.device.type == ct.default_device().type
    with pytest.raises(TypeError, match=r"Linear: dtype must be a float type"):
        nn.Linear(2, 3, dtype=torch.int64)
    with pytest.raises(ValueError, match=r"Conv2d: groups=2 must divide in_channels=3"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match=r"Linear: in_features must be a positive int, got 0"):
        nn.Linear(0, 3)


def test_repr_reads_like_torch():
    assert repr(nn.Conv2d(1, 6, 5, padding=2, device="cpu")) == \
        "Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))"
    assert repr(nn.Linear(4, 2, device="cpu")) == repr(torch.nn.Linear(4, 2))
    assert repr(nn.LeakyReLU(0.1)) == "LeakyReLU(negative_slope=0.1)"


def test_the_two_backends_have_the_same_layers_with_the_same_arguments():
    """A model written for cnnlab.numpy builds with cnnlab.torch.nn by changing the import. Allowed differences:
    ``manual_seed`` is NumPy's only (torch has torch.manual_seed), ``device`` is torch's only, and ``dtype``
    defaults to float32 in each backend's spelling; Module and Parameter are each backend's own."""
    import inspect

    from cnnlab.numpy import layers as L

    assert set(L.__all__) - {"manual_seed"} == set(nn.__all__)
    for name in set(nn.__all__) - {"Module", "Parameter"}:
        ours, theirs = getattr(L, name), getattr(nn, name)
        if isinstance(ours, type):  # a layer: compare the constructors (else init_weight itself)
            ours, theirs = ours.__init__, theirs.__init__
        a = {k: p.default for k, p in inspect.signature(ours).parameters.items()}
        b = {k: p.default for k, p in inspect.signature(theirs).parameters.items() if k != "device"}
        if "dtype" in a:
            assert (a.pop("dtype"), b.pop("dtype")) == (np.float32, torch.float32), name
        assert a == b, name
