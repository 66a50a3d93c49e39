"""Figures that move: convolution, transposed convolution, max pooling and unpooling, one step per frame.

Each ``animate_*`` function takes one 2-D input plane (H, W) and the op's settings, works out every step
(one output pixel of a convolution, one input pixel of a transposed convolution, one pooling window),
and returns an :class:`Animation`. In a notebook it shows as a player (play, pause, step frame by frame)
that is one self-contained piece of HTML: the frames are PNG images inside the page, so it works offline.

The numbers in every frame come from ``cnnlab.numpy``: the output of a convolution or pooling is computed
by the op and revealed pixel by pixel; the partial sums of a transposed convolution or an unpooling are the
op applied to the input pixels handled so far (the op is linear, so that is exactly the sum of their
stamps). The tests hold the last frame equal to ``cnnlab.numpy`` and to ``torch.nn.functional``.

Colours: orange = what this step reads and writes, blue = done, grey = padding, red outline = a maximum.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .. import numpy as cnp
from .._geometry import conv2d_geometry, conv_transpose2d_geometry, pool_geometry

__all__ = ["Animation", "animate_conv2d", "animate_conv_transpose2d", "animate_max_pool2d",
           "animate_max_unpool2d"]

_DPI = 80  # the frames' displayed size: 7 in at 80 px per inch fills the 560-688 px text column
_SHARPNESS = 2  # frames are stored at twice the displayed pixels, so they stay sharp on HiDPI screens
_CELL_IN = 0.42  # inches per grid cell when the panels fit in the figure width
_FIG_W_MAX = 7.0  # the text column
_FIG_W_MIN = 5.6  # room for a caption line of 56 characters
_CURRENT, _READ, _DONE, _PAD, _EMPTY = "#fdae6b", "#fee6ce", "#c6dbef", "#e0e0e0", "white"


@dataclass(eq=False)
class Animation:
    """A step-by-step animation of one op on one 2-D plane.

    Attributes:
        frames: the output plane after each step (``np.nan`` where a pixel is not computed yet, for
            convolution and pooling; partial sums for the transposed convolution and unpooling).
        output: the op's result, equal to ``frames[-1]``.
        captions: the arithmetic of each step, as shown under its frame.
        highlights: for each step, the (row, col) cells of the displayed input that the step reads
            (the taps of the kernel, the pooling window, or the input pixel being scattered).
    """

    frames: list
    output: np.ndarray
    captions: list
    highlights: list
    _draw: Callable = field(repr=False)  # draw(k) -> matplotlib Figure of frame k (a fresh figure)
    interval_ms: int = 1200

    def __len__(self) -> int:
        return len(self.frames)

    def figure(self, k: int = -1):
        """Frame ``k`` as a static matplotlib figure (e.g. for a printed page)."""
        return self._draw(range(len(self.frames))[k])

    def to_jshtml(self) -> str:
        """The player (play, pause, step, slider) as one self-contained piece of HTML.

        matplotlib's ``FuncAnimation.to_jshtml``, made to work offline and on a phone: its buttons' icons
        come from a font on a CDN, so they become plain Unicode symbols; the frames scale down to the width
        of the page; and each PNG frame is stored with a palette of 64 colours (flat cells and text need no
        more), which makes the page about three times lighter.
        """
        import matplotlib as mpl
        import matplotlib.pyplot as plt
        from matplotlib.animation import FuncAnimation

        with mpl.rc_context({"savefig.bbox": None, "figure.dpi": _DPI, "savefig.dpi": _SHARPNESS * _DPI}):
            fig = self._draw(0)
            width_px = round(fig.get_figwidth() * _DPI)
            fig.canvas.draw_idle = lambda *args, **kwargs: None  # each frame is drawn once, when it is saved
            try:
                anim = FuncAnimation(fig, lambda k: self._draw(k, fig), frames=len(self.frames),
                                     init_func=lambda: [], interval=self.interval_ms, repeat=False)
                html = anim.to_jshtml(default_mode="once")
            finally:
                plt.close(fig)  # else the notebook would also show the last frame as a static figure
        return _offline(html, width_px)

    def _repr_html_(self) -> str:
        return self.to_jshtml()


# --------------------------------------------------------------------------------------------------------------
# the player's HTML
# --------------------------------------------------------------------------------------------------------------

# matplotlib's buttons use Font Awesome 4 icons from a CDN; these symbols are in every common font.
_ICONS = {"fa-minus": "\u2212", "fa-fast-backward": "\u21e4", "fa-step-backward": "\u25c1",
          "fa-play fa-flip-horizontal": "\u25c0", "fa-pause": "\u275a\u275a", "fa-play": "\u25b6",
          "fa-step-forward": "\u25b7", "fa-fast-forward": "\u21e5", "fa-plus": "+"}
_STYLE = ("<style>.cnnlab-animation{max-width:100%;overflow-x:auto}"
          ".cnnlab-animation .animation{max-width:100%}"
          ".cnnlab-animation .animation img{width:var(--frame-width);max-width:100%;height:auto}"
          ".cnnlab-animation input[type=range].anim-slider{width:min(374px,90%)}"
          ".cnnlab-animation .anim-buttons button{width:32px}</style>")  # 9 buttons fit a phone


def _palette_png(b64: str) -> str:
    """A PNG (base64) re-encoded with a 64-colour palette, as base64 on one line."""
    import base64
    import io

    from PIL import Image

    img = Image.open(io.BytesIO(base64.b64decode(b64))).convert("RGB").quantize(colors=64)
    out = io.BytesIO()
    img.save(out, format="png", optimize=True)
    return base64.b64encode(out.getvalue()).decode("ascii")


def _offline(html: str, width_px: int) -> str:
    """matplotlib's jshtml without external resources, with lighter frames shown ``width_px`` wide (at
    most the page's width)."""
    import re

    html = re.sub(r"<link[^>]*>", "", html)  # the only external resource: the icon font's stylesheet
    for cls, symbol in _ICONS.items():
        html = html.replace(f'<i class="fa {cls}"></i>', symbol)
    html = re.sub(r"data:image/png;base64,([A-Za-z0-9+/=\\\n]+)",
                  lambda m: "data:image/png;base64," + _palette_png(m.group(1).replace("\\\n", "")), html)
    if re.search(r"https?://|<i class=\"fa", html):
        raise RuntimeError("animation: matplotlib's player changed; it refers to an external resource again")
    return f'{_STYLE}<div class="cnnlab-animation" style="--frame-width:{width_px}px">{html}</div>'


