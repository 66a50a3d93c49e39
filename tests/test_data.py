"""Offline datasets: the digits split, the synthetic shapes, the IDX format."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from cnnlab.data import DIGITS_SPLIT_SIZES, SHAPES, load_digits, make_shapes, read_idx, write_idx


# ---------------------------------------------------------------------------------------------- digits

def test_digits_split_sizes_dtypes_and_range():
    for split, n in DIGITS_SPLIT_SIZES.items():
        x, y = load_digits(split)
        assert x.shape == (n, 1, 8, 8) and x.dtype == np.float32
        assert y.shape == (n,) and y.dtype == np.int64
        assert x.min() == 0.0 and x.max() == 1.0
    assert sum(DIGITS_SPLIT_SIZES[s] for s in ("train", "val", "test")) == 1797


def test_digits_split_is_disjoint_stratified_and_fixed():
    from sklearn.datasets import load_digits as sk

    raw = sk().images.astype(np.float32) / 16
    for split in ("train", "val", "test"):
        x, y = load_digits(split)
        counts = np.bincount(y, minlength=10) / len(y)
        assert np.all(np.abs(counts - 0.1) < 0.012), counts  # each class ~10 % of every split
    # the same images, in the same order, on every call
    a, b = load_digits("test"), load_digits("test")
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    # the split together is exactly the dataset
    xall, _ = load_digits("all")
    assert np.array_equal(xall[:, 0], raw)
    together = np.concatenate([load_digits(s)[0] for s in ("train", "val", "test")])
    assert np.array_equal(np.sort(together.reshape(1797, -1), axis=0), np.sort(raw.reshape(1797, -1), axis=0))


def test_digits_split_indices_do_not_overlap():
    from cnnlab.data import _digits_split

    idx = _digits_split()
    sets = [set(idx[s].tolist()) for s in ("train", "val", "test")]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    assert len(sets[0] | sets[1] | sets[2]) == 1797


def test_digits_returned_arrays_are_fresh_copies():
    x, y = load_digits("val")
    x[:] = 5
    y[:] = 5
    x2, y2 = load_digits("val")
    assert x2.max() == 1.0 and y2.min() == 0


def test_digits_resized_to_28():
    x8, y8 = load_digits("test")
    x, y = load_digits("test", size=28)
    assert x.shape == (359, 1, 28, 28) and x.dtype == np.float32 and np.array_equal(y, y8)
    assert 0.0 <= x.min() and x.max() <= 1.0
    # the mean brightness is preserved by bilinear upsampling, roughly
    assert abs(x.mean() - x8.mean()) < 0.02


def test_digits_28_is_torch_bilinear_resize():
    torch = pytest.importorskip("torch")
    x8, _ = load_digits("val")
    x28, _ = load_digits("val", size=28)
    ref = torch.nn.functional.interpolate(torch.from_numpy(x8), size=(28, 28), mode="bilinear",
                                          align_corners=False).numpy()
    np.testing.assert_allclose(x28, ref, atol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    (dict(split="training"), "split must be one of"),
    (dict(size=16), "size must be 8 or 28"),
])
def test_digits_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_digits(**kwargs)


# ---------------------------------------------------------------------------------------------- shapes

def test_shapes_shapes_balance_and_range():
    x, y = make_shapes(50, size=20, classes=SHAPES, seed=1)
    assert x.shape == (50, 1, 20, 20) and x.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [10] * 5
    assert x.min() == 0.0 and x.max() == 1.0
    # every image shows a shape that is not cut by the border
    assert np.all(x.reshape(50, -1).sum(axis=1) > 5)
    border = np.concatenate([x[:, 0, 0], x[:, 0, -1], x[:, 0, :, 0], x[:, 0, :, -1]], axis=1)
    assert border.max() < 0.5


def test_shapes_are_seeded():
    a = make_shapes(12, seed=3)
    b = make_shapes(12, seed=3)
    c = make_shapes(12, seed=4)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_shape_areas_tell_the_classes_apart():
    # same radius: circle (pi r^2) > square (2 r^2) > triangle (1.3 r^2): a sanity check of the drawings
    x, y = make_shapes(300, size=32, classes=("circle", "square", "triangle"), seed=0)
    area = x.reshape(300, -1).sum(axis=1)
    # radii are random: compare the area with the square of the extent (rows covered)
    extent = (x[:, 0] > 0.5).any(axis=1).sum(axis=1).astype(float)  # rows covered
    ratio = area / extent**2
    means = [ratio[y == k].mean() for k in range(3)]
    assert means[0] > means[1] > means[2], means


def test_shapes_noise_and_errors():
    x, _ = make_shapes(4, noise=0.1, seed=0)
    assert 0 <= x.min() and x.max() <= 1 and len(np.unique(x)) > 100
    for kwargs, message in [(dict(n=0), "n must be"), (dict(n=3, size=4), "size must be"),
                            (dict(n=3, classes=("circle", "hexagon")), "classes must be"),
                            (dict(n=3, classes=()), "classes must be"),
                            (dict(n=3, noise=-1), "noise must be")]:
        with pytest.raises(ValueError, match=message):
            make_shapes(**kwargs)


# ---------------------------------------------------------------------------------------------- IDX

@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("name", ["a-idx3-ubyte", "a-idx3-ubyte.gz"])
def test_idx_round_trip(tmp_path, dtype, name):
    rng = np.random.default_rng(0)
    array = (rng.standard_normal((3, 4, 5)) * 50).astype(dtype)
    path = tmp_path / name
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.shape == (3, 4, 5)
    assert np.array_equal(back, array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")


def test_idx_reads_mnist_layout_byte_by_byte(tmp_path):
    # hand-written file: magic 0x00000803, dims 2 x 2 x 3 (big-endian), then 12 pixels
    raw = bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(range(12))
    (tmp_path / "imgs").write_bytes(raw)
    with gzip.open(tmp_path / "imgs.gz", "wb") as f:  # gzip detected by content, whatever the name
        f.write(raw)
    (tmp_path / "labels").write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 4, 7, 2, 1, 0]))
    for name in ("imgs", "imgs.gz"):
        x = read_idx(tmp_path / name)
        assert x.dtype == np.uint8 and np.array_equal(x, np.arange(12).reshape(2, 2, 3))
    assert read_idx(str(tmp_path / "labels")).tolist() == [7, 2, 1, 0]
    # big-endian on disk
    write_idx(tmp_path / "i32", np.array([1, 256], dtype=np.int32))
    assert (tmp_path / "i32").read_bytes() == bytes([0, 0, 0x0C, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 1, 0])


def test_idx_errors(tmp_path):
    good = bytes([0, 0, 8, 1, 0, 0, 0, 4, 7, 2, 1, 0])
    cases = {
        "magic": (b"\x01\x00\x08\x01" + good[4:], "bad magic number 0x01000801"),
        "type": (bytes([0, 0, 0x0A, 1]) + good[4:], "bad magic number"),
        "short": (b"\x00\x00", "truncated file"),
        "header": (bytes([0, 0, 8, 3, 0, 0, 0, 2]), "truncated file, the header"),
        "data": (good[:-1], "truncated file: shape \\(4,\\)"),
        "extra": (good + b"\x00", "trailing bytes"),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError, match=message):
            read_idx(tmp_path / name)
    # a gzip stream cut short
    with gzip.open(tmp_path / "cut.gz", "wb") as f:
        f.write(good * 100)
    data = (tmp_path / "cut.gz").read_bytes()
    (tmp_path / "cut.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="damaged gzip"):
        read_idx(tmp_path / "cut.gz")
    with pytest.raises(TypeError, match="IDX stores uint8"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="1 to 255 axes"):
        write_idx(tmp_path / "x", np.array(3, dtype=np.uint8))
