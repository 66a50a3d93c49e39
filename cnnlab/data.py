"""Datasets that work offline: real handwritten digits, synthetic shapes, and the IDX (MNIST) file format.

Nothing here downloads anything.

- :func:`load_digits`: the 1797 real handwritten digits bundled with scikit-learn (8x8 images,
  UCI "optdigits"), as NCHW float32 in [0, 1], with a *fixed* stratified split into
  train / val / test = 1259 / 179 / 359 images (70 % / 10 % / 20 % of every class).
  ``size=28`` resizes them bilinearly to MNIST's 28x28.
- :func:`make_shapes`: a seeded synthetic dataset of filled shapes (circle, square, triangle, ...)
  at random positions, sizes and rotations: as many examples as you like, in any size.
- :func:`read_idx` / :func:`write_idx`: the IDX format of the MNIST files (``train-images-idx3-ubyte``),
  gzip-compressed or not, for readers who have the files on disk.
"""

from __future__ import annotations

import gzip
import math
import numbers
import os
import struct
from functools import lru_cache

import numpy as np

__all__ = ["load_digits", "DIGITS_SPLIT_SIZES", "make_shapes", "SHAPES", "read_idx", "write_idx"]

# ----------------------------------------------------------------------------------------------
# scikit-learn's handwritten digits
# ----------------------------------------------------------------------------------------------

#: Number of images in each split of :func:`load_digits` (checked by the tests).
DIGITS_SPLIT_SIZES = {"train": 1259, "val": 179, "test": 359, "all": 1797}

_SPLIT_SEED = 20230901  # fixed once and for all: the split is part of the course, not a knob
_VAL_FRACTION, _TEST_FRACTION = 0.1, 0.2


@lru_cache(maxsize=1)
def _digits_raw() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    images = bunch.images.astype(np.float32) / np.float32(16.0)  # pixel values are 0..16
    images.setflags(write=False)
    target = bunch.target.astype(np.int64)
    target.setflags(write=False)
    return images, target


@lru_cache(maxsize=1)
def _digits_split() -> dict[str, np.ndarray]:
    """Indices of each split: every class is shuffled with a fixed seed and cut 20 % / 10 % / 70 %."""
    _, y = _digits_raw()
    rng = np.random.default_rng(_SPLIT_SEED)
    parts = {"train": [], "val": [], "test": []}
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_test = round(_TEST_FRACTION * idx.size)
        n_val = round(_VAL_FRACTION * idx.size)
        parts["test"].append(idx[:n_test])
        parts["val"].append(idx[n_test:n_test + n_val])
        parts["train"].append(idx[n_test + n_val:])
    split = {name: np.sort(np.concatenate(p)) for name, p in parts.items()}
    split["all"] = np.arange(y.size)
    return split


