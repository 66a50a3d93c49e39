"""Figures of chapter 11: loss surfaces with the paths of gradient descent, learning-rate schedules,
and training curves averaged over several seeds.

- :func:`plot_loss_contours`: contour lines of a loss of two parameters, levels spaced so that both the
  valley floor and the steep walls show.
- :func:`plot_path`: the path of an optimizer on those contours (one dot per step, the start marked).
- :func:`plot_schedules`: learning rate per epoch of several schedules (``cnnlab.schedules``).
- :func:`plot_mean_band`: per-epoch curves of several runs (seeds) of each setting: the mean as a line,
  the range from the lowest to the highest run as a band.

Labels are English or math (see ``cnnlab.viz``); the Chinese goes in the book's prose.
"""

from __future__ import annotations

import numpy as np

__all__ = ["plot_loss_contours", "plot_path", "plot_schedules", "plot_mean_band"]


def _new_axes(ax, figsize=(7.0, 3.6)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_loss_contours(surface, xlim, ylim, ax=None, levels: int = 14, n: int = 201, minimum=None,
                       labels=("$w$", "$b$"), filled: bool = True):
    """Contour lines of ``surface(X, Y)``, a loss of two parameters, over the box ``xlim`` x ``ylim``.

    Args:
        surface: a function of two arrays of the same shape (a grid of the first and of the second
            parameter) returning the loss at every grid point, e.g. ``lambda w, b: ((w * x + b - y) ** 2)...``
            written with NumPy broadcasting.
        xlim, ylim: ``(low, high)`` of the first and the second parameter.
        ax: an axes to draw into; default a new figure.
        levels: number of contour lines. They are spaced geometrically above the lowest value on the
            grid, so the narrow valley floor gets as many lines as the steep walls.
        n: grid points per axis.
        minimum: ``(x, y)`` of the minimum, marked with a star (optional).
        labels: axis labels of the two parameters.
        filled: shade between the lines (light = low loss, dark = high).

    Returns:
        the axes (equal aspect: a step of the same length is drawn the same length in every direction,
        so the gradient is drawn perpendicular to the contour lines, as it is).
    """
    op = "plot_loss_contours"
    for name, lim in (("xlim", xlim), ("ylim", ylim)):
        if len(lim) != 2 or not lim[0] < lim[1]:
            raise ValueError(f"{op}: {name} must be (low, high) with low < high, got {lim!r}")
    ax = _new_axes(ax)
    X, Y = np.meshgrid(np.linspace(*xlim, n), np.linspace(*ylim, n))
    Z = np.asarray(surface(X, Y), dtype=float)
    if Z.shape != X.shape:
        raise ValueError(f"{op}: surface(X, Y) must return one loss per grid point, shape {X.shape}, "
                         f"got shape {Z.shape}")
    low, high = Z.min(), Z.max()
    span = high - low
    lines = low + span * np.geomspace(1e-3, 1.0, levels)  # geometric above the floor
    if filled:
        ax.contourf(X, Y, Z, levels=np.concatenate([[low], lines]), cmap="Blues", alpha=0.5)
    ax.contour(X, Y, Z, levels=lines, colors="0.45", linewidths=0.7)
    if minimum is not None:
        ax.plot(*minimum, marker="*", ms=13, color="gold", mec="k", zorder=5, ls="none")
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    return ax


def plot_path(path, ax=None, label: str | None = None, color=None, ms: float = 3.5, lw: float = 1.2):
    """The path of an optimizer: ``path[k]`` is the point after ``k`` steps, shape (steps + 1, 2).

    One dot per step (so short steps show as crowded dots), a hollow circle at the start. Points
    outside the axes are clipped by the axes, so a diverging path leaves the picture.

    Returns:
        the axes.
    """
    path = np.asarray(path, dtype=float)
    if path.ndim != 2 or path.shape[1] != 2 or len(path) < 1:
        raise ValueError(f"plot_path: path must have shape (steps + 1, 2), got {path.shape}")
    ax = _new_axes(ax)
    (line,) = ax.plot(path[:, 0], path[:, 1], "-o", color=color, ms=ms, lw=lw, label=label, zorder=4)
    ax.plot(*path[0], "o", ms=8, mfc="white", mec=line.get_color(), mew=2, zorder=6)
    return ax


def plot_schedules(schedules: dict, epochs: int, ax=None, title: str | None = None):
    """Learning rate per epoch of each schedule, as steps (the rate is constant within an epoch).

    Args:
        schedules: ``{name: schedule}``, each a callable ``epoch -> lr`` (``cnnlab.schedules``).
        epochs: epochs ``0 .. epochs - 1`` are drawn.

    Returns:
        the axes.
    """
    if not isinstance(schedules, dict) or not schedules:
        raise ValueError(f"plot_schedules: expected a non-empty dict {{name: schedule}}, got "
                         f"{type(schedules).__name__}")
    ax = _new_axes(ax)
    t = np.arange(epochs)
    for name, schedule in schedules.items():
        ax.step(t, [schedule(int(e)) for e in t], where="post", label=name, lw=1.8)
    ax.set_xlabel("epoch $t$")
    ax.set_ylabel(r"learning rate $\eta_t$")
    ax.set_ylim(bottom=0)
    ax.legend()
    if title:
        ax.set_title(title)
    return ax


def plot_mean_band(curves: dict, ax=None, ylabel: str = "", logy: bool = False, title: str | None = None):
    """Curves of several runs per setting: the mean over runs as a line, lowest to highest run as a band.

    Args:
        curves: ``{name: array of shape (runs, epochs)}``, e.g. the validation accuracy of each seed.
        ylabel, title: labels; ``logy``: a logarithmic y axis.

    Returns:
        the axes. Epochs are counted from 1.
    """
    if not isinstance(curves, dict) or not curves:
        raise ValueError(f"plot_mean_band: expected a non-empty dict {{name: (runs, epochs) array}}, got "
                         f"{type(curves).__name__}")
    ax = _new_axes(ax)
    for name, runs in curves.items():
        runs = np.asarray(runs, dtype=float)
        if runs.ndim != 2 or runs.shape[1] == 0:
            raise ValueError(f"plot_mean_band: curves[{name!r}] must have shape (runs, epochs), got {runs.shape}")
        epochs = np.arange(1, runs.shape[1] + 1)
        (line,) = ax.plot(epochs, runs.mean(axis=0), lw=1.8, label=name)
        ax.fill_between(epochs, runs.min(axis=0), runs.max(axis=0), color=line.get_color(), alpha=0.2, lw=0)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.legend()
    if title:
        ax.set_title(title)
    return ax
