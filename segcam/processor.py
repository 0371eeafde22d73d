"""The per-frame work, independent of threads: segment, refine the mask, composite.

:class:`Processor` is what the pipeline's worker runs for every frame, and what
``segcam mask`` and ``segcam eval`` run for every image, so all of them produce
the same alpha for the same input. It is single-threaded: one processor belongs
to one thread at a time. Stateful filters (temporal smoothing) carry state from
one ``process`` call to the next until :meth:`reset`.

Settings changes are a diff (:meth:`Processor.apply`): each part is rebuilt only
when its own settings changed.

* the segmenter when the model, threads or accelerator change, taken from the
  session's cache (:mod:`segcam.caches`), so a model used before, or one the
  window loaded to check it, is not loaded again;
* in the mask chain and among the frame filters, only the filters whose spec
  changed: every other instance is handed over as it is, so a threshold change
  rebuilds the smooth step alone and the temporal filter keeps its state (a
  filter whose own parameters changed may take its predecessor's state through an
  ``adopt(old)`` method, if it has one);
* the background provider when the background changes, again from the cache; a
  filter change never touches it (a 4K image is not decoded again, a video
  background does not restart).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import cv2

from segcam.caches import Caches, model_key
from segcam.compositor import Compositor
from segcam.config import PipelineSettings
from segcam.filters.base import FilterSpec
from segcam.filters.chain import MaskChain
from segcam.filters.lowlight import enhance_input
from segcam.frame import Frame
from segcam.inference.segmenter import Segmenter
from segcam.scratch import Pyramid

#: Filters whose construction loads a model (counted as a model load too).
_LOADS_A_MODEL = ("ensemble",)


class Processor:
    """Segmenter + mask chain + compositor for one :class:`PipelineSettings` snapshot.

    Building it loads the model, the filters and the background, so a bad model,
    filter spec or background fails here, in the caller's thread, before anything
    streams.

    Args:
        settings: the first snapshot.
        segmenter: an already-loaded segmenter for ``settings`` (handed to the cache).
        caches: the session's caches and load counters; a processor of its own gets
            private ones.
    """

    def __init__(
        self,
        settings: PipelineSettings,
        *,
        segmenter: Segmenter | None = None,
        caches: Caches | None = None,
    ) -> None:
        # One OpenCV thread, process-wide. The two cores of a typical laptop are
        # already shared by our capture thread (decoding) and worker, and by the video
        # call beside us; OpenCV's own pool only adds contention there. Measured with
        # `segcam bench --live` at 720p: p50 latency 11 ms with one thread, 28 ms with
        # OpenCV's default two, at the same CPU. LiteRT likewise uses --threads (1).
        cv2.setNumThreads(1)
        self.caches = caches or Caches()
        self.loads = self.caches.loads
        self.settings = settings
        if segmenter is not None:
            segmenter = self.caches.segmenters.put(model_key(settings), segmenter)
        self.segmenter = segmenter or self.caches.segmenter(settings)
        # A segmenter handed over may have seen another source: recurrent models
        # must not carry its last mask over to this one.
        self.segmenter.reset()
        self.chain = MaskChain(settings.filters, settings.model, build=self._build)
        self.compositor = Compositor(
            settings.background,
            settings.filters,
            provider=self.caches.background(settings.background),
            build=self._build,
        )
        self._pyramid = Pyramid()

    def _build(self, spec: FilterSpec) -> Any:
        self.loads.add(f"filter:{spec.name}")
        if spec.name in _LOADS_A_MODEL:
            self.loads.add("model")
        return spec.build()

    def _reuse(self, specs: tuple[FilterSpec, ...], instances: list[Any]) -> Callable:
        """A ``build`` callback that hands back the instances of unchanged specs."""
        pool = list(zip(specs, instances, strict=True))

        def build(spec: FilterSpec) -> Any:
            for i, (old_spec, inst) in enumerate(pool):
                if old_spec == spec:
                    del pool[i]
                    return inst
            new = self._build(spec)
            for i, (old_spec, inst) in enumerate(pool):
                if old_spec.name == spec.name:
                    del pool[i]
                    adopt = getattr(new, "adopt", None)
                    if adopt is not None:
                        adopt(inst)  # its own parameters changed: keep its state
                    break
            return new

        return build

    def apply(self, settings: PipelineSettings) -> None:
        """Switch to a new settings snapshot, rebuilding only what changed (module docs).

        Runs on the thread that runs :meth:`process` (the worker, between frames).
        """
        old = self.settings
        if settings == old:
            return
        if model_key(settings) != model_key(old):
            self.segmenter = self.caches.segmenter(settings)
            self.segmenter.reset()
            self.chain.reset()
        if (settings.filters, settings.model) != (old.filters, old.model):
            # Rebuilt around the old instances: the ensemble depends on both.
            self.chain = MaskChain(
                settings.filters,
                settings.model,
                build=self._reuse(self.chain.specs, self.chain.instances),
            )
        if settings.background != old.background:
            provider = self.caches.background(settings.background)
            self.compositor.set_background(settings.background, provider)
        if settings.filters != old.filters:
            self.compositor.set_filters(
                settings.filters,
                self._reuse(self.compositor.filter_specs, self.compositor.filter_instances),
            )
        self.settings = settings

    def _model_size(self) -> tuple[int, int]:
        """(width, height) of the model input, what the skip rule compares frames at
        (a stand-in segmenter without ``input_size``: the size of its last picture)."""
        size = getattr(self.segmenter, "input_size", None)
        if size is None:
            h, w = self.segmenter.last_small.shape[:2]
            size = (w, h)
        return size

    def reset(self) -> None:
        """Forget per-stream state (call when the input switches to unrelated images)."""
        self.segmenter.reset()
        self.chain.reset()

    def process(self, frame: Frame) -> Frame:
        """Set ``small``, ``mask``, ``mask_seq``, ``alpha`` and ``output``; record timings.

        With a ``skip`` rule in the chain (:mod:`segcam.inference.skip`), a frame
        that is proven unchanged since the last model run takes that run's model
        mask instead of running the model passes: ``frame.mask_seq`` is then the
        ``seq`` of the frame it was computed from. Every other filter runs on the
        frame itself, so each output has its own frame's mask, or a mask proven
        still valid for it.
        """
        t0 = time.perf_counter()
        # Filters that improve the model's input (low light) act before it sees it.
        enhance_input(self.compositor.filter_instances, frame)
        frame.pyramid = self._pyramid.bind(frame.image)
        chain, gate = self.chain, self.chain.gate
        if gate is not None and gate.still(frame.image, self._model_size()):
            frame.mask, model_mask = gate.masks()
            frame.mask_seq, frame.whole_seq = gate.key_seq, gate.outer_seq
            # The frame as the model would have seen it (the rule's thumbnail), for the
            # filters that read the picture at model resolution.
            frame.small = gate.thumbnail.copy()
            t1 = time.perf_counter()
        else:
            whole = not (gate is not None and chain.crop_tracks and gate.crop_only())
            if whole:
                t_model = time.perf_counter()
                frame.mask = self.segmenter.segment(frame.image)
                # The main model alone, on the frames it runs on (the status bar's
                # "inference"; ``segment`` also counts the cheap skipped frames).
                frame.timings["model"] = time.perf_counter() - t_model
                frame.small = self.segmenter.last_small.copy()
                frame.whole_seq = frame.seq
            else:  # only the crop runs (see segcam.inference.skip, "crop-only frames")
                frame.mask = gate.outer_mask
                frame.small = gate.thumbnail.copy()
                frame.whole_seq = gate.outer_seq
            frame.mask_seq = frame.seq
            t1 = time.perf_counter()
            model_mask = chain.model_mask(frame)
            if gate is not None:
                gate.keep(frame.seq, frame.mask, model_mask, chain.crop_solid(), whole=whole)
        frame.alpha = chain.finish(model_mask, frame)
        t2 = time.perf_counter()
        self.compositor.process(frame)
        t3 = time.perf_counter()
        frame.timings["segment"] = t1 - t0
        frame.timings["mask_filters"] = t2 - t1
        frame.timings["composite"] = t3 - t2
        frame.stamp("composite")
        return frame
