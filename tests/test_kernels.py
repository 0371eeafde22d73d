"""The fused compositing kernels against a straightforward float reference."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from segcam import kernels


def _float_blend(fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha.astype(np.float64)[..., None] / 255.0
    return fg.astype(np.float64) * a + bg.astype(np.float64) * (1.0 - a)


def test_fused_blend_is_the_rounded_float_blend_for_every_input() -> None:
    """All 2^24 (fg, bg, alpha) triples: the 16-bit rounding trick is exact."""
    assert kernels.has_fast_kernels()
    v = np.arange(256, dtype=np.uint8)
    fg, bg, a = (x.reshape(-1) for x in np.meshgrid(v, v, v, indexing="ij"))
    n = a.size
    fg3 = np.repeat(fg, 3).reshape(1, n, 3)
    bg3 = np.repeat(bg, 3).reshape(1, n, 3)
    out = np.empty_like(fg3)
    kernels.blend(fg3, bg3, a.reshape(1, n), out)
    exact = np.floor(_float_blend(fg3, bg3, a.reshape(1, n)) + 0.5)
    assert np.array_equal(out, exact.astype(np.uint8))


def test_fused_blend_on_a_frame_and_in_place() -> None:
    rng = np.random.default_rng(3)
    fg = rng.integers(0, 256, (72, 128, 3), dtype=np.uint8)
    bg = rng.integers(0, 256, (72, 128, 3), dtype=np.uint8)
    alpha = rng.integers(0, 256, (72, 128), dtype=np.uint8)
    ref = _float_blend(fg, bg, alpha)
    out = kernels.blend(fg, bg, alpha, np.empty_like(fg))
    assert np.abs(out - ref).max() <= 0.5
    in_place = bg.copy()
    kernels.blend(fg, in_place, alpha, in_place)
    assert np.array_equal(in_place, out)


def test_opencv_fallback_is_within_one_grey_level() -> None:
    rng = np.random.default_rng(4)
    fg = rng.integers(0, 256, (50, 60, 3), dtype=np.uint8)
    bg = rng.integers(0, 256, (50, 60, 3), dtype=np.uint8)
    alpha = rng.integers(0, 256, (50, 60), dtype=np.uint8)
    out = kernels._blend_opencv(fg, bg, alpha, np.empty_like(fg))
    assert np.abs(out - _float_blend(fg, bg, alpha)).max() <= 1.0


def test_non_contiguous_input_is_refused() -> None:
    fg = np.zeros((10, 20, 3), np.uint8)
    with pytest.raises(ValueError, match="contiguous"):
        kernels.blend(fg[:, ::2], fg[:, ::2], np.zeros((10, 10), np.uint8), fg[:, ::2].copy())


@pytest.mark.parametrize("shape", [(720, 1280, 3), (90, 160, 3), (64, 48)])
def test_halve_is_the_exact_two_by_two_mean(shape) -> None:
    """Bit for bit OpenCV's INTER_AREA at half size, i.e. the 2x2 mean rounded half up."""
    rng = np.random.default_rng(3)
    src = rng.integers(0, 256, shape, dtype=np.uint8)
    h, w = shape[0] // 2, shape[1] // 2
    out = np.empty((h, w, *shape[2:]), np.uint8)
    kernels.halve(src, out)
    s = src.astype(np.int32)
    mean = (s[0::2, 0::2] + s[1::2, 0::2] + s[0::2, 1::2] + s[1::2, 1::2] + 2) // 4
    assert np.array_equal(out, mean)
    assert np.array_equal(out, cv2.resize(src, (w, h), interpolation=cv2.INTER_AREA))


def test_pyramid_computes_each_level_once_and_shares_it(monkeypatch) -> None:
    from segcam import scratch

    calls: list[tuple[int, ...]] = []
    real = scratch.halve

    def counting(src, dst):
        calls.append(src.shape)
        return real(src, dst)

    monkeypatch.setattr(scratch, "halve", counting)
    rng = np.random.default_rng(4)
    image = rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    pyr = scratch.Pyramid().bind(image)
    half = pyr.shrink((640, 360))
    eighth = pyr.shrink((160, 90))
    assert pyr.shrink((640, 360)) is half  # served again, not recomputed
    assert calls == [(720, 1280, 3), (360, 640, 3), (180, 320, 3)]
    assert np.array_equal(half, cv2.resize(image, (640, 360), interpolation=cv2.INTER_AREA))
    # Chained exact halvings are the exact 8x8 mean up to the rounding of each step.
    direct = cv2.resize(image, (160, 90), interpolation=cv2.INTER_AREA).astype(int)
    assert np.abs(eighth.astype(int) - direct).max() <= 1
    odd = pyr.shrink((100, 60))  # not a halving: area resize from the 320x180 level
    assert odd.shape == (60, 100, 3)
    assert pyr.shrink((1280, 720)) is image
    # A new frame invalidates everything.
    other = np.zeros_like(image)
    assert not pyr.bind(other).shrink((640, 360)).any()


