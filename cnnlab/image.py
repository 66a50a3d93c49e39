"""Images as arrays: what a computer sees when we see a photo.

A colour photo of H x W pixels is an array of H x W x 3 numbers, one per pixel and channel
(red, green, blue), each an integer from 0 (dark) to 255 (bright): a 480 x 480 JPEG holds
480 * 480 * 3 = 691200 of them.

- :func:`load_photo`: a real colour photo bundled with scikit-learn (no download).
- :func:`split_channels` / :func:`merge_channels`: colour image = red + green + blue.
- :func:`to_grayscale`: one brightness per pixel (ITU-R BT.601 weights).
- :func:`quantize`: keep only ``L`` grey levels (the slides' L2 / L4 / L8).
- :func:`number_grid` / :func:`format_grid`: the patch of numbers behind a corner of the picture.

Layout is H x W x C (how image files store pixels), not the N x C x H x W of the networks;
``img.transpose(2, 0, 1)[None]`` turns one into the other.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["PHOTOS", "load_photo", "split_channels", "merge_channels", "to_grayscale", "BT601",
           "quantize", "number_grid", "format_grid"]

#: Photos bundled with scikit-learn: 427 x 640 x 3 uint8 each.
PHOTOS = ("china", "flower")

#: ITU-R BT.601 luma weights of (R, G, B): green looks brightest to the eye, blue darkest.
BT601 = (0.299, 0.587, 0.114)


def load_photo(name: str = "china") -> np.ndarray:
    """A real colour photo from scikit-learn's bundled samples (works offline).

    Args:
        name: ``"china"`` (a temple in China) or ``"flower"`` (a flower); ``".jpg"`` may be appended.

    Returns:
        (427, 640, 3) uint8 array (a fresh, writable copy), channels R, G, B.
    """
    key = name[:-4] if isinstance(name, str) and name.endswith(".jpg") else name
    if key not in PHOTOS:
        raise ValueError(f"load_photo: name must be one of {PHOTOS}, got {name!r}")
    from sklearn.datasets import load_sample_image

    return np.array(load_sample_image(f"{key}.jpg"))


def _check_colour(img, op: str) -> np.ndarray:
    img = np.asarray(img)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"{op}: expected a colour image of shape (H, W, 3), got shape {img.shape}"
                         + (" (already one channel?)" if img.ndim == 2 else ""))
    return img


def split_channels(img) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Colour image = Red + Green + Blue: ``(H, W, 3) -> (R, G, B)``, each (H, W) with the image's dtype."""
    img = _check_colour(img, "split_channels")
    return img[:, :, 0].copy(), img[:, :, 1].copy(), img[:, :, 2].copy()


def merge_channels(r, g, b) -> np.ndarray:
    """The inverse of :func:`split_channels`: three (H, W) arrays -> (H, W, 3)."""
    r, g, b = np.asarray(r), np.asarray(g), np.asarray(b)
    if not (r.ndim == 2 and r.shape == g.shape == b.shape):
        raise ValueError(f"merge_channels: expected three 2-D channels of one shape, got shapes "
                         f"{r.shape}, {g.shape}, {b.shape}")
    return np.stack([r, g, b], axis=2)


def to_grayscale(img) -> np.ndarray:
    """Brightness of each pixel: ``Y = 0.299 R + 0.587 G + 0.114 B`` (ITU-R BT.601, as in JPEG and PIL).

    Args:
        img: (H, W, 3), uint8 in 0..255 or floats.

    Returns:
        (H, W): uint8 (rounded to the nearest integer) for uint8 input; the input's float dtype otherwise.
    """
    img = _check_colour(img, "to_grayscale")
    if img.dtype.kind not in "uif" or img.dtype == np.bool_:
        raise TypeError(f"to_grayscale: expected numbers (uint8 or float), got dtype {img.dtype}")
    y = img.astype(np.float64) @ np.array(BT601)
    if img.dtype == np.uint8:
        return np.clip(np.rint(y), 0, 255).astype(np.uint8)
    return y.astype(img.dtype) if img.dtype.kind == "f" else y


