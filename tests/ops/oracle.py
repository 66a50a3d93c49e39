"""What the op tests share: torch as the oracle, the tolerances they compare with, and calling a backend.

Every op test runs once per backend (the ``backend`` fixture of ``tests/conftest.py``) and checks it
against ``torch`` in float64 with autograd.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

torch = pytest.importorskip("torch")
F = torch.nn.functional


def property_settings(max_examples: int) -> settings:
    """Hypothesis settings for a property test that takes the ``backend`` fixture: ``max_examples``
    examples in the default profile (the explore profile draws more: see tests/conftest.py), no deadline.
    The fixture is stateless (it only picks a module), so sharing it between examples is safe and the
    function-scoped-fixture health check is switched off."""
    scale = settings.default.max_examples / 100  # the loaded profile's max_examples; 100 in the default one
    return settings(deadline=None, max_examples=max(1, round(max_examples * scale)),
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def relative_error(actual, expected, *, symmetric=False, scale=0.0) -> float:
    """Normwise relative error ``||actual - expected|| / ||expected||``, after asserting the shapes match.

    ``symmetric``: divide by ``||actual|| + ||expected||`` instead (neither side is the reference).
    ``scale``: never divide by less than this; see :func:`assert_close`."""
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}"
    size = np.linalg.norm(expected.ravel()) + (np.linalg.norm(actual.ravel()) if symmetric else 0.0)
    return float(np.linalg.norm((actual - expected).ravel()) / max(size, scale, np.finfo(float).tiny))


def assert_close(actual, expected, tol=1e-10, *, symmetric=False, scale=0.0, atol=None):
    """Assert the same shape and, by default, :func:`relative_error` ``<= tol`` (1e-10: in float64 only
    the order of the sums differs from torch).

    ``symmetric``, ``scale``: as in :func:`relative_error`. ``scale`` is the size below which a result is
    all rounding: a gradient that nearly cancels (softmax backward of near one-hot scores) is compared
    relative to the gradient flowing in.

    ``atol``: compare element by element instead, ``|actual - expected| <= atol + tol * |expected|``
    (``np.testing.assert_allclose``): values within about ``atol / tol`` of 0 are compared absolutely,
    because there torch itself is only accurate to about ``atol`` (tanh' = 1 - tanh^2 in the tails, sinc
    near the zeros of sin)."""
    if atol is not None:
        actual, expected = np.asarray(actual), np.asarray(expected)
        assert actual.shape == expected.shape
        np.testing.assert_allclose(actual, expected, rtol=tol, atol=atol)
        return
    err = relative_error(actual, expected, symmetric=symmetric, scale=scale)
    assert err <= tol, f"relative error {err:.3g} > {tol}"


def assert_grads_close(ours, theirs, **tolerance):
    """Gradient by gradient: ``None`` where torch has none (an input that was ``None``, as an absent bias),
    else :func:`assert_close` with ``tolerance``."""
    assert len(ours) == len(theirs)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if b is None:
            assert a is None, f"gradient {i} should be None"
        else:
            try:
                assert_close(a, b, **tolerance)
            except AssertionError as error:
                raise AssertionError(f"gradient {i}: {error}") from None


def randn(seed, *shape, dtype=np.float64):
    """Standard normal numbers of ``shape`` from ``np.random.default_rng(seed)``, as ``dtype``."""
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def call(backend, fn, *args, **kwargs):
    """The backend's function named ``fn`` on NumPy arrays, positional or keyword, or lists of them (moved in
    with ``backend.tensor``; other arguments, such as an int kernel_size, None or an array that is already
    the backend's, pass as they are); the result back as NumPy (``backend.numpy``)."""
    (f,) = backend.fns(fn)

    def native(value):
        if isinstance(value, np.ndarray):
            return backend.tensor(value)
        return [native(v) for v in value] if isinstance(value, list) else value  # a penalty's list of params

    return backend.numpy(f(*map(native, args), **{k: native(v) for k, v in kwargs.items()}))


def bad_call(case_id, fn, *args, error, match, **kwargs):
    """One row of a table of calls that must fail, for ``test_rejects_bad_input``: ``fn(*args, **kwargs)``
    (through :func:`call`) raises ``error`` with a message that ``match`` finds (``re.search``).
    A ``pytest.param`` of ``fn, args, kwargs, error, match`` named ``case_id``."""
    return pytest.param(fn, args, kwargs, error, match, id=case_id)


def torch_oracle(fn, arrays, grad_out=None, **kwargs):
    """torch's answer in float64: ``fn(*arrays, **kwargs)`` as NumPy (a tuple of them where ``fn`` returns
    a tuple, e.g. with ``return_indices``), and given ``grad_out`` also the gradients of
    ``sum(output * grad_out)`` by autograd, one per array (``None`` for an array that is ``None``).

    ``fn``: a callable on tensors, or the name of one in ``torch.nn.functional``. Where ``fn`` returns a
    tuple, the gradient flows from its first element."""
    fn = getattr(F, fn) if isinstance(fn, str) else fn
    ts = [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # conv2d's padding="same" with an even kernel warns about a copy
        out = fn(*ts, **kwargs)
    result = tuple(o.detach().numpy() for o in out) if isinstance(out, tuple) else out.detach().numpy()
    if grad_out is None:
        return result
    values = out[0] if isinstance(out, tuple) else out
    values.backward(torch.as_tensor(grad_out, dtype=values.dtype))
    return result, [None if t is None else t.grad.numpy() for t in ts]
