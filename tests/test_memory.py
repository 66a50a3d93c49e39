"""cnnlab/_memory.py: the first op of either backend lets malloc keep what a training step frees."""

from __future__ import annotations

import resource
import sys

import numpy as np
import pytest
import torch

import cnnlab._memory as memory
import cnnlab.torch as ct
from cnnlab.numpy import fast

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")


def _page_faults_of_a_fresh_16_mib_array() -> int:
    """Minor page faults of allocating, filling and freeing a 16 MiB array (a convolution's columns)."""
    np.ones(4 * 2**20, dtype=np.float32)  # once before: a block the allocator may keep
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    np.ones(4 * 2**20, dtype=np.float32)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def _first_fast_op():
    fast.relu(np.ones(3, dtype=np.float32))


def _first_torch_node():
    ct.relu(torch.ones(3, requires_grad=True)).sum().backward()


@pytest.mark.parametrize("first_op", [_first_fast_op, _first_torch_node], ids=["cnnlab.numpy.fast", "cnnlab.torch"])
def test_the_first_op_keeps_freed_memory_and_saves_the_next_steps_page_faults(monkeypatch, first_op):
    """A training step frees and allocates the same large arrays: once the first op of either backend has run,
    the next 16 MiB array reuses freed memory instead of faulting in 4096 new pages."""
    monkeypatch.setattr(memory, "KEEP_FREED_MEMORY", True)
    first_op()
    assert memory.KEEP_FREED_MEMORY is False  # applied, once
    assert memory.keep_freed_memory() is True
    assert _page_faults_of_a_fresh_16_mib_array() < 100


def test_keep_freed_memory_false_keeps_glibcs_defaults(monkeypatch):
    """Set to False before the first op, nothing is applied (the flag is how a user opts out)."""
    applied = []
    monkeypatch.setattr(memory, "KEEP_FREED_MEMORY", False)
    monkeypatch.setattr(memory, "keep_freed_memory", lambda: applied.append(1))
    _first_torch_node()
    _first_fast_op()
    assert applied == []
