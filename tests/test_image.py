"""Images as arrays: photos, channels, grayscale, quantization, number grids."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab.image import (BT601, format_grid, load_photo, merge_channels, number_grid, quantize,
                          split_channels, to_grayscale)


@pytest.fixture(scope="module")
def photo():
    return load_photo("china")


def test_load_photo(photo):
    assert photo.shape == (427, 640, 3) and photo.dtype == np.uint8
    assert photo.min() == 0 and photo.max() == 255
    assert photo.flags.writeable  # a copy: the cached scikit-learn array stays untouched
    flower = load_photo("flower.jpg")
    assert flower.shape == (427, 640, 3) and not np.array_equal(flower, photo)
    with pytest.raises(ValueError, match="name must be one of"):
        load_photo("mona_lisa")


def test_split_and_merge_channels(photo):
    r, g, b = split_channels(photo)
    assert r.shape == (427, 640) and r.dtype == np.uint8
    assert np.array_equal(r, photo[..., 0]) and np.array_equal(b, photo[..., 2])
    assert np.array_equal(merge_channels(r, g, b), photo)
    with pytest.raises(ValueError, match=r"expected a colour image of shape \(H, W, 3\), got shape \(4, 5\)"):
        split_channels(np.zeros((4, 5), np.uint8))
    with pytest.raises(ValueError, match="three 2-D channels"):
        merge_channels(r, g, b[:3])


def test_grayscale_uses_bt601(photo):
    gray = to_grayscale(photo)
    assert gray.shape == (427, 640) and gray.dtype == np.uint8
    pixel = photo[100, 200].astype(float)
    assert gray[100, 200] == round(float(pixel @ np.array(BT601)))
    # pure colours: green is brightest, blue darkest
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]], np.uint8)
    assert to_grayscale(rgb).tolist() == [[76, 150, 29, 255]]
    f = to_grayscale(rgb.astype(np.float32) / 255)
    assert f.dtype == np.float32 and f[0, 3] == pytest.approx(1.0)
    # close to PIL's "L" conversion (PIL uses the same weights in fixed point)
    from PIL import Image

    pil = np.asarray(Image.fromarray(photo).convert("L")).astype(int)
    assert np.abs(pil - gray.astype(int)).max() <= 1
    with pytest.raises(ValueError, match="already one channel"):
        to_grayscale(gray)


@pytest.mark.parametrize("levels, values", [
    (2, [0, 255]), (4, [0, 85, 170, 255]), (8, [0, 36, 73, 109, 146, 182, 219, 255]),
])
def test_quantize_slide_levels(photo, levels, values):
    gray = to_grayscale(photo)
    q = quantize(gray, levels)
    assert q.dtype == np.uint8 and q.shape == gray.shape
    assert np.unique(q).tolist() == values  # exactly L distinct values, evenly spaced on 0..255
    assert np.unique(quantize(photo, levels)).tolist() == values  # colour: per channel


def test_quantize_bins_are_equal_width():
    ramp = np.arange(256, dtype=np.uint8)
    for levels in (2, 3, 4, 8, 16, 256):
        q = quantize(ramp, levels)
        counts = np.unique(q, return_counts=True)[1]
        assert len(counts) == levels and counts.max() - counts.min() <= 1
        assert np.all(np.diff(q.astype(int)) >= 0)  # monotone
    assert np.array_equal(quantize(ramp, 256), ramp)
    assert quantize(ramp, 2)[127] == 0 and quantize(ramp, 2)[128] == 255


@pytest.mark.parametrize("img, levels, error, message", [
    (np.zeros((2, 2), np.uint8), 1, ValueError, "levels must be an int from 2 to 256"),
    (np.zeros((2, 2), np.uint8), 257, ValueError, "levels must be"),
    (np.zeros((2, 2), np.uint8), 2.0, ValueError, "levels must be"),
    (np.zeros((2, 2), np.float32), 4, TypeError, "expected integer pixel values 0..255"),
    (np.full((2, 2), 300), 4, ValueError, "must lie in 0..255"),
])
def test_quantize_errors(img, levels, error, message):
    with pytest.raises(error, match=message):
        quantize(img, levels)


def test_number_grid_and_format(photo):
    patch = number_grid(photo, 10, 20, 5)
    assert patch.shape == (5, 5, 3) and np.array_equal(patch, photo[10:15, 20:25])
    gray = to_grayscale(photo)
    p = number_grid(gray, 0, 0, (2, 3))
    assert p.shape == (2, 3)
    p[:] = 0
    assert gray[:2, :3].any()  # a copy
    text = format_grid(np.array([[8, 2, 22], [49, 49, 99]], np.uint8))
    assert text == "08 02 22\n49 49 99"
    assert format_grid(np.array([[255, 7]])) == "255 007"


@pytest.mark.parametrize("args, message", [
    ((420, 0, 10), "does not fit in the image of 427 x 640"),
    ((0, 635, 10), "does not fit"),
    ((-1, 0, 3), "top must be an int >= 0"),
    ((0, 1.5, 3), "left must be"),
    ((0, 0, 0), "size must be a positive int"),
    ((0, 0, (2, 3, 4)), "size must be"),
])
def test_number_grid_errors(photo, args, message):
    with pytest.raises(ValueError, match=message):
        number_grid(photo, *args)
    with pytest.raises(ValueError, match="expected an image"):
        number_grid(np.zeros(5), 0, 0, 1)
