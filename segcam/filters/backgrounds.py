"""Background providers: what the person is composited onto.

A provider is built once from a :class:`~segcam.config.BackgroundSpec` and asked
for a background per frame with :meth:`Background.render`. Static backgrounds
(image, colour) are prepared once per frame size and then returned as is, so
they cost nothing per frame. The blur background works at reduced resolution.

Threading: a provider belongs to the compositing worker thread. The returned
array is owned by the provider and is only valid until the next ``render``.
"""

from __future__ import annotations

import logging
from typing import Protocol

import cv2
import numpy as np

from segcam.config import MAX_DIMENSION, BackgroundSpec
from segcam.errors import InputError
from segcam.imaging import cover_fit, load_image

log = logging.getLogger(__name__)


class Background(Protocol):
    def render(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """Return a BGR uint8 background of the same size as ``frame``."""
        ...


class ImageBackground:
    """A still image, cover-fitted to the frame once per frame size."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._image = load_image(path, "background image")
        h, w = self._image.shape[:2]
        if min(w, h) < 16:
            raise InputError(f"background image {path} is too small ({w}x{h}); use at least 16x16")
        if max(w, h) > 2 * MAX_DIMENSION:
            raise InputError(
                f"background image {path} is too large ({w}x{h}); use at most "
                f"{2 * MAX_DIMENSION} pixels per side"
            )
        self._fitted: np.ndarray | None = None

    def render(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        if self._fitted is None or self._fitted.shape[:2] != (h, w):
            self._fitted = cover_fit(self._image, (w, h))
        return self._fitted


class ColourBackground:
    """A solid colour."""

    def __init__(self, bgr: tuple[int, int, int]) -> None:
        self.bgr = bgr
        self._canvas: np.ndarray | None = None

    def render(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        if self._canvas is None or self._canvas.shape != frame.shape:
            self._canvas = np.empty_like(frame)
            self._canvas[...] = self.bgr
        return self._canvas


class BlurBackground:
    """The frame itself, Gaussian-blurred at reduced resolution.

    ``strength`` is the blur sigma in pixels of a 720-line frame; it scales with
    the frame height so the look does not change with the resolution. Blurring at
    1/f of the size with sigma/f and scaling back up is visually the same as a
    full-size blur (the result has no detail above the blur's cut-off anyway) and
    costs about 1/f² as much.
    """

    def __init__(self, strength: float) -> None:
        self.strength = strength
        self._small: np.ndarray | None = None
        self._out: np.ndarray | None = None
        self._factor = 1

    def _prepare(self, shape: tuple[int, ...]) -> None:
        h, w = shape[:2]
        sigma = self.strength * h / 720.0
        self._factor = int(max(1, min(8, sigma // 3)))
        sw, sh = max(1, w // self._factor), max(1, h // self._factor)
        self._small = np.empty((sh, sw, 3), np.uint8)
        self._sigma_small = max(0.5, sigma / self._factor)
        self._out = np.empty(shape, np.uint8)

    def render(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        if self._out is None or self._out.shape != frame.shape:
            self._prepare(frame.shape)
        assert self._small is not None and self._out is not None
        h, w = frame.shape[:2]
        small = self._small
        cv2.resize(frame, (small.shape[1], small.shape[0]), dst=small, interpolation=cv2.INTER_AREA)
        cv2.GaussianBlur(small, (0, 0), self._sigma_small, dst=small)
        cv2.resize(small, (w, h), dst=self._out, interpolation=cv2.INTER_LINEAR)
        return self._out


def make_background(spec: BackgroundSpec) -> Background | None:
    """Build the provider for ``spec``; None for ``none`` and ``mask``, which need no background."""
    if spec.kind == "image":
        assert spec.path is not None
        return ImageBackground(spec.path)
    if spec.kind == "colour":
        return ColourBackground(spec.colour)
    if spec.kind == "blur":
        return BlurBackground(spec.blur)
    return None
