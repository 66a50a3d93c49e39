"""Compiled loops for ``cnnlab.numpy.fast`` (numba): im2col, col2im, the whole-row layout's windows and columns,
small weight gradients, max pooling, relu.

Imported only by ``fast.py`` and only when numba is installed; without it ``fast.py`` runs its NumPy path.
Why compiled: NumPy runs im2col / col2im and every strided pass of a pooling as many short runs of OW
numbers, paying per run; here each loop is one pass over memory. The loops run on the calling thread
(no ``parallel=True``: with numba's worker threads and OpenBLAS's, which spin after each product, sharing two
cores, a training epoch took 2.3 s instead of 0.26 s); ``fast._in_pieces`` runs them on pieces of the batch at
once (the arguments n0, n1: the images of a piece), with BLAS on one thread.
``cache=True`` keeps the machine code in ``__pycache__``: the compile time (seconds) is paid once per
dtype, not per process.

Index names: window (oh, ow), kernel element (i, j) reads input pixel
``h = oh * SH - PT + i * DH``, ``w = ow * SW - PL + j * DW`` (PT, PL: top / left padding); a pixel
outside the input is padding (0 for convolution; never picked by max pooling).
"""

from __future__ import annotations

import numba
import numpy as np

_JIT = dict(cache=True, nogil=True)


@numba.njit(inline="always")
def _inside(O, S, D, P, j, size):
    """The window positions o in [lo, hi) whose element j (of stride S, dilation D, padding P) lies in
    [0, size): outside that range it reads padding. Computing the range once keeps the loops branch-free."""
    off = j * D - P  # element j of window o sits at o * S + off
    lo = 0 if off >= 0 else (-off + S - 1) // S
    hi = 0 if size - off <= 0 else (size - off + S - 1) // S
    return min(lo, O), max(min(hi, O), min(lo, O)), off


@numba.njit(**_JIT)
def im2col(x, N, C, H, W, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, cols, n0, n1):
    """Flat x (N, C, H, W) -> flat cols (C, KH, KW, N, OH, OW): cols[c, i, j, n, oh, ow] =
    x[n, c, oh * SH - PT + i * DH, ow * SW - PL + j * DW], 0 on the padding, for the images [n0, n1) (a piece
    of the batch, see ``fast._in_pieces``). Row (c, i, j) is one contiguous block. The inner loops index views
    that start where they read (numba vectorises those; with the offset in the index, as cols[row + ow], it
    did not)."""
    planes, out = x.reshape(N, C, H, W), cols.reshape(C, KH, KW, N, OH, OW)
    for c in range(C):
        for i in range(KH):
            oh_lo, oh_hi, h_off = _inside(OH, SH, DH, PT, i, H)
            for j in range(KW):
                ow_lo, ow_hi, w_off = _inside(OW, SW, DW, PL, j, W)
                for n in range(n0, n1):
                    for oh in range(OH):
                        row = out[c, i, j, n, oh]
                        if oh < oh_lo or oh >= oh_hi:
                            row[:] = 0
                            continue
                        line, inside = planes[n, c, oh * SH + h_off, ow_lo * SW + w_off:], row[ow_lo:]
                        row[:ow_lo] = 0
                        for q in range(ow_hi - ow_lo):
                            inside[q] = line[q * SW]
                        row[ow_hi:] = 0


@numba.njit(**_JIT)
def col2im(cols, N, C, H, W, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, out, n0, n1):
    """The adjoint of ``im2col``: flat cols (C, KH, KW, N, OH, OW) -> flat out (N, C, H, W), overwritten with the
    sum over every (i, j, oh, ow) that reads pixel (h, w); what falls on the padding is dropped. The images
    [n0, n1), plane by plane; each pixel adds its terms in the order (i, j), as the reference's ``col2im``."""
    planes, columns = out.reshape(N, C, H, W), cols.reshape(C, KH, KW, N, OH, OW)
    for n in range(n0, n1):
        for c in range(C):
            plane = planes[n, c]
            plane[:] = 0
            for i in range(KH):
                oh_lo, oh_hi, h_off = _inside(OH, SH, DH, PT, i, H)
                for j in range(KW):
                    ow_lo, ow_hi, w_off = _inside(OW, SW, DW, PL, j, W)
                    for oh in range(oh_lo, oh_hi):
                        line, row = plane[oh * SH + h_off, ow_lo * SW + w_off:], columns[c, i, j, n, oh, ow_lo:]
                        for q in range(ow_hi - ow_lo):
                            line[q * SW] += row[q]


