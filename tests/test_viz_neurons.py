"""cnnlab.viz.neurons and viz.style: part 1's figures draw what they are given, refuse bad input clearly,
and the book style gives every text of a figure at least the body size."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cnnlab import viz  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_number_grid_prints_every_value_in_its_cell():
    block = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    fig = viz.draw_number_grid(block, title=None)
    texts = {(round(t.get_position()[0]), round(t.get_position()[1])): t.get_text() for t in fig.axes[0].texts}
    assert texts == {(j, i): str(block[i, j]) for i in range(3) for j in range(4)}


def test_number_grid_refuses_what_is_not_a_grey_image():
    with pytest.raises(ValueError, match="2-D uint8 array, got shape \\(2, 2, 3\\)"):
        viz.draw_number_grid(np.zeros((2, 2, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="dtype float64"):
        viz.draw_number_grid(np.zeros((2, 2)))


def test_network_draws_one_circle_per_neuron_and_a_line_per_connection():
    fig = viz.draw_network([3, 5, 2], ["in", "hidden", "out"])
    ax = fig.axes[0]
    assert len(ax.patches) == 3 + 5 + 2
    assert len(ax.lines) == 3 * 5 + 5 * 2
    assert [t.get_text() for t in ax.texts] == ["in", "hidden", "out"]


@pytest.mark.parametrize("sizes, names, message", [([3], None, "at least two positive layer sizes"),
                                                   ([3, 0], None, "at least two positive layer sizes"),
                                                   ([3, 2], ["a"], "2 layers but 1 names")])
def test_network_refuses_bad_layers(sizes, names, message):
    with pytest.raises(ValueError, match=message):
        viz.draw_network(sizes, names)


def test_artificial_neuron_needs_two_inputs():
    with pytest.raises(ValueError, match="n_inputs must be at least 2, got 1"):
        viz.draw_artificial_neuron(n_inputs=1)


def test_book_style_text_is_body_size_on_a_column_wide_figure():
    with matplotlib.rc_context():
        viz.use_book_style()
        assert plt.rcParams["figure.figsize"][0] == viz.BOOK_FIGURE_WIDTH == 7.0
        for key in ["font.size", "axes.labelsize", "xtick.labelsize", "ytick.labelsize", "legend.fontsize"]:
            size = matplotlib.font_manager.FontProperties(size=plt.rcParams[key]).get_size_in_points()
            assert size >= viz.BOOK_FONT_SIZE, key
        for draw in [viz.draw_ai_blueprint, viz.draw_biological_neuron, viz.draw_artificial_neuron]:
            fig = draw()
            assert fig.get_figwidth() <= viz.BOOK_FIGURE_WIDTH
            assert min(t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_text()) >= viz.BOOK_FONT_SIZE
