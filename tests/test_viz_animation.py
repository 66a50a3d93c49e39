"""The step-by-step animations of cnnlab.viz: every frame's numbers are the op's (cnnlab.numpy and torch
agree with the last frame), the highlighted cells are the ones the step really reads, and the HTML player
is self-contained."""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import cnnlab.numpy as cnp  # noqa: E402
from cnnlab import viz  # noqa: E402

RNG = np.random.default_rng(0)
SLIDE_KERNEL = np.array([[1, 2, 1], [2, 1, 2], [1, 1, 2]])


def _ints(shape, low=-3, high=6):
    return RNG.integers(low, high, size=shape)


def _t(a):
    return torch.tensor(np.asarray(a, dtype=np.float64))[None, None]


def _only_new_pixel(frames):
    """For reveal-style animations: each frame adds exactly one pixel to the previous one."""
    for k, frame in enumerate(frames):
        before = np.isnan(frames[k - 1]) if k else np.ones(frame.shape, bool)
        new = before & ~np.isnan(frame)
        assert new.sum() == 1 and np.array_equal(np.isnan(frame), before & ~new)


CONV_CASES = [  # (input shape, kernel shape, stride, padding, dilation)
    ((5, 5), (3, 3), 1, 0, 1),
    ((5, 5), (3, 3), 2, 1, 1),
    ((7, 7), (3, 3), 1, 0, 2),
    ((6, 7), (2, 3), (2, 1), (1, 0), 1),
    ((4, 4), (3, 3), 1, "same", 1),
]


@pytest.mark.parametrize("in_shape, k_shape, stride, padding, dilation", CONV_CASES)
def test_conv2d_frames_are_the_op(in_shape, k_shape, stride, padding, dilation):
    x, w = _ints(in_shape), _ints(k_shape)
    anim = viz.animate_conv2d(x, w, stride=stride, padding=padding, dilation=dilation)
    ours = cnp.conv2d(x.astype(np.float64)[None, None], w.astype(np.float64)[None, None], stride=stride,
                      padding=padding, dilation=dilation)[0, 0]
    oracle = F.conv2d(_t(x), _t(w), stride=stride, padding=padding, dilation=dilation)[0, 0].numpy()
    np.testing.assert_allclose(anim.frames[-1], ours)
    np.testing.assert_allclose(anim.frames[-1], oracle)
    np.testing.assert_array_equal(anim.output, anim.frames[-1])
    assert len(anim.frames) == oracle.size == len(anim.captions) == len(anim.highlights)
    _only_new_pixel(anim.frames)

    # the highlighted taps of the padded input, times the kernel, give the pixel of that frame
    pad = padding if padding != "same" else (k_shape[0] - 1) // 2
    ph, pw = (pad, pad) if isinstance(pad, int) else pad
    xp = np.pad(x, ((ph, ph), (pw, pw)))
    for k, (frame, taps) in enumerate(zip(anim.frames, anim.highlights)):
        new = np.argwhere(~np.isnan(frame) & (np.isnan(anim.frames[k - 1]) if k else True))[0]
        assert sum(xp[r, c] * wv for (r, c), wv in zip(taps, w.ravel())) == pytest.approx(frame[tuple(new)])
        assert anim.captions[k].startswith(f"out[{new[0]},{new[1]}] = ")
        assert anim.captions[k].endswith(f"= {int(frame[tuple(new)])}")


def test_conv2d_caption_shows_the_arithmetic():
    x = np.arange(1, 17).reshape(4, 4)
    anim = viz.animate_conv2d(x, np.eye(3, dtype=int))
    assert anim.captions[1] == "out[0,1] = 2*1 + 3*0 + 4*0 + 6*0 + 7*1 + 8*0 + 10*0\n    + 11*0 + 12*1 = 21"


def test_conv_transpose2d_reproduces_the_slide():
    anim = viz.animate_conv_transpose2d(np.array([[55]]), SLIDE_KERNEL)
    assert anim.frames[-1].tolist() == [[55, 110, 55], [110, 55, 110], [55, 55, 110]]


@pytest.mark.parametrize("in_shape, k_shape, stride, padding", [
    ((2, 2), (3, 3), 1, 0), ((2, 3), (3, 3), 2, 1), ((3, 3), (2, 2), 2, 0), ((2, 2), (3, 2), (1, 2), (0, 1))])
def test_conv_transpose2d_frames_accumulate_the_stamps(in_shape, k_shape, stride, padding):
    x, w = _ints(in_shape), _ints(k_shape)
    anim = viz.animate_conv_transpose2d(x, w, stride=stride, padding=padding)
    oracle = F.conv_transpose2d(_t(x), _t(w), stride=stride, padding=padding)[0, 0].numpy()
    ours = cnp.conv_transpose2d(x.astype(np.float64)[None, None], w.astype(np.float64)[None, None], stride=stride,
                                padding=padding)[0, 0]
    np.testing.assert_allclose(anim.frames[-1], oracle)
    np.testing.assert_allclose(anim.frames[-1], ours)
    assert len(anim.frames) == x.size
    # frame k = the stamps of input pixels 0..k only (row-major)
    kept = np.zeros(x.shape)
    for k, (r, c) in enumerate(np.ndindex(*x.shape)):
        kept[r, c] = x[r, c]
        np.testing.assert_allclose(anim.frames[k], F.conv_transpose2d(_t(kept), _t(w), stride=stride,
                                                                      padding=padding)[0, 0].numpy())
        assert anim.highlights[k] == [(r, c)]


