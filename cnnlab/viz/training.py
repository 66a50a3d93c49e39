"""Figures of chapters 9-10: training curves, weight histograms, computational graphs, gradients per depth.

- :func:`plot_history`: the per-epoch curves of a :class:`cnnlab.training.History` (training
  dashed, validation solid), one panel per metric; several runs can share the same axes.
- :func:`plot_weight_histograms`: the distribution of the weights of several models in one panel.
- :func:`draw_computational_graph`: a small computational graph with the forward value (green, above)
  and the backward gradient (red, below) written on every edge, as in cs231n's notes.
- :func:`plot_gradient_norms`: the size of the gradient at each depth of a network, on a log scale.

Labels are English or math (see ``cnnlab.viz``); the Chinese goes in the book's prose.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["plot_history", "plot_weight_histograms", "draw_computational_graph", "plot_gradient_norms"]

_METRICS = {"loss": ("train_loss", "val_loss", "loss"), "acc": ("train_acc", "val_acc", "accuracy")}
# Text size of these figures: shown 1:1 in the 688 px column, 12 pt is as large as the 16 px body text.
_TEXT = 12


def _history_dict(history, op: str) -> tuple[dict, int | None, bool]:
    """(curves, best_epoch, stopped_early) of a History or of a dict like ``History.as_dict()``."""
    if isinstance(history, dict):
        curves = history
        best, stopped = history.get("best_epoch"), bool(history.get("stopped_early", False))
    elif hasattr(history, "as_dict"):
        curves = history.as_dict()
        best, stopped = history.best_epoch, history.stopped_early
    else:
        raise TypeError(f"{op}: expected a History (returned by fit) or a dict of per-epoch lists, "
                        f"got {type(history).__name__}")
    if not curves.get("train_loss"):
        raise ValueError(f"{op}: the history has no epochs (train_loss is empty)")
    return curves, best, stopped


def plot_history(history, metrics=("loss", "acc"), axes=None, label: str | None = None, color=None,
                 mark_best: bool = False, title: str | None = None):
    """Draw the training (dashed) and validation (solid) curves of a run, epochs counted from 1.

    Args:
        history: what ``cnnlab.numpy.fit`` (or ``cnnlab.torch.fit``) returned, or a dict with the
            lists ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc`` (and optionally ``best_epoch``).
        metrics: ``"loss"``, ``"acc"`` or a sequence of them: one panel each, left to right.
        axes: an axes (or one per metric) to draw into, to compare several runs in one figure; by
            default a new figure.
        label: the run's name; the legend then reads ``"<label> train"`` / ``"<label> val"``.
        color: one colour for both curves of the run (default: the axes' next colour).
        mark_best: mark the epoch of the lowest validation loss (``history.best_epoch``) with a dotted
            vertical line, and the last epoch with a cross when training stopped early.
        title: the title of the first panel.

    Returns:
        the figure.
    """
    import matplotlib.pyplot as plt

    op = "plot_history"
    curves, best, stopped = _history_dict(history, op)
    metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    bad = [m for m in metrics if m not in _METRICS]
    if not metrics or bad:
        raise ValueError(f"{op}: metrics must be 'loss', 'acc' or a sequence of them, got {metrics!r}")
    if axes is None:
        fig, axes = plt.subplots(1, len(metrics), figsize=(3.5 * len(metrics), 3.0), squeeze=False)
        axes = list(axes.flat)
    else:
        axes = list(np.atleast_1d(axes).flat)
        if len(axes) != len(metrics):
            raise ValueError(f"{op}: got {len(axes)} axes for {len(metrics)} metrics {metrics}")
        fig = axes[0].figure
    for ax, metric in zip(axes, metrics):
        train_key, val_key, name = _METRICS[metric]
        train = np.asarray(curves.get(train_key, []), dtype=float)
        val = np.asarray(curves.get(val_key, []), dtype=float)
        epochs = np.arange(1, len(train) + 1)
        # one legend entry per run (its colour); the line styles are explained once (see _legend)
        (line,) = ax.plot(epochs, train, ls="--", color=color, label=f"_{label or 'run'} train")
        c = line.get_color()  # the validation curve takes the training curve's colour
        if val.size:
            ax.plot(np.arange(1, val.size + 1), val, ls="-", color=c, label=label or "_run val")
            if mark_best and best is not None:
                ax.axvline(best + 1, color=c, ls=":", lw=1.2)
                ax.plot(best + 1, val[best], "o", color=c, ms=5)
            if mark_best and stopped:
                ax.plot(val.size, val[-1], "x", color=c, ms=8, mew=2)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.tick_params(labelsize=_TEXT)
    _legend(axes[0], loc="upper right" if metrics[0] == "loss" else "lower right")
    if title:
        axes[0].set_title(title)
    fig.tight_layout()
    return fig


def _legend(ax, loc):
    """The runs drawn so far (one entry each, by colour) and what dashed and solid mean."""
    from matplotlib.lines import Line2D

    runs = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    styles = [Line2D([], [], color="0.4", ls="--", label="train"), Line2D([], [], color="0.4", ls="-", label="val")]
    ax.legend(handles=runs + styles, loc=loc, fontsize=_TEXT, handlelength=1.8, labelspacing=0.3,
              borderpad=0.3, framealpha=0.85)


def plot_weight_histograms(weights: dict, bins: int = 60, ax=None, log: bool = True, xlim=None):
    """Overlaid histograms of several sets of weights (e.g. one model trained without / with a penalty).

    Args:
        weights: ``{name: array or list of arrays}``; each entry is flattened into one histogram.
        bins: number of bins, shared by every entry (same edges, so the heights compare).
        ax: an axes to draw into; default a new figure.
        log: a logarithmic count axis (the many weights near 0 do not hide the tails).
        xlim: ``(low, high)`` of the weight axis; default the range of all the weights.

    Returns:
        the figure.
    """
    import matplotlib.pyplot as plt

    op = "plot_weight_histograms"
    if not isinstance(weights, dict) or not weights:
        raise ValueError(f"{op}: expected a non-empty dict {{name: weights}}, got {type(weights).__name__}")
    flat = {}
    for name, w in weights.items():
        parts = w if isinstance(w, (list, tuple)) else [w]
        flat[name] = np.concatenate([np.asarray(p, dtype=float).ravel() for p in parts])
        if flat[name].size == 0:
            raise ValueError(f"{op}: the weights of {name!r} are empty")
    low, high = xlim if xlim is not None else (min(v.min() for v in flat.values()), max(v.max() for v in flat.values()))
    edges = np.linspace(low, high, bins + 1)
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 3.2))
    fig = ax.figure
    for name, v in flat.items():
        ax.hist(np.clip(v, low, high), bins=edges, histtype="step", lw=1.8, label=name, log=log)
    ax.set_xlabel("weight value")
    ax.set_ylabel("count")
    ax.tick_params(labelsize=_TEXT)
    ax.legend(fontsize=_TEXT)
    fig.tight_layout()
    return fig


def _fmt(v) -> str:
    return f"{v:.3g}" if abs(v) < 1e4 else f"{v:.2e}"


def draw_computational_graph(nodes: dict, edges, ax=None, figsize=(7.0, 3.4), output_stub: float = 0.9):
    """Draw a computational graph with the forward value and the backward gradient on every edge.

    Each edge ``a -> b`` carries node a's value (green, above the edge) and the gradient of the final
    output with respect to it (red, below); the last node (the output) gets a short edge of its own.

    Args:
        nodes: ``{name: dict(xy=(x, y), label=str, value=float, grad=float or None, op=bool)}``;
            ``op=True`` nodes (operations: "*", "+", ...) are circles with their label inside, the
            others (inputs) are their label alone.
        edges: ``[(a, b), ...]`` pairs of node names (a feeds b).
        ax: an axes to draw into; default a new figure of ``figsize``.
        output_stub: length of the edge after the output node (the output is the node that feeds nothing).

    Returns:
        the figure.
    """
    import matplotlib.pyplot as plt

    op = "draw_computational_graph"
    for a, b in edges:
        for n in (a, b):
            if n not in nodes:
                raise ValueError(f"{op}: edge ({a!r}, {b!r}) names {n!r}, which is not one of the nodes {list(nodes)}")
    for name, spec in nodes.items():
        missing = [k for k in ("xy", "label", "value") if k not in spec]
        if missing:
            raise ValueError(f"{op}: node {name!r} lacks {missing} (each node needs xy, label, value; grad optional)")
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    fig = ax.figure
    radius = 0.32
    green, red = "#1a7f37", "#cf222e"

    def edge(p, q, spec, start_r, end_r):
        (x0, y0), (x1, y1) = p, q
        d = math.hypot(x1 - x0, y1 - y0)
        ux, uy = (x1 - x0) / d, (y1 - y0) / d
        s = (x0 + ux * start_r, y0 + uy * start_r)
        e = (x1 - ux * end_r, y1 - uy * end_r)
        ax.annotate("", xy=e, xytext=s, arrowprops=dict(arrowstyle="-|>", color="0.35", lw=1.2))
        # labels 40 % along the edge: where edges meet at a node they are still apart
        mx, my = s[0] + 0.4 * (e[0] - s[0]), s[1] + 0.4 * (e[1] - s[1])
        nx, ny = -uy, ux  # normal to the edge, pointing "up" for a left-to-right edge
        steep = abs(nx) > abs(ny)  # a steep edge: the labels go beside it, aligned away from it
        above, below = ("right", "left") if nx < 0 else ("left", "right")
        gap = 0.12 if steep else 0.24
        ax.text(mx + gap * nx, my + gap * ny, _fmt(spec["value"]), color=green, va="center",
                ha=above if steep else "center", fontsize=_TEXT, fontweight="bold")
        if spec.get("grad") is not None:
            ax.text(mx - gap * nx, my - gap * ny, _fmt(spec["grad"]), color=red, va="center",
                    ha=below if steep else "center", fontsize=_TEXT, fontweight="bold")

    def reach(name):
        return radius if nodes[name].get("op") else 0.25

    for a, b in edges:
        edge(nodes[a]["xy"], nodes[b]["xy"], nodes[a], reach(a), reach(b))
    feeders = {a for a, _ in edges}
    for name, spec in nodes.items():
        x, y = spec["xy"]
        if spec.get("op"):
            ax.add_patch(plt.Circle((x, y), radius, facecolor="#eef3fb", edgecolor="0.2", lw=1.3))
            ax.text(x, y, spec["label"], ha="center", va="center", fontsize=13)
        else:
            ax.text(x, y, spec["label"], ha="center", va="center", fontsize=14)
        if name not in feeders:  # the output: a short edge of its own carries its value and gradient
            edge((x, y), (x + output_stub + reach(name), y), spec, reach(name), 0.0)
    xs = [s["xy"][0] for s in nodes.values()]
    ys = [s["xy"][1] for s in nodes.values()]
    ax.set_xlim(min(xs) - 0.5, max(xs) + output_stub + 0.6)
    ax.set_ylim(min(ys) - 0.6, max(ys) + 0.6)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.tight_layout()
    return fig


def plot_gradient_norms(norms: dict, ax=None, xlabel: str = "layer (1 = closest to the input)",
                        ylabel: str = "gradient norm", legend=True):
    """The size of the gradient at each depth, one line per network, on a logarithmic axis.

    Args:
        norms: ``{name: sequence of positive numbers}``, entry ``i`` for layer ``i + 1`` (input side first).
        ax: an axes to draw into; default a new figure.
        xlabel, ylabel: axis labels (English or math).
        legend: True: in the axes; "below": under the whole figure, two columns (when several panels show
            the same networks, pass it to the last one only); False: none.

    Returns:
        the figure.
    """
    import matplotlib.pyplot as plt

    op = "plot_gradient_norms"
    if not isinstance(norms, dict) or not norms:
        raise ValueError(f"{op}: expected a non-empty dict {{name: norms per layer}}, got {type(norms).__name__}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 3.6))
    fig = ax.figure
    for name, values in norms.items():
        values = np.asarray(values, dtype=float)
        if values.ndim != 1 or values.size == 0:
            raise ValueError(f"{op}: the norms of {name!r} must be a non-empty 1-D sequence, got shape {values.shape}")
        ax.semilogy(np.arange(1, values.size + 1), values, "o-", ms=3, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.tick_params(labelsize=_TEXT)
    fig.tight_layout()
    if legend == "below":
        fig.legend(*ax.get_legend_handles_labels(), loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2,
                   fontsize=_TEXT, frameon=False)
    elif legend:
        ax.legend(fontsize=_TEXT)
    return fig
