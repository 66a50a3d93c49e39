"""Figures shared by every chapter: image grids.

Labels are English or math on purpose: matplotlib warns about missing glyphs for Chinese text on
machines without CJK fonts, and the book treats any warning as an error. Chinese goes in the prose.
"""

from __future__ import annotations

import math

import numpy as np

from .style import BOOK_FIGURE_WIDTH, BOOK_FONT_SIZE

__all__ = ["show_images"]


def show_images(images, titles=None, ncols: int = 8, cmap: str = "gray", size: float | None = None, axes=None):
    """Draw images in a grid and return the figure.

    Args:
        images: array (N, H, W), (N, 1, H, W) (NCHW, one channel) or (N, H, W, 3), or a list of 2-D/RGB arrays.
        titles: optional sequence of N short strings (English or numbers).
        ncols: images per row.
        cmap: colour map for one-channel images.
        size: inches per image; by default the row fills the book's 7-inch figure width (style.BOOK_FIGURE_WIDTH),
            so that titles stay as large as the body text once the figure is shown in the text column.
    """
    import matplotlib.pyplot as plt

    images = [np.asarray(im) for im in images]
    if not images:
        raise ValueError("show_images: expected at least one image, got none")
    images = [im[0] if im.ndim == 3 and im.shape[0] == 1 else im for im in images]  # NCHW, C=1 -> HW
    for i, im in enumerate(images):
        if not (im.ndim == 2 or (im.ndim == 3 and im.shape[-1] in (3, 4))):
            raise ValueError(f"show_images: image {i} must be (H, W), (1, H, W) or (H, W, 3), got shape {im.shape}")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"show_images: got {len(images)} images but {len(titles)} titles")
    ncols = max(1, min(ncols, len(images)))
    if size is None:
        size = BOOK_FIGURE_WIDTH / max(ncols, 4)  # never wider than the column; few images stay small
    nrows = math.ceil(len(images) / ncols)
    title_room = 0.35 if titles is not None else 0.0  # inches for a line of title text above each image
    fig, grid = plt.subplots(nrows, ncols, figsize=(size * ncols, (size + title_room) * nrows), squeeze=False)
    for k, ax in enumerate(grid.flat):
        ax.axis("off")
        if k < len(images):
            ax.imshow(images[k], cmap=cmap if images[k].ndim == 2 else None)
            if titles is not None:
                ax.set_title(str(titles[k]), fontsize=BOOK_FONT_SIZE)
    fig.tight_layout()
    return fig