@pytest.mark.parametrize("in_shape, kernel_size, stride", [((4, 4), 2, None), ((5, 5), 3, 2), ((4, 6), 2, 1),
                                                           ((6, 6), (2, 3), None)])
def test_max_pool2d_frames_and_winners(in_shape, kernel_size, stride):
    x = RNG.permutation(np.prod(in_shape)).reshape(in_shape)  # distinct values: one winner per window
    anim = viz.animate_max_pool2d(x, kernel_size, stride=stride)
    oracle = F.max_pool2d(_t(x), kernel_size, stride=stride)[0, 0].numpy()
    np.testing.assert_array_equal(anim.frames[-1], oracle)
    np.testing.assert_array_equal(anim.frames[-1], cnp.max_pool2d(x.astype(float)[None, None], kernel_size,
                                                                  stride=stride)[0, 0])
    _only_new_pixel(anim.frames)
    for frame, window in zip(anim.frames, anim.highlights):  # the window drawn holds the pixel's maximum
        new_value = frame[~np.isnan(frame)]
        assert max(x[r, c] for r, c in window) in new_value


def test_max_unpool2d_puts_each_max_back():
    x = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]])
    anim = viz.animate_max_unpool2d(x, 2)
    pooled, idx = F.max_pool2d(_t(x), 2, return_indices=True)
    oracle = F.max_unpool2d(pooled, idx, 2, output_size=x.shape)[0, 0].numpy()
    np.testing.assert_array_equal(anim.frames[-1], oracle)
    assert anim.frames[-1].tolist() == [[0, 0, 0, 0], [0, 6, 0, 8], [3, 0, 0, 0], [0, 0, 0, 4]]
    assert [int((f != 0).sum()) for f in anim.frames] == [1, 2, 3, 4]
    assert anim.captions[-1].endswith("12 of 16 values lost (now 0)")


@pytest.mark.parametrize("kernel_size, stride", [(3, 2), (2, 1)])
def test_max_unpool2d_matches_torch_with_stride(kernel_size, stride):
    x = RNG.permutation(36).reshape(6, 6)
    anim = viz.animate_max_unpool2d(x, kernel_size, stride=stride)
    pooled, idx = F.max_pool2d(_t(x), kernel_size, stride=stride, return_indices=True)
    oracle = F.max_unpool2d(pooled, idx, kernel_size, stride=stride, output_size=x.shape)[0, 0].numpy()
    np.testing.assert_array_equal(anim.output, oracle)


def test_html_player_is_self_contained_and_closes_its_figure():
    open_before = plt.get_fignums()
    anim = viz.animate_conv2d(np.arange(16).reshape(4, 4), np.ones((3, 3)))
    html = anim._repr_html_()
    assert plt.get_fignums() == open_before  # not shown a second time as a static figure
    for control in ("Play", "Pause", "Next frame", "Previous frame", "anim-slider"):
        assert control in html
    assert html.count("data:image/png;base64,") == len(anim.frames) == 4
    assert not re.search(r"https?://|<link|src=\"(?!data:)", html)
    assert len(html) < 120_000  # 4 small frames, stored at 2x


@pytest.mark.parametrize("call, message", [
    (lambda: viz.animate_conv2d(np.zeros((1, 5, 5)), np.ones((3, 3))), r"x must be a non-empty 2-D array \(H, W\), got shape \(1, 5, 5\)"),
    (lambda: viz.animate_conv2d(np.zeros((5, 5)), np.ones(3)), r"weight must be a non-empty 2-D array \(KH, KW\), got shape \(3,\)"),
    (lambda: viz.animate_conv2d(np.zeros((2, 2)), np.ones((3, 3))), r"animate_conv2d: .*kernel"),
    (lambda: viz.animate_conv2d([["a"]], np.ones((1, 1))), r"x must hold numbers \(int or float\), got dtype <U1"),
    (lambda: viz.animate_conv2d(np.zeros((5, 5)), np.ones((3, 3)), stride=0), r"stride must be a positive int"),
    (lambda: viz.animate_conv_transpose2d(np.zeros(3), np.ones((3, 3))), r"x must be a non-empty 2-D array"),
    (lambda: viz.animate_max_pool2d(np.zeros((4, 4, 1)), 2), r"animate_max_pool2d: x must be .*got shape \(4, 4, 1\)"),
    (lambda: viz.animate_max_pool2d(np.zeros((4, 4)), 0), r"kernel_size must be a positive int"),
    (lambda: viz.animate_max_unpool2d(np.zeros((0, 4)), 2), r"non-empty 2-D array \(H, W\), got shape \(0, 4\)"),
])
def test_bad_input_names_expected_and_got(call, message):
    with pytest.raises(ValueError, match=message):
        call()
