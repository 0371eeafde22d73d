"""The per-frame work, independent of threads: segment, refine the mask, composite.

:class:`Processor` is what the pipeline's worker runs for every frame, and what
``segcam mask`` and ``segcam eval`` run for every image, so all of them produce
the same alpha for the same input. It is single-threaded: one processor belongs
to one thread. Stateful filters (temporal smoothing) carry state from one
``process`` call to the next until :meth:`reset`.
"""

from __future__ import annotations

import time

import cv2

from segcam.compositor import Compositor
from segcam.config import PipelineSettings
from segcam.filters.chain import MaskChain
from segcam.frame import Frame
from segcam.inference import segmenter_for
from segcam.inference.segmenter import Segmenter
from segcam.scratch import Pyramid


class Processor:
    """Segmenter + mask chain + compositor for one :class:`PipelineSettings` snapshot.

    Building it loads the model, the filters and the background, so a bad model,
    filter spec or background fails here, in the caller's thread, before anything
    streams.
    """

    def __init__(self, settings: PipelineSettings, *, segmenter: Segmenter | None = None) -> None:
        # One OpenCV thread, process-wide. The two cores of a typical laptop are
        # already shared by our capture thread (decoding) and worker, and by the video
        # call beside us; OpenCV's own pool only adds contention there. Measured with
        # `segcam bench --live` at 720p: p50 latency 11 ms with one thread, 28 ms with
        # OpenCV's default two, at the same CPU. LiteRT likewise uses --threads (1).
        cv2.setNumThreads(1)
        self.settings = settings
        self.segmenter = segmenter or segmenter_for(settings)
        # A segmenter handed over may have seen another source: recurrent models
        # must not carry its last mask over to this one.
        self.segmenter.reset()
        self.chain = MaskChain(settings.filters, settings.model)
        self.compositor = Compositor(settings.background, settings.filters)
        self._pyramid = Pyramid()

    def apply(self, settings: PipelineSettings) -> None:
        """Switch to a new settings snapshot, rebuilding only what changed."""
        if settings == self.settings:
            return
        if _model_key(settings) != _model_key(self.settings):
            self.segmenter = segmenter_for(settings)
            self.chain.reset()
        if (settings.filters, settings.model) != (self.settings.filters, self.settings.model):
            self.chain = MaskChain(settings.filters, settings.model)  # the ensemble depends on both
        if (settings.background, settings.filters) != (
            self.settings.background,
            self.settings.filters,
        ):
            self.compositor = Compositor(settings.background, settings.filters)
        self.settings = settings

    def reset(self) -> None:
        """Forget per-stream state (call when the input switches to unrelated images)."""
        self.segmenter.reset()
        self.chain.reset()

    def process(self, frame: Frame) -> Frame:
        """Set ``small``, ``mask``, ``mask_seq``, ``alpha`` and ``output``; record timings."""
        t0 = time.perf_counter()
        frame.pyramid = self._pyramid.bind(frame.image)
        frame.mask = self.segmenter.segment(frame.image)
        frame.small = self.segmenter.last_small.copy()
        frame.mask_seq = frame.seq
        t1 = time.perf_counter()
        frame.alpha = self.chain(frame)
        t2 = time.perf_counter()
        self.compositor.process(frame)
        t3 = time.perf_counter()
        frame.timings["segment"] = t1 - t0
        frame.timings["mask_filters"] = t2 - t1
        frame.timings["composite"] = t3 - t2
        frame.stamp("composite")
        return frame


def _model_key(settings: PipelineSettings) -> tuple[str, int, str]:
    return settings.model, settings.threads, settings.accelerator