def test_a_frame_without_a_processor_shrinks_itself() -> None:
    from segcam.frame import Frame

    image = np.full((72, 128, 3), 200, np.uint8)
    frame = Frame(0, image, 0.0)
    assert np.array_equal(frame.shrunk((32, 18)), np.full((18, 32, 3), 200, np.uint8))


def test_fused_temporal_update_matches_the_array_version() -> None:
    rng = np.random.default_rng(5)
    shape = (144, 256)
    mask, prev = rng.random(shape, np.float32), rng.random(shape, np.float32)
    gray = (rng.random(shape, np.float32) * 255).astype(np.float32)
    prev_gray = gray + rng.normal(4.0, 3.0, shape).astype(np.float32)  # brightness shift + noise
    fused, plain = np.empty(shape, np.float32), np.empty(shape, np.float32)
    kernels.temporal_blend(mask, prev, gray, prev_gray, 6.0, 0.4, fused)
    kernels._temporal_numpy(mask, prev, gray, prev_gray, 6.0, 0.4, plain)
    assert np.abs(fused - plain).max() < 1e-5
    # The update stays between the previous and the new mask.
    assert np.all(fused >= np.minimum(mask, prev) - 1e-6)
    assert np.all(fused <= np.maximum(mask, prev) + 1e-6)
    # A still, unchanged image keeps w_still of the new mask.
    kernels.temporal_blend(mask, prev, gray, gray, 6.0, 0.4, fused)
    jump = np.abs(mask - prev) < 0.3
    expected = prev + 0.4 * (mask - prev)
    assert np.allclose(fused[jump], expected[jump], atol=1e-6)


@pytest.mark.parametrize("shape", [(360, 640), (5, 7), (1, 1)])
def test_exact_2x_upsample_is_within_one_grey_level_of_the_float_bilinear(shape) -> None:
    rng = np.random.default_rng(6)
    src = rng.integers(0, 256, shape, dtype=np.uint8)
    h, w = shape
    out = np.empty((2 * h, 2 * w), np.uint8)
    kernels.upsample(src, out)

    # float bilinear, centre-aligned, edges clamped
    def axis(n):
        pos = np.clip((np.arange(2 * n) + 0.5) / 2 - 0.5, 0, n - 1)
        i0 = np.floor(pos).astype(int)
        return i0, np.minimum(i0 + 1, n - 1), pos - i0

    y0, y1, fy = axis(h)
    x0, x1, fx = axis(w)
    s = src.astype(np.float64)
    rows = s[y0] * (1 - fy)[:, None] + s[y1] * fy[:, None]
    exact = rows[:, x0] * (1 - fx) + rows[:, x1] * fx
    assert np.abs(out - exact).max() <= 1.0
    # Other sizes go through OpenCV.
    odd = np.empty((3 * h, 3 * w), np.uint8)
    assert np.array_equal(
        kernels.upsample(src, odd), cv2.resize(src, (3 * w, 3 * h), interpolation=cv2.INTER_LINEAR)
    )


def test_fused_guided_filter_apply_equals_the_resize_multiply_add_version() -> None:
    rng = np.random.default_rng(7)
    a = rng.normal(0.0, 1.0, (90, 160)).astype(np.float32)
    b = rng.normal(100.0, 80.0, (90, 160)).astype(np.float32)
    gray = rng.integers(0, 256, (180, 320), dtype=np.uint8)
    fused = kernels.linear_apply(a, b, gray, np.empty((180, 320), np.uint8))
    big_a = cv2.resize(a, (320, 180), interpolation=cv2.INTER_LINEAR)
    big_b = cv2.resize(b, (320, 180), interpolation=cv2.INTER_LINEAR)
    plain = np.clip(np.rint(big_a * gray.astype(np.float32) + big_b), 0, 255)
    assert np.abs(fused.astype(int) - plain).max() <= 1
    assert (fused != plain).mean() < 1e-3  # float rounding of a few halves at most
    # Not a 2x step: the resize path, with or without work buffers.
    gray3 = rng.integers(0, 256, (270, 480), dtype=np.uint8)
    work = (np.empty((270, 480), np.float32), np.empty((270, 480), np.float32))
    one = kernels.linear_apply(a, b, gray3, np.empty((270, 480), np.uint8), work)
    two = kernels.linear_apply(a, b, gray3, np.empty((270, 480), np.uint8))
    assert np.array_equal(one, two)