@numba.njit(**_JIT)
def wide_windows(x, channels_first, Hp, Wp, DH, DW, PT, PL, cols, n0, n1):
    """``fast._wide_windows``: x stored (N, C, H, W), or (C, N, H, W) when ``channels_first`` -> cols
    (C, KH, KW, N, OH * Wp) written for the images [n0, n1). Per plane: the padded plane in a buffer that stays
    in the cache, then each kernel element's row is one contiguous run of it, from (i * DH, j * DW) on."""
    C, KH, KW, N, L = cols.shape
    H, W = x.shape[2], x.shape[3]
    buffer = np.zeros(Hp * Wp + (KW - 1) * DW, dtype=cols.dtype)  # the padding stays 0
    for c in range(C):
        for n in range(n0, n1):
            plane = x[c, n] if channels_first else x[n, c]
            for h in range(H):
                inside = buffer[(PT + h) * Wp + PL:]
                for w in range(W):
                    inside[w] = plane[h, w]
            for i in range(KH):
                for j in range(KW):
                    row, source = cols[c, i, j, n], buffer[i * DH * Wp + j * DW:]
                    for q in range(L):
                        row[q] = source[q]


@numba.njit(**_JIT)
def wide_col2im(grad_cols, Hp, Wp, DH, DW, PT, PL, out, n0, n1):
    """The adjoint of ``fast._wide_windows``: grad_cols (C, KH, KW, n1 - n0, OH * Wp), the rows of the images
    [n0, n1) -> out (C, N, H, W) overwritten for those images.
    Row (c, i, j, n) is the gradient of the padded plane (c, n) flattened, from (i * DH, j * DW) on; per plane
    the rows are added up in a padded buffer that stays in the cache (in the order (i, j), as the reference's
    ``col2im``), and its inside copied out, without the padding."""
    C, KH, KW, N, L = grad_cols.shape
    H, W = out.shape[2], out.shape[3]
    buffer = np.empty(Hp * Wp + (KW - 1) * DW, dtype=out.dtype)
    for c in range(C):
        for n in range(n0, n1):
            buffer[:] = 0
            for i in range(KH):
                for j in range(KW):
                    row, target = grad_cols[c, i, j, n - n0], buffer[i * DH * Wp + j * DW:]
                    for q in range(L):  # (through views, not buffer[shift + q]: this loop vectorises, 3x faster)
                        target[q] = target[q] + row[q]
            for h in range(H):
                inside = buffer[(PT + h) * Wp + PL:]
                for w in range(W):
                    out[c, n, h, w] = inside[w]


@numba.njit(**_JIT)
def drop_columns(wide, bias, out, n0, n1):
    """wide (C, N, OH, Wp) -> out (C, N, OH, OW) for the images [n0, n1): the first OW numbers of every row (the
    whole-row product's extra columns dropped), plus bias[c] where ``bias`` has C numbers (none when it is empty).
    NumPy does this as C * N * OH runs of OW numbers (0.17 ms for half of 128 x 32 x 7 x 7)."""
    C, OW = out.shape[0], out.shape[3]
    for c in range(C):
        for n in range(n0, n1):
            for h in range(out.shape[2]):
                source, target = wide[c, n, h], out[c, n, h]
                if bias.size:
                    add = bias[c]
                    for q in range(OW):
                        target[q] = source[q] + add
                else:
                    for q in range(OW):
                        target[q] = source[q]