def _check_uint8_like(img, op: str) -> np.ndarray:
    img = np.asarray(img)
    if img.dtype.kind not in "ui" or img.dtype == np.bool_:
        raise TypeError(f"{op}: expected integer pixel values 0..255 (uint8), got dtype {img.dtype}; "
                        f"for floats in [0, 1] use (img * 255).round().astype(np.uint8)")
    if img.size and (img.min() < 0 or img.max() > 255):
        raise ValueError(f"{op}: pixel values must lie in 0..255, got {img.min()}..{img.max()}")
    return img


def quantize(img, levels: int) -> np.ndarray:
    """Keep only ``levels`` brightness levels, evenly spaced on 0..255 (the slides' 量化-L2 / L4 / L8).

    The range 0..255 is cut into ``levels`` bins of equal width; every value in bin ``k`` becomes
    ``round(k * 255 / (levels - 1))``. L2 gives {0, 255}, L4 {0, 85, 170, 255},
    L8 {0, 36, 73, 109, 146, 182, 219, 255}; L256 changes nothing.

    Args:
        img: uint8 (or integer) array of any shape, values 0..255: grey (H, W) or colour (H, W, 3)
            (each channel is quantized on its own).
        levels: int, 2 <= levels <= 256.

    Returns:
        uint8 array of the same shape with at most ``levels`` distinct values (exactly ``levels`` when
        the image uses the whole range, e.g. a photo).
    """
    img = _check_uint8_like(img, "quantize")
    if not _is_int(levels) or not 2 <= levels <= 256:
        raise ValueError(f"quantize: levels must be an int from 2 to 256, got {levels!r}")
    bins = img.astype(np.int64) * levels // 256  # 0 .. levels-1
    values = np.rint(np.arange(levels) * 255 / (levels - 1)).astype(np.uint8)
    return values[bins]


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def number_grid(img, top: int, left: int, size=10) -> np.ndarray:
    """The patch of numbers a computer sees: ``img[top:top+h, left:left+w]`` (a copy).

    Args:
        img: (H, W) or (H, W, C) array.
        top, left: the patch's upper-left pixel.
        size: ``h = w = size``, or a pair ``(h, w)``.

    Returns:
        (h, w) or (h, w, C) array of the image's dtype. Print it with :func:`format_grid`.
    """
    img = np.asarray(img)
    if img.ndim not in (2, 3):
        raise ValueError(f"number_grid: expected an image of shape (H, W) or (H, W, C), got shape {img.shape}")
    sizes = tuple(size) if isinstance(size, (tuple, list)) else (size, size)
    if len(sizes) != 2 or not all(_is_int(v) and v >= 1 for v in sizes):
        raise ValueError(f"number_grid: size must be a positive int or a pair (h, w) of them, got {size!r}")
    for name, v in (("top", top), ("left", left)):
        if not _is_int(v) or v < 0:
            raise ValueError(f"number_grid: {name} must be an int >= 0, got {v!r}")
    h, w = int(sizes[0]), int(sizes[1])
    H, W = img.shape[:2]
    if top + h > H or left + w > W:
        raise ValueError(f"number_grid: the patch of rows {top}..{top + h - 1} and columns {left}..{left + w - 1} "
                         f"does not fit in the image of {H} x {W} pixels")
    return img[top:top + h, left:left + w].copy()


def format_grid(patch) -> str:
    """The numbers of a 2-D patch as text, one row per line, zero-padded to one width (as on the slide:
    ``08 02 22 97 ...``)."""
    patch = np.asarray(patch)
    if patch.ndim != 2:
        raise ValueError(f"format_grid: expected a 2-D patch (one channel), got shape {patch.shape}")
    if patch.dtype.kind not in "ui" or patch.dtype == np.bool_:
        raise TypeError(f"format_grid: expected integer values, got dtype {patch.dtype}")
    if patch.size and patch.min() < 0:
        raise ValueError("format_grid: expected values >= 0")
    width = len(str(int(patch.max()))) if patch.size else 1
    width = max(width, 2)
    return "\n".join(" ".join(f"{int(v):0{width}d}" for v in row) for row in patch)