@pytest.mark.parametrize(
    ("rows", "height", "width"),
    [(90, 720, 64), (135, 1080, 48), (7, 30, 11), (1, 5, 3), (40, 40, 8)],
)
def test_row_stretch_is_within_one_grey_level_of_the_float_bilinear(rows, height, width) -> None:
    rng = np.random.default_rng(rows)
    src = rng.integers(0, 256, (rows, width, 3), dtype=np.uint8)
    out = kernels.stretch_rows(src, np.empty((height, width, 3), np.uint8))
    ref = cv2.resize(src.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    assert np.abs(out - ref).max() <= 1.0
    # A row stretch is the second half of a bilinear enlargement; the width
    # stretch before it rounds to uint8 too, so two half-level roundings.
    wide = cv2.resize(src[:, :4], (width, rows), interpolation=cv2.INTER_LINEAR)
    full = kernels.stretch_rows(wide, np.empty((height, width, 3), np.uint8))
    ref = cv2.resize(src[:, :4].astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    assert np.abs(full - ref).max() < 1.5


def test_blend_over_a_short_background_equals_blending_over_its_stretch() -> None:
    rng = np.random.default_rng(11)
    fg = rng.integers(0, 256, (96, 80, 3), dtype=np.uint8)
    alpha = rng.integers(0, 256, (96, 80), dtype=np.uint8)
    short = rng.integers(0, 256, (12, 80, 3), dtype=np.uint8)
    full = kernels.stretch_rows(short, np.empty_like(fg))
    two_steps = kernels.blend(fg, full, alpha, np.empty_like(fg))
    fused = kernels.blend_stretched(fg, short, alpha, np.empty_like(fg))
    assert np.array_equal(fused, two_steps)
    assert np.abs(fused - _float_blend(fg, full, alpha)).max() <= 0.5


def test_compositor_folds_the_blur_into_the_blend_only_when_nothing_else_needs_it() -> None:
    """Over a blur with no frame filters the compositor blends over the short blur;
    the picture is the one a blend over the full-size blur gives."""
    from segcam.compositor import Compositor
    from segcam.config import parse_background
    from segcam.filters.backgrounds import BlurBackground
    from segcam.filters.base import parse_chain
    from segcam.frame import Frame

    rng = np.random.default_rng(5)
    image = cv2.GaussianBlur(rng.integers(0, 256, (180, 320, 3), dtype=np.uint8), (0, 0), 3)
    alpha = np.zeros((180, 320), np.uint8)
    alpha[40:160, 100:220] = 255
    alpha[40:160, 95:100] = 128
    spec = parse_background("blur:12")
    comp = Compositor(spec)
    assert comp._plain
    frame = Frame(0, image, 0.0)
    frame.alpha = alpha
    comp.process(frame)
    background = BlurBackground(12).render(image, alpha)
    expected = kernels.blend(image, background, alpha, np.empty_like(image))
    assert np.array_equal(frame.output, expected)
    # a post filter needs the full background: the plain path is not taken
    assert not Compositor(spec, parse_chain("lightwrap"))._plain


def test_fused_plate_learning_matches_the_array_version_and_starts_a_pixel_whole() -> None:
    rng = np.random.default_rng(7)
    shape = (90, 160)
    image = (rng.random((*shape, 3), np.float32) * 255).astype(np.float32)
    plate = (rng.random((*shape, 3), np.float32) * 255).astype(np.float32)
    known = rng.random(shape, np.float32)
    known[:10] = 0.0  # never learned
    wgt = rng.random(shape, np.float32) * 0.5
    wgt[:, :20] = 0.0  # not learned this frame
    fused = [a.copy() for a in (plate, known)]
    plain = [a.copy() for a in (plate, known)]
    kernels.plate_learn(image, fused[0], fused[1], wgt)
    kernels._plate_learn_numpy(image, plain[0], plain[1], wgt)
    assert np.abs(fused[0] - plain[0]).max() < 1e-3
    assert np.abs(fused[1] - plain[1]).max() < 1e-6
    # A pixel's first learned frame is copied whole; a zero weight changes nothing.
    first = (known == 0) & (wgt > 0)
    assert np.allclose(fused[0][first], image[first], atol=1e-3)
    assert np.array_equal(fused[0][:, :20], plate[:, :20])
    assert np.array_equal(fused[1][:, :20], known[:, :20])
