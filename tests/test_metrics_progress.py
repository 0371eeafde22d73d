"""The quality metrics on constructed masks, and the terminal progress line."""

from __future__ import annotations

import io

import numpy as np
import pytest

from segcam.metrics import boundary_f, boundary_radius, dtssd, iou, mae
from segcam.progress import Progress


def disc(shape=(200, 300), centre=(100, 150), r=60):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2) <= r * r).astype(np.uint8) * 255


def test_iou_and_mae():
    a = disc()
    assert iou(a, a) == 1.0
    assert mae(a, a) == 0.0
    empty = np.zeros_like(a)
    assert iou(a, empty) == 0.0
    assert iou(empty, empty) == 1.0
    half = a.copy()
    half[:, 150:] = 0
    assert 0.45 < iou(half, a) < 0.55
    assert abs(mae(empty, np.full_like(a, 255)) - 1.0) < 1e-6


def test_boundary_f_tolerance_is_relative_to_the_diagonal():
    gt = disc()
    # diagonal 360 px -> tolerance ceil(0.008 * 360) = 3 px
    assert boundary_f(gt, gt) == 1.0
    assert boundary_f(disc(r=62), gt) == 1.0  # 2 px off: within tolerance
    assert boundary_f(disc(r=70), gt) < 0.1  # 10 px off: no boundary pixel matches
    assert iou(disc(r=70), gt) > 0.7  # while IoU barely notices


def test_dtssd_is_zero_for_a_perfect_sequence_and_grows_with_flicker():
    gts = [disc(centre=(100, 150 + t)) for t in range(5)]
    assert dtssd(gts, gts) == 0.0
    flicker = [g if t % 2 else np.zeros_like(g) for t, g in enumerate(gts)]
    assert dtssd(flicker, gts) > 10


def test_progress_bar_for_finite_and_live_inputs():
    out = io.StringIO()
    p = Progress(100, stream=out, enabled=True)
    p.update(50, force=True)
    assert "50/100" in out.getvalue() and "ETA" in out.getvalue() and "50.0%" in out.getvalue()
    live = Progress(None, stream=io.StringIO(), enabled=True)
    line = live.line(42, dropped=3)
    assert "42 frames" in line and "fps" in line and "dropped 3" in line
    quiet = io.StringIO()
    Progress(10, stream=quiet).update(5, force=True)  # not a terminal: draws nothing
    assert quiet.getvalue() == ""


def test_a_live_job_that_drops_frames_still_reaches_its_total():
    # record --duration 3 on a 30 fps camera: 90 frames come in, 32 are dropped as stale.
    duration = Progress(90, stream=io.StringIO(), enabled=True, counts_dropped=True)
    line = duration.line(58, dropped=32)
    assert "100.0%" in line and "90/90" in line
    assert "58 done, 32 dropped" in line
    # record --frames 90: the total counts written frames, so drops do not fill it.
    frames = Progress(90, stream=io.StringIO(), enabled=True)
    line = frames.line(58, dropped=32)
    assert "64.4%" in line and "58/90" in line and "dropped 32" in line


def test_step_bar_draws_one_finished_line_per_job():
    from segcam.progress import StepBar

    out = io.StringIO()
    step = StepBar("images", stream=out, enabled=True)
    for total in (3, 2):
        for done in range(1, total + 1):
            step(done, total)
    lines = out.getvalue().split("\n")
    assert lines[-1] == ""  # every bar ended its line
    assert "3/3" in lines[0] and "100.0%" in lines[0] and "/s" in lines[0]
    assert "2/2" in lines[1] and "100.0%" in lines[1]


def test_boundary_f_offers_1_and_2_pixel_contours():
    gt = disc()
    # 4 px off, tolerance 3 px: the 1-px contours miss each other; the 2-px bands
    # (morphological gradient, one pixel either side of the edge) overlap in reach.
    off = disc(r=64)
    one, two = boundary_f(off, gt, width=1), boundary_f(off, gt, width=2)
    assert one < 0.2
    assert two > one + 0.3
    assert boundary_f(gt, gt, width=2) == 1.0
    with pytest.raises(ValueError, match="boundary width"):
        boundary_f(gt, gt, width=3)


def test_boundary_radius_states_the_tolerance_in_pixels():
    assert boundary_radius((600, 800)) == 8  # 0.8 % of a 1000-px diagonal
    assert boundary_radius((600, 800), 0.002) == 2
    assert boundary_radius((10, 10), 0.008) == 1  # never below one pixel
