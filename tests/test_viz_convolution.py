"""Figures of chapters 5-6 (cnnlab.viz.convolution): thumbnails average blocks, the CNN diagram draws one box
per layer, photo figures become JPEGs and are closed."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

from cnnlab import viz  # noqa: E402


def test_thumbnail_averages_blocks():
    img = np.arange(24.0).reshape(4, 6)
    small = viz.thumbnail(img, max_width=3)
    assert small.tolist() == [[3.5, 5.5, 7.5], [15.5, 17.5, 19.5]]


def test_thumbnail_keeps_uint8_colour_and_narrow_images():
    photo = np.full((427, 640, 3), 200, dtype=np.uint8)
    photo[0, 0] = 0
    small = viz.thumbnail(photo)
    assert small.shape == (213, 320, 3) and small.dtype == np.uint8
    assert small[0, 0].tolist() == [150, 150, 150]  # (0 + 3 * 200) / 4
    narrow = np.zeros((5, 7))
    assert viz.thumbnail(narrow) is narrow


@pytest.mark.parametrize("img, width, message", [
    (np.zeros(5), 320, r"shape \(H, W\) or \(H, W, C\), got shape \(5,\)"),
    (np.array([["a"]]), 320, "dtype <U1"),
    (np.zeros((4, 4)), 0, "max_width must be a positive int, got 0"),
])
def test_thumbnail_bad_input(img, width, message):
    with pytest.raises(ValueError, match=message):
        viz.thumbnail(img, width)


def test_draw_cnn_layers_one_box_per_layer():
    layers = [("input", "1x28x28"), ("conv 5x5", "6x28x28\n156 params"), ("max pool 2x2", "6x14x14"),
              ("conv 5x5", "16x10x10"), ("max pool", "16x5x5"), ("fc", "10")]
    fig = viz.draw_cnn_layers(layers)
    boxes = [p for p in fig.axes[0].patches if isinstance(p, FancyBboxPatch)]
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert len(boxes) == len(layers) and "6x28x28\n156 params" in texts
    plt.close(fig)
    with pytest.raises(ValueError, match="list of \\(name, text\\) pairs"):
        viz.draw_cnn_layers([("input",)])


def test_show_as_jpeg_displays_a_jpeg_and_closes_the_figure():
    fig, ax = plt.subplots(figsize=(4, 2))
    ax.imshow(np.random.default_rng(0).random((40, 80)))
    image = viz.show_as_jpeg(fig, dpi=100)
    assert image.data[:2] == b"\xff\xd8"  # JPEG magic number
    assert fig.number not in plt.get_fignums()
    assert 300 <= image.width <= 4 * 96  # CSS pixels: 96 per inch, at most the figure's 4 inches
