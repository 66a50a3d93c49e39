"""How this process's malloc treats the large blocks a training step frees (shared by both backends).

A training step frees and allocates the same large arrays every time (a convolution's columns, its gradient,
the pooling windows). By default glibc returns every freed block over 128 KiB to the kernel (the threshold adapts
up to 32 MiB), and the first write into each 4 KiB page of the next such block is a page fault. Measured here:
page faults took 6.5 ms of the 21 ms of the training net's second convolution (forward + backward) with
cnnlab.numpy, and a cnnlab.torch epoch of that net took 0.54 s instead of 0.44 s (110 000 to 124 000 page faults
per epoch instead of about a dozen). torch's CPU performance guide gets the same with jemalloc or tcmalloc.

``keep_freed_memory`` lets glibc keep them: blocks up to 32 MiB come from the heap and up to 256 MiB of free heap
is kept, so the process stays at its peak size. For the whole process, so it happens once, on the first op that
needs it (``cnnlab.numpy.fast``'s first op, cnnlab.torch's first autograd node), never at import; setting
``KEEP_FREED_MEMORY = False`` before then keeps glibc's defaults. Nothing happens without glibc.
"""

from __future__ import annotations

#: Apply ``keep_freed_memory`` on the next ``keep_freed_memory_once`` (then it is False).
KEEP_FREED_MEMORY = True


def keep_freed_memory() -> bool:
    """Let glibc's malloc keep the large blocks it frees for reuse (see the module's docstring); True when it could
    (False without glibc: macOS, Windows, musl without ``mallopt``)."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    return bool(mallopt(M_MMAP_THRESHOLD, 32 * 2**20)) and bool(mallopt(M_TRIM_THRESHOLD, 256 * 2**20))


def keep_freed_memory_once() -> None:
    """``keep_freed_memory`` the first time it is called while ``KEEP_FREED_MEMORY`` is True; then nothing."""
    global KEEP_FREED_MEMORY
    if KEEP_FREED_MEMORY:
        KEEP_FREED_MEMORY = False
        keep_freed_memory()