# --------------------------------------------------------------------------------------------------------------
# drawing: a figure of number grids side by side
# --------------------------------------------------------------------------------------------------------------

def _fmt(v) -> str:
    v = float(v)
    if v.is_integer() and abs(v) < 1e5:
        return str(int(v))
    return f"{v:.3g}"


def _term(a, b) -> str:
    sb = _fmt(b)
    return f"{_fmt(a)}*{'(' + sb + ')' if b < 0 else sb}"


def _lines(captions) -> int:
    return max(c.count("\n") + 1 for c in captions)


def _wrap(tokens: list, width: int = 56) -> str:
    """Join ``tokens`` with spaces into lines of at most ``width`` characters, never splitting a token."""
    lines = [tokens[0]]
    for token in tokens[1:]:
        if len(lines[-1]) + 1 + len(token) > width:
            lines.append("    " + token)
        else:
            lines[-1] += " " + token
    return "\n".join(lines)


@dataclass
class _Panel:
    """One grid of numbers as drawn in one frame."""

    title: str
    values: np.ndarray  # 2-D, NaN = empty cell
    fills: dict = field(default_factory=dict)  # (r, c) -> colour
    marks: tuple = ()  # cells outlined in red (maxima)
    bold: tuple = ()  # cells outlined in black (the current one)
    box: tuple | None = None  # (top, left, height, width): a dashed rectangle (a window's span)


