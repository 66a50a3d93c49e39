"""Every differentiable op of cnnlab.torch is a torch.autograd.Function with a hand-written backward.

One parametrised test runs ``torch.autograd.gradcheck`` (float64, central differences against the
Function's backward) on every op; others check that autograd really runs our backward (the grad_fn
is our Function) and that no op secretly calls the torch.nn.functional op it is tested against.
"""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
import cnnlab.torch as ct  # noqa: E402

F = torch.nn.functional
D = torch.float64


def t(*shape, seed=0, low=None):
    """A float64 tensor of random numbers that requires grad (|x| >= low when given: away from kinks)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(*shape, generator=g, dtype=D)
    if low is not None:
        x = torch.where(x >= 0, x + low, x - low)
    return x.requires_grad_()


def distinct(*shape, seed=0):
    """Distinct values (no ties, so max pooling is differentiable everywhere)."""
    g = torch.Generator().manual_seed(seed)
    n = math.prod(shape)
    return (torch.randperm(n, generator=g).to(D).reshape(shape) / n + 0.01).requires_grad_()


def _unpool_case():
    x = distinct(2, 3, 6, 5)
    pooled, idx = F.max_pool2d(x.detach(), 2, return_indices=True)
    return (pooled.clone().requires_grad_(),), dict(indices=idx)


KEEP = torch.rand(3, 4, 5, generator=torch.Generator().manual_seed(1)) > 0.4

# (id, op, make inputs -> (tensors, fixed keyword tensors), keyword arguments)
CASES = [
    ("conv2d", ct.conv2d, lambda: ((t(2, 3, 6, 5), t(4, 3, 3, 2, seed=1), t(4, seed=2)), {}), dict(padding=1)),
    ("conv2d no bias", ct.conv2d, lambda: ((t(1, 4, 7, 7), t(2, 2, 3, 3, seed=1)), {}),
     dict(stride=(2, 1), padding=(0, 2), dilation=(1, 2), groups=2)),
    ("conv2d same", ct.conv2d, lambda: ((t(2, 2, 5, 6), t(3, 2, 2, 3, seed=1), t(3, seed=2)), {}),
     dict(padding="same", dilation=2)),
    ("conv_transpose2d", ct.conv_transpose2d, lambda: ((t(2, 4, 3, 4), t(4, 3, 3, 2, seed=1), t(6, seed=2)), {}),
     dict(stride=2, padding=1, output_padding=1, groups=2)),
    ("conv_transpose2d dilated", ct.conv_transpose2d, lambda: ((t(1, 2, 3, 3), t(2, 2, 2, 3, seed=1)), {}),
     dict(stride=(1, 2), dilation=(3, 1), output_padding=(2, 1))),
    ("max_pool2d", ct.max_pool2d, lambda: ((distinct(2, 3, 6, 7),), {}), dict(kernel_size=2)),
    ("max_pool2d overlapping", ct.max_pool2d, lambda: ((distinct(2, 2, 7, 6),), {}),
     dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("max_pool2d dilated", ct.max_pool2d, lambda: ((distinct(1, 2, 7, 7),), {}),
     dict(kernel_size=(2, 3), stride=1, dilation=(2, 1))),
    ("avg_pool2d", ct.avg_pool2d, lambda: ((t(2, 3, 6, 7),), {}), dict(kernel_size=2)),
    ("avg_pool2d padded", ct.avg_pool2d, lambda: ((t(2, 2, 7, 6),), {}),
     dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    ("avg_pool2d divisor", ct.avg_pool2d, lambda: ((t(1, 2, 5, 5),), {}),
     dict(kernel_size=(2, 3), stride=(1, 2), divisor_override=4)),
    ("max_unpool2d", ct.max_unpool2d, _unpool_case, dict(kernel_size=2, output_size=(6, 5))),
    ("interpolate nearest", ct.interpolate, lambda: ((t(2, 2, 3, 4),), {}), dict(scale_factor=2.5)),
    ("interpolate bilinear", ct.interpolate, lambda: ((t(2, 2, 3, 4),), {}), dict(size=(7, 5), mode="bilinear")),
    ("interpolate bilinear corners", ct.interpolate, lambda: ((t(1, 2, 4, 3),), {}),
     dict(size=(2, 8), mode="bilinear", align_corners=True)),
    ("linear", ct.linear, lambda: ((t(3, 2, 5), t(4, 5, seed=1), t(4, seed=2)), {}), {}),
    ("linear no bias", ct.linear, lambda: ((t(6, 5), t(3, 5, seed=1)), {}), {}),
    ("flatten", ct.flatten, lambda: ((t(2, 3, 4, 5),), {}), dict(start_dim=1, end_dim=2)),
    ("dropout", ct.dropout, lambda: ((t(3, 4, 5),), dict(mask=KEEP)), dict(p=0.4)),
    ("softmax", ct.softmax, lambda: ((t(3, 5, 2),), {}), dict(dim=1)),
    ("log_softmax", ct.log_softmax, lambda: ((t(4, 6),), {}), dict(dim=-1)),
    ("cross_entropy", ct.cross_entropy, lambda: ((t(5, 4),), dict(target=torch.tensor([0, 3, 1, 1, 2]))), {}),
    ("cross_entropy per pixel", ct.cross_entropy,
     lambda: ((t(2, 3, 2, 2),), dict(target=torch.tensor([[[0, 2], [1, 1]], [[2, 2], [0, 1]]]))), {}),
    ("mse_loss", ct.mse_loss, lambda: ((t(3, 4), t(3, 4, seed=1)), {}), {}),
    ("l1_penalty", lambda a, b, **kw: ct.l1_penalty([a, b], **kw), lambda: ((t(3, 4, low=0.1), t(5, seed=1, low=0.1)), {}),
     dict(lam=0.3)),
    ("l2_penalty", lambda a, b, **kw: ct.l2_penalty([a, b], **kw), lambda: ((t(3, 4), t(5, seed=1)), {}), dict(lam=0.3)),
] + [
    (f"activation {name}", getattr(ct, name), lambda: ((t(3, 4, 5, low=0.05),), {}), kwargs)
    for name, kwargs in [("sigmoid", {}), ("tanh", {}), ("step", {}), ("softplus", dict(beta=2.0, threshold=3.0)),
                         ("relu", {}), ("softsign", {}), ("elu", dict(alpha=0.7)), ("log_sigmoid", {}),
                         ("swish", {}), ("silu", {}), ("sinc", {}), ("leaky_relu", dict(negative_slope=0.2)),
                         ("mish", {})]
]


@pytest.mark.parametrize("op, make, kwargs", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_gradcheck(op, make, kwargs):
    tensors, fixed = make()
    assert torch.autograd.gradcheck(lambda *xs: op(*xs, **fixed, **kwargs), tensors, eps=1e-6, atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("op, make, kwargs", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_autograd_runs_our_backward(op, make, kwargs):
    """The output's grad_fn is our Function's node (``_Conv2dBackward``, ...), not torch's own backward."""
    tensors, fixed = make()
    out = op(*tensors, **fixed, **kwargs)
    node = type(out.grad_fn).__name__
    assert node.startswith("_") and node.endswith("Backward"), node


