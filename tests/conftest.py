"""Shared fixtures. The backend is a test parameter (the minitorch habit): one test body checks
``numpy``, ``torch-cpu`` and ``torch-cuda``; the cuda case skips where no GPU is present."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import settings

# Property tests draw the same examples on every run (CI must not fail on one machine and pass on
# the next); `pytest -m hypothesis --hypothesis-profile=explore` draws fresh ones, EXPLORE_SCALE times as
# many, to hunt for new failures (scripts/test.sh runs it after the suite; print_blob: a failure prints
# the @reproduce_failure line that replays it). A test's own max_examples is its count in the default
# profile: tests/ops/oracle.py's property_settings scales it by the profile's max_examples / 100.
EXPLORE_SCALE = 3
settings.register_profile("default", derandomize=True, deadline=None, max_examples=100)
settings.register_profile("explore", derandomize=False, deadline=None, max_examples=100 * EXPLORE_SCALE,
                          print_blob=True)
settings.load_profile("default")


@dataclass(frozen=True)
class Backend:
    """An op library (``cnnlab.numpy`` or ``cnnlab.torch``) and how to move arrays in and out of it."""

    name: str
    ops: object
    device: str | None = None  # torch device, None for NumPy

    def tensor(self, array):
        """NumPy array (or None) -> the backend's native array, keeping the dtype."""
        if array is None or self.device is None:
            return array
        import torch

        return torch.tensor(np.asarray(array)).to(self.device)  # a copy; keeps dtype and 0-d shapes

    def fns(self, *names):
        """The backend's functions by name: ``sigmoid, sigmoid_grad = backend.fns("sigmoid", "sigmoid_grad")``."""
        return [getattr(self.ops, name) for name in names]

    def numpy(self, value):
        """Native array (or a tuple of them, or None) -> NumPy."""
        if isinstance(value, (tuple, list)):
            return type(value)(self.numpy(v) for v in value)
        if value is None or self.device is None:
            return value
        return value.detach().cpu().numpy()


def _backend(name: str) -> Backend:
    if name == "numpy":
        return Backend(name, importlib.import_module("cnnlab.numpy"))
    torch = pytest.importorskip("torch")
    device = name.split("-", 1)[1]
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("torch-cuda: no CUDA GPU on this machine")
    return Backend(name, importlib.import_module("cnnlab.torch"), device)


BACKENDS = ["numpy", "torch-cpu", "torch-cuda"]


@pytest.fixture(params=BACKENDS)
def backend(request) -> Backend:
    return _backend(request.param)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(params=["numba", "numpy", "numba, 3 pieces", "numpy, 3 pieces"])
def fast_path(request, monkeypatch):
    """cnnlab.numpy.fast on its compiled loops (skipped without numba), then on its NumPy path; each as it runs
    (small inputs: one piece) and with all work cut into 3 pieces on 3 threads (``fast._in_pieces``)."""
    from cnnlab.numpy import fast

    compiled = request.param.startswith("numba")
    monkeypatch.setattr(fast, "USE_NUMBA", True)
    if compiled and fast.numba_kernels() is None:
        pytest.skip("numba is not installed")
    monkeypatch.setattr(fast, "USE_NUMBA", compiled)
    if "pieces" in request.param:
        monkeypatch.setattr(fast, "THREADS", 3)
        monkeypatch.setattr(fast, "PIECES_FROM", 0)
    return request.param