@numba.njit(**_JIT)
def spread_columns(narrow, wide, n0, n1):
    """The adjoint of ``drop_columns`` without the bias: narrow (C, N, OH, OW), stored in any order -> wide
    (C, N, OH, Wp) for the images [n0, n1): every row, then 0 in its Wp - OW extra columns."""
    C, OW, Wp = narrow.shape[0], narrow.shape[3], wide.shape[3]
    for c in range(C):
        for n in range(n0, n1):
            for h in range(narrow.shape[2]):
                source, target = narrow[c, n, h], wide[c, n, h]
                for q in range(OW):
                    target[q] = source[q]
                for q in range(OW, Wp):
                    target[q] = 0


# The dot products add in any order (``reassoc``): LLVM then keeps a vector register of partial sums; in order,
# every addition waits for the one before. The order is fixed by the code, so the bits are the same every run.
# No other fast-math flag: NaN and inf stay what they are.
@numba.njit(**_JIT, fastmath={"reassoc", "contract"})
def products_t(a, b, lo, hi, out):
    """a (G, M, L), b (G, P, L) C-contiguous -> out (G, M, P) = a[k, :, lo:hi] @ b[k, :, lo:hi].T per group: a
    weight gradient from the columns [lo, hi) of a piece, when it is small (a first layer's 9 x 32). One dot product
    per (m, p), over blocks of 2048 columns so that a block of every row stays in the cache (9 x 32 from rows 25088
    long: 0.52 ms, np.dot 0.78 ms with its copy of the row blocks, matmul 0.44 ms but holding the GIL)."""
    G, M, P = out.shape
    out[:] = 0
    if out.size == 0:
        return
    zero = out.ravel()[0]  # 0 in out's dtype: the dot products add in it
    for k in range(G):
        for l0 in range(lo, hi, 2048):
            l1 = min(hi, l0 + 2048)
            for m in range(M):
                row_a = a[k, m][l0:l1]  # views that start where they read: the loop vectorises
                for p in range(P):
                    row_b = b[k, p][l0:l1]
                    total = zero
                    for q in range(l1 - l0):
                        total += row_a[q] * row_b[q]
                    out[k, m, p] += total


