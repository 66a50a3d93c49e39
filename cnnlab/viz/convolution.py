"""Figures of chapters 5-6 (convolution and pooling): the layers of a typical CNN, photos and feature maps.

Grids of numbers: ``show_number_grids`` (cnnlab.viz.networks) and the frames of ``cnnlab.viz.animation``.

Labels are English or math on purpose (see ``cnnlab.viz``); the Chinese goes in the prose.
"""

from __future__ import annotations

import numpy as np

__all__ = ["draw_cnn_layers", "thumbnail", "show_as_jpeg"]


def thumbnail(img, max_width: int = 320) -> np.ndarray:
    """``img`` shrunk for display by averaging k x k blocks (k the smallest integer making it at most
    ``max_width`` pixels wide); unchanged when it is narrow enough.

    A figure's images are stored in the page at their own resolution: a 427 x 640 photo in a panel
    half the text column wide (about 340 px) only adds weight. Averaging (rather than taking every
    k-th pixel) keeps thin edges and noise looking as they do at full size.

    Args:
        img: (H, W) or (H, W, C) array of numbers.

    Returns:
        (H // k, W // k) or (H // k, W // k, C) array: uint8 (rounded) for uint8 input, else float.
    """
    img = np.asarray(img)
    if img.ndim not in (2, 3) or img.dtype.kind not in "iuf":
        raise ValueError(f"thumbnail: expected an image of numbers, shape (H, W) or (H, W, C), got shape {img.shape} "
                         f"and dtype {img.dtype}")
    if not isinstance(max_width, int) or max_width < 1:
        raise ValueError(f"thumbnail: max_width must be a positive int, got {max_width!r}")
    k = -(-img.shape[1] // max_width)
    if k == 1:
        return img
    H, W = img.shape[0] // k * k, img.shape[1] // k * k
    blocks = img[:H, :W].reshape(H // k, k, W // k, k, *img.shape[2:]).astype(np.float64)
    small = blocks.mean(axis=(1, 3))
    return np.rint(small).astype(np.uint8) if img.dtype == np.uint8 else small


def show_as_jpeg(fig, dpi: int = 192, quality: int = 85):
    """Show a figure of photos as one JPEG image, then close it.

    An SVG or PNG of photographic content (photos, feature maps, noise) weighs 0.5-2 MB per figure;
    the same figure as a JPEG at 2x resolution (192 dpi shown at 96 CSS px per inch) weighs a fraction of that
    and stays sharp on HiDPI screens.
    Returns the IPython Image (already displayed when running in a notebook).
    """
    import io

    import matplotlib.pyplot as plt
    from IPython.display import Image, display
    from PIL import Image as PILImage

    buf = io.BytesIO()
    fig.savefig(buf, format="jpeg", dpi=dpi, pil_kwargs={"quality": quality, "optimize": True})
    plt.close(fig)
    width_px = PILImage.open(io.BytesIO(buf.getvalue())).size[0]
    image = Image(data=buf.getvalue(), format="jpeg", width=width_px * 96 // dpi)  # CSS px, as the SVGs
    display(image)
    return image


def draw_cnn_layers(layers, per_row: int = 3):
    """A typical CNN as rows of boxes, one per layer, with what each produces.

    Args:
        layers: sequence of (name, text) pairs, e.g. ``[("input", "1x28x28"), ("conv 5x5", "6x28x28\\n156 params")]``;
            names containing "conv", "pool" or "fc" / "linear" get that family's colour; ``text`` may hold
            a line break.
        per_row: boxes per row (3 leaves room for names such as "conv 5x5 + ReLU" in 12 pt text).

    Returns:
        the matplotlib Figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    layers = list(layers)
    if not layers or not all(isinstance(item, (tuple, list)) and len(item) == 2 for item in layers):
        raise ValueError(f"draw_cnn_layers: expected a non-empty list of (name, text) pairs, got {layers!r}")
    colours = {"conv": "#c6dbef", "pool": "#fdd0a2", "fc": "#c7e9c0", "linear": "#c7e9c0"}
    n = len(layers)
    rows = -(-n // per_row)
    row_h = 1.3  # in box-widths: room for the boxes and the arrow to the next row
    fig, ax = plt.subplots(figsize=(7.0, 7.0 / per_row * row_h * rows * 0.8))
    ax.set_xlim(0, per_row)
    ax.set_ylim(rows * row_h, 0)
    ax.axis("off")
    box_w, box_h = 0.9, 0.95
    for k, (name, text) in enumerate(layers):
        r, c = divmod(k, per_row)
        x0, y0 = c + 0.05, r * row_h + 0.05
        colour = next((v for key, v in colours.items() if key in name.lower()), "#f0f0f0")
        ax.add_patch(FancyBboxPatch((x0, y0), box_w, box_h, boxstyle="round,pad=0.02", facecolor=colour,
                                    edgecolor="0.4"))
        ax.text(x0 + box_w / 2, y0 + 0.25, name, ha="center", va="center", fontsize=12, fontweight="bold")
        ax.text(x0 + box_w / 2, y0 + 0.62, text, ha="center", va="center", fontsize=12, color="0.2",
                linespacing=1.3)
        if k + 1 == n:
            continue
        arrow = dict(arrowstyle="->", lw=1.3)
        if c + 1 < per_row:
            ax.annotate("", (c + 1.05, y0 + box_h / 2), (x0 + box_w, y0 + box_h / 2), arrowprops=arrow)
        else:  # down, back to the left, and into the first box of the next row
            y_mid = y0 + box_h + (row_h - box_h) / 2 - 0.02
            ax.plot([x0 + box_w / 2, x0 + box_w / 2, 0.5], [y0 + box_h, y_mid, y_mid], color="black", lw=1.3)
            ax.annotate("", (0.5, (r + 1) * row_h + 0.05), (0.5, y_mid), arrowprops=arrow)
    return fig
