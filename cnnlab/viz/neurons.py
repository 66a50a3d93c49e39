"""Figures of part 1 (chapters 1-4): the map of AI techniques, neurons, and an image as numbers.

Pure drawing, kept out of the chapters so that each explanation sits next to its figure. Every
function draws on the axes it is given (or on a new figure) and returns the figure. Text is at
least the book's body size (12 pt on a 7-inch figure, see style.use_book_style).
"""

from __future__ import annotations

import numpy as np

__all__ = ["draw_ai_blueprint", "draw_biological_neuron", "draw_artificial_neuron", "draw_network", "draw_number_grid"]


def _axes(ax, figsize):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _box(ax, x, y, w, h, text, color, title=False, **text_kw):
    """A rounded box at (x, y) of size w x h; a title goes in its top-left corner, other text in its centre."""
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.2", fc=color, ec="0.35", lw=1.2))
    if title:
        ax.text(x + 0.15, y + h - 0.15, text, ha="left", va="top", weight="bold", **text_kw)
    else:
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", **text_kw)


def draw_ai_blueprint(ax=None):
    """The slides' blueprint of AI techniques as nested boxes: AI > ML > neural networks > deep learning."""
    from matplotlib.patches import FancyArrowPatch

    ax = _axes(ax, (7.0, 4.6))
    _box(ax, 0.0, 0.0, 12.0, 7.6, "Artificial Intelligence (AI)", "#fde8d7", title=True)
    for i, name in enumerate(["Search &\nplanning", "Expert\nsystems", "Logic &\nreasoning"]):
        _box(ax, 0.3, 4.9 - 1.75 * i, 2.7, 1.3, name, "#fff7ef")
    _box(ax, 3.3, 0.3, 8.4, 6.6, "Machine learning (ML):\nrules learned from data", "#e3effa", title=True)
    for i, name in enumerate(["Decision\ntree", "Random\nforest", "SVM"]):
        _box(ax, 3.55, 3.75 - 1.65 * i, 2.75, 1.25, name, "white")
    ax.add_patch(FancyArrowPatch((4.9, 3.75), (4.9, 3.35), arrowstyle="-|>", mutation_scale=14, color="0.3"))
    _box(ax, 6.6, 0.55, 4.85, 5.05, "Neural networks", "#e2f3e4", title=True)
    _box(ax, 6.85, 0.8, 4.35, 4.1, "Deep learning", "#c9e8cc", title=True)
    for i, name in enumerate(["CNN (images)", "RNN (sequences)", "Transformer"]):
        _box(ax, 7.1, 3.3 - 1.05 * i, 3.85, 0.85, name, "white")
    ax.set_xlim(-0.2, 12.2)
    ax.set_ylim(-0.2, 7.8)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax.figure


def draw_biological_neuron(ax=None):
    """A schematic biological neuron: dendrites on the left, the cell body, the axon and its terminals."""
    from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

    ax = _axes(ax, (7.0, 3.4))
    rng = np.random.default_rng(3)  # the branching angles are random, but the same on every run
    brown = "#8c5a3c"

    def branch(x, y, angle, length, depth):
        x2, y2 = x + length * np.cos(angle), y + length * np.sin(angle)
        ax.plot([x, x2], [y, y2], color=brown, lw=1.0 + depth, solid_capstyle="round")
        if depth > 0:
            for da in (-0.45, 0.45):
                branch(x2, y2, angle + da + rng.uniform(-0.15, 0.15), length * 0.65, depth - 1)

    for angle in np.deg2rad([125, 155, 180, 205, 235]):
        branch(np.cos(angle), np.sin(angle), angle, 1.0, 2)
    ax.add_patch(Circle((0, 0), 1.15, fc="#f3c9a8", ec=brown, lw=2, zorder=3))
    ax.add_patch(Circle((0, 0), 0.42, fc="#b9795a", ec="#6d3f28", lw=1.5, zorder=4))
    ax.plot([1.1, 7.2], [0, 0], color=brown, lw=3, zorder=1)  # axon
    for x in np.arange(1.6, 6.8, 1.05):  # myelin sheath
        ax.add_patch(FancyBboxPatch((x, -0.22), 0.85, 0.44, boxstyle="round,pad=0,rounding_size=0.2",
                                    fc="#f6e3a1", ec="#b08b2e", lw=1.2, zorder=2))
    for dy in (-0.9, -0.3, 0.3, 0.9):  # axon terminals and synapses
        ax.plot([7.2, 8.1], [0, dy], color=brown, lw=1.8)
        ax.add_patch(Circle((8.2, dy), 0.14, fc="#d94f3d", ec="#8c2a1e", zorder=3))
    labels = [("dendrites", (-2.6, 1.9), (-1.7, 1.25)), ("cell body", (0.9, 1.9), (0.5, 1.05)),
              ("nucleus", (1.2, -1.75), (0.25, -0.3)), ("axon", (3.4, 1.2), (3.3, 0.05)),
              ("myelin", (5.2, -1.3), (5.0, -0.2)), ("synapses", (8.0, 1.7), (8.2, 1.05))]
    for text, xytext, xy in labels:
        ax.annotate(text, xy=xy, xytext=xytext, ha="center", arrowprops=dict(arrowstyle="-", color="0.4", lw=0.8))
    ax.add_patch(FancyArrowPatch((-3.4, -2.75), (8.4, -2.75), arrowstyle="-|>", mutation_scale=15, color="0.35"))
    ax.text(2.5, -2.35, "signal: dendrites → soma → axon → synapses", ha="center", color="0.25")
    ax.set_xlim(-3.8, 9.0)
    ax.set_ylim(-2.9, 2.5)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("Biological neuron")
    return ax.figure


