"""One look for every figure of the book: sharp on any screen, text as large as the body text."""

from __future__ import annotations

__all__ = ["use_book_style", "BOOK_FIGURE_WIDTH", "BOOK_FONT_SIZE"]

# The text column is 688 px wide and the body text 16 px (12 pt). A figure 7 inches (504 pt, 672 px)
# wide is shown at its own size, so 12 pt text in it is as large as the body text.
BOOK_FIGURE_WIDTH = 7.0
BOOK_FONT_SIZE = 12


def use_book_style() -> None:
    """Call once at the top of a chapter: figures become SVG (sharp at any zoom) with readable text.

    Every text of a figure is 12 pt (13 pt for titles) unless a call asks for more; a figure is
    7 inches wide by default. Raster parts of a figure (imshow) are embedded at 200 dpi, twice
    the resolution they are shown at. Keep figures at most 7 inches wide: a wider one is shrunk
    to the column and its text with it.
    """
    import matplotlib as mpl

    try:  # inside IPython: importing pyplot installs the inline backend's own defaults; ours go on top
        import matplotlib.pyplot  # noqa: F401
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # not inside IPython: nothing more to configure
        set_matplotlib_formats = None
    mpl.rcParams.update({
        "figure.figsize": (BOOK_FIGURE_WIDTH, 3.6),
        "font.size": BOOK_FONT_SIZE,
        "axes.titlesize": BOOK_FONT_SIZE + 1,
        "axes.labelsize": BOOK_FONT_SIZE,
        "xtick.labelsize": BOOK_FONT_SIZE,
        "ytick.labelsize": BOOK_FONT_SIZE,
        "legend.fontsize": BOOK_FONT_SIZE,
        "legend.title_fontsize": BOOK_FONT_SIZE,
        "figure.titlesize": BOOK_FONT_SIZE + 1,
        "svg.fonttype": "path",  # glyphs as outlines: the figure looks the same without the fonts
        "figure.dpi": 200,  # resolution of raster parts (imshow) inside the SVG
        "savefig.bbox": "tight",
    })
    if set_matplotlib_formats is not None:
        set_matplotlib_formats("svg")
