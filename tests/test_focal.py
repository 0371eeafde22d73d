"""The focal blur: blur that grows with distance from the person, and no halo."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from segcam import kernels
from segcam.compositor import Compositor
from segcam.config import BackgroundSpec
from segcam.errors import ConfigError
from segcam.filters.base import make_spec, parse_chain
from segcam.filters.focal import FocalBlur
from segcam.frame import Frame

H, W = 720, 1280


def person_alpha(cx: int = 640, cy: int = 420, rx: int = 150, ry: int = 260) -> np.ndarray:
    a = np.zeros((H, W), np.uint8)
    cv2.ellipse(a, (cx, cy), (rx, ry), 0, 0, 360, 255, -1)
    return cv2.GaussianBlur(a, (0, 0), 1.5)


def texture(seed: int = 0) -> np.ndarray:
    """A detailed background: fine noise on a coarse pattern."""
    rng = np.random.default_rng(seed)
    img = rng.integers(40, 216, (H, W, 3), dtype=np.uint8)
    return cv2.GaussianBlur(img, (0, 0), 0.8)


def detail(image: np.ndarray, where: np.ndarray) -> float:
    """Mean absolute Laplacian (fine detail left) over the pixels ``where`` is set."""
    g = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    lap = np.abs(cv2.Laplacian(g, cv2.CV_32F))
    return float(lap[where].mean())


def ring(alpha: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Pixels between ``lo`` and ``hi`` px (720p) from the person."""
    d = cv2.distanceTransform((alpha <= 127).astype(np.uint8), cv2.DIST_L2, 5)
    return (d > lo) & (d <= hi)


def test_focal_is_a_registered_blend_filter() -> None:
    spec = make_spec("focal", {"far": "30"})
    assert spec.info.stage == "blend" and spec.info.hotkey == "F"
    with pytest.raises(ConfigError, match="below reach"):
        make_spec("focal", {"start": "500", "reach": "400"}).build()


def test_blur_grows_with_distance_from_the_person() -> None:
    bg = texture()
    alpha = person_alpha()
    fg = np.full((H, W, 3), 128, np.uint8)
    out = FocalBlur(far=24, reach=360, start=16)(fg, bg, alpha, np.empty_like(bg))
    # Right by the person the background is the one given, untouched.
    near = ring(alpha, 4, 16)
    diff = np.abs(out[near].astype(int) - bg[near])
    assert diff.max() <= 3 and diff.mean() < 0.5
    # Then the detail left falls steadily with distance.
    levels = [detail(out, ring(alpha, lo, lo + 60)) for lo in (20, 100, 200, 300, 400)]
    full = detail(bg, ring(alpha, 20, 80))
    assert all(b < a for a, b in itertools.pairwise(levels)), levels
    assert levels[-1] < 0.15 * full
    # Inside the person, the person.
    inside = alpha == 255
    assert np.array_equal(out[inside], fg[inside])


def test_no_person_is_the_plain_blend() -> None:
    bg = texture(1)
    alpha = np.zeros((H, W), np.uint8)
    fg = np.zeros_like(bg)
    out = FocalBlur()(fg, bg, alpha, np.empty_like(bg))
    assert np.array_equal(out, bg)


def test_focal_blur_background_has_no_halo() -> None:
    """A red person before a grey room: the blurred room must not turn red around them."""
    frame = np.full((H, W, 3), 128, np.uint8)
    alpha = np.zeros((H, W), np.uint8)
    cv2.circle(alpha, (640, 360), 180, 255, -1)
    frame[alpha > 0] = (0, 0, 255)
    comp = Compositor(
        BackgroundSpec("blur", blur=12.0), parse_chain("focal:start=0:reach=60:far=60")
    )
    f = Frame(0, frame, 0.0)
    f.alpha = alpha
    comp.process(f)
    out = f.output
    assert out is not None
    yy, xx = np.mgrid[0:H, 0:W]
    dist = np.hypot(xx - 640, yy - 360)
    around = (dist > 183) & (dist < 183 + 300)  # from the edge to far into the blur
    assert np.abs(out[around].astype(int) - 128).max() <= 3  # still grey
    # What a plain (not renormalised) blur of that size would have done there:
    naive = cv2.GaussianBlur(frame, (0, 0), 60)
    assert (naive[around][:, 2].astype(int) - naive[around][:, 1]).max() > 40


def test_focal_blend_kernel_is_the_three_step_blend() -> None:
    rng = np.random.default_rng(5)
    h, w, n = 45, 64, 12
    fg = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    bg = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    alpha = rng.integers(0, 256, (h, w), dtype=np.uint8)
    far = rng.integers(0, 256, (n, w, 3), dtype=np.uint8)
    amount = np.repeat(rng.integers(0, 256, (n, w, 1), dtype=np.uint8), 3, axis=2)
    far_full = kernels.stretch_rows(far, np.empty((h, w, 3), np.uint8))
    t_full = kernels.stretch_rows(amount, np.empty((h, w, 3), np.uint8))[:, :, 0].copy()
    mixed = kernels.blend(far_full, bg, t_full, np.empty_like(bg))
    expected = kernels.blend(fg, mixed, alpha, np.empty_like(fg))
    out = kernels.blend_focal(fg, bg, alpha, far, amount, np.empty_like(fg))
    assert np.array_equal(out, expected)
    in_place = bg.copy()
    kernels.blend_focal(fg, in_place, alpha, far, amount, in_place)
    assert np.array_equal(in_place, expected)
