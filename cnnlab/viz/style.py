"""One look for every figure of the book: sharp on any screen, text as large as the body text."""

from __future__ import annotations

__all__ = ["use_book_style"]


def use_book_style() -> None:
    """Call once at the top of a chapter: figures become SVG (sharp at any zoom) with readable text.

    The text column is about 688 px wide; a figure 7 inches wide is shown at about that width, so
    fonts of 11-12 pt stay about as large as the body text once displayed.
    """
    import matplotlib as mpl

    mpl.rcParams.update({
        "figure.figsize": (7.0, 3.6),
        "font.size": 12,
        "axes.titlesize": 12,
        "axes.labelsize": 12,
        "xtick.labelsize": 11,
        "ytick.labelsize": 11,
        "legend.fontsize": 11,
        "svg.fonttype": "path",
        "figure.dpi": 100,
        "savefig.bbox": "tight",
    })
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # not inside IPython: nothing to configure
        return
    set_matplotlib_formats("svg")