def test_the_backward_is_the_stateless_backward():
    """Autograd through conv2d gives exactly what conv2d_backward gives (same function underneath)."""
    x, w, b = t(2, 3, 5, 5), t(4, 3, 3, 3, seed=1), t(4, seed=2)
    out = ct.conv2d(x, w, b, stride=2, padding=1)
    g = torch.randn_like(out)
    out.backward(g)
    for ours, stateless in zip((x.grad, w.grad, b.grad),
                               ct.conv2d_backward(g, x.detach(), w.detach(), b.detach(), stride=2, padding=1)):
        torch.testing.assert_close(ours, stateless, rtol=0, atol=0)


def test_an_input_that_needs_no_gradient_gets_none_computed(monkeypatch):
    """A network's first convolution (its input, the images, needs no gradient): the node skips the input's
    gradient (no col2im runs), the weight's and the bias's are those of the full backward."""
    from cnnlab.torch import conv

    x, w, b = t(2, 3, 5, 5).detach(), t(4, 3, 3, 3, seed=1), t(4, seed=2)
    out = ct.conv2d(x, w, b, padding=1)
    g = torch.randn_like(out)
    calls = []
    col2im = conv.col2im
    monkeypatch.setattr(conv, "col2im", lambda *a: (calls.append(1), col2im(*a))[1])
    out.backward(g)
    assert x.grad is None and calls == []
    _, grad_w, grad_b = ct.conv2d_backward(g, x, w.detach(), b.detach(), padding=1)
    assert calls == [1]  # (the stateless backward computes it, through the same col2im)
    torch.testing.assert_close(w.grad, grad_w, rtol=0, atol=0)
    torch.testing.assert_close(b.grad, grad_b, rtol=0, atol=0)