def _figure(panels: list, caption: str, fig=None, lines: int = 1):
    """Draw the panels side by side, cells of one size, with the caption below; reuse ``fig`` if given.

    ``lines``: the most lines any caption of the animation has, so every frame has the same size."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    widths = [p.values.shape[1] for p in panels]
    rows = max(p.values.shape[0] for p in panels)
    gap = 1.0  # cells between panels
    cell = min(_CELL_IN, _FIG_W_MAX / (sum(widths) + gap * (len(panels) + 1)))
    n_lines = max(lines, caption.count("\n") + 1)
    fig_w = max(_FIG_W_MIN, cell * (sum(widths) + gap * (len(panels) + 1)))
    fig_h = cell * (rows + 1.6) + 0.22 * n_lines + 0.15
    if fig is None:
        fig = plt.figure(figsize=(fig_w, fig_h), dpi=_DPI)
    fig.clear()
    cell_pt = cell * 72
    x = (fig_w - cell * (sum(widths) + gap * (len(panels) - 1))) / 2  # panels centred
    bottom = (0.22 * n_lines + 0.25) / fig_h
    for p in panels:
        h, w = p.values.shape
        ax = fig.add_axes((x / fig_w, bottom + (rows - h) * cell / fig_h, w * cell / fig_w, h * cell / fig_h))
        x += (w + gap) * cell
        ax.set_xlim(-0.5, w - 0.5)
        ax.set_ylim(h - 0.5, -0.5)
        ax.axis("off")
        ax.set_title(p.title, fontsize=12, pad=4)
        texts = [_fmt(v) for v in p.values[~np.isnan(p.values)]]
        longest = max([len(t) for t in texts] + [2])
        size = min(0.42 * cell_pt, 1.45 * cell_pt / longest)
        for r in range(h):
            for c in range(w):
                ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, facecolor=p.fills.get((r, c), _EMPTY),
                                       edgecolor="0.55", linewidth=0.8, clip_on=False))  # outer lines too
                v = p.values[r, c]
                if not np.isnan(v):
                    ax.text(c, r, _fmt(v), ha="center", va="center", fontsize=size,
                            fontweight="bold" if (r, c) in p.marks else "normal")
        for cells, colour, lw in ((p.marks, "#cb181d", 2.2), (p.bold, "black", 2.2)):
            for r, c in cells:
                ax.add_patch(Rectangle((c - 0.44, r - 0.44), 0.88, 0.88, fill=False, edgecolor=colour, linewidth=lw))
        if p.box is not None:
            top, left, bh, bw = p.box
            ax.add_patch(Rectangle((left - 0.5, top - 0.5), bw, bh, fill=False, edgecolor="#d94801",
                                   linewidth=2.0, linestyle="--", clip_on=False))
    fig.text(0.15 / fig_w, (0.22 * n_lines + 0.1) / fig_h, caption, ha="left", va="top", fontsize=12,
             family="monospace", linespacing=1.25)
    return fig


# --------------------------------------------------------------------------------------------------------------
# input checks: one plane, one kernel
# --------------------------------------------------------------------------------------------------------------

def _plane(a, name: str, op: str, shape: str) -> np.ndarray:
    """``a`` as a float64 2-D array, or a ValueError naming what was expected and what came."""
    arr = np.asarray(a)
    if arr.dtype.kind not in "iuf" or arr.dtype == np.bool_:
        raise ValueError(f"{op}: {name} must hold numbers (int or float), got dtype {arr.dtype}")
    if arr.ndim != 2 or min(arr.shape) < 1:
        raise ValueError(f"{op}: {name} must be a non-empty 2-D array {shape}, got shape {arr.shape}")
    return arr.astype(np.float64)


def _nchw(a: np.ndarray) -> np.ndarray:
    return a[None, None]


def _reveal(full: np.ndarray, order: list) -> list:
    """The frames of an op computed pixel by pixel: after step k, pixels order[0..k] of ``full``, NaN elsewhere."""
    frames, state = [], np.full(full.shape, np.nan)
    for r, c in order:
        state[r, c] = full[r, c]
        frames.append(state.copy())
    return frames


def _grid_cells(shape) -> list:
    return [(i, j) for i in range(shape[0]) for j in range(shape[1])]


# --------------------------------------------------------------------------------------------------------------
# convolution
# --------------------------------------------------------------------------------------------------------------

def animate_conv2d(x, weight, stride=1, padding=0, dilation=1) -> Animation:
    """The kernel slides over the (zero-padded) input; each frame computes one output pixel.

    Args:
        x: (H, W) input plane.
        weight: (KH, KW) kernel.
        stride, padding, dilation: as ``cnnlab.numpy.conv2d`` (int, pair; padding also "valid" / "same").

    Returns:
        Animation with OH * OW frames; ``output`` = ``conv2d(x[None, None], weight[None, None], ...)[0, 0]``.
    """
    op = "animate_conv2d"
    x = _plane(x, "x", op, "(H, W)")
    weight = _plane(weight, "weight", op, "(KH, KW)")
    (top, bottom, left, right), (SH, SW), (DH, DW), out_hw = conv2d_geometry(
        op, _nchw(x), _nchw(weight), None, stride, padding, dilation, 1)
    output = cnp.conv2d(_nchw(x), _nchw(weight), stride=stride, padding=padding, dilation=dilation)[0, 0]
    xp = np.pad(x, ((top, bottom), (left, right)))
    KH, KW = weight.shape
    span = (DH * (KH - 1) + 1, DW * (KW - 1) + 1)
    padded = {(r, c) for r in range(xp.shape[0]) for c in range(xp.shape[1])
              if not (top <= r < top + x.shape[0] and left <= c < left + x.shape[1])}
    order = _grid_cells(out_hw)
    frames = _reveal(output, order)
    taps_of = [[(i * SH + a * DH, j * SW + b * DW) for a in range(KH) for b in range(KW)] for i, j in order]
    captions = []
    for (i, j), taps in zip(order, taps_of):
        terms = [_term(xp[r, c], w) for (r, c), w in zip(taps, weight.ravel())]
        tokens = [f"out[{i},{j}] = {terms[0]}"] + [f"+ {t}" for t in terms[1:]]
        tokens[-1] += f" = {_fmt(output[i, j])}"  # the result stays on the line of the last product
        captions.append(_wrap(tokens))

    notes = [f"stride {SH}" if SH == SW else f"stride {(SH, SW)}"] if (SH, SW) != (1, 1) else []
    in_title = "input (padded)" if padded else "input"
    k_title = "kernel" if (DH, DW) == (1, 1) else f"kernel (dilation {DH if DH == DW else (DH, DW)})"
    out_title = "output" + (f" ({notes[0]})" if notes else "")

    def draw(k, fig=None):
        i, j = order[k]
        fills = {cell: _PAD for cell in padded}
        fills.update({cell: _READ if cell not in padded else "#fdd0a2" for cell in taps_of[k]})
        done = {cell: _DONE for cell in order[:k]}
        panels = [
            _Panel(in_title, xp, fills=fills, box=(i * SH, j * SW, *span)),
            _Panel(k_title, weight, fills={c: _READ for c in _grid_cells(weight.shape)}),
            _Panel(out_title, frames[k], fills={**done, (i, j): _CURRENT}, bold=((i, j),)),
        ]
        return _figure(panels, captions[k], fig, _lines(captions))

    return Animation(frames, output, captions, taps_of, draw)


def animate_conv_transpose2d(x, weight, stride=1, padding=0) -> Animation:
    """Transposed convolution (转置卷积): each input pixel adds a copy of the kernel, scaled by its value,
    into the output at ``stride`` times its position; overlapping copies add up.

    Args:
        x: (H, W) input plane.
        weight: (KH, KW) kernel.
        stride, padding: as ``cnnlab.numpy.conv_transpose2d`` (padding crops that many rows / columns
            from each border of the stamped result).

    Returns:
        Animation with H * W frames; frame k is ``conv_transpose2d`` of the input with only its first
        k + 1 pixels kept (row by row), so the last frame is the op's output.
    """
    op = "animate_conv_transpose2d"
    x = _plane(x, "x", op, "(H, W)")
    weight = _plane(weight, "weight", op, "(KH, KW)")
    (PH, _, PW, _), (SH, SW), _, out_hw = conv_transpose2d_geometry(op, _nchw(x), _nchw(weight), None, stride,
                                                                 padding, 0, 1, 1)
    KH, KW = weight.shape
    order = _grid_cells(x.shape)
    frames, canvases, kept = [], [], np.zeros_like(x)
    for r, c in order:
        kept[r, c] = x[r, c]
        frames.append(cnp.conv_transpose2d(_nchw(kept), _nchw(weight), stride=stride, padding=padding)[0, 0])
        canvases.append(cnp.conv_transpose2d(_nchw(kept), _nchw(weight), stride=stride)[0, 0])  # before cropping
    output = frames[-1]
    stamps = [[(r * SH + a, c * SW + b) for a in range(KH) for b in range(KW)] for r, c in order]
    cropped = {(r, c) for r in range(canvases[0].shape[0]) for c in range(canvases[0].shape[1])
               if not (PH <= r < PH + out_hw[0] and PW <= c < PW + out_hw[1])}
    captions = []
    for (r, c) in order:
        captions.append(f"x[{r},{c}] = {_fmt(x[r, c])}: out[{r * SH}:{r * SH + KH}, {c * SW}:{c * SW + KW}] "
                        f"+= {_fmt(x[r, c])} * kernel")
    if cropped:
        captions[-1] += f"\noutput = the stamped result without its grey border (padding {padding})"
    out_title = "output" + (f" (stride {stride})" if (SH, SW) != (1, 1) else "")
    if cropped:
        out_title += ", border cropped"

    def draw(k, fig=None):
        r, c = order[k]
        fills = {cell: _PAD for cell in cropped}
        fills.update({cell: _CURRENT for cell in stamps[k]})
        panels = [
            _Panel("input", x, fills={**{cell: _DONE for cell in order[:k]}, (r, c): _CURRENT}, bold=((r, c),)),
            _Panel("kernel", weight, fills={cell: _READ for cell in _grid_cells(weight.shape)}),
            _Panel(out_title, canvases[k], fills=fills,
                   box=(PH, PW, *out_hw) if cropped else None),
        ]
        return _figure(panels, captions[k], fig, _lines(captions))

    return Animation(frames, output, captions, [[cell] for cell in order], draw)


# --------------------------------------------------------------------------------------------------------------
# pooling and unpooling
# --------------------------------------------------------------------------------------------------------------

def _pool_steps(op, x, kernel_size, stride):
    """Windows of a max pooling of plane ``x``: (pooled, winners, windows, order), the values and indices from
    ``cnnlab.numpy.max_pool2d``; winners[k] is the (row, col) of window k's maximum in ``x``."""
    (KH, KW), (SH, SW), *_ = pool_geometry(op, _nchw(x), kernel_size, stride, 0, 1, False)
    pooled, indices = cnp.max_pool2d(_nchw(x), kernel_size, stride=stride, return_indices=True)
    pooled, indices = pooled[0, 0], indices[0, 0]
    order = _grid_cells(pooled.shape)
    winners = [divmod(int(indices[i, j]), x.shape[1]) for i, j in order]
    windows = [[(i * SH + a, j * SW + b) for a in range(KH) for b in range(KW)] for i, j in order]
    return pooled, indices, winners, windows, order


