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

**Crop-only frames.** When the chain's only model pass is the ``crop`` second pass,
the crop's model replaces the whole-frame mask inside the crop, and the whole-frame
pass matters only outside it (the background, anyone else). A frame that moved
(a talking, nodding person) but did not change *outside* the part of the frame the
crop owns, by the same window test against the frame of the last whole-frame pass
(the *outer key*), runs only the crop's model, on its own pixels, and takes the
outer key's whole-frame mask for the rest: that part of its mask is proven still
valid the same way. Its ``frame.whole_seq`` names the outer key. The whole frame
is segmented again at least every ``whole_every`` frames, and as soon as anything
outside the crop moves (someone walks in, the person leans out of the crop).

Threading and buffers: one rule belongs to the worker thread of its processor.
It owns model-size thumbnails (this frame's, the key's, the outer key's) and a
copy of the key frame's model mask; the arrays :meth:`SkipRule.masks` returns are
the rule's, valid until the next :meth:`SkipRule.keep` or :meth:`SkipRule.reset`,
and must not be written to. Nothing is allocated per frame once the frame size is
steady.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from segcam.scratch import Scratch, reuse

#: Defaults of the ``skip`` filter (see :mod:`segcam.filters.mask_filters`).
DEFAULT_PSNR = 35.0
DEFAULT_MAX_SKIPS = 5
DEFAULT_MOTION = 6.0
DEFAULT_CELL = 8
DEFAULT_WHOLE_EVERY = 15


class SkipRule:
    """Decides per frame whether the key frame's model mask is still valid (module docs).

    Use per frame: :meth:`still` (before the model); if True, take :meth:`masks`.
    Otherwise, where the chain's only model pass is a crop, ask :meth:`crop_only`: if
    True, run only the crop on :attr:`outer_mask`; else run the whole model. Hand the
    result to :meth:`keep`.

    Args:
        psnr: the whole model input must be at least this close to the key frame's (dB).
        max_skips: model runs may be skipped at most this many frames in a row.
        motion: the largest mean absolute change of any window (grey levels).
        cell: the window's side in model pixels.
        whole_every: the whole frame is segmented at least once every this many
            frames (1: every frame that runs a model; no crop-only frames).
    """

    def __init__(
        self,
        psnr: float = DEFAULT_PSNR,
        max_skips: int = DEFAULT_MAX_SKIPS,
        motion: float = DEFAULT_MOTION,
        cell: int = DEFAULT_CELL,
        whole_every: int = DEFAULT_WHOLE_EVERY,
    ) -> None:
        self.psnr, self.max_skips, self.motion, self.cell = psnr, max_skips, motion, cell
        self.whole_every = whole_every
        self._s = Scratch()
        self._thumb: np.ndarray | None = None  # this frame's model input
        self._key: np.ndarray | None = None  # the key frame's (None: no key)
        self._outer: np.ndarray | None = None  # the outer key's (None: no outer key)
        self._raw: np.ndarray | None = None
        self._model: np.ndarray | None = None
        self._region: tuple[int, int, int, int] | None = None
        self.key_seq: int | None = None
        """``seq`` of the frame whose model mask is kept (None before the first)."""
        self.outer_seq: int | None = None
        """``seq`` of the last frame the whole model ran on (the outer key)."""
        self.run = 0
        """Frames skipped since the key frame."""
        self.outer_run = 0
        """Frames since the outer key (skipped or crop-only)."""
        self.skipped = 0
        """Frames skipped since this rule was made (a running count for statistics)."""
        self.crop_only_frames = 0
        """Frames that ran only the crop since this rule was made (statistics)."""
        self.last_psnr = float("inf")
        self.last_motion = 0.0
        """The last frame's measures against the key frame (for tests and tuning)."""
        self.last_outer_motion = 0.0
        """The last :meth:`crop_only` test's largest window change outside the crop."""

    def reset(self) -> None:
        """Forget the key frames: the next frame runs the whole model (a new source, a
        new chain or model)."""
        self._key = self._outer = None
        self._region = None
        self.key_seq = self.outer_seq = None
        self.run = self.outer_run = 0

    def still(self, image: np.ndarray, size: tuple[int, int]) -> bool:
        """Whether ``image`` (BGR uint8) may reuse the key frame's mask.

        ``size`` = (width, height) of the model input. Always makes this frame's
        thumbnail, which :meth:`crop_only` compares and :meth:`keep` keeps.
        """
        w, h = size
        thumb = self._thumb = reuse(self._thumb, (h, w, 3), np.uint8)
        # Bilinear, as the segmenter resizes its input: what is compared is what the
        # model would see.
        cv2.resize(image, (w, h), dst=thumb, interpolation=cv2.INTER_LINEAR)
        key = self._key
        if (
            key is None
            or key.shape != thumb.shape
            or self.run >= self.max_skips
            # A crop-only key's mask is proven outside the crop only back to the outer
            # key: that chain of proofs is as long as a crop-only run may be.
            or (self.key_seq != self.outer_seq and self.outer_run + 1 >= self.whole_every)
        ):
            return False
        self.last_psnr = cv2.PSNR(thumb, key)
        if self.last_psnr < self.psnr:
            return False
        self.last_motion = self._largest_change(thumb, key)
        if self.last_motion > self.motion:
            return False
        self.run += 1
        self.outer_run += 1
        self.skipped += 1
        return True

    def crop_only(self) -> bool:
        """After :meth:`still` said no: whether this frame may run only the crop pass on
        :attr:`outer_mask` (module docs), because nothing outside the part of the frame
        the crop owned at the outer key changed since then."""
        thumb, outer, region = self._thumb, self._outer, self._region
        if (
            thumb is None
            or outer is None
            or region is None
            or outer.shape != thumb.shape
            or self.outer_run + 1 >= self.whole_every
        ):
            return False
        self.last_outer_motion = self._largest_change(thumb, outer, region)
        if self.last_outer_motion > self.motion:
            return False
        self.outer_run += 1
        self.crop_only_frames += 1
        return True

    def _largest_change(
        self, a: np.ndarray, b: np.ndarray, inside: tuple[int, int, int, int] | None = None
    ) -> float:
        # The mean |change| of every cell x cell window, at every position (a sliding
        # box, not a fixed grid: a small object on a grid corner would be split four
        # ways and pass under the bound), per channel, rounded to a grey level. Windows
        # centred ``inside`` (x0, y0, x1, y1) do not count: any change outside it still
        # shows in the window centred on it.
        diff = self._s("diff", a.shape)
        cv2.absdiff(a, b, dst=diff)
        c = self.cell
        cv2.boxFilter(diff, -1, (c, c), dst=diff, borderType=cv2.BORDER_REPLICATE)
        if inside is not None:
            x0, y0, x1, y1 = inside
            diff[y0:y1, x0:x1] = 0
        h, w = diff.shape[:2]
        return float(cv2.minMaxLoc(diff.reshape(h, w * 3))[1])

    def keep(
        self,
        seq: int,
        raw: np.ndarray,
        model: np.ndarray,
        crop: tuple[float, float, float, float] | None = None,
        *,
        whole: bool = True,
    ) -> None:
        """This frame ran the model passes: it becomes the key frame.

        ``raw`` is the segmenter's mask (a fresh array, kept by reference: nobody
        writes to it); ``model`` the mask after the model passes (copied: it
        belongs to the pass that made it). ``whole``: the whole model ran (False for
        a :meth:`crop_only` frame, whose ``raw`` is :attr:`outer_mask`); the frame then
        also becomes the outer key, and ``crop`` is the part of the frame its crop pass
        owns (fractions x0, y0, x1, y1 of the frame, ``CropPass.solid``), or None.
        """
        thumb = self._thumb
        assert thumb is not None, "call still() first"
        self._key = self._s("key", thumb.shape)
        np.copyto(self._key, thumb)
        copy = self._model = self._s("model", model.shape, model.dtype)
        np.copyto(copy, model)
        self.key_seq = seq
        self.run = 0
        if not whole:
            return
        self._outer = self._s("outer", thumb.shape)
        np.copyto(self._outer, thumb)
        self._raw = raw
        self.outer_seq = seq
        self.outer_run = 0
        self._region = None
        if crop is not None:
            h, w = thumb.shape[:2]
            # Inward rounding: a thumbnail pixel counts as the crop's only if it lies
            # wholly inside.
            x0, y0 = math.ceil(crop[0] * w), math.ceil(crop[1] * h)
            x1, y1 = math.floor(crop[2] * w), math.floor(crop[3] * h)
            if x1 > x0 and y1 > y0:
                self._region = (x0, y0, x1, y1)

    @property
    def thumbnail(self) -> np.ndarray:
        """The last frame given to :meth:`still`, at model input size (rule-owned)."""
        assert self._thumb is not None, "call still() first"
        return self._thumb

    @property
    def outer_mask(self) -> np.ndarray:
        """The outer key's whole-frame segmenter mask (rule-owned; do not write)."""
        assert self._raw is not None
        return self._raw

    def masks(self) -> tuple[np.ndarray, np.ndarray]:
        """(the segmenter mask of the last whole-frame pass, the key frame's mask after
        the model passes)."""
        assert self._raw is not None and self._model is not None
        return self._raw, self._model
