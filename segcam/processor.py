"""The per-frame work, independent of threads: segment, then composite.

:class:`Processor` is what the pipeline's worker runs for every frame, and what
``segcam mask`` runs for every image, so both produce the same alpha for the
same input. It is single-threaded: one processor belongs to one thread.
"""

from __future__ import annotations

import time

from segcam.compositor import Compositor
from segcam.config import PipelineSettings
from segcam.frame import Frame
from segcam.inference.segmenter import Segmenter


class Processor:
    """Segmenter + compositor for one :class:`PipelineSettings` snapshot.

    Building it loads the model and the background, so a bad model or
    background fails here, in the caller's thread, before anything streams.
    """

    def __init__(self, settings: PipelineSettings, *, segmenter: Segmenter | None = None) -> None:
        self.settings = settings
        self.segmenter = segmenter or Segmenter(settings.model, threads=settings.threads)
        self.compositor = Compositor(settings.background)

    def apply(self, settings: PipelineSettings) -> None:
        """Switch to a new settings snapshot, reloading only what changed."""
        if settings == self.settings:
            return
        if (settings.model, settings.threads) != (self.settings.model, self.settings.threads):
            self.segmenter = Segmenter(settings.model, threads=settings.threads)
        if settings.background != self.settings.background:
            self.compositor = Compositor(settings.background)
        self.settings = settings

    def reset(self) -> None:
        """Forget per-stream state (call when the input changes to an unrelated image or source)."""
        self.segmenter.reset()

    def process(self, frame: Frame) -> Frame:
        """Set ``mask``, ``mask_seq``, ``alpha`` and ``output`` on ``frame``; record timings."""
        t0 = time.perf_counter()
        frame.mask = self.segmenter.segment(frame.image)
        frame.mask_seq = frame.seq
        t1 = time.perf_counter()
        self.compositor.process(frame)
        t2 = time.perf_counter()
        frame.timings["segment"] = t1 - t0
        frame.timings["composite"] = t2 - t1
        frame.stamp("composite")
        return frame