def test_a_second_backward_recomputes_what_the_first_freed():
    """conv2d's node keeps the forward's im2col columns for its backward and frees them there: a second backward
    through the same graph (retain_graph) makes them again and gives the same gradients."""
    x, w = t(2, 3, 5, 5), t(4, 3, 3, 3, seed=1)
    out = ct.conv2d(x, w, padding=1)
    g = torch.randn_like(out)
    first = torch.autograd.grad(out, (x, w), g, retain_graph=True)
    second = torch.autograd.grad(out, (x, w), g)
    for a, b in zip(first, second):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_one_node_per_op():
    """An op that uses another op's math inside its forward or backward (cross_entropy's log_softmax and softmax)
    records one node; under torch.no_grad() an op records none and gives the same numbers."""
    logits, target = t(4, 3), torch.tensor([0, 2, 1, 2])
    loss = ct.cross_entropy(logits, target)
    assert type(loss.grad_fn).__name__ == "_CrossEntropyBackward"
    assert all(f is None or "Softmax" not in type(f).__name__ for f, _ in loss.grad_fn.next_functions)
    with torch.no_grad():
        again = ct.cross_entropy(logits, target)
    assert again.grad_fn is None and again.item() == loss.item()


def test_max_pool2d_indices_have_no_gradient():
    out, idx = ct.max_pool2d(distinct(1, 1, 4, 4), 2, return_indices=True)
    assert out.requires_grad and not idx.requires_grad and idx.dtype == torch.int64


def test_numerical_gradcheck_of_the_torch_backend():
    """cnnlab.torch.gradcheck (the twin of cnnlab.numpy.gradcheck) agrees that the stateless backwards are right."""
    x, w = t(1, 2, 4, 4).detach(), t(3, 2, 2, 2, seed=1).detach()
    assert all(e < 1e-7 for e in ct.gradcheck(ct.conv2d, (x, w, None), stride=2)[:2])
    assert ct.gradcheck(ct.avg_pool2d, (x,), kernel_size=2, padding=1)[0] < 1e-7


# The torch.nn.functional (and torch) ops the tests use as oracles: ours must never call them.
ORACLES = [(F, name) for name in ("conv2d", "conv_transpose2d", "max_pool2d", "max_pool2d_with_indices", "avg_pool2d",
                                  "max_unpool2d", "interpolate", "linear", "dropout", "softmax", "log_softmax",
                                  "cross_entropy", "nll_loss", "mse_loss", "relu", "leaky_relu", "elu", "softplus",
                                  "logsigmoid", "silu", "mish", "softsign", "sigmoid")] + \
          [(torch, name) for name in ("conv2d", "conv_transpose2d", "max_pool2d", "sigmoid", "relu", "softmax",
                                      "log_softmax", "dropout", "sinc")]
# (tanh itself is a primitive, like np.tanh in the NumPy reference: both backends call it; its backward is ours.)


def test_ops_do_not_call_the_torch_op_they_are_tested_against(monkeypatch):
    def forbidden(name):
        def f(*args, **kwargs):
            raise AssertionError(f"cnnlab.torch called torch's {name}")
        return f

    for module, name in ORACLES:
        monkeypatch.setattr(module, name, forbidden(name), raising=False)
    x = distinct(2, 3, 8, 8)
    y = ct.conv2d(x, t(4, 3, 3, 3, seed=1), t(4, seed=2), padding="same")
    y = ct.conv_transpose2d(y, t(4, 2, 2, 2, seed=3), stride=2)
    y, idx = ct.max_pool2d(y, 2, return_indices=True)
    y = ct.max_unpool2d(y, idx, 2)
    y = ct.avg_pool2d(y, 2, padding=1)
    y = ct.interpolate(y, scale_factor=2, mode="bilinear")
    y = ct.interpolate(y, size=(5, 5))
    for name in ct.ACTIVATIONS:
        y = getattr(ct, name)(y) + y
    y = ct.linear(ct.flatten(ct.dropout(y, 0.2)), t(3, 2 * 25, seed=4))
    loss = (ct.cross_entropy(y, torch.tensor([0, 2])) + ct.mse_loss(ct.softmax(y), ct.log_softmax(y).exp())
            + ct.l2_penalty([y], 0.1) + ct.l1_penalty(y, 0.1))
    loss.backward()
    assert torch.isfinite(x.grad).all()
