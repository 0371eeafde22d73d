"""Inference skipping: reuse the last model mask while the frame has not changed.

DESIGN §3 says each output frame is composited with the mask computed from that
same frame. With skipping, the rule becomes: **each output has its own frame's
mask, or a mask proven still valid for it.** "Proven" means, for the frame the
mask was computed from (the *key* frame) and the frame now:

1. the model's input, the frame at model resolution resized as the segmenter
   resizes it (bilinear), changed little as a whole: PSNR ≥ ``psnr`` dB
   (obs-backgroundremoval's rule, 35 dB by default);
2. no part of it changed: the mean absolute change over every window of
   ``cell`` × ``cell`` model pixels (8: 40 px of a 720p frame), at every position
   and in every channel, is at most ``motion`` grey levels. A hand or a head
   moving in one corner changes a few percent of the pixels, which PSNR over
   the whole picture can miss; it cannot hide from the window around it;
3. the key frame is at most ``max_skips`` frames old, so the model runs at
   least every ``max_skips + 1`` frames whatever happens (slow drift, a change
   under both bounds).

Everything is compared with the *key* frame, not the previous one, so a slow
drift adds up until it fails the test and the model runs again. Only the model
passes are skipped (the main model and the second passes, ``crop`` and
``ensemble``); the filters after them (temporal smoothing, smooth step, the edge
refinement guided by the new frame's pixels) run on every frame, so edges still
follow small moves. An output whose mask was reused says so: its
``frame.mask_seq`` is the key frame's ``seq``.

Threading and buffers: one rule belongs to the worker thread of its processor.
It owns two model-size thumbnails and a copy of the key frame's model mask; the
arrays :meth:`SkipRule.masks` returns are the rule's, valid until the next
:meth:`SkipRule.keep` or :meth:`SkipRule.reset`, and must not be written to.
Nothing is allocated per frame once the frame size is steady.
"""

from __future__ import annotations

import cv2
import numpy as np

from segcam.scratch import Scratch, reuse

#: Defaults of the ``skip`` filter (see :mod:`segcam.filters.mask_filters`).
DEFAULT_PSNR = 35.0
DEFAULT_MAX_SKIPS = 5
DEFAULT_MOTION = 6.0
DEFAULT_CELL = 8


class SkipRule:
    """Decides per frame whether the key frame's model mask is still valid (module docs).

    Use per frame: :meth:`still` (before the model); if True, take :meth:`masks`;
    otherwise run the model and hand its result to :meth:`keep`.

    Args:
        psnr: the whole model input must be at least this close to the key frame's (dB).
        max_skips: model runs may be skipped at most this many frames in a row.
        motion: the largest mean absolute change of any window (grey levels).
        cell: the window's side in model pixels.
    """

    def __init__(
        self,
        psnr: float = DEFAULT_PSNR,
        max_skips: int = DEFAULT_MAX_SKIPS,
        motion: float = DEFAULT_MOTION,
        cell: int = DEFAULT_CELL,
    ) -> None:
        self.psnr, self.max_skips, self.motion, self.cell = psnr, max_skips, motion, cell
        self._s = Scratch()
        # Two thumbnail buffers: this frame's model input, and the key frame's.
        self._pair: list[np.ndarray | None] = [None, None]
        self._cur = 0  # the one this frame writes
        self._key: np.ndarray | None = None
        self._raw: np.ndarray | None = None
        self._model: np.ndarray | None = None
        self.key_seq: int | None = None
        """``seq`` of the frame whose mask is kept (None before the first)."""
        self.run = 0
        """Frames skipped since the key frame."""
        self.skipped = 0
        """Frames skipped since this rule was made (a running count for statistics)."""
        self.last_psnr = float("inf")
        self.last_motion = 0.0
        """The last frame's measures against the key frame (for tests and tuning)."""

    def reset(self) -> None:
        """Forget the key frame: the next frame runs the model (a new source, a new
        chain or model)."""
        self._key = None
        self.key_seq = None
        self.run = 0

    def still(self, image: np.ndarray, size: tuple[int, int]) -> bool:
        """Whether ``image`` (BGR uint8) may reuse the key frame's mask.

        ``size`` = (width, height) of the model input. Always makes this frame's
        thumbnail, which :meth:`keep` turns into the next key when the model runs.
        """
        w, h = size
        thumb = self._pair[self._cur] = reuse(self._pair[self._cur], (h, w, 3), np.uint8)
        # Bilinear, as the segmenter resizes its input: what is compared is what the
        # model would see.
        cv2.resize(image, (w, h), dst=thumb, interpolation=cv2.INTER_LINEAR)
        key = self._key
        if key is None or key.shape != thumb.shape or self.run >= self.max_skips:
            return False
        self.last_psnr = cv2.PSNR(thumb, key)
        if self.last_psnr < self.psnr:
            return False
        self.last_motion = self._largest_cell_change(thumb, key)
        if self.last_motion > self.motion:
            return False
        self.run += 1
        self.skipped += 1
        return True

    def _largest_cell_change(self, a: np.ndarray, b: np.ndarray) -> float:
        # The mean |change| of every cell x cell window, at every position (a sliding
        # box, not a fixed grid: a small object on a grid corner would be split four
        # ways and pass under the bound), per channel, rounded to a grey level.
        diff = self._s("diff", a.shape)
        cv2.absdiff(a, b, dst=diff)
        c = self.cell
        cv2.boxFilter(diff, -1, (c, c), dst=diff, borderType=cv2.BORDER_REPLICATE)
        h, w = diff.shape[:2]
        return float(cv2.minMaxLoc(diff.reshape(h, w * 3))[1])

    def keep(self, seq: int, raw: np.ndarray, model: np.ndarray) -> None:
        """This frame ran the model: it becomes the key frame.

        ``raw`` is the segmenter's mask (a fresh array, kept by reference: nobody
        writes to it); ``model`` the mask after the model passes (copied: it
        belongs to the pass that made it).
        """
        assert self._pair[self._cur] is not None, "call still() first"
        self._key = self._pair[self._cur]
        self._cur ^= 1  # the next frame's thumbnail goes into the other buffer
        self._raw = raw
        copy = self._model = self._s("model", model.shape, model.dtype)
        np.copyto(copy, model)
        self.key_seq = seq
        self.run = 0

    @property
    def thumbnail(self) -> np.ndarray:
        """The last frame given to :meth:`still`, at model input size (rule-owned)."""
        thumb = self._pair[self._cur]
        assert thumb is not None, "call still() first"
        return thumb

    def masks(self) -> tuple[np.ndarray, np.ndarray]:
        """(the key frame's segmenter mask, its mask after the model passes)."""
        assert self._raw is not None and self._model is not None
        return self._raw, self._model
