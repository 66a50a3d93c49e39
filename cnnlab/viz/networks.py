"""Figures of chapters 7-8: small grids of numbers, upsampled images, a network traced layer by layer.

- :func:`show_number_grids`: small arrays drawn as tables of numbers (inputs, kernels, outputs, products).
- :func:`show_pixels`: images side by side, every pixel a visible square (no smoothing by the browser).
- :func:`trace_layers`: run one input through a ``Sequential`` layer by layer; a table of the shapes and
  parameter counts, and every layer's output for :func:`show_feature_maps`.
- :func:`show_channels`: the channels of one array (kernels, feature maps) in a grid, one colour scale.
- :func:`show_feature_maps`: what every layer of a traced network makes of one input.
- :func:`show_parameter_counts`: where the parameters of a network are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Every text of these figures is at least 12 pt: a figure at most 7 in wide is shown at its natural size in the
# book's text column, where 12 pt is 16 px, the size of the body text.
_PT = 12

__all__ = ["show_number_grids", "show_pixels", "LayerTrace", "trace_layers", "describe_layer", "show_channels",
           "show_feature_maps", "show_parameter_counts"]


def _as_2d(array, op: str, what: str) -> np.ndarray:
    a = np.asarray(array)
    while a.ndim > 2 and a.shape[0] == 1:  # (1, 1, H, W) -> (H, W)
        a = a[0]
    if a.ndim != 2:
        raise ValueError(f"{op}: {what} must be 2-D (or (1, 1, H, W)), got shape {np.shape(array)}")
    return a


def _fmt_number(v, fmt: str) -> str:
    s = fmt.format(v)
    return s[1:] if s.startswith("-") and float(s) == 0 else s  # "-0.00" (a tiny negative) reads as 0.00


def _number_panel(ax, a, title, fmt, cmap, vmin, vmax, highlight=None):
    """One grid of numbers: cells coloured by value, each value written in its cell."""
    import matplotlib.patches as mpatches

    ax.imshow(a, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    mid = (vmin + vmax) / 2
    for (i, j), v in np.ndenumerate(a):
        dark = (v > mid + 0.25 * (vmax - vmin)) if cmap != "RdBu_r" else abs(v - mid) > 0.3 * (vmax - vmin)
        ax.text(j, i, _fmt_number(v, fmt), ha="center", va="center", fontsize=_PT,
                color="white" if dark else "black")
    if highlight is not None:  # cells (i, j) framed in red, e.g. where the maxima were
        for i, j in highlight:
            ax.add_patch(mpatches.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", lw=2.5))
    ax.set_xticks(np.arange(a.shape[1]))
    ax.set_yticks(np.arange(a.shape[0]))
    ax.tick_params(length=0, labelsize=_PT)
    ax.set_xticks(np.arange(a.shape[1] + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(a.shape[0] + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="grey", lw=0.6)
    ax.tick_params(which="minor", length=0)
    if title:
        ax.set_title(title, fontsize=_PT)


def show_number_grids(arrays, titles=None, fmt: str = "{:g}", cmap: str = "Blues", shared_scale: bool = False,
                      ncols: int = 3, highlight=None, cell: float | None = None):
    """Small arrays side by side as tables of numbers (the slides' way of drawing inputs, kernels, outputs).

    Args:
        arrays: a list of 2-D arrays (or (1, 1, H, W)), each at most about 10 x 10.
        titles: one short English / math title per array.
        fmt: how each number is written, e.g. ``"{:g}"``, ``"{:.2f}"``.
        cmap: colour map of the cells ("Blues"; "RdBu_r" centres white at 0 for signed numbers).
        shared_scale: one colour scale for all arrays (to compare values across panels).
        ncols: panels per row (at most 3 keeps them readable on a phone).
        highlight: optional list (one entry per array) of lists of cells (i, j) to frame in red.
        cell: inches per cell (default: wide enough for the longest number at 12 pt); the figure grows
            with the largest array, up to 7 inches wide.

    Returns:
        the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    arrays = [_as_2d(a, "show_number_grids", f"array {k}") for k, a in enumerate(arrays)]
    if not arrays:
        raise ValueError("show_number_grids: expected at least one array, got none")
    if titles is not None and len(titles) != len(arrays):
        raise ValueError(f"show_number_grids: got {len(arrays)} arrays but {len(titles)} titles")
    if highlight is not None and len(highlight) != len(arrays):
        raise ValueError(f"show_number_grids: got {len(arrays)} arrays but {len(highlight)} highlight lists")
    ncols = max(1, min(ncols, len(arrays)))
    nrows = math.ceil(len(arrays) / ncols)
    if cell is None:  # about 0.1 inch per character of a 12 pt number, and some room around it
        longest = max(len(_fmt_number(v, fmt)) for a in arrays for v in a.ravel())
        cell = max(0.42, 0.1 * longest + 0.16)
    h = max(a.shape[0] for a in arrays)
    widths = [max(a.shape[1] for a in arrays[c::ncols]) for c in range(ncols)]
    fig_w = min(7.0, cell * sum(widths) + 0.6 * ncols)
    fig_h = nrows * (cell * h + 0.75)
    fig, axes = plt.subplots(nrows, ncols, figsize=(fig_w, fig_h), squeeze=False,
                             gridspec_kw=dict(width_ratios=widths))

    def limits(values):
        lo, hi = float(np.min(values)), float(np.max(values))
        if cmap == "RdBu_r":
            m = max(abs(lo), abs(hi)) or 1.0
            return -m, m
        return lo, hi if hi > lo else lo + 1.0

    every = np.concatenate([a.ravel() for a in arrays])
    for k, ax in enumerate(axes.flat):
        if k >= len(arrays):
            ax.axis("off")
            continue
        vmin, vmax = limits(every if shared_scale else arrays[k])
        _number_panel(ax, arrays[k], None if titles is None else titles[k], fmt, cmap, vmin, vmax,
                      None if highlight is None else highlight[k])
    fig.tight_layout()
    return fig


def show_pixels(images, titles=None, ncols: int = 3, vmin: float = 0.0, vmax: float = 1.0, size: float = 2.3,
                sizes: bool = True):
    """Images side by side with every pixel drawn as a sharp square, all on the same grey scale.

    Unlike :func:`cnnlab.viz.show_images`, nothing smooths the pixels on the screen (``interpolation="nearest"``)
    and every panel uses the same ``vmin .. vmax``: differences between upsampling methods stay visible.

    Args:
        images: list of 2-D arrays (grey) or (H, W, 3) arrays (colour, values in ``vmin .. vmax``).
        titles: one short English title per image.
        sizes: add each image's size to its title ("nearest 64x64").
        ncols: images per row.
        size: inches per image.
    """
    import matplotlib.pyplot as plt

    images = [np.asarray(im) for im in images]
    if not images:
        raise ValueError("show_pixels: expected at least one image, got none")
    for k, im in enumerate(images):
        if not (im.ndim == 2 or (im.ndim == 3 and im.shape[2] == 3)):
            raise ValueError(f"show_pixels: image {k} must be (H, W) or (H, W, 3), got shape {im.shape}")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"show_pixels: got {len(images)} images but {len(titles)} titles")
    ncols = max(1, min(ncols, len(images)))
    nrows = math.ceil(len(images) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, (size + 0.35) * nrows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= len(images):
            continue
        im = images[k]
        if im.ndim == 3:
            ax.imshow(np.clip((im - vmin) / (vmax - vmin), 0, 1), interpolation="nearest")
        else:
            ax.imshow(im, cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
        parts = ([] if titles is None else [str(titles[k])]) + ([f"{im.shape[0]}x{im.shape[1]}"] if sizes else [])
        if parts:
            ax.set_title(" ".join(parts), fontsize=_PT)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------------------------
# a network, layer by layer
# ----------------------------------------------------------------------------------------------------------------

def describe_layer(layer) -> str:
    """A short description of a layer for a table: ``Conv2d 1→32, 3×3, pad 1``, ``Linear 256→128``, ``ReLU``."""
    name = type(layer).__name__
    if hasattr(layer, "in_channels") and hasattr(layer, "kernel_size"):
        kh, kw = layer.kernel_size
        s = f"{name} {layer.in_channels}→{layer.out_channels}, {kh}×{kw}"
        stride = layer.stride if isinstance(layer.stride, int) else tuple(layer.stride)
        padding = layer.padding if isinstance(layer.padding, (int, str)) else tuple(layer.padding)
        if stride != 1:
            s += f", stride {stride}"
        if padding != 0:
            s += f", pad {padding}"
        return s
    if hasattr(layer, "in_features"):
        return f"{name} {layer.in_features}→{layer.out_features}"
    if name in ("MaxPool2d", "AvgPool2d"):
        k = layer.kernel_size
        return f"{name} {k}×{k}" if isinstance(k, int) else f"{name} {k[0]}×{k[1]}"
    return name


@dataclass
class LayerTrace:
    """One input run through a network layer by layer (made by :func:`trace_layers`).

    Attributes:
        names: short description of each layer (``"input"`` first).
        outputs: the input, then the output of every layer (arrays with the batch axis).
        params: number of learnt numbers of each layer (0 for the input).

    Displayed in a notebook it is a Markdown table: layer, output shape of one sample, numbers, parameters.
    """

    names: list
    outputs: list
    params: list

    @property
    def shapes(self) -> list:
        """Output shape of each row without the batch axis, e.g. (32, 8, 8)."""
        return [tuple(out.shape[1:]) for out in self.outputs]

    def _repr_markdown_(self) -> str:
        lines = ["| # | layer | output shape | numbers | parameters |", "|---:|:---|:---|---:|---:|"]
        for k, (name, shape, p) in enumerate(zip(self.names, self.shapes, self.params)):
            lines.append(f"| {k - 1 if k else ''} | {name} | {' × '.join(map(str, shape))} | "
                         f"{math.prod(shape):,} | {p:,} |")
        lines.append(f"| | **total** | | | **{sum(self.params):,}** |")
        return "\n".join(lines)


def trace_layers(model, x) -> LayerTrace:
    """Run ``x`` through the layers of ``model`` (a ``Sequential``) one at a time, keeping every output.

    Args:
        model: a ``cnnlab.numpy.Sequential`` (any iterable of layers with ``layer(x)`` and ``num_parameters()``).
        x: a batch, e.g. (1, 1, 8, 8).

    Returns:
        a :class:`LayerTrace`; its last output equals ``model(x)``.
    """
    names, outputs, params = ["input"], [np.asarray(x)], [0]
    out = outputs[0]
    for layer in model:
        out = layer(out)
        names.append(describe_layer(layer))
        outputs.append(out)
        params.append(int(layer.num_parameters()))
    return LayerTrace(names, outputs, params)


def show_channels(maps, ncols: int = 8, cmap: str = "RdBu_r", size: float = 0.75, titles=None, suptitle=None):
    """The channels of one array in a grid, all on one colour scale (white = 0 with the default ``RdBu_r``).

    Args:
        maps: (C, H, W), (1, C, H, W) feature maps, or (C_out, 1, KH, KW) kernels of a first layer.
        ncols: channels per row.
        size: inches per channel.
        titles: optional short label per channel (default: its number).
    """
    import matplotlib.pyplot as plt

    maps = np.asarray(maps)
    if maps.ndim == 4 and maps.shape[0] == 1:
        maps = maps[0]
    elif maps.ndim == 4 and maps.shape[1] == 1:
        maps = maps[:, 0]
    if maps.ndim != 3:
        raise ValueError(f"show_channels: expected (C, H, W), (1, C, H, W) or (C, 1, H, W), got shape {maps.shape}")
    n = maps.shape[0]
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    m = float(np.abs(maps).max()) or 1.0
    lo = -m if cmap == "RdBu_r" else float(maps.min())
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols + 0.8, (size + 0.25) * nrows + 0.3), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            image = ax.imshow(maps[k], cmap=cmap, vmin=lo, vmax=m, interpolation="nearest")
            ax.set_title(str(k) if titles is None else titles[k], fontsize=_PT, pad=2)
    bar = fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, pad=0.02)
    bar.ax.tick_params(labelsize=_PT)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def show_feature_maps(trace: LayerTrace, channels: int = 8, size: float = 0.8):
    """Every layer's output for one input: a row per layer, titled with the layer and its output shape.

    A 3-D output shows its first ``channels`` maps, each on its own colour scale (red > 0, white = 0,
    blue < 0; a map's pattern matters here, not its size); a vector is a strip of cells; the last layer's
    scores are bars, the largest in red. The input is drawn in grey.

    Args:
        trace: from :func:`trace_layers` on a batch of one.
        channels: maps shown per layer.
        size: inches per map.
    """
    import matplotlib.pyplot as plt

    if trace.outputs[0].shape[0] != 1:
        raise ValueError(f"show_feature_maps: trace one sample (batch of 1), got a batch of {trace.outputs[0].shape[0]}")
    rows = list(zip(trace.names, trace.outputs))
    last = len(rows) - 1
    heights = [size if out.ndim == 4 else (1.3 if r == last else 0.3) for r, (_, out) in enumerate(rows)]
    fig = plt.figure(figsize=(7.0, sum(heights) + 0.42 * len(rows) + 0.3))
    grid = fig.add_gridspec(len(rows), channels, height_ratios=heights, hspace=1.0, wspace=0.12,
                            left=0.02, right=0.98, top=0.97, bottom=0.03)
    for r, (name, out) in enumerate(rows):
        sample = out[0]
        shape = " x ".join(map(str, sample.shape))
        if sample.ndim == 3:
            shown = min(channels, sample.shape[0])
            title = f"{name}: {shape}" + (f" (first {shown} maps)" if shown < sample.shape[0] else "")
            for c in range(shown):
                ax = fig.add_subplot(grid[r, c])
                if r == 0:
                    ax.imshow(sample[c], cmap="gray", interpolation="nearest")
                else:
                    m = float(np.abs(sample[c]).max()) or 1.0
                    ax.imshow(sample[c], cmap="RdBu_r", vmin=-m, vmax=m, interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
                if c == 0:
                    ax.set_title(title, loc="left", fontsize=_PT)
            continue
        ax = fig.add_subplot(grid[r, :])
        ax.set_title(f"{name}: {shape}", loc="left", fontsize=_PT)
        if r == last:  # the scores of the classes
            ax.bar(np.arange(sample.size), sample, color=np.where(sample == sample.max(), "C3", "C0"))
            ax.set_xticks(np.arange(sample.size))
            ax.axhline(0, color="black", lw=0.6)
            ax.tick_params(labelsize=_PT)
        else:
            m = float(np.abs(sample).max()) or 1.0
            ax.imshow(sample[None, :], cmap="RdBu_r", vmin=-m, vmax=m, aspect="auto", interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
    return fig


def show_parameter_counts(names, counts, title=None):
    """A horizontal bar per layer: how many parameters it learns (the count written at the bar's end)."""
    import matplotlib.pyplot as plt

    counts = np.asarray(counts, dtype=float)
    if len(names) != counts.size:
        raise ValueError(f"show_parameter_counts: got {len(names)} names but {counts.size} counts")
    fig, ax = plt.subplots(figsize=(7.0, 0.45 * len(names) + 0.9))
    y = np.arange(len(names))[::-1]
    ax.barh(y, counts, color=["C1" if n.startswith(("Linear", "fc", "FC")) else "C0" for n in names])
    for yi, c in zip(y, counts):
        ax.text(c, yi, f" {c:,.0f} ({c / counts.sum():.1%})", va="center", fontsize=_PT)
    ax.set_yticks(y)
    ax.set_yticklabels(names, fontsize=_PT)
    ax.tick_params(axis="x", labelsize=_PT)
    ax.set_xlim(0, counts.max() * 1.45)
    ax.set_xlabel("parameters", fontsize=_PT)
    if title:
        ax.set_title(title, fontsize=_PT)
    fig.tight_layout()
    return fig