def load_digits(split: str = "train", size: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The real handwritten digits of scikit-learn (1797 images, 10 classes), ready for a CNN.

    Args:
        split: ``"train"`` (1259 images), ``"val"`` (179), ``"test"`` (359) or ``"all"`` (1797).
            The split is fixed (stratified: 70 / 10 / 20 % of each class, chosen once with a fixed
            seed), so every reader, lab and test sees the same images in the same order.
        size: 8 (the original 8x8 images) or 28 (bilinear resize to MNIST's 28x28, torch's
            ``interpolate(mode="bilinear", align_corners=False)``).

    Returns:
        x: (N, 1, size, size) float32 in [0, 1] (the original 17 grey levels 0..16 divided by 16).
        y: (N,) int64 labels 0..9.
    """
    if split not in DIGITS_SPLIT_SIZES:
        raise ValueError(f"load_digits: split must be one of {list(DIGITS_SPLIT_SIZES)}, got {split!r}")
    if size not in (8, 28) or isinstance(size, bool):
        raise ValueError(f"load_digits: size must be 8 or 28, got {size!r}")
    images, target = _digits_raw()
    idx = _digits_split()[split]
    x = images[idx][:, None, :, :].copy()
    if size != 8:
        from .numpy.upsample import interpolate

        x = np.clip(interpolate(x, size=(size, size), mode="bilinear"), 0.0, 1.0)
    return x, target[idx].copy()


# ----------------------------------------------------------------------------------------------
# synthetic shapes
# ----------------------------------------------------------------------------------------------

#: Shapes :func:`make_shapes` can draw.
SHAPES = ("circle", "square", "triangle", "cross", "ring")


def _shape_mask(kind: str, u: np.ndarray, v: np.ndarray, r: float) -> np.ndarray:
    """Inside-test of a shape of "radius" ``r`` centred at 0, in rotated coordinates (u, v)."""
    if kind == "circle":
        return u * u + v * v <= r * r
    if kind == "ring":
        d2 = u * u + v * v
        return (d2 <= r * r) & (d2 >= (0.6 * r) ** 2)
    if kind == "square":
        half = r / math.sqrt(2)  # corners on the circle of radius r
        return (np.abs(u) <= half) & (np.abs(v) <= half)
    if kind == "triangle":  # equilateral, vertices on the circle of radius r: three half-planes
        inside = np.ones(u.shape, dtype=bool)
        for k in range(3):
            a = math.pi / 2 + math.pi / 3 + 2 * math.pi * k / 3  # edge normals, opposite the vertices
            inside &= u * math.cos(a) + v * math.sin(a) <= r / 2
        return inside
    if kind == "cross":
        w = r / 3.5
        return ((np.abs(u) <= w) & (np.abs(v) <= r)) | ((np.abs(v) <= w) & (np.abs(u) <= r))
    raise AssertionError(kind)  # unreachable: kinds are validated by make_shapes


def make_shapes(n: int, size: int = 28, classes=("circle", "square", "triangle"), seed: int = 0,
                noise: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A seeded synthetic dataset of white filled shapes on black, at random positions, sizes and angles.

    Args:
        n: number of images; the classes are balanced (counts differ by at most one) and shuffled.
        size: height = width of each image, >= 8.
        classes: names from :data:`SHAPES` (``"circle", "square", "triangle", "cross", "ring"``);
            label ``k`` means ``classes[k]``.
        seed: the same seed gives the same images, on every machine.
        noise: standard deviation of Gaussian pixel noise added before clipping to [0, 1].

    Returns:
        x: (n, 1, size, size) float32 in [0, 1] (edges anti-aliased by 4x4 supersampling).
        y: (n,) int64 labels.
    """
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1:
        raise ValueError(f"make_shapes: n must be a positive int, got {n!r}")
    if not isinstance(size, numbers.Integral) or isinstance(size, bool) or size < 8:
        raise ValueError(f"make_shapes: size must be an int >= 8, got {size!r}")
    classes = (classes,) if isinstance(classes, str) else tuple(classes)
    unknown = [c for c in classes if c not in SHAPES]
    if not classes or unknown or len(set(classes)) != len(classes):
        raise ValueError(f"make_shapes: classes must be distinct names from {SHAPES}, got {classes!r}")
    if not isinstance(noise, numbers.Real) or not noise >= 0:
        raise ValueError(f"make_shapes: noise must be a number >= 0, got {noise!r}")

    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % len(classes)).astype(np.int64)
    ss = 4  # supersampling factor per axis
    grid = (np.arange(size * ss) + 0.5) / ss  # sample positions in pixel units
    X, Y = np.meshgrid(grid, grid)  # X: column, Y: row
    x = np.empty((n, 1, size, size), dtype=np.float32)
    for i in range(n):
        r = rng.uniform(0.18, 0.4) * size
        cx, cy = rng.uniform(r + 0.5, size - r - 0.5, size=2)
        angle = rng.uniform(0, 2 * math.pi)
        dx, dy = X - cx, Y - cy
        u = math.cos(angle) * dx + math.sin(angle) * dy
        v = -math.sin(angle) * dx + math.cos(angle) * dy
        mask = _shape_mask(classes[y[i]], u, -v, r)  # -v: y axis points down in images
        x[i, 0] = mask.reshape(size, ss, size, ss).mean(axis=(1, 3))
    if noise > 0:
        x = np.clip(x + rng.normal(0.0, noise, size=x.shape), 0.0, 1.0).astype(np.float32)
    return x, y


