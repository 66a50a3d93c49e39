"""cnnlab.viz.training: the figures of chapters 9-10 draw what they are given and refuse bad input clearly."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cnnlab.numpy.training import History  # noqa: E402
from cnnlab.viz import (draw_computational_graph, plot_gradient_norms, plot_history,  # noqa: E402
                        plot_weight_histograms)


def _history(stopped=True):
    h = History(train_loss=[2.0, 1.0, 0.5, 0.2], train_acc=[0.3, 0.6, 0.8, 0.95],
                val_loss=[2.1, 1.2, 1.3, 1.5], val_acc=[0.3, 0.5, 0.55, 0.5], lr=[0.1] * 4)
    h.best_epoch, h.stopped_early = 1, stopped
    return h


def test_plot_history_draws_train_and_val_per_metric():
    fig = plot_history(_history(), label="run")
    loss_ax, acc_ax = fig.axes
    train, val = loss_ax.get_lines()[:2]
    assert (train.get_linestyle(), val.get_linestyle()) == ("--", "-")
    np.testing.assert_array_equal(val.get_ydata(), [2.1, 1.2, 1.3, 1.5])
    # one legend entry per run, then what dashed and solid mean
    assert [t.get_text() for t in loss_ax.get_legend().get_texts()] == ["run", "train", "val"]
    np.testing.assert_array_equal(acc_ax.get_lines()[0].get_xdata(), [1, 2, 3, 4])  # epochs from 1
    assert loss_ax.get_lines()[0].get_color() == loss_ax.get_lines()[1].get_color()
    plt.close(fig)


def test_plot_history_marks_best_epoch_and_early_stop():
    fig = plot_history(_history(), metrics="loss", mark_best=True)
    ax = fig.axes[0]
    best = [line for line in ax.get_lines() if list(line.get_xdata()) == [2, 2]]  # the vertical line at epoch 2
    assert best, "no vertical line at the best epoch"
    markers = [line.get_marker() for line in ax.get_lines()]
    assert "o" in markers and "x" in markers
    plt.close(fig)


def test_plot_history_shares_axes_and_accepts_dicts():
    fig, axes = plt.subplots(1, 2)
    plot_history(_history(), axes=axes, label="a")
    plot_history(_history().as_dict(), axes=axes, label="b")
    assert len(axes[0].get_lines()) == 4
    assert [t.get_text() for t in axes[0].get_legend().get_texts()] == ["a", "b", "train", "val"]
    plt.close(fig)


@pytest.mark.parametrize("kwargs, match", [
    (dict(history=[1, 2]), "expected a History"),
    (dict(history=History()), "no epochs"),
    (dict(history=_history(), metrics=("loss", "f1")), "metrics must be"),
])
def test_plot_history_bad_input(kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        plot_history(**kwargs)


def test_plot_history_axes_count_must_match():
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="1 axes for 2 metrics"):
        plot_history(_history(), axes=ax)
    plt.close(fig)


def test_weight_histograms_share_bins():
    rng = np.random.default_rng(0)
    fig = plot_weight_histograms({"a": rng.normal(size=500), "b": [rng.normal(size=(10, 10)), np.zeros(5)]}, bins=20)
    assert len(fig.axes[0].patches) == 2  # one step outline per entry
    plt.close(fig)
    with pytest.raises(ValueError, match="non-empty dict"):
        plot_weight_histograms({})


def test_computational_graph_writes_values_and_grads():
    nodes = {"x": dict(xy=(0, 1), label="x", value=2.0, grad=-4.0),
             "y": dict(xy=(0, 0), label="y", value=3.0, grad=-4.0),
             "add": dict(xy=(1.5, 0.5), label="+", value=5.0, grad=-4.0, op=True)}
    fig = draw_computational_graph(nodes, [("x", "add"), ("y", "add")])
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts.count("-4") == 3 and "5" in texts and "2" in texts
    plt.close(fig)
    with pytest.raises(ValueError, match="not one of the nodes"):
        draw_computational_graph(nodes, [("x", "mul")])
    with pytest.raises(ValueError, match="lacks"):
        draw_computational_graph({"x": dict(xy=(0, 0), label="x")}, [])


def test_gradient_norms():
    fig = plot_gradient_norms({"relu": [1.0, 0.9, 1.1], "sigmoid": [1e-6, 1e-3, 1.0]})
    assert fig.axes[0].get_yscale() == "log" and len(fig.axes[0].get_lines()) == 2
    plt.close(fig)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        plot_gradient_norms({"a": []})


def test_gradient_norms_legend_below_the_figure():
    fig, axes = plt.subplots(1, 2)
    plot_gradient_norms({"a": [1.0, 2.0]}, ax=axes[0], legend=False)
    plot_gradient_norms({"a": [1.0, 2.0]}, ax=axes[1], legend="below")
    assert axes[0].get_legend() is None and axes[1].get_legend() is None and len(fig.legends) == 1
    plt.close(fig)