def animate_max_pool2d(x, kernel_size, stride=None) -> Animation:
    """Max pooling: the window slides, its maximum (outlined in red) becomes one output pixel.

    Args:
        x: (H, W) input plane.
        kernel_size, stride: as ``cnnlab.numpy.max_pool2d`` (stride defaults to the kernel size).

    Returns:
        Animation with OH * OW frames; ``output`` = ``max_pool2d(x[None, None], kernel_size, stride)[0, 0]``.
    """
    op = "animate_max_pool2d"
    x = _plane(x, "x", op, "(H, W)")
    pooled, _, winners, windows, order = _pool_steps(op, x, kernel_size, stride)
    frames = _reveal(pooled, order)
    captions = [_wrap(f"out[{i},{j}] = max({', '.join(_fmt(x[r, c]) for r, c in win)}) = {_fmt(pooled[i, j])}"
                      .split(" "))
                for (i, j), win in zip(order, windows)]

    def draw(k, fig=None):
        i, j = order[k]
        panels = [
            _Panel("input", x, fills={cell: _READ for cell in windows[k]}, marks=tuple(winners[:k + 1])),
            _Panel("max-pooled output", frames[k], fills={**{cell: _DONE for cell in order[:k]}, (i, j): _CURRENT},
                   bold=((i, j),)),
        ]
        return _figure(panels, captions[k], fig, _lines(captions))

    return Animation(frames, pooled, captions, windows, draw)


