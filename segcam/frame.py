"""The one record type that travels through the pipeline.

A :class:`Frame` is created by a source and then completed stage by stage,
like a picamera2 request: the segmenter adds ``mask``, the compositor adds
``alpha`` and ``output``, and every stage records how long it took. Stages add
fields; none of them modifies ``image`` in place, so a sink may show the
captured image next to the output.

Ownership: once a source has handed a frame over, the frame (and its arrays)
belong to the pipeline. ``output`` and ``alpha`` may be views of buffers that
the compositor reuses for a later frame, so a sink that keeps them past
``submit()`` (an encoder thread, a preview) must copy them first or be done
with them before the next frame is composited; see :mod:`segcam.sinks.base`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from segcam.scratch import Pyramid


@dataclass(slots=True)
class Frame:
    """One captured frame and everything computed from it.

    Attributes:
        seq: 0-based index assigned by the source; increases by one per frame read.
        image: the captured BGR uint8 image, ``(H, W, 3)``, C-contiguous.
        pts: media time in seconds (file position for files, time since start for
            live sources); recorders use it as the presentation time.
        t_capture: ``time.monotonic()`` when the source produced the frame.
        small: the BGR image at model resolution, as the model saw it (filters that
            need the picture at model resolution use it instead of resizing again).
        mask: person probability at model resolution, float32 in [0, 1], as the
            model gave it (mask filters work on copies).
        mask_seq: ``seq`` of the frame the mask was computed from: ``seq`` itself, or,
            where the chain's ``skip`` rule found the picture unchanged, an earlier
            frame's whose mask is proven still valid for this one (at most a few
            frames back, :mod:`segcam.inference.skip`).
        whole_seq: ``seq`` of the frame whose whole-frame model pass the mask uses
            outside the crop pass's crop: ``mask_seq``, or, on a crop-only frame
            (:mod:`segcam.inference.skip`), an earlier frame proven unchanged there.
        alpha: full-resolution uint8 alpha (255 = person).
        output: the composited image: BGR uint8, or BGRA uint8 for transparent output.
        timings: seconds spent per stage, e.g. ``{"segment": 0.0015}``.
        stamps: ``time.monotonic()`` when the frame left each stage or reached each sink.
        pyramid: reductions of ``image`` shared by the filters (see :meth:`shrunk`).
    """

    seq: int
    image: np.ndarray
    pts: float
    t_capture: float = field(default_factory=time.monotonic)
    small: np.ndarray | None = None
    mask: np.ndarray | None = None
    mask_seq: int | None = None
    whole_seq: int | None = None
    alpha: np.ndarray | None = None
    output: np.ndarray | None = None
    timings: dict[str, float] = field(default_factory=dict)
    stamps: dict[str, float] = field(default_factory=dict)
    pyramid: Pyramid | None = field(default=None, repr=False, compare=False)

    @property
    def crop_only(self) -> bool:
        """Whether only the crop pass's model ran on this frame (the whole-frame mask
        outside the crop is an earlier frame's, proven still valid)."""
        return self.mask_seq == self.seq and self.whole_seq not in (None, self.seq)

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of the captured image."""
        h, w = self.image.shape[:2]
        return w, h

    def shrunk(self, size: tuple[int, int]) -> np.ndarray:
        """``image`` area-averaged to ``size`` = (width, height), shared by every filter.

        The processor binds its :class:`~segcam.scratch.Pyramid` to the frame, so
        the reductions are views of buffers it owns, valid until it processes
        the next frame (worker thread only). A frame nobody bound gets its own.
        """
        if self.pyramid is None:
            self.pyramid = Pyramid().bind(self.image)
        return self.pyramid.shrink(size)

    def stamp(self, stage: str) -> None:
        """Record that the frame has just passed ``stage``."""
        self.stamps[stage] = time.monotonic()

    def latency(self, stage: str) -> float | None:
        """Seconds from capture to ``stage``, or None if the frame never reached it."""
        t = self.stamps.get(stage)
        return None if t is None else t - self.t_capture
