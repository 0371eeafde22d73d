"""Turn a frame and its model-resolution mask into the output image.

Two steps:

1. :meth:`Compositor.alpha`: the probability mask is converted to uint8 at model
   resolution (cheap there) and upsampled to the frame with bilinear
   interpolation. ``cv2.resize`` maps pixel centres to pixel centres, so the mask
   does not shift by half a pixel (the seed project's "resize alignment" trap).
2. The blend, in uint8: ``out = (fg·a + bg·(255 − a)) / 255`` with OpenCV's
   saturating integer arithmetic, which rounds each term; the result is within
   one grey level of the exact float blend and never touches float64.

Threading and buffers: a compositor belongs to one worker thread. It keeps its
full-size buffers between frames and reallocates them only when the frame size
changes. ``frame.alpha`` and ``frame.output`` are views of those buffers and are
overwritten by the next frame: sinks copy what they keep (see
:class:`segcam.sinks.base.Sink`).
"""

from __future__ import annotations

import cv2
import numpy as np

from segcam.config import BackgroundSpec
from segcam.filters.backgrounds import make_background
from segcam.frame import Frame


class Compositor:
    """Composites frames onto the background given by a :class:`BackgroundSpec`."""

    def __init__(self, background: BackgroundSpec) -> None:
        self.spec = background
        self._background = make_background(background)
        self._shape: tuple[int, int] | None = None
        self._mask_u8: np.ndarray | None = None

    def _allocate(self, h: int, w: int) -> None:
        self._shape = (h, w)
        self._alpha = np.empty((h, w), np.uint8)
        self._a3 = np.empty((h, w, 3), np.uint8)
        self._inv3 = np.empty((h, w, 3), np.uint8)
        self._fg = np.empty((h, w, 3), np.uint8)
        self._bg = np.empty((h, w, 3), np.uint8)
        channels = 4 if self.spec.transparent else 3
        self._out = np.empty((h, w, channels), np.uint8)

    def alpha(self, mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """Upsample a float32 probability mask to ``size`` = (width, height) as uint8 alpha.

        The returned array is the compositor's buffer, valid until the next call.
        """
        w, h = size
        if self._shape != (h, w):
            self._allocate(h, w)
        if self._mask_u8 is None or self._mask_u8.shape != mask.shape:
            self._mask_u8 = np.empty(mask.shape, np.uint8)
        # convertScaleAbs rounds and saturates: [0, 1] float -> [0, 255] uint8.
        cv2.convertScaleAbs(mask, dst=self._mask_u8, alpha=255.0)
        cv2.resize(self._mask_u8, (w, h), dst=self._alpha, interpolation=cv2.INTER_LINEAR)
        return self._alpha

    def process(self, frame: Frame) -> None:
        """Set ``frame.alpha`` and ``frame.output`` from ``frame.image`` and ``frame.mask``."""
        assert frame.mask is not None, "segment the frame before compositing it"
        image = frame.image
        h, w = image.shape[:2]
        alpha = self.alpha(frame.mask, (w, h))
        frame.alpha = alpha
        kind = self.spec.kind
        out = self._out
        if kind == "none":
            cv2.cvtColor(image, cv2.COLOR_BGR2BGRA, dst=out)
            cv2.insertChannel(alpha, out, 3)
        elif kind == "mask":
            cv2.cvtColor(alpha, cv2.COLOR_GRAY2BGR, dst=out)
        else:
            assert self._background is not None
            background = self._background.render(image, alpha)
            blend(image, background, alpha, out, self._a3, self._inv3, self._fg, self._bg)
        frame.output = out


def blend(
    fg: np.ndarray,
    bg: np.ndarray,
    alpha: np.ndarray,
    out: np.ndarray,
    a3: np.ndarray,
    inv3: np.ndarray,
    fg_term: np.ndarray,
    bg_term: np.ndarray,
) -> np.ndarray:
    """``out = fg·a/255 + bg·(255−a)/255`` in uint8, using caller-owned scratch buffers.

    All arrays are (H, W, 3) uint8 except ``alpha`` (H, W). Accurate to ±1 grey level.
    """
    cv2.cvtColor(alpha, cv2.COLOR_GRAY2BGR, dst=a3)
    cv2.bitwise_not(a3, dst=inv3)
    cv2.multiply(fg, a3, dst=fg_term, scale=1.0 / 255.0)
    cv2.multiply(bg, inv3, dst=bg_term, scale=1.0 / 255.0)
    cv2.add(fg_term, bg_term, dst=out)
    return out