def draw_artificial_neuron(ax=None, n_inputs: int = 3):
    """An artificial neuron: inputs x_i times weights w_i, plus the bias b, summed to z, then y = f(z)."""
    from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

    if n_inputs < 2:
        raise ValueError(f"draw_artificial_neuron: n_inputs must be at least 2, got {n_inputs}")
    ax = _axes(ax, (7.0, 3.6))
    arrow = dict(arrowstyle="-|>", mutation_scale=12, color="0.3")
    ys = np.delete(np.linspace(1.6, -1.6, n_inputs + 1), n_inputs - 1)  # room for "..." before the last input
    names = [f"$x_{i + 1}$" for i in range(n_inputs - 1)] + ["$x_n$"]
    weights = [f"$w_{i + 1}$" for i in range(n_inputs - 1)] + ["$w_n$"]
    for y, name, w in zip(ys, names, weights):
        ax.add_patch(Circle((0, y), 0.32, fc="#dbe9f6", ec="#2c6aa0", lw=1.5))
        ax.text(0, y, name, ha="center", va="center")
        ax.add_patch(FancyArrowPatch((0.32, y), (2.45, 0.1 * y), shrinkA=0, shrinkB=2, **arrow))
        ax.text(1.2, 0.55 * y + 0.18, w, color="#a03c2c", ha="center")
    ax.text(0, -0.95, r"$\vdots$", ha="center", va="center", fontsize=14)
    ax.add_patch(Circle((3.0, 0), 0.55, fc="#fbe3c8", ec="#b06a1e", lw=1.8))
    ax.text(3.0, 0, r"$\Sigma$", ha="center", va="center", fontsize=18)
    ax.text(3.0, 1.55, "bias $b$", ha="center", color="#a03c2c")
    ax.add_patch(FancyArrowPatch((3.0, 1.45), (3.0, 0.55), **arrow))
    ax.add_patch(FancyArrowPatch((3.55, 0), (4.55, 0), **arrow))
    ax.text(4.05, 0.15, "$z$", ha="center")
    ax.add_patch(FancyBboxPatch((4.6, -0.45), 1.1, 0.9, boxstyle="round,pad=0.02", fc="#e2f3e4", ec="#2e7d32", lw=1.8))
    ax.text(5.15, 0, "$f$", ha="center", va="center", fontsize=16)
    ax.add_patch(FancyArrowPatch((5.75, 0), (6.9, 0), **arrow))
    ax.text(7.05, 0, "$y$", va="center", fontsize=14)
    ax.text(3.4, -2.25, r"$y = f\left(\sum_{i=1}^{n} w_i x_i + b\right)$", ha="center", fontsize=14)
    ax.text(0, 2.25, "inputs", ha="center")
    ax.text(1.75, 2.25, "weights", ha="center", color="#a03c2c")
    ax.text(5.15, 0.75, "activation", ha="center", color="#2e7d32")
    ax.set_xlim(-0.6, 7.6)
    ax.set_ylim(-2.8, 2.6)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("Artificial neuron")
    return ax.figure


def draw_number_grid(block, ax=None, title: str | None = "What computers see (grey levels 0-255)"):
    """A (H, W) uint8 block drawn as grey cells, each with its value printed in it.

    A 20 x 20 block on a 7-inch figure leaves 25 pt per cell: room for three digits at 12 pt.
    """
    block = np.asarray(block)
    if block.ndim != 2 or block.dtype != np.uint8:
        raise ValueError(f"draw_number_grid: expected a 2-D uint8 array, got shape {block.shape}, dtype {block.dtype}")
    if ax is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(7.0, 7.0 * block.shape[0] / block.shape[1] + 0.4))
        ax = fig.add_axes([0, 0, 1, 7.0 * block.shape[0] / block.shape[1] / (7.0 * block.shape[0] / block.shape[1] + 0.4)])
    ax.imshow(block, cmap="gray", vmin=0, vmax=255)
    for (i, j), value in np.ndenumerate(block):
        ax.text(j, i, f"{value}", ha="center", va="center", color="black" if value > 128 else "white")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax.figure


def draw_network(sizes, names=None, ax=None):
    """A fully connected network: one column of neurons per layer, every neuron joined to the next layer's.

    Args:
        sizes: neurons per layer, input first (e.g. [3, 5, 4, 2]).
        names: optional label under each layer (English or math).
    """
    from matplotlib.patches import Circle

    sizes = list(sizes)
    if len(sizes) < 2 or any(int(n) != n or n < 1 for n in sizes):
        raise ValueError(f"draw_network: expected at least two positive layer sizes, got {sizes}")
    if names is not None and len(names) != len(sizes):
        raise ValueError(f"draw_network: got {len(sizes)} layers but {len(names)} names")
    ax = _axes(ax, (7.0, 4.0))
    colors = ["#dbe9f6"] + ["#fbe3c8"] * (len(sizes) - 2) + ["#e2f3e4"]
    pos = [[(2.2 * k, y) for y in (np.arange(n) - (n - 1) / 2) * 0.9] for k, n in enumerate(sizes)]
    for a, b in zip(pos[:-1], pos[1:]):
        for p in a:
            for q in b:
                ax.plot([p[0], q[0]], [p[1], q[1]], color="0.6", lw=0.7, zorder=1)
    bottom = -(max(sizes) - 1) / 2 * 0.9
    for k, layer in enumerate(pos):
        for p in layer:
            ax.add_patch(Circle(p, 0.25, fc=colors[k], ec="0.25", lw=1.2, zorder=2))
        if names is not None:
            ax.text(2.2 * k, bottom - 0.75, names[k], ha="center", va="top")
    ax.set_xlim(-0.6, 2.2 * (len(sizes) - 1) + 0.6)
    ax.set_ylim(bottom - 1.6, -bottom + 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax.figure
