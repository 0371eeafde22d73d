"""Put the person, given by ``frame.alpha``, onto the background.

The blend runs in uint8 in one fused pass (:func:`segcam.kernels.blend`): it is
the correctly rounded float blend, without float math or temporaries. Over a
blur, when no frame filter needs the full-size background, the blend takes the
blur at reduced height and stretches its rows as it goes
(:func:`segcam.kernels.blend_stretched`, bit-identical).

Frame filters from the chain hook in at three points (see
:mod:`segcam.filters.base`): ``foreground`` filters adjust the person before the
blend (colour transfer, harmonize), a ``blend`` filter replaces the blend
(seamless clone), and ``post`` filters work on the composite (light wrap).
Transparent and mask outputs skip them: there is no background to match.

Threading and buffers: a compositor belongs to one worker thread. It keeps its
full-size buffers between frames and reallocates them only when the frame size
changes. ``frame.output`` is a view of those buffers and is overwritten by the
next frame: sinks copy what they keep (see :class:`segcam.sinks.base.Sink`).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from segcam.config import BackgroundSpec
from segcam.filters.backgrounds import make_background
from segcam.filters.base import FilterSpec
from segcam.filters.mask_filters import Bilinear
from segcam.frame import Frame
from segcam.kernels import blend, blend_stretched, warm_up

__all__ = ["Compositor", "blend"]


class Compositor:
    """Composites frames onto the background given by a :class:`BackgroundSpec`."""

    def __init__(self, background: BackgroundSpec, filters: tuple[FilterSpec, ...] = ()) -> None:
        self.spec = background
        self._background = make_background(background)
        self._bilinear = Bilinear()
        self._shape: tuple[int, int] | None = None
        warm_up()
        self.foreground_filters: list[Any] = []
        self.blend_filter: Any | None = None
        self.post_filters: list[Any] = []
        for spec in filters:
            stage = spec.info.stage
            if stage == "foreground":
                self.foreground_filters.append(spec.build())
            elif stage == "blend":
                self.blend_filter = spec.build()
            elif stage == "post":
                self.post_filters.append(spec.build())
        # Blend over the background at reduced height (a blur) when it offers that
        # and no frame filter needs the full-size background.
        frame_filters = self.foreground_filters or self.blend_filter or self.post_filters
        self._plain = not frame_filters and hasattr(self._background, "render_rows")

    def _allocate(self, h: int, w: int) -> None:
        self._shape = (h, w)
        channels = 4 if self.spec.transparent else 3
        self._out = np.empty((h, w, channels), np.uint8)

    def alpha(self, mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """Bilinear, centre-aligned upsample of a float32 probability mask to uint8 ``size``."""
        return self._bilinear.upsample(mask, size)

    def process(self, frame: Frame) -> None:
        """Set ``frame.output`` from ``frame.image`` and ``frame.alpha``.

        When the frame has no alpha yet, it is the bilinear upsample of ``frame.mask``.
        """
        image = frame.image
        h, w = image.shape[:2]
        if frame.alpha is None:
            assert frame.mask is not None, "segment the frame before compositing it"
            frame.alpha = self.alpha(frame.mask, (w, h))
        alpha = frame.alpha
        if self._shape != (h, w):
            self._allocate(h, w)
        kind = self.spec.kind
        out = self._out
        if kind == "none":
            cv2.cvtColor(image, cv2.COLOR_BGR2BGRA, dst=out)
            cv2.insertChannel(alpha, out, 3)
        elif kind == "mask":
            cv2.cvtColor(alpha, cv2.COLOR_GRAY2BGR, dst=out)
        else:
            assert self._background is not None
            if self._plain:
                rows = self._background.render_rows(image, alpha, frame.pyramid)
                frame.output = blend_stretched(image, rows, alpha, out)
                return
            background = self._background.render(image, alpha, frame.pyramid)
            fg = image
            for f in self.foreground_filters:
                fg = f(fg, background, alpha, frame)
            if self.blend_filter is not None:
                out = self.blend_filter(fg, background, alpha, out)
            else:
                blend(fg, background, alpha, out)
            for f in self.post_filters:
                out = f(out, background, alpha, frame)
        frame.output = out
