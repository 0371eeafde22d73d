"""The fused compositing kernels against a straightforward float reference."""

from __future__ import annotations

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