@numba.njit(**_JIT)
def max_pool(x, KH, KW, SH, SW, DH, DW, PT, PL, out, indices):
    """x (P, H, W) planes -> out (P, OH, OW) the window maxima and indices (P, OH, OW) their flat place
    h * W + w in the plane (as torch). Ties keep the first element, the first NaN wins (the reference's rule);
    the padding is skipped, so a window of -inf picks its first input element. -1: no input element.

    Separable, row by row of the output: first the maximum of every input column over the window's rows (one
    contiguous pass per row, which vectorises), then of each window over its columns. "First" is the smallest
    flat place (it grows with i, then j), so the second step breaks ties by place. Every take is a select, not
    a branch: after a ReLU half the inputs tie at 0, and a mispredicted branch per element cost 2.5 times the
    time. 64x32x28x28, 2x2: 6.7 ms with branches, 2.95 ms as one pass per kernel element, 1.8 ms separable."""
    P, H, W = x.shape
    OH, OW = out.shape[1], out.shape[2]
    rows = np.empty((OH, 3), dtype=np.int64)  # per output row: first input row of its windows, kernel rows [lo, hi)
    for oh in range(OH):
        top = oh * SH - PT
        i_lo = 0 if top >= 0 else (-top + DH - 1) // DH
        rows[oh, 0], rows[oh, 1], rows[oh, 2] = top, i_lo, max(i_lo, min(KH, (H - top + DH - 1) // DH))
    inside_lo = 0 if PL <= 0 else (PL + SW - 1) // SW  # the windows [inside_lo, inside_hi) lie inside the width
    last = W - 1 - (KW - 1) * DW + PL  # where the last of them starts, in padded coordinates
    inside_hi = max(inside_lo, min(OW, last // SW + 1)) if last >= 0 else inside_lo
    col_max = np.empty(W, dtype=x.dtype)  # per input column: the maximum over the window's rows
    col_at = np.empty(W, dtype=indices.dtype)  # and its flat place
    for p in range(P):
        plane = x[p]
        for oh in range(OH):
            best, where = out[p, oh], indices[p, oh]
            top, i_lo, i_hi = rows[oh, 0], rows[oh, 1], rows[oh, 2]
            if i_lo == i_hi:  # every window of the row lies in the padding
                for ow in range(OW):
                    best[ow], where[ow] = -np.inf, -1
                continue
            h = top + i_lo * DH
            line = plane[h]
            for w in range(W):
                col_max[w], col_at[w] = line[w], h * W + w
            for i in range(i_lo + 1, i_hi):  # a later row wins strictly (or with the first NaN)
                h = top + i * DH
                line = plane[h]
                for w in range(W):
                    v, m = line[w], col_max[w]
                    take = (v > m) | ((v != v) & (m == m))
                    col_max[w] = v if take else m
                    col_at[w] = col_at[w] + take * (h * W + w - col_at[w])  # arithmetic: LLVM kept a select a branch
            for ow in range(inside_lo, inside_hi):
                w = ow * SW - PL
                m, k = col_max[w], col_at[w]
                for j in range(1, KW):
                    v, place = col_max[w + j * DW], col_at[w + j * DW]
                    take = (v > m) | ((v == m) & (place < k)) | ((v != v) & ((m == m) | (place < k)))
                    m = v if take else m
                    k = k + take * (place - k)
                best[ow], where[ow] = m, k
            for e in range(OW - (inside_hi - inside_lo)):  # windows that reach into the padding: few
                ow = e if e < inside_lo else e + inside_hi - inside_lo
                m, k = -np.inf, -1
                for j in range(KW):
                    w = ow * SW - PL + j * DW
                    if 0 <= w < W:
                        v, place = col_max[w], col_at[w]
                        if k < 0 or v > m or (v == m and place < k) or (v != v and (m == m or place < k)):
                            m, k = v, place
                best[ow], where[ow] = m, k


@numba.njit(**_JIT)
def max_pool_backward(grad_out, indices, grad_x):
    """grad_out, indices (P, OH * OW) -> grad_x (P, H * W) overwritten: each window's gradient added at its
    maximum (one scatter; planes P = N * C)."""
    P, Q = grad_out.shape
    for p in range(P):
        grad_x[p] = 0
        for q in range(Q):
            k = indices[p, q]
            if k >= 0:
                grad_x[p, k] += grad_out[p, q]


@numba.njit(**_JIT)
def relu(x, out):
    """Flat x -> out = x where x > 0 else 0 (NaN stays NaN, as np.maximum(x, 0)); one pass."""
    for k in range(x.size):
        v = x[k]
        out[k] = 0 if v <= 0 else v


@numba.njit(**_JIT)
def relu_backward(grad_out, out, grad_x):
    """Flat grad_out, out (relu's output) -> grad_x = grad_out where out > 0 else 0; one pass."""
    for k in range(out.size):
        g = grad_out[k]  # loaded whatever out[k] is: a select, not a branch (the loop vectorises)
        grad_x[k] = g if out[k] > 0 else 0


@numba.njit(**_JIT)
def sgd(p, g, v, lr, momentum, dampening, weight_decay, nesterov, first):
    """One SGD step in place, ``optim.SGD``'s formulas in one pass (flat p, g, v; the numbers of p's dtype):
    d = g + wd * p; v = d at the first step, else mu * v + (1 - dampening) * d; d = d + mu * v (nesterov) or v;
    p -= lr * d. Without momentum v is not touched."""
    for k in range(p.size):
        d = g[k] + weight_decay * p[k]
        if momentum != 0:
            u = d if first else momentum * v[k] + (1 - dampening) * d
            v[k] = u
            d = d + momentum * u if nesterov else u
        p[k] -= lr * d
