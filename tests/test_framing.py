"""Auto-framing: the crop window follows the people, smoothly, inside the frame."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from segcam.filters.base import make_spec, parse_chain
from segcam.filters.framing import AutoFraming, person_boxes
from segcam.frame import Frame
from segcam.scratch import Scratch

H, W = 720, 1280


def person(cx: float, top: float = 200.0, head: float = 90.0, alpha_h: int = H) -> np.ndarray:
    """A head-and-shoulders silhouette: a head ``head`` px wide on a wide body."""
    a = np.zeros((alpha_h, W), np.uint8)
    r = head / 2
    cv2.ellipse(
        a, (round(cx), round(top + 1.3 * r)), (round(r), round(1.3 * r)), 0, 0, 360, 255, -1
    )
    neck = top + 2.5 * r
    cv2.rectangle(
        a,
        (round(cx - 0.4 * r), round(neck - r)),
        (round(cx + 0.4 * r), round(neck + 0.8 * r)),
        255,
        -1,
    )
    body = np.array(
        [
            [cx - 1.6 * head, alpha_h],
            [cx - 1.2 * head, neck + 0.6 * r],
            [cx + 1.2 * head, neck + 0.6 * r],
            [cx + 1.6 * head, alpha_h],
        ],
        np.int32,
    )
    cv2.fillPoly(a, [body], 255)
    return a


def run(f: AutoFraming, alphas, fps: float = 30.0, start: int = 0) -> list[tuple[float, ...]]:
    out = np.zeros((H, W, 3), np.uint8)
    windows = []
    for i, a in enumerate(alphas, start):
        frame = Frame(i, out, i / fps)
        f(out, out, a, frame)
        windows.append(f.window)
    return windows


def inside(win: tuple[float, ...]) -> bool:
    x, y, w, h = win
    return x >= -1e-6 and y >= -1e-6 and x + w <= W + 1e-6 and y + h <= H + 1e-6


def test_framing_is_a_registered_post_filter() -> None:
    spec = make_spec("framing", {"target": "box", "zoom": "1.5"})
    assert spec.info.stage == "post" and spec.info.hotkey == "A"


def test_the_head_is_found_at_the_top_of_the_mask() -> None:
    ((x0, y0, x1, y1),) = person_boxes(person(500, top=200, head=100), "head", Scratch())
    assert abs(y0 - 200) <= 8 and abs((x0 + x1) / 2 - 500) <= 8
    assert 80 <= x1 - x0 <= 125 and 110 <= y1 - y0 <= 200  # the head, not the shoulders
    ((bx0, _, bx1, by1),) = person_boxes(person(500, top=200, head=100), "box", Scratch())
    assert by1 == H and bx1 - bx0 > 300


def test_the_window_centres_the_head_at_the_chosen_size_within_the_zoom_limit() -> None:
    f = AutoFraming(target="head", size=0.4, zoom=2.0)
    wins = run(f, [person(420, top=250, head=100)] * 90)
    x, _, w, h = wins[-1]
    assert inside(wins[-1]) and all(inside(v) for v in wins)
    assert h == pytest.approx(H / 2.0, abs=2)  # the head asks for more, the zoom stops at 2x
    assert x + w / 2 == pytest.approx(420, abs=15)
    # A wider zoom limit lets the head fill its share of the window.
    g = AutoFraming(target="head", size=0.4, zoom=4.0)
    a = person(640, top=250, head=100)
    _, _, _, h4 = run(g, [a] * 90)[-1]
    ((_, y0, _, y1),) = person_boxes(a, "head", Scratch())
    assert h4 < H / 2 and h4 == pytest.approx((y1 - y0) / 0.4, rel=0.03)


def test_the_window_never_leaves_the_frame() -> None:
    f = AutoFraming(target="box", zoom=3.0)
    wins = run(f, [person(60, top=500, head=60)] * 60 + [person(1230, top=40, head=60)] * 60)
    assert all(inside(v) for v in wins)
    x, y, w, _ = wins[-1]
    assert x + w == pytest.approx(W, abs=1) and y == pytest.approx(0, abs=1)


def test_at_rest_the_window_does_not_jitter() -> None:
    """Mask noise of a few pixels a frame stays in the dead zone: the window stands still."""
    rng = np.random.default_rng(0)
    f = AutoFraming()
    alphas = [
        person(640 + rng.normal(0, 4), top=250 + rng.normal(0, 3), head=100 + rng.normal(0, 3))
        for _ in range(120)
    ]
    wins = np.array(run(f, alphas))
    settled = wins[60:]
    assert np.abs(np.diff(settled, axis=0)).max() < 0.05


def test_a_step_move_is_followed_smoothly_without_overshoot() -> None:
    f = AutoFraming(target="head", response=0.5)
    wins = run(f, [person(400, top=250)] * 60 + [person(880, top=250)] * 60)
    cx = np.array([x + w / 2 for x, _, w, _ in wins])
    before, after = cx[59], cx[-1]
    assert after - before > 300
    move = (cx[60:] - before) / (after - before)
    # Not a jump: the first frame after the step moves a little, 90 % takes ~0.5 s.
    assert move[0] < 0.2
    t90 = int(np.argmax(move >= 0.9))
    assert 10 <= t90 <= 20, t90
    assert move.max() <= 1.0 + 1e-6  # critically damped: no overshoot
    assert np.all(np.diff(cx[60:]) >= -1e-3)  # (still settling from the start: tiny)


def test_several_people_are_framed_together() -> None:
    a = np.maximum(person(300, top=260, head=90), person(980, top=240, head=90))
    f = AutoFraming(target="head", zoom=3.0)
    x, _, w, _ = run(f, [a] * 90)[-1]
    for cx in (300, 980):
        assert x + 45 < cx < x + w - 45
    speck = a.copy()
    speck[100:104, 100:104] = 255  # a speck of noise is nobody
    assert len(person_boxes(speck, "head", Scratch())) == 2


def test_the_output_is_the_window_scaled_to_the_frame() -> None:
    rng = np.random.default_rng(1)
    out = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    f = AutoFraming(target="box", zoom=2.0)
    a = person(640, top=300, head=80)
    for i in range(120):
        res = f(out, out, a, Frame(i, out, i / 30))
    assert res is not out and res.shape == out.shape
    x0, y0, cw, ch = f.update(a, Frame(120, out, 4.0))
    expected = cv2.resize(out[y0 : y0 + ch, x0 : x0 + cw], (W, H), interpolation=cv2.INTER_LINEAR)
    res = f(out, out, a, Frame(121, out, 121 / 30))
    assert np.abs(res.astype(int) - expected.astype(int)).max() <= 1
    # Nobody for a while: back to the whole frame, which is the frame itself.
    empty = np.zeros((H, W), np.uint8)
    for i in range(122, 122 + 120):
        res = f(out, out, empty, Frame(i, out, i / 30))
    assert res is out


def test_the_windows_switches_put_framing_last_and_lowlight_first() -> None:
    from segcam.gui.state import TOGGLES, set_filter

    assert {("framing", "A"), ("focal", "F"), ("lowlight", "L")} <= {(n, k) for n, _, k in TOGGLES}
    chain = parse_chain("live,colour")
    chain = set_filter(chain, make_spec("framing"), "framing")
    chain = set_filter(chain, make_spec("lightwrap"), "lightwrap")
    chain = set_filter(chain, make_spec("lowlight"), "lowlight")
    names = [s.name for s in chain]
    assert names[-1] == "framing"  # it crops the finished picture
    assert names.index("lowlight") < names.index("colour")


def test_framing_runs_after_the_other_post_filters_whatever_the_order_given() -> None:
    from segcam.compositor import Compositor
    from segcam.config import BackgroundSpec

    comp = Compositor(BackgroundSpec("colour", colour=(0, 0, 0)), parse_chain("framing,lightwrap"))
    names = [type(f).__name__ for f in comp.post_filters]
    assert names[-1] == "AutoFraming" and len(names) == 2
