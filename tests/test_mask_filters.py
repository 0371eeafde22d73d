"""Each mask filter on constructed inputs, asserting the property it exists for."""

from __future__ import annotations

import numpy as np
import pytest

from segcam.filters.mask_filters import Bilinear, Feather, Morphology, Refine, Smoothstep, Temporal
from segcam.frame import Frame


def still_frame(seq: int, small: np.ndarray, full: np.ndarray | None = None) -> Frame:
    f = Frame(seq, full if full is not None else np.zeros((180, 320, 3), np.uint8), seq / 30)
    f.small = small
    return f


def test_smoothstep_is_monotone_clamps_and_keeps_the_midpoint():
    p = np.linspace(0, 1, 1001, dtype=np.float32).reshape(1, -1)
    out = Smoothstep(lo=0.3, hi=0.7)(p.copy())
    assert out.dtype == np.float32
    assert np.all(np.diff(out[0]) >= 0), "not monotone"
    assert np.all(out[p < 0.2999] == 0.0) and np.all(out[p > 0.7001] == 1.0), "does not clamp"
    assert out[0, 500] == pytest.approx(0.5, abs=1e-6)
    t = (0.6 - 0.3) / 0.4
    assert out[0, 600] == pytest.approx(3 * t * t - 2 * t**3, abs=1e-5)


def test_temporal_damps_noise_on_a_still_input():
    rng = np.random.default_rng(0)
    small = np.full((144, 256, 3), 120, np.uint8)  # a still picture
    truth = np.zeros((144, 256), np.float32)
    truth[30:120, 80:180] = 1.0
    temporal = Temporal(strength=0.6)
    raw, smoothed = [], []
    for t in range(40):
        noisy = np.clip(truth + rng.normal(0, 0.15, truth.shape).astype(np.float32), 0, 1)
        raw.append(noisy)
        smoothed.append(temporal(noisy, still_frame(t, small)).copy())
    raw_var = np.var(np.stack(raw[10:]), axis=0).mean()
    smooth_var = np.var(np.stack(smoothed[10:]), axis=0).mean()
    assert smooth_var < 0.5 * raw_var


@pytest.mark.parametrize("fast", [True, False])
def test_temporal_never_decays_into_subnormals(fast, monkeypatch):
    """A still background decays geometrically; below 1e-6 it must become 0, not
    float32 subnormals (about 100x slower to compute on x86)."""
    from segcam import kernels

    if not fast:
        monkeypatch.setattr(kernels, "numba", None)
    small = np.full((36, 64, 3), 90, np.uint8)
    temporal = Temporal(strength=0.6)
    out = temporal(np.full((36, 64), 1e-3, np.float32), still_frame(0, small))
    for t in range(1, 300):  # 1e-3 · 0.6^t passes the subnormal range near t = 160
        out = temporal(np.zeros((36, 64), np.float32), still_frame(t, small))
    assert np.all(out == 0.0)
    tiny = np.finfo(np.float32).tiny
    assert not np.any((out > 0) & (out < tiny))


def test_temporal_follows_a_moving_person_without_lag():
    temporal = Temporal(strength=0.8)
    h, w = 144, 256
    for t in range(6):
        x = 40 + 20 * t  # the person (and the picture of it) moves 20 px a frame
        mask = np.zeros((h, w), np.float32)
        mask[30:120, x : x + 60] = 1.0
        small = np.full((h, w, 3), 60, np.uint8)
        small[30:120, x : x + 60] = 200
        out = temporal(mask, still_frame(t, small))
        assert np.abs(out - mask).max() < 0.05, f"lagging at frame {t}"


def test_temporal_follows_a_step_change_within_a_few_frames():
    temporal = Temporal(strength=0.6)
    small = np.full((144, 256, 3), 100, np.uint8)  # no image motion at all
    low = np.full((144, 256), 0.2, np.float32)
    high = np.full((144, 256), 0.6, np.float32)  # a change below the fast-jump threshold
    for t in range(5):
        temporal(low, still_frame(t, small))
    outs = [float(temporal(high, still_frame(5 + t, small)).mean()) for t in range(6)]
    assert outs[0] < 0.6 - 0.05, "a still pixel is smoothed"
    assert outs[5] > 0.6 - 0.03, "but reaches the new value within a few frames"


def test_temporal_reset_forgets_the_past():
    temporal = Temporal(strength=0.9)
    small = np.full((10, 10, 3), 50, np.uint8)
    temporal(np.zeros((10, 10), np.float32), still_frame(0, small))
    temporal.reset()
    out = temporal(np.ones((10, 10), np.float32), still_frame(1, small))
    assert np.all(out == 1.0)


def test_keep_largest_removes_a_blob():
    mask = np.zeros((144, 256), np.float32)
    mask[20:140, 60:160] = 0.95  # the person
    mask[10:18, 220:230] = 0.9  # a blob in the background
    out = Morphology(keep=1)(mask)
    assert out[10:18, 220:230].max() == 0.0
    assert np.allclose(out[20:140, 60:160], 0.95)


def test_morphology_open_removes_specks_and_close_fills_holes():
    mask = np.zeros((100, 100), np.float32)
    mask[20:80, 20:80] = 1.0
    mask[50, 50] = 0.0  # a hole
    mask[5, 5] = 1.0  # a speck
    out = Morphology(open=1, close=1, keep=0, min_area=0.0)(mask)
    assert out[50, 50] == 1.0 and out[5, 5] == 0.0


def test_refine_moves_the_edge_onto_the_image_edge():
    """A 720p picture with a sharp edge at column 300; the model's edge falls at 305."""
    h, w = 720, 1280
    image = np.full((h, w, 3), 40, np.uint8)
    image[:, 300:] = 210
    mask = np.zeros((144, 256), np.float32)
    mask[:, 61:] = 1.0  # model column 61 starts at full-resolution column 305
    frame = Frame(0, image, 0.0)
    plain = Bilinear()(mask, frame)[h // 2].astype(int)
    refined = Refine()(mask, frame)[h // 2].astype(int)
    wide = Refine(radius=12)(mask, frame)[h // 2].astype(int)
    edge = {
        name: int(np.argmax(row > 127))
        for name, row in (("plain", plain), ("refined", refined), ("wide", wide))
    }
    assert edge["plain"] == 305
    assert abs(edge["refined"] - 300) < abs(edge["plain"] - 300)
    assert edge["wide"] == 300
    # The refined alpha jumps where the picture does; the plain one is flat there.
    assert refined[300] - refined[299] > 60 and plain[300] == plain[299]
    assert refined[290] < 10, "no spill onto the dark side"


def test_feather_softens_a_hard_edge_only_near_it():
    alpha = np.zeros((720, 200), np.uint8)
    alpha[:, 100:] = 255
    out = Feather(sigma=2.0)(alpha)
    assert 0 < out[0, 99] < 255 and 0 < out[0, 100] < 255
    assert out[0, 80] == 0 and out[0, 120] == 255
