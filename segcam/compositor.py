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

from collections.abc import Callable
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


_BUILD = object()  # "build the background provider from the spec"


class Compositor:
    """Composites frames onto the background given by a :class:`BackgroundSpec`.

    The background provider and the frame filters are two separate parts, each
    replaced on its own (:meth:`set_background`, :meth:`set_filters`): a live
    session swaps the background without touching the filters and the other way
    round, so a 4K image is never decoded again because a filter changed.

    Args:
        background: what the person goes onto.
        filters: the chain; only its frame filters (foreground, blend, post) are used.
        provider: an already-built provider for ``background`` (None for ``none``
            and ``mask``), e.g. from the session's cache; built here when omitted.
        build: makes a filter instance from its spec (default ``spec.build()``).
    """

    def __init__(
        self,
        background: BackgroundSpec,
        filters: tuple[FilterSpec, ...] = (),
        *,
        provider: Any = _BUILD,
        build: Callable[[FilterSpec], Any] | None = None,
    ) -> None:
        self._bilinear = Bilinear()
        self._shape: tuple[int, int] | None = None
        warm_up()
        self.foreground_filters: list[Any] = []
        self.blend_filter: Any | None = None
        self.post_filters: list[Any] = []
        self.filter_specs: tuple[FilterSpec, ...] = ()
        self.filter_instances: list[Any] = []
        """One instance per entry of :attr:`filter_specs`, in order."""
        self.set_background(
            background, make_background(background) if provider is _BUILD else provider
        )
        self.set_filters(filters, build)

    def set_background(self, spec: BackgroundSpec, provider: Any) -> None:
        """Composite onto ``provider`` (built for ``spec``) from the next frame on."""
        channels = 4 if spec.transparent else 3
        if self._shape is not None and self._out.shape[2] != channels:
            self._shape = None  # reallocate for the other channel count
        self.spec = spec
        self._background = provider
        self._update_plain()

    def set_filters(
        self,
        filters: tuple[FilterSpec, ...],
        build: Callable[[FilterSpec], Any] | None = None,
    ) -> None:
        """Use the frame filters of ``filters`` from the next frame on."""
        foreground: list[Any] = []
        blend_filter = None
        post: list[Any] = []
        specs: list[FilterSpec] = []
        instances: list[Any] = []
        for spec in filters:
            stage = spec.info.stage
            if stage not in ("foreground", "blend", "post"):
                continue
            f = spec.build() if build is None else build(spec)
            specs.append(spec)
            instances.append(f)
            if stage == "foreground":
                foreground.append(f)
            elif stage == "blend":
                blend_filter = f
            else:
                post.append(f)
        # A filter that moves pixels (auto-framing) goes last; sort is stable.
        post.sort(key=lambda f: bool(getattr(f, "reframes", False)))
        self.foreground_filters, self.blend_filter, self.post_filters = (
            foreground,
            blend_filter,
            post,
        )
        self.filter_specs, self.filter_instances = tuple(specs), instances
        self._update_plain()

    def _update_plain(self) -> None:
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
