"""cnnlab.viz.optimization: the figures of chapter 11 draw what they are given and refuse bad input clearly."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cnnlab.schedules import Constant, CosineAnnealing  # noqa: E402
from cnnlab.viz import plot_loss_contours, plot_mean_band, plot_path, plot_schedules  # noqa: E402


def bowl(w, b):
    return (w - 1.0) ** 2 + 4 * (b + 0.5) ** 2


def test_contours_cover_the_box_with_equal_aspect_and_mark_the_minimum():
    ax = plot_loss_contours(bowl, (-1, 3), (-2, 1), minimum=(1.0, -0.5))
    assert ax.get_xlim() == (-1, 3) and ax.get_ylim() == (-2, 1)
    assert ax.get_aspect() == 1.0  # a step of the same length looks the same in every direction
    star = [line for line in ax.get_lines() if line.get_marker() == "*"]
    assert len(star) == 1 and list(star[0].get_xydata()[0]) == [1.0, -0.5]
    plt.close(ax.figure)


def test_path_is_drawn_point_by_point_with_its_start_marked():
    path = np.array([[0.0, 0.0], [0.5, -0.2], [0.8, -0.4]])
    ax = plot_path(path, label="gd")
    line, start = ax.get_lines()
    np.testing.assert_array_equal(line.get_xydata(), path)
    np.testing.assert_array_equal(start.get_xydata(), path[:1])
    assert line.get_label() == "gd"
    plt.close(ax.figure)


def test_schedules_are_drawn_epoch_by_epoch():
    cosine = CosineAnnealing(0.1, T_max=10)
    ax = plot_schedules({"constant": Constant(0.1), "cosine": cosine}, 10)
    constant_line, cosine_line = ax.get_lines()
    np.testing.assert_allclose(cosine_line.get_ydata(), cosine.values(10))
    np.testing.assert_allclose(constant_line.get_ydata(), [0.1] * 10)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["constant", "cosine"]
    plt.close(ax.figure)


def test_mean_band_draws_the_mean_and_the_range_over_runs():
    runs = np.array([[1.0, 0.5, 0.2], [3.0, 1.5, 0.4]])
    ax = plot_mean_band({"a": runs})
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3])  # epochs from 1
    np.testing.assert_allclose(line.get_ydata(), [2.0, 1.0, 0.3])
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 1].min() == pytest.approx(0.2) and band[:, 1].max() == pytest.approx(3.0)
    plt.close(ax.figure)


@pytest.mark.parametrize("call, message", [
    (lambda: plot_loss_contours(bowl, (1, 1), (0, 1)), "xlim must be"),
    (lambda: plot_loss_contours(lambda w, b: 1.0, (0, 1), (0, 1)), "one loss per grid point"),
    (lambda: plot_path(np.zeros((4, 3))), r"shape \(steps \+ 1, 2\)"),
    (lambda: plot_schedules({}, 5), "non-empty dict"),
    (lambda: plot_mean_band({"a": np.zeros(5)}), r"shape \(runs, epochs\)"),
    (lambda: plot_mean_band([]), "non-empty dict"),
])
def test_bad_input_is_refused_with_a_clear_message(call, message):
    with pytest.raises(ValueError, match=message):
        call()
    plt.close("all")