def animate_max_unpool2d(x, kernel_size, stride=None) -> Animation:
    """Max pooling, then unpooling (反池化): each maximum goes back to the place it came from, every other
    pixel becomes 0 -- the size comes back, the values that were not maxima do not.

    Args:
        x: (H, W) input plane.
        kernel_size, stride: of the pooling (stride defaults to the kernel size).

    Returns:
        Animation with one frame per window; frame k is ``max_unpool2d`` of the pooled plane with only its
        first k + 1 pixels kept, so the last frame is ``max_unpool2d(max_pool2d(x, ...), indices, ...)``.
    """
    op = "animate_max_unpool2d"
    x = _plane(x, "x", op, "(H, W)")
    pooled, indices, winners, windows, order = _pool_steps(op, x, kernel_size, stride)
    frames, kept = [], np.zeros_like(pooled)
    for i, j in order:
        kept[i, j] = pooled[i, j]
        frames.append(cnp.max_unpool2d(_nchw(kept), _nchw(indices), kernel_size, stride=stride,
                                       output_size=x.shape)[0, 0])
    output = frames[-1]
    captions = [f"window {k}: max {_fmt(pooled[i, j])} at x[{r},{c}] -> pooled[{i},{j}] -> unpooled[{r},{c}]"
                for k, ((i, j), (r, c)) in enumerate(zip(order, winners))]
    lost = x.size - len(set(winners))  # every pixel that was no window's maximum
    captions[-1] += f"\n{lost} of {x.size} values lost (now 0)"

    def draw(k, fig=None):
        i, j = order[k]
        won = tuple(winners[:k + 1])
        unpool_fills = {cell: _DONE for cell in won}
        unpool_fills[winners[k]] = _CURRENT
        panels = [
            _Panel("input", x, fills={cell: _READ for cell in windows[k]}, marks=won),
            _Panel("max-pooled", pooled, fills={**{cell: _DONE for cell in order[:k]}, (i, j): _CURRENT},
                   bold=((i, j),)),
            _Panel("unpooled", frames[k], fills=unpool_fills, marks=won),
        ]
        return _figure(panels, captions[k], fig, _lines(captions))

    return Animation(frames, output, captions, windows, draw)