# ----------------------------------------------------------------------------------------------
# IDX files (the format of MNIST)
# ----------------------------------------------------------------------------------------------
# magic number: 0x00 0x00 <type code> <number of dimensions>, then one big-endian int32 per
# dimension, then the data in C order, big-endian.

_IDX_TYPES = {
    0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}
_IDX_CODES = {dt.newbyteorder("=").str[1:]: code for code, dt in _IDX_TYPES.items()}  # "u1" -> 0x08


def _is_gzip(path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def read_idx(path) -> np.ndarray:
    """Read an IDX file (e.g. MNIST's ``t10k-images-idx3-ubyte[.gz]``); gzip is detected by content.

    Returns:
        the array with the file's shape and type in native byte order (MNIST images: (N, 28, 28) uint8,
        labels: (N,) uint8).

    Raises:
        ValueError: the file does not start with an IDX magic number, names an unknown type, or is
            shorter or longer than its header says.
    """
    path = os.fspath(path)
    opener = gzip.open if _is_gzip(path) else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (EOFError, gzip.BadGzipFile) as error:
        raise ValueError(f"read_idx: {path}: damaged gzip file ({error})") from None
    if len(data) < 4:
        raise ValueError(f"read_idx: {path}: truncated file, {len(data)} bytes is too short for the "
                         f"4-byte magic number")
    zero1, zero2, code, ndim = data[:4]
    if zero1 or zero2 or code not in _IDX_TYPES:
        raise ValueError(f"read_idx: {path}: bad magic number 0x{data[:4].hex()}; an IDX file starts with "
                         f"0x0000, a type code in {{{', '.join(f'0x{c:02x}' for c in _IDX_TYPES)}}} "
                         f"and the number of dimensions (MNIST images: 0x00000803)")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"read_idx: {path}: truncated file, the header of {ndim} dimensions needs "
                         f"{header} bytes but the file has {len(data)}")
    shape = struct.unpack(f">{ndim}i", data[4:header])
    if any(d < 0 for d in shape):
        raise ValueError(f"read_idx: {path}: negative dimension in shape {shape}")
    dtype = _IDX_TYPES[code]
    expected = header + math.prod(shape) * dtype.itemsize
    if len(data) != expected:
        what = "truncated file" if len(data) < expected else "trailing bytes after the data"
        raise ValueError(f"read_idx: {path}: {what}: shape {shape} of {dtype.newbyteorder('=')} needs "
                         f"{expected} bytes but the file has {len(data)}")
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def write_idx(path, array, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file; gzip-compressed when ``compress`` is true or, by default,
    when ``path`` ends with ``.gz``.

    Supported dtypes: uint8, int8, int16, int32, float32, float64 (the six IDX types); 1 to 255 axes.
    """
    array = np.asarray(array)
    key = array.dtype.newbyteorder("=").str[1:] if array.dtype.kind in "uif" else array.dtype.str
    if key not in _IDX_CODES:
        raise TypeError(f"write_idx: IDX stores uint8, int8, int16, int32, float32 or float64, "
                        f"got dtype {array.dtype}")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"write_idx: IDX stores arrays with 1 to 255 axes, got {array.ndim}-D")
    if any(d >= 2**31 for d in array.shape):
        raise ValueError(f"write_idx: every dimension must be < 2**31, got shape {array.shape}")
    code = _IDX_CODES[key]
    payload = (bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
               + np.ascontiguousarray(array, dtype=_IDX_TYPES[code]).tobytes())
    path = os.fspath(path)
    if compress is None:
        compress = path.endswith(".gz")
    with (gzip.open if compress else open)(path, "wb") as f:
        f.write(payload)
