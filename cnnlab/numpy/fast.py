"""Fast forward and backward of the ops a CNN spends its time in (cs231n's ``fast_layers.py`` idea).

The reference ops (``conv.py``, ``pool.py``, ...) are the clear versions a student reads; this module
computes the same numbers faster, for the layers to call. Tests (tests/ops/test_fast.py) hold every
function here equal to the reference and to torch, in float64 and float32. The tricks:

- Each forward returns ``(out, cache)``: what its backward needs, computed once (the im2col columns of a
  convolution, the place of every window maximum), as torch and cs231n keep it. The backward takes
  ``(grad_out, cache)`` and recomputes nothing.
- Convolution columns are laid out ``(C, KH, KW, N, OH, OW)``: the whole batch shares one matrix product
  per group (a long, thin product BLAS runs on every core), and the backward's two products read the
  saved columns as they are.
- A stride-1 convolution with at least 32 numbers per window reads whole padded rows, so each im2col row is
  one contiguous copy and col2im one contiguous addition per kernel element (``_wide_windows``); the few
  extra columns are dropped.
- The (N, C, H, W) results are stored channels first, (C, N, H, W) in memory: a convolution's product comes
  out that way, and ReLU and pooling keep the order (``_as_stored``), so no transposing copies between layers.
- With numba installed, im2col, col2im, the whole-row windows and their adjoint, small weight gradients (a first
  layer's), max pooling and relu are compiled loops (``_fast_kernels.py``), one pass over memory each. Without
  numba (or with ``USE_NUMBA = False``) the same functions run a NumPy path: same results, slower (overlapping max
  pooling: about 3x). Both paths are tested.
- Every op cuts its work into pieces of the batch (or of its planes, or numbers) and runs them at once on as many
  threads as BLAS has, BLAS on one thread meanwhile (``_in_pieces``; ``THREADS`` sets the count): the passes
  between the matrix products use every core too, and OpenBLAS's worker, which spins after each product of its
  own, is never woken. Linear layers' products run here for that reason.
- The first fast op lets glibc keep freed memory (``cnnlab/_memory.py``): a training step allocates the same
  large arrays every time, and page faults were a third of a convolution's time.

Every function checks its arguments with the reference's checks (``cnnlab._geometry``, ``cnnlab._checks``)
once, in the forward; a backward only checks its ``grad_out`` against the cache.
Arguments and results NCHW (stored in any order). Shapes: N batch, C channels, H, W input size, KH, KW
kernel, OH, OW output size, G groups, K = C_in / G * KH * KW numbers in one window of one group.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import threading
import time
from dataclasses import dataclass

import numpy as np

from .._checks import check_cross_entropy, check_float, check_grad_out, check_linear, check_shape
from .._geometry import conv2d_geometry, conv_transpose2d_geometry, pool_geometry
from .._memory import keep_freed_memory_once
from ._arrays import check_arrays
from .linear import _check_linear_backward
from .windows import col2im, pad2d, sliding_windows, unpad2d

__all__ = ["USE_NUMBA", "numba_kernels", "compile_kernels", "conv2d", "conv2d_backward", "conv_transpose2d",
           "conv_transpose2d_backward", "max_pool2d", "max_pool2d_backward", "relu", "relu_backward", "linear",
           "linear_backward", "sgd_update", "cross_entropy", "cross_entropy_backward", "THREADS", "PIECES_FROM",
           "thread_count"]

#: Use the compiled kernels when numba is installed. Set to False to force the NumPy path (the tests do).
USE_NUMBA = True
_kernels = None  # the module _fast_kernels once imported, False when numba is missing


def numba_kernels():
    """The compiled kernels (module ``_fast_kernels``), or None without numba or with ``USE_NUMBA`` False.

    Imported on first use, so ``import cnnlab.numpy`` does not pay numba's import time. Every fast op calls
    this first: the first call also lets malloc keep freed memory (``cnnlab._memory.keep_freed_memory_once``)."""
    global _kernels
    keep_freed_memory_once()
    if not USE_NUMBA:
        return None
    if _kernels is None:
        try:
            from . import _fast_kernels as kernels
        except ImportError:  # numba not installed: the NumPy path
            kernels = False
        except RuntimeError:  # numba has nowhere to keep its compiled code (a read-only install without a
            kernels = False  # writable home, e.g. the grader's sandbox): compiling in every process would cost
            # seconds each time, so the NumPy path runs (NUMBA_CACHE_DIR=<a writable folder> lifts this)
        _kernels = kernels
    return _kernels or None


# ----------------------------------------------------------------------------------------------------------------
# threads: every op's work in pieces of the batch, run at once
# ----------------------------------------------------------------------------------------------------------------

#: How many pieces (and threads) the fast ops cut their work into: None for as many as BLAS has threads.
THREADS = None
#: Work smaller than this (numbers read and written, plus multiply-adds / 32) runs in one piece: handing a piece to
#: a sleeping thread costs about 0.1 ms here (relu of 1M float32 took 0.33 ms on one thread, 0.32 ms in two pieces).
PIECES_FROM = 2**20
_workers = None  # (ThreadPoolExecutor, its size) once made
_blas = None  # threadpoolctl's controllers of the BLAS libraries loaded, once looked up
_blas_lock = threading.Lock()
_blas_own = [0, []]  # how many ops run with BLAS on one thread now, and BLAS's own thread counts meanwhile


def _blas_libraries():
    """threadpoolctl's controllers of the loaded BLAS libraries (NumPy's OpenBLAS), [] without threadpoolctl."""
    global _blas
    if _blas is None:
        try:
            from threadpoolctl import ThreadpoolController  # installed with scikit-learn
        except ImportError:
            _blas = []
        else:
            _blas = ThreadpoolController().select(user_api="blas").lib_controllers
    return _blas


def thread_count() -> int:
    """How many threads the fast ops run their pieces on: ``THREADS``, else as many as BLAS has of its own (so
    ``threadpoolctl.threadpool_limits(1)`` makes them run on the calling thread alone)."""
    with _blas_lock:
        counts = _blas_own[1] if _blas_own[0] else [lib.num_threads for lib in _blas_libraries()]
    return THREADS or max(counts + [1])


@contextlib.contextmanager
def _blas_on_one_thread():
    """BLAS on one thread while an op runs in pieces; its own counts back when the last such op ends (the user's
    threads may run ops at once: each saving and restoring the counts would leave one thread's 1 behind)."""
    libraries = _blas_libraries()
    with _blas_lock:
        if _blas_own[0] == 0:
            _blas_own[1] = [lib.num_threads for lib in libraries]
            for lib in libraries:
                lib.set_num_threads(1)
        _blas_own[0] += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_own[0] -= 1
            if _blas_own[0] == 0:
                for lib, count in zip(libraries, _blas_own[1]):
                    lib.set_num_threads(count)


def _in_pieces(n, work, size):
    """Run ``work(lo, hi)`` over ``range(n)`` (images, planes, numbers) cut into one piece per thread, on the calling
    thread and cnnlab's worker threads at once: each thread takes the next piece left until none is, so when a
    worker wakes late (a sleeping thread takes about 0.1 ms here) the caller takes its piece too. In one piece when
    ``size`` (the numbers read and written, plus multiply-adds / 32) is below ``PIECES_FROM``. BLAS runs on one
    thread meanwhile (each piece calls it) and gets its own count back at the end. Every piece writes its own part
    of the results, and sums over pieces are added in piece order: the numbers do not depend on which thread ran
    which piece.

    Why not BLAS's threads and compiled loops on the calling thread: OpenBLAS's worker spins for about 0.1 s after
    each product, so during training it holds a core that the loops between products cannot use (a parallel loop
    next to it ran 4 times slower), and the loops, half of a training step, ran on one core. So every product of a
    training step runs here, on one BLAS thread, and the spinning worker is never woken.
    """
    global _workers
    threads = thread_count() if size >= PIECES_FROM else 1
    # one piece per thread (measured on the training epoch: 0.45 s; two per thread 0.47 s, four 0.51 s)
    bounds = [n * k // threads for k in range(threads + 1)]
    pieces = [(lo, hi) for lo, hi in zip(bounds, bounds[1:]) if hi > lo] or [(0, 0)]  # n = 0: one empty piece
    with _blas_on_one_thread():
        if threads == 1 or len(pieces) == 1:
            for lo, hi in pieces:
                work(lo, hi)
            return
        if _workers is None or _workers[1] < threads - 1:
            from concurrent.futures import ThreadPoolExecutor

            _workers = (ThreadPoolExecutor(threads - 1, thread_name_prefix="cnnlab"), threads - 1)
        _share(pieces, work, _workers[0], threads - 1)


def _share(pieces, work, workers, helpers):
    """``work(*piece)`` for every piece, on this thread and ``helpers`` threads of ``workers``; returns when every
    piece is done (raising the first error of any), not when every helper has woken up."""
    # next() of a count and list.append are atomic (one bytecode each under the GIL): no piece runs twice or is lost
    next_piece, done, errors = itertools.count(), [], []

    def take_pieces():
        for k in iter(next_piece.__next__, None):
            if k >= len(pieces):
                return
            try:
                work(*pieces[k])
            except BaseException as error:  # noqa: B036 - handed to the caller below
                errors.append((k, error))
            done.append(k)

    for _ in range(helpers):
        workers.submit(take_pieces)
    take_pieces()
    while len(done) < len(pieces):  # a helper is still on its last piece: yield the GIL to it until it is done
        time.sleep(0)
    if errors:
        raise min(errors, key=lambda e: e[0])[1]


def _in_piece_order(partials):
    """The sum of a dict {piece's first index: its partial sum}, added in piece order (so the same bits every run)."""
    return sum(partials[k] for k in sorted(partials))


def _products_t(a, b, lo, hi):
    """(G, M, L) and (G, P, L), C-contiguous -> (G, M, P): a[k, :, lo:hi] @ b[k, :, lo:hi].T per group, a piece's
    part of a weight gradient. Small results (a first layer's 9 x 32) are a compiled loop of dot products
    (``products_t``): NumPy's matmul holds the GIL through BLAS when its result has at most about 500 numbers, so two
    pieces ran one after the other (1.35 ms on two threads, 1.1 ms on one), and ``np.dot``, the path without numba,
    lets go of it but copies the blocks of rows first (0.78 ms a piece, the compiled loop 0.52 ms)."""
    if a.shape[1] * b.shape[1] > 1024:
        return a[..., lo:hi] @ b[..., lo:hi].transpose(0, 2, 1)
    kernels = numba_kernels()
    if not kernels:
        return np.stack([np.dot(a[k, :, lo:hi], b[k, :, lo:hi].T) for k in range(len(a))])
    out = np.empty((a.shape[0], a.shape[1], b.shape[1]), dtype=np.result_type(a, b))
    kernels.products_t(a, b, lo, hi, out)
    return out


def compile_kernels() -> dict:
    """Run every compiled loop once in float32 and float64 (tiny inputs), so that none compiles later.

    numba compiles a loop at its first call for each dtype and keeps the machine code in ``__pycache__``
    (``cache=True``): the first process on a machine pays seconds, later ones load it. ``scripts/setup.sh``
    calls this once, and ``benchmarks/speed.py`` before timing anything.

    Returns:
        {"numba": False} without numba (or with ``USE_NUMBA`` False), else {"numba": True, "compiled": how many
        (loop, dtype) versions were compiled now (0: all loaded from the cache), "seconds": time taken}.
    """
    import time

    kernels = numba_kernels()
    if not kernels:
        return {"numba": False}
    start = time.perf_counter()
    dispatchers = [getattr(kernels, name) for name in ("im2col", "col2im", "wide_windows", "wide_col2im", "products_t",
                                                       "drop_columns", "spread_columns", "max_pool",
                                                       "max_pool_backward", "relu", "relu_backward", "sgd")]
    misses_before = sum(sum(d.stats.cache_misses.values()) for d in dispatchers)
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal((1, 4, 5, 5)).astype(dtype)  # 4 channels: 36 numbers per 3 x 3 window
        w = rng.standard_normal((2, 4, 3, 3)).astype(dtype)
        bias = np.zeros(2, dtype=dtype)
        for stride in (2, 1):  # strided: im2col, col2im; stride 1: the whole-row windows and their adjoint
            out, cache = conv2d(x, w, bias, stride=stride, padding=1)
            conv2d_backward(out, cache)
        out, cache = conv2d(np.concatenate([x, x]), w, None, padding=1)  # two images: a gradient stored (N, C, H, W),
        conv2d_backward(np.ascontiguousarray(out), cache)  # as a user's, is not stored channels first
        out, cache = conv_transpose2d(x, w.transpose(1, 0, 2, 3), stride=2)
        conv_transpose2d_backward(out, cache)
        out, cache = max_pool2d(x, 2)
        max_pool2d_backward(out, cache)
        relu_backward(x, relu(x))
        for momentum, first_step in ((0.0, True), (0.9, True), (0.9, False)):
            sgd_update(x.copy(), x, {} if first_step else {"momentum_buffer": x.copy()}, 0.1, momentum, 0.0, False, 0.0)
    compiled = sum(sum(d.stats.cache_misses.values()) for d in dispatchers) - misses_before
    return {"numba": True, "compiled": compiled, "seconds": time.perf_counter() - start}


# ----------------------------------------------------------------------------------------------------------------
# im2col / col2im in the batch-inside layout (C, KH, KW, N, OH, OW)
# ----------------------------------------------------------------------------------------------------------------

def _im2col(x, stride, dilation, pads, cols, n0, n1):
    """x (N, C, H, W) contiguous -> cols (C, KH, KW, N, OH, OW) for the images [n0, n1), cols[c, i, j, n, oh, ow] =
    padded x at window (oh, ow), element (i, j). Row (c, i, j) holds that kernel element's input for the whole
    batch: one contiguous row of the matrix product."""
    KH, KW, _, OH, OW = cols.shape[1:]
    kernels = numba_kernels()
    if kernels:
        kernels.im2col(x.reshape(-1), *x.shape, KH, KW, *stride, *dilation, pads[0], pads[2], OH, OW,
                       cols.reshape(-1), n0, n1)
    else:  # one strided copy of the windows view: NumPy loops over runs of OW numbers
        windows = sliding_windows(pad2d(x[n0:n1], pads), (KH, KW), stride, dilation, (OH, OW))
        np.copyto(cols[:, :, :, n0:n1], windows.transpose(1, 2, 3, 0, 4, 5))


def _col2im(cols, stride, dilation, pads, out, n0, n1):
    """The adjoint of ``_im2col``: cols (C, KH, KW, N, OH, OW) contiguous -> out (N, C, H, W) contiguous, written
    for the images [n0, n1): the sum where windows overlap; what falls on the padding is dropped."""
    H, W = out.shape[2:]
    kernels = numba_kernels()
    if kernels:
        kernels.col2im(cols.reshape(-1), *out.shape, *cols.shape[1:3], *stride, *dilation, pads[0], pads[2],
                       *cols.shape[4:], out.reshape(-1), n0, n1)
        return
    top, bottom, left, right = pads  # the reference's col2im reads the columns through a transposed view
    padded = col2im(cols[:, :, :, n0:n1].transpose(3, 0, 1, 2, 4, 5), (top + H + bottom, left + W + right), stride,
                    dilation)
    out[n0:n1] = unpad2d(padded, pads)


def _channels_first(a, groups):
    """(N, C, H, W) -> (G, C / G, N * H * W) contiguous: the batch inside each channel's row."""
    N, C, H, W = a.shape
    return np.ascontiguousarray(a.transpose(1, 0, 2, 3)).reshape(groups, C // groups, N * H * W)


def _batch_first(a, shape):
    """(G, C / G, N * H * W) contiguous -> the (N, C, H, W) array it holds, stored channels first (a view)."""
    N, C, H, W = shape
    return a.reshape(C, N, H, W).transpose(1, 0, 2, 3)


CHANNELS_FIRST = (1, 0, 2, 3)  # the order (C, N, H, W) in which the fast ops store the (N, C, H, W) arrays they make


def _as_stored(a):
    """(a's numbers C-contiguous, order) with ``stored.transpose(order)`` equal to ``a``: a view when ``a`` is
    stored C-contiguous or channels first (as the fast ops leave their results), else a C-contiguous copy.

    Why channels first: a convolution's matrix product gives its output (C_out, N * OH * OW), and its backward
    wants the gradient that way. Returning that memory as an (N, C, OH, OW) view, and keeping the layout through
    ReLU and pooling (elementwise and plane by plane, either order does), saves two transposing copies per
    convolution (the training net's first one: 2.2 of its 5.3 ms)."""
    if a.ndim == 4 and not a.flags.c_contiguous and a.transpose(CHANNELS_FIRST).flags.c_contiguous:
        return a.transpose(CHANNELS_FIRST), CHANNELS_FIRST
    return np.ascontiguousarray(a), tuple(range(a.ndim))


# ----------------------------------------------------------------------------------------------------------------
# conv2d
# ----------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ConvCache:
    """What a convolution's backward needs, kept by the forward.

    cols: (G, K, N * OH * OW) the im2col columns (conv2d) or the input, channels first (conv_transpose2d).
    weight: the weight the forward used; has_bias: whether it had a bias.
    x_shape, out_shape: the forward's input and output shapes; pads (top, bottom, left, right), stride,
    dilation: the geometry from ``cnnlab._geometry``; groups: G.
    """
    cols: np.ndarray
    weight: np.ndarray
    has_bias: bool
    x_shape: tuple
    out_shape: tuple
    pads: tuple
    stride: tuple
    dilation: tuple
    groups: int
    wide: bool = False  # conv2d only: the columns span whole padded rows (see ``_wide_windows``)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """``cnnlab.numpy.conv2d`` (same arguments, same result), and what its backward needs.

    Args:
        x: (N, C_in, H, W); weight: (C_out, C_in / G, KH, KW); bias: (C_out,) or None;
        stride, padding (int, pair, "same" or "valid"), dilation, groups: as ``conv2d``.

    Returns:
        (out, cache): out (N, C_out, OH, OW); cache a ``ConvCache`` holding the columns (G, K, N * OH * OW)
        for ``conv2d_backward``.
    """
    pads, stride, dilation, (OH, OW) = conv2d_geometry("conv2d", x, weight, bias, stride, padding, dilation, groups)
    N, C_in = x.shape[:2]
    C_out, _, KH, KW = weight.shape
    wide = _wide_pays_off(x.shape, pads, stride, OW, weight[0].size)
    # Wc: the columns per output row: OW, or the whole row Wp of the padded planes (``_wide_width``)
    Wc = _wide_width(x.shape[3], pads) if wide else OW
    L = OH * Wc  # columns per image
    cols = np.empty((C_in, KH, KW, N, OH * Wc), dtype=x.dtype)
    stored, order = _as_stored(x)
    if not wide and order != tuple(range(4)):  # im2col reads (N, C, H, W)
        stored, order = np.ascontiguousarray(x), tuple(range(4))
    w = weight.reshape(groups, C_out // groups, -1)
    product = np.empty((groups, C_out // groups, N * L), dtype=np.result_type(x, weight))
    out_t = product.reshape(C_out, N, OH, Wc) if not wide else np.empty((C_out, N, OH, OW), dtype=product.dtype)
    columns = cols.reshape(groups, C_in // groups * KH * KW, N * L)  # sizes written out: N may be 0

    def piece(n0, n1):  # the images [n0, n1): their windows, their columns of the product, the bias
        if wide:
            _wide_windows(stored, order, (KH, KW), dilation, pads, cols, n0, n1)
        else:
            _im2col(stored, stride, dilation, pads, cols.reshape(C_in, KH, KW, N, OH, OW), n0, n1)
        # One product per group: (G, C_out/G, K) @ (G, K, images' columns), long rows BLAS runs well.
        np.matmul(w, columns[..., n0 * L:n1 * L], out=product[..., n0 * L:n1 * L])
        if wide:  # without the columns past the last window
            _drop_columns(product.reshape(C_out, N, OH, Wc), bias, out_t, n0, n1)
        elif bias is not None:
            out_t[:, n0:n1] += bias.reshape(C_out, 1, 1, 1)

    _in_pieces(N, piece, cols.size + product.size + product.size * columns.shape[1] // 32)
    out = out_t.transpose(CHANNELS_FIRST)  # (N, C_out, OH, OW), stored channels first (see ``_as_stored``)
    return out, ConvCache(columns, weight, bias is not None, x.shape, out.shape, pads, stride, dilation, groups, wide)


# ----------------------------------------------------------------------------------------------------------------
# stride 1: windows over whole padded rows (every im2col row is one contiguous copy)
# ----------------------------------------------------------------------------------------------------------------
# With stride 1, the OH x OW windows' element (i, j) reads the padded plane from (i * DH, j * DW) on, row by row.
# Reading OH whole padded rows (OH * Wp numbers) instead makes that one contiguous slice of the flattened plane,
# copied at memory speed, where im2col copies OH runs of only OW numbers (7 for a 7 x 7 image). The Wp - OW extra
# columns per row cost that much more matrix product and are dropped. One gap of zeros between rows pads both
# sides (``_wide_width``): 8 / 7 more for 7 x 7 images with padding 1, where W + 2 columns would cost 9 / 7.

def _wide_width(W, pads):
    """Wp, the row length of the whole-row layout: the W numbers of a row, then a gap of max(left, right) zeros.
    Each row starts ``left`` numbers into its Wp, so the gap is the right padding of one row and the left padding
    of the next: a window that runs past the end of a row reads the next row's gap, which is 0 as the padding."""
    return W + max(pads[2], pads[3])


def _wide_pays_off(x_shape, pads, stride, OW, K):
    """Stride 1, an output row that fits in a row of the layout (OW <= Wp: always, unless the padding on both sides
    is wider than the kernel), rows at most half as long again as the output's, and at least 32 numbers per window
    (K): with fewer (a first layer's 1 or 3 channels) the product is cheap, and its wider output and the copy
    that drops the extra columns cost more than the contiguous copies save (measured with and without numba:
    64 x 1 x 28 x 28 -> 32, 3.7 ms wide, 3.2 ms im2col; 64 x 8 x 14 x 14 -> 16, 1.8 ms wide, 2.6 ms im2col)."""
    Wp = _wide_width(x_shape[3], pads)
    return tuple(stride) == (1, 1) and OW <= Wp <= 1.5 * OW and K >= 32


def _wide_planes(x_shape, pads, kernel, dilation, dtype):
    """A zeroed flat buffer for the padded input, stored channels first (C, N, Hp, Wp), with a tail: the slice of
    the last kernel element of the last plane runs (KW - 1) * DW numbers past its end. Returns (buffer, padded
    (N, C, Hp, Wp) view)."""
    N, C, H, W = x_shape
    Hp, Wp = pads[0] + H + pads[1], _wide_width(W, pads)
    flat = np.zeros(N * C * Hp * Wp + (kernel[1] - 1) * dilation[1], dtype=dtype)
    return flat, flat[:N * C * Hp * Wp].reshape(C, N, Hp, Wp).transpose(CHANNELS_FIRST)


def _wide_view(flat, x_shape, pads, kernel, dilation, OH):
    """(C, KH, KW, N, OH * Wp) strided view of the flat padded buffer: element (i, j)'s rows of every plane."""
    N, C, H, W = x_shape
    Hp, Wp = pads[0] + H + pads[1], _wide_width(W, pads)
    e = flat.itemsize
    return np.lib.stride_tricks.as_strided(  # planes stored (C, N, Hp, Wp): see ``_wide_planes``
        flat, shape=(C, *kernel, N, OH * Wp),
        strides=(N * Hp * Wp * e, dilation[0] * Wp * e, dilation[1] * e, Hp * Wp * e, e))


def _wide_windows(stored, order, kernel, dilation, pads, cols, n0, n1):
    """x (N, C, H, W), given as its numbers ``stored`` in ``order`` (``_as_stored``) -> cols (C, KH, KW, N, OH * Wp)
    for the images [n0, n1): row (c, i, j, n) is the padded plane (n, c) flattened, from (i * DH, j * DW) on,
    OH * Wp numbers; its column oh * Wp + ow (ow < OW) is window (oh, ow)'s element (i, j)."""
    x = stored.transpose(order)
    H, W = x.shape[2:]
    top, bottom, left, _ = pads
    Hp, Wp = top + H + bottom, _wide_width(W, pads)
    kernels = numba_kernels()
    if kernels:  # plane by plane through a buffer that stays in the cache
        kernels.wide_windows(stored, order == CHANNELS_FIRST, Hp, Wp, *dilation, top, left, cols, n0, n1)
        return
    flat, planes = _wide_planes(x[n0:n1].shape, pads, kernel, dilation, x.dtype)
    planes[:, :, top:top + H, left:left + W] = x[n0:n1]
    OH = cols.shape[-1] // Wp  # contiguous runs of OH * Wp
    np.copyto(cols[:, :, :, n0:n1], _wide_view(flat, x[n0:n1].shape, pads, kernel, dilation, OH))


def _drop_columns(wide, bias, out, n0, n1):
    """wide (C, N, OH, Wp) -> out (C, N, OH, OW) for the images [n0, n1): the first OW columns of every row, plus the
    bias (C,) or None."""
    kernels = numba_kernels()
    if kernels:
        kernels.drop_columns(wide, np.zeros(0, out.dtype) if bias is None else bias.astype(out.dtype, copy=False),
                             out, n0, n1)
    elif bias is None:
        out[:, n0:n1] = wide[:, n0:n1, :, :out.shape[3]]
    else:
        np.add(wide[:, n0:n1, :, :out.shape[3]], bias.reshape(-1, 1, 1, 1), out=out[:, n0:n1])


def _spread_columns(narrow, wide, n0, n1):
    """narrow (C, N, OH, OW), stored in any order -> wide (C, N, OH, Wp) for the images [n0, n1): every row, then
    zeros in its extra columns (not np.zeros first: one pass over ``wide`` instead of two)."""
    kernels = numba_kernels()
    if kernels:
        kernels.spread_columns(narrow, wide, n0, n1)
        return
    wide[:, n0:n1, :, :narrow.shape[3]] = narrow[:, n0:n1]
    wide[:, n0:n1, :, narrow.shape[3]:] = 0


def _wide_col2im(grad_cols, kernel, dilation, pads, out, n0, n1):
    """The adjoint of ``_wide_windows``: grad_cols (C, KH, KW, n1 - n0, OH * Wp) contiguous, the rows of the images
    [n0, n1) -> out (C, N, H, W) contiguous (an (N, C, H, W) array stored channels first), written for those images;
    one contiguous addition per kernel element (the extra columns hold 0: their gradient was 0)."""
    H, W = out.shape[2:]
    top, bottom, left, _ = pads
    Hp, Wp = top + H + bottom, _wide_width(W, pads)
    kernels = numba_kernels()
    if kernels:  # plane by plane in a buffer that stays in the cache: one read of the columns
        kernels.wide_col2im(grad_cols, Hp, Wp, *dilation, top, left, out, n0, n1)
        return
    images = (n1 - n0, out.shape[0], H, W)
    flat, planes = _wide_planes(images, pads, kernel, dilation, grad_cols.dtype)
    view = _wide_view(flat, images, pads, kernel, dilation, grad_cols.shape[-1] // Wp)
    for i in range(kernel[0]):  # elements overlap between (i, j): one at a time
        for j in range(kernel[1]):
            np.add(view[:, i, j], grad_cols[:, i, j], out=view[:, i, j])
    out[:, n0:n1] = planes[:, :, top:top + H, left:left + W].transpose(CHANNELS_FIRST)


def conv2d_backward(grad_out, cache, input_grad=True):
    """Gradients of ``conv2d`` from its cache (the saved columns: no second im2col).

    Args:
        grad_out: (N, C_out, OH, OW); cache: the ``ConvCache`` ``conv2d`` returned; input_grad: False when the
            gradient of the input is not wanted (a network's first layer: its input is data; torch skips it too).

    Returns:
        (grad_x, grad_weight, grad_bias): (N, C_in, H, W) (None when ``input_grad`` is False),
        (C_out, C_in / G, KH, KW), (C_out,) or None, as ``cnnlab.numpy.conv2d_backward``.
    """
    weight, G = cache.weight, cache.groups
    check_grad_out("conv2d_backward", grad_out, weight, cache.out_shape)
    C_out, _, KH, KW = weight.shape
    N, C_in, H, W = cache.x_shape
    OH, OW = cache.out_shape[2:]
    L = OH * (_wide_width(W, cache.pads) if cache.wide else OW)  # columns per image (Wp: whole padded rows)
    if cache.wide:  # g as the product's output, with 0 for the extra columns
        g = np.empty((C_out, N, OH, L // OH), dtype=grad_out.dtype)
        grad_t = grad_out.transpose(1, 0, 2, 3)
    else:
        g = _channels_first(grad_out, G)  # (G, C_out/G, N*OH*OW)
    grad_x = None
    if input_grad:  # stored channels first on whole padded rows (see ``_as_stored``)
        grad_x = np.empty((C_in, N, H, W) if cache.wide else cache.x_shape, dtype=grad_out.dtype)
    g = g.reshape(G, C_out // G, N * L)
    w_t = weight.reshape(G, C_out // G, -1).transpose(0, 2, 1)  # (G, K, C_out/G)
    # the columns' gradient: whole for im2col's adjoint, a few images at a time (about 1 MB) for the wide one
    grad_cols = None if cache.wide or not input_grad else np.empty(cache.cols.shape, dtype=grad_out.dtype)
    few = max(1, 2**18 // (cache.cols.shape[0] * cache.cols.shape[1] * L))  # images per 2**18 numbers of columns
    grad_weights, grad_biases = {}, {}  # per piece, added up in piece order

    def piece(n0, n1):  # the images [n0, n1)
        a, b = n0 * L, n1 * L
        if cache.wide:
            _spread_columns(grad_t, g.reshape(C_out, N, OH, L // OH), n0, n1)
        # the images' part of the batch sum; OpenBLAS runs cols @ g^T (a tall result) faster than g @ cols^T
        grad_weights[n0] = _products_t(cache.cols, g, a, b)  # (G, K, C_out/G)
        if cache.has_bias:  # (np.dot with ones, BLAS's sum, took 0.32 ms for 32 rows of 25088; this 0.15 ms)
            grad_biases[n0] = g.reshape(C_out, N * L)[:, a:b].sum(axis=1)
        if not input_grad:
            return
        if cache.wide:  # a few images at a time: their columns' gradient stays in the cache for the col2im
            for c0 in range(n0, n1, few):
                c1 = min(n1, c0 + few)
                rows = np.matmul(w_t, g[..., c0 * L:c1 * L])  # (G, K, (c1 - c0) * L)
                _wide_col2im(rows.reshape(C_in, KH, KW, c1 - c0, L), (KH, KW), cache.dilation, cache.pads, grad_x,
                             c0, c1)
            return
        np.matmul(w_t, g[..., a:b], out=grad_cols[..., a:b])
        _col2im(grad_cols.reshape(C_in, KH, KW, N, OH, OW), cache.stride, cache.dilation, cache.pads, grad_x, n0, n1)

    _in_pieces(N, piece, 2 * cache.cols.size + 2 * g.size + N * C_in * H * W + g.size * cache.cols.shape[1] // 16)
    grad_weight = _in_piece_order(grad_weights).transpose(0, 2, 1).reshape(weight.shape)
    grad_bias = _in_piece_order(grad_biases).reshape(C_out) if cache.has_bias else None
    if input_grad and cache.wide:
        grad_x = grad_x.transpose(CHANNELS_FIRST)
    return grad_x, grad_weight, grad_bias


# ----------------------------------------------------------------------------------------------------------------
# conv_transpose2d: conv2d's two halves swapped (a product, then col2im; the backward: im2col, then products)
# ----------------------------------------------------------------------------------------------------------------

def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """``cnnlab.numpy.conv_transpose2d`` (same arguments, same result), and what its backward needs.

    Args:
        x: (N, C_in, H, W); weight: (C_in, C_out / G, KH, KW); bias: (C_out,) or None;
        stride, padding, output_padding, groups, dilation: as ``conv_transpose2d``.

    Returns:
        (out, cache): out (N, C_out, H_out, W_out); cache a ``ConvCache`` holding x channels first
        (G, C_in / G, N * H * W) for ``conv_transpose2d_backward``.
    """
    pads, stride, dilation, (H_out, W_out) = conv_transpose2d_geometry(
        "conv_transpose2d", x, weight, bias, stride, padding, output_padding, groups, dilation)
    N, C_in, H, W = x.shape
    _, C_out_per_group, KH, KW = weight.shape
    xs = _channels_first(x, groups)  # (G, C_in/G, N*H*W)
    w_t = weight.reshape(groups, C_in // groups, -1).transpose(0, 2, 1)  # (G, K, C_in/G), K = C_out/G * KH * KW
    stamps = np.empty((groups, w_t.shape[1], N * H * W), dtype=np.result_type(x, weight))
    out_shape = (N, groups * C_out_per_group, H_out, W_out)
    out = np.empty(out_shape, dtype=stamps.dtype)

    def piece(n0, n1):  # the images [n0, n1): their stamps, added up; the padding is cut off
        np.matmul(w_t, xs[..., n0 * H * W:n1 * H * W], out=stamps[..., n0 * H * W:n1 * H * W])
        _col2im(stamps.reshape(groups * C_out_per_group, KH, KW, N, H, W), stride, dilation, pads, out, n0, n1)
        if bias is not None:
            out[n0:n1] += bias.reshape(1, -1, 1, 1)

    _in_pieces(N, piece, 2 * stamps.size + out.size + stamps.size * xs.shape[1] // 32)
    return out, ConvCache(xs, weight, bias is not None, x.shape, out_shape, pads, stride, dilation, groups)


def conv_transpose2d_backward(grad_out, cache):
    """Gradients of ``conv_transpose2d`` from its cache.

    Args:
        grad_out: (N, C_out, H_out, W_out); cache: the ``ConvCache`` ``conv_transpose2d`` returned.

    Returns:
        (grad_x, grad_weight, grad_bias): (N, C_in, H, W), (C_in, C_out / G, KH, KW), (C_out,) or None.
    """
    weight, G = cache.weight, cache.groups
    check_grad_out("conv_transpose2d_backward", grad_out, weight, cache.out_shape)
    N, C_in, H, W = cache.x_shape
    KH, KW = weight.shape[2:]
    # grad_x is a convolution of grad_out: im2col over the input's (H, W) grid of stamps
    grad_out = np.ascontiguousarray(grad_out)  # im2col reads (N, C, H, W)
    grad_cols = np.empty((weight.shape[1] * G, KH, KW, N, H, W), dtype=grad_out.dtype)
    columns = grad_cols.reshape(G, math.prod(grad_cols.shape[:3]) // G, N * H * W)  # (G, K, N*H*W)
    w = weight.reshape(G, C_in // G, -1)
    grad_xs = np.empty((G, C_in // G, N * H * W), dtype=grad_out.dtype)
    grad_weights = {}  # per piece, added up in piece order

    def piece(n0, n1):  # the images [n0, n1)
        a, b = n0 * H * W, n1 * H * W
        _im2col(grad_out, cache.stride, cache.dilation, cache.pads, grad_cols, n0, n1)
        np.matmul(w, columns[..., a:b], out=grad_xs[..., a:b])
        grad_weights[n0] = _products_t(columns, cache.cols, a, b)  # (G, K, C_in/G)

    _in_pieces(N, piece, 2 * grad_cols.size + grad_xs.size + grad_cols.size * grad_xs.shape[1] // 16)
    grad_weight = _in_piece_order(grad_weights).transpose(0, 2, 1).reshape(weight.shape)
    grad_bias = grad_out.sum(axis=(0, 2, 3)) if cache.has_bias else None
    return _batch_first(grad_xs, cache.x_shape), grad_weight, grad_bias


# ----------------------------------------------------------------------------------------------------------------
# max_pool2d
# ----------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MaxPoolCache:
    """What max pooling's backward needs: where every window's maximum is.

    flat: True when ``where`` holds torch's flat indices h * W + w into the (H, W) plane (int32, half the
    memory of torch's int64; the compiled path), False when it holds the element k = i * KW + j inside the
    window (small ints; NumPy path).
    where: (N, C, OH, OW), or (C, N, OH, OW) when order is ``CHANNELS_FIRST``; x_shape, kernel, stride, dilation,
    pads: the forward's input shape and geometry; order: how the input was stored (compiled path, ``_as_stored``).
    """
    flat: bool
    where: np.ndarray
    x_shape: tuple
    kernel: tuple
    stride: tuple
    dilation: tuple
    pads: tuple
    order: tuple = (0, 1, 2, 3)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """``cnnlab.numpy.max_pool2d`` (same arguments but ``return_indices``; same result), and where the maxima are.

    Args:
        x: (N, C, H, W); kernel_size, stride (default kernel_size), padding, dilation, ceil_mode: as ``max_pool2d``.

    Returns:
        (out, cache): out (N, C, OH, OW) the window maxima; cache a ``MaxPoolCache`` for ``max_pool2d_backward``.
        Ties keep the first element; the first NaN wins; the padding is never picked (as the reference).
    """
    kernel, stride, dilation, padding, pads, (OH, OW) = pool_geometry(
        "max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode)
    kernels = numba_kernels()
    if kernels:  # plane by plane, in the order x is stored (its result stored alike, see ``_as_stored``)
        stored, order = _as_stored(x)
        out = np.empty((*stored.shape[:2], OH, OW), dtype=x.dtype)
        where = np.empty(out.shape, dtype=np.int32 if x.shape[2] * x.shape[3] < 2**31 else np.int64)
        planes, maxima, places = stored.reshape(-1, *x.shape[2:]), out.reshape(-1, OH, OW), where.reshape(-1, OH, OW)
        _in_pieces(len(planes), lambda lo, hi: kernels.max_pool(planes[lo:hi], *kernel, *stride, *dilation, pads[0],
                                                                pads[2], maxima[lo:hi], places[lo:hi]),
                   x.size + 2 * out.size)
        return out.transpose(order), MaxPoolCache(True, where, x.shape, kernel, stride, dilation, pads, order)
    out, where = _window_max(x, kernel, stride, dilation, pads, (OH, OW))
    return out, MaxPoolCache(False, where, x.shape, kernel, stride, dilation, pads)


def _window_max(x, kernel, stride, dilation, pads, out_hw):
    """NumPy path: a running maximum over the KH * KW elements of every window, written in place.

    Returns out (N, C, OH, OW) and k (N, C, OH, OW) small ints, the element i * KW + j of each maximum.
    Why fast: KH * KW - 1 whole-array passes over strided slices of the input (one per kernel element), no
    copy of the windows and no argmax along a middle axis.
    """
    (KH, KW), (OH, OW) = kernel, out_hw
    windows = sliding_windows(pad2d(x, pads, value=-np.inf), kernel, stride, dilation, out_hw)
    out = windows[:, :, 0, 0].copy()
    where = np.zeros(out.shape, dtype=np.min_scalar_type(KH * KW - 1))  # small ints: less memory to write
    wins = np.empty(out.shape, dtype=bool)
    for k in range(1, KH * KW):
        element = windows[:, :, k // KW, k % KW]
        np.greater(element, out, out=wins)  # strictly greater: a tie keeps the first element
        np.copyto(where, k, where=wins)
        np.maximum(out, element, out=out)  # NaN propagates, as in torch
    nan = np.isnan(out)
    if nan.any():  # rare: NaN > anything is False; the first NaN of the window wins (np.argmax's rule)
        first_nan = np.isnan(windows.reshape(*out.shape[:2], KH * KW, OH, OW)).argmax(axis=2)
        where[nan] = first_nan[nan]
    if any(pads):
        empty = out == -np.inf  # only -inf (or padding) in the window: take its first input element
        if empty.any():
            where[empty] = np.broadcast_to(_first_inside(x.shape[2:], kernel, stride, dilation, pads, out_hw),
                                           out.shape)[empty]
    return out, where


def _first_inside(hw, kernel, stride, dilation, pads, out_hw):
    """(OH, OW): the element k = i * KW + j of each window's first input (not padding) element."""
    firsts = []
    for size, k, s, d, p, n in zip(hw, kernel, stride, dilation, pads[::2], out_hw):
        top = np.arange(n) * s - p  # first row (column) of each window, in input coordinates
        firsts.append(np.minimum(np.maximum(0, -(top // d)), k - 1))
    return firsts[0][:, None] * kernel[1] + firsts[1][None, :]


def max_pool2d_backward(grad_out, cache):
    """Gradient of ``max_pool2d`` from its cache: each window's gradient goes to its maximum.

    Args:
        grad_out: (N, C, OH, OW); cache: the ``MaxPoolCache`` ``max_pool2d`` returned.

    Returns:
        grad_x: (N, C, H, W), as ``cnnlab.numpy.max_pool2d_backward``.
    """
    N, C, H, W = cache.x_shape
    check_float(grad_out, "grad_out", "max_pool2d_backward")
    check_shape(grad_out, (N, C, *cache.where.shape[2:]), "grad_out (the shape of the forward output)",
                "max_pool2d_backward")
    if not cache.flat:
        return _window_max_backward(grad_out, cache)
    # the planes in the order of the forward's input (``cache.order``), the gradient stored alike
    where = cache.where.reshape(N * C, math.prod(cache.where.shape[2:]))  # sizes written out: N may be 0
    grad = np.ascontiguousarray(grad_out.transpose(cache.order)).reshape(where.shape)
    grad_x = np.empty(np.take(cache.x_shape, cache.order), dtype=grad_out.dtype)
    kernels = numba_kernels()
    if kernels:  # one scatter
        planes = grad_x.reshape(N * C, H * W)
        _in_pieces(N * C, lambda lo, hi: kernels.max_pool_backward(grad[lo:hi], where[lo:hi], planes[lo:hi]),
                   planes.size + 2 * grad.size)
    else:  # a cache of the compiled path, numba switched off since: the same scatter in NumPy
        grad_x[...] = 0
        np.add.at(grad_x.reshape(N * C, H * W), (np.arange(N * C)[:, None], where), grad)
    return grad_x.transpose(cache.order)


def _window_max_backward(grad_out, cache):
    """NumPy path: for each kernel element k, the gradients of the windows whose maximum is element k,
    written into the strided slice of the input that element k reads (as ``col2im``, but masked)."""
    N, C, H, W = cache.x_shape
    (KH, KW), (SH, SW), (DH, DW), pads = cache.kernel, cache.stride, cache.dilation, cache.pads
    OH, OW = grad_out.shape[2:]
    Hp, Wp = pads[0] + H + pads[1], pads[2] + W + pads[3]
    # Windows that do not overlap (stride >= their span) write disjoint slices: plain writes, no additions;
    # when they also tile the whole input, nothing needs zeroing first.
    disjoint = SH >= DH * (KH - 1) + 1 and SW >= DW * (KW - 1) + 1
    tiles = disjoint and (SH, SW) == (KH, KW) and (OH * SH, OW * SW) == (Hp, Wp)
    grad_xp = (np.empty if tiles else np.zeros)((N, C, Hp, Wp), dtype=grad_out.dtype)
    is_k = np.empty(grad_out.shape, dtype=bool)
    for k in range(KH * KW):
        i, j = divmod(k, KW)
        view = grad_xp[:, :, i * DH:i * DH + (OH - 1) * SH + 1:SH, j * DW:j * DW + (OW - 1) * SW + 1:SW]
        np.equal(cache.where, k, out=is_k)
        if disjoint:
            np.multiply(grad_out, is_k, out=view)  # written straight into the strided slice
        else:
            view += grad_out * is_k
    return unpad2d(grad_xp, pads)


# ----------------------------------------------------------------------------------------------------------------
# relu
# ----------------------------------------------------------------------------------------------------------------

def relu(x):
    """``cnnlab.numpy.relu``: x (*) -> out (*), ``max(x, 0)``. The backward needs only ``out`` (out > 0 exactly
    where x > 0), so the layer keeps the output, not the input."""
    check_float(x, "input", "relu")
    kernels = numba_kernels()
    if kernels:
        stored, order = _as_stored(x)  # elementwise: either order will do, and the result keeps it
        out = np.empty_like(stored)
        numbers, results = stored.reshape(-1), out.reshape(-1)
        # size: the numbers, not those read and written: the cheapest pass per number, and at 1M float32 two pieces
        # only break even (0.34 ms either way)
        _in_pieces(len(numbers), lambda lo, hi: kernels.relu(numbers[lo:hi], results[lo:hi]), len(numbers))
        return out.transpose(order)
    return np.maximum(x, 0)


def relu_backward(grad_out, out):
    """Gradient of ``relu`` from its output: grad_out (*), out (*) -> grad_x (*), grad_out where out > 0, else 0."""
    check_float(grad_out, "grad_out", "relu_backward")
    check_shape(grad_out, out.shape, "grad_out (the shape of relu's output)", "relu_backward")
    kernels = numba_kernels()
    if kernels:
        out, order = _as_stored(out)
        grad_out = np.ascontiguousarray(grad_out.transpose(order))  # stored as out: a view as a rule
        grad_x = np.empty_like(grad_out)
        grads, outs, results = grad_out.reshape(-1), out.reshape(-1), grad_x.reshape(-1)
        _in_pieces(len(grads), lambda lo, hi: kernels.relu_backward(grads[lo:hi], outs[lo:hi], results[lo:hi]),
                   len(grads))  # (size: as relu)
        return grad_x.transpose(order)
    return np.multiply(grad_out, out > 0)  # bool times float: one pass, the dtype of grad_out


# ----------------------------------------------------------------------------------------------------------------
# linear: its products in pieces too (a product on BLAS's threads wakes OpenBLAS's spinning worker, see _in_pieces)
# ----------------------------------------------------------------------------------------------------------------

def linear(x, weight, bias=None):
    """``cnnlab.numpy.linear`` (same arguments, same result): x (*, in) -> x @ weight.T + bias, (*, out); the
    outputs in pieces (each piece reads half the weight: 64 x 3136 @ 3136 x 128 took 0.46 ms in two pieces of
    outputs, 0.58 ms in two of rows, which both read all of it)."""
    check_arrays("linear", (x, "input"), (weight, "weight"), (bias, "bias"))
    check_linear(x, weight, bias, "linear")
    rows = x.reshape(-1, weight.shape[1])
    out = np.empty((len(rows), weight.shape[0]), dtype=np.result_type(x, weight))

    def piece(lo, hi):
        np.matmul(rows, weight[lo:hi].T, out=out[:, lo:hi])
        if bias is not None:
            out[:, lo:hi] += bias[lo:hi]

    _in_pieces(weight.shape[0], piece, rows.size + weight.size + out.size + out.size * rows.shape[1] // 32)
    return out.reshape(*x.shape[:-1], weight.shape[0])


def linear_backward(grad_out, x, weight, bias=None, input_grad=True):
    """``cnnlab.numpy.linear_backward`` (same arguments, same result): (grad_x, grad_weight, grad_bias), grad_x None
    when ``input_grad`` is False (as ``conv2d_backward``). Both products in pieces of the in_features:
    grad_x[:, piece] = g @ weight[:, piece], grad_weight[:, piece] = g.T @ x[:, piece]."""
    _check_linear_backward(grad_out, x, weight, bias)
    g = grad_out.reshape(-1, weight.shape[0])  # (M, out), M = product of the leading axes
    rows = x.reshape(-1, weight.shape[1])  # (M, in)
    dtype = np.result_type(grad_out, weight)
    grad_x = np.empty(rows.shape, dtype=dtype) if input_grad else None
    grad_weight = np.empty(weight.shape, dtype=dtype)

    def piece(lo, hi):
        if input_grad:
            np.matmul(g, weight[:, lo:hi], out=grad_x[:, lo:hi])
        np.matmul(g.T, rows[:, lo:hi], out=grad_weight[:, lo:hi])

    _in_pieces(weight.shape[1], piece, 2 * rows.size + 2 * weight.size + g.size + rows.size * g.shape[1] // 16)
    grad_bias = None if bias is None else g.sum(axis=0)
    return (grad_x.reshape(x.shape) if input_grad else None), grad_weight, grad_bias


# ----------------------------------------------------------------------------------------------------------------
# an SGD step
# ----------------------------------------------------------------------------------------------------------------

def sgd_update(param, grad, state, lr, momentum, dampening, nesterov, weight_decay) -> bool:
    """``optim.SGD``'s step for one parameter (``param`` updated in place, ``state["momentum_buffer"]`` kept as
    there) in one compiled pass, in pieces; False without numba (the optimizer then runs its NumPy formulas).

    Why: the formulas in NumPy are six passes over the parameter (a 3136 x 128 weight: 0.75 ms; torch.optim.SGD
    0.5 ms); here one pass reads p, g and v and writes p and v."""
    kernels = numba_kernels()
    if not kernels or not param.flags.c_contiguous:
        return False
    first = momentum != 0 and "momentum_buffer" not in state
    if first:
        state["momentum_buffer"] = np.empty_like(param)
    velocity = state.get("momentum_buffer", param).reshape(-1)  # (param: a placeholder when there is no momentum)
    p, g = param.reshape(-1), np.ascontiguousarray(grad, dtype=param.dtype).reshape(-1)
    number = param.dtype.type  # the scalars in the parameter's precision, as NumPy's own formulas compute

    def piece(lo, hi):
        kernels.sgd(p[lo:hi], g[lo:hi], velocity[lo:hi], number(lr), number(momentum), number(dampening),
                    number(weight_decay), nesterov, first)

    _in_pieces(len(p), piece, 5 * len(p))
    return True


# ----------------------------------------------------------------------------------------------------------------
# cross_entropy
# ----------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CrossEntropyCache:
    """exp_shifted: (N, C, M) exp(logits - max) (M pixels per sample, 1 for (N, C) logits); total: (N, 1, M) its
    sum over the classes; target: (N, 1, M); shape: the logits' shape."""
    exp_shifted: np.ndarray
    total: np.ndarray
    target: np.ndarray
    shape: tuple


def cross_entropy(logits, target):
    """``cnnlab.numpy.cross_entropy`` (mean over the samples) in a dozen NumPy calls, and what its backward needs.

    Args:
        logits: (N, C) or (N, C, d1, ...) class scores; target: (N,) or (N, d1, ...) ints in [0, C).

    Returns:
        (loss, cache): loss a 0-d array of logits' dtype; cache a ``CrossEntropyCache``.
    """
    check_cross_entropy(logits, target, "cross_entropy")
    N, C = logits.shape[:2]
    z = logits.reshape(N, C, math.prod(logits.shape[2:]))  # (N, C, pixels); written out: N may be 0
    t = target.reshape(N, 1, z.shape[2])
    shifted = z - z.max(axis=1, keepdims=True)  # every exponent <= 0: no overflow
    with np.errstate(under="ignore"):  # exp(-1000) is 0, as it should be
        e = np.exp(shifted)
    total = e.sum(axis=1, keepdims=True)
    # -log softmax[target] = log(total) - shifted[target]
    loss = (np.log(total) - np.take_along_axis(shifted, t, axis=1)).mean()
    return loss, CrossEntropyCache(e, total, t, logits.shape)


def cross_entropy_backward(grad_out, cache):
    """Gradient of ``cross_entropy``: ``(softmax(logits) - one_hot(target)) * grad_out / M``, M samples (times pixels).

    Args:
        grad_out: a scalar (1.0 when the loss is the final output); cache: what ``cross_entropy`` returned.

    Returns:
        grad_logits: the logits' shape and dtype (the target gets no gradient).
    """
    if np.ndim(grad_out) != 0:
        raise ValueError(f"cross_entropy_backward: grad_out must be a scalar (the loss is a mean), "
                         f"got shape {np.shape(grad_out)}")
    e, t = cache.exp_shifted, cache.target
    grad = e / cache.total  # softmax, a new array (the cache stays as it was)
    np.put_along_axis(grad, t, np.take_along_axis(grad, t, axis=1) - 1, axis=1)  # minus the one-hot
    grad *= np.asarray(grad_out, dtype=grad.dtype) / (t.size)  # M = N * pixels = the target's size
    return grad.reshape(cache.shape)
