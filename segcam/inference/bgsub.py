"""Static background subtraction: a model-free segmenter (``--model bgsub``).

The seed project's ``bgsub.py``, made into a :class:`~segcam.inference.Segmenter`
look-alike (same ``segment`` / ``last_small`` / ``input_size`` / ``name`` /
``reset``):

1. Every frame is shrunk to a working resolution (``width`` pixels wide, the
   frame's aspect ratio), turned grey and Gaussian-blurred (5x5), which damps
   sensor noise and keeps the whole thing cheap (320x180 is 58k pixels).
2. **Learning.** The first ``learn`` frames are averaged into the background.
   While learning, :meth:`BgSubSegmenter.segment` returns an all-zero mask: it
   knows nothing yet, and the person is supposed to be out of frame anyway, so
   "nobody" is the honest answer (the output shows only the new background).
   The start and the end of learning are logged once each at INFO.
3. **Segmenting.** ``|frame - background| > threshold`` (grey levels) is
   foreground. A small opening removes speckle, a large closing (the seed's 53 px
   at 640 px wide, scaled) bridges the gaps where the person looks like the
   background, and only the largest outer contour is kept, filled (so holes
   inside the person close and stray blobs elsewhere go).
4. The binary mask is Gaussian-blurred into a soft edge and returned as float32
   in [0, 1] at the working resolution.

Limits, which the ``--model`` help states too: the camera must not move, and
the scene must be empty-ish (or the person moving) during learning. Anything
that differs from the learned background counts as person: a moved chair, a
light switched on, auto-exposure drift, a second person. Lighting changes after
learning are not tracked; :meth:`reset` (or restarting) learns again.

A change of frame size also starts learning again (the old background no longer
fits). ``segcam mask`` resets the segmenter before every image unless it is run
with ``--sequence``, so without it bgsub never leaves learning there.

Threading: one instance belongs to one worker thread, like :class:`Segmenter`.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from segcam.errors import ModelError

log = logging.getLogger(__name__)

NAME = "bgsub"
DEFAULT_LEARN = 30
DEFAULT_THRESHOLD = 25.0
DEFAULT_WIDTH = 320

#: ``bgsub:NAME=VALUE`` parameters accepted in ``--model``: (type, low, high).
_PARAMS: dict[str, tuple[type, float, float]] = {
    "learn": (int, 1, 10_000),
    "threshold": (float, 1.0, 254.0),
}


def is_bgsub(model: str) -> bool:
    """Whether a ``--model`` value selects background subtraction (``bgsub[:k=v...]``)."""
    return model.strip().lower().split(":", 1)[0] == NAME


def parse_bgsub(model: str) -> dict[str, float | int]:
    """Parse ``bgsub:learn=60:threshold=20`` into constructor keyword arguments."""
    parts = model.strip().split(":")
    kwargs: dict[str, float | int] = {}
    for part in parts[1:]:
        key, sep, text = part.partition("=")
        key = key.strip().lower()
        if not sep or key not in _PARAMS:
            raise ModelError(
                f"invalid --model {model!r}: bgsub takes "
                f"{', '.join(f'{k}=N' for k in _PARAMS)} (e.g. bgsub:learn=60:threshold=20)"
            )
        kind, lo, hi = _PARAMS[key]
        try:
            value = float(text)
            if kind is int and not value.is_integer():
                raise ValueError
            value = kind(value)
        except ValueError:
            raise ModelError(
                f"invalid value {text!r} for bgsub:{key}: "
                f"expected {'an integer' if kind is int else 'a number'}"
            ) from None
        if not lo <= value <= hi:
            raise ModelError(
                f"bgsub:{key}={text} is out of range: must be between {lo:g} and {hi:g}"
            )
        kwargs[key] = value
    return kwargs


def _ellipse(diameter: int) -> np.ndarray:
    d = max(1, int(diameter)) | 1  # odd, so the element is centred
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (d, d))


class BgSubSegmenter:
    """Person = the largest region that differs from a background learned at the start.

    Args:
        learn: how many first frames are averaged into the background.
        threshold: grey-level difference (0-255, after a 5x5 blur) that counts as person.
        width: working width in pixels (the height follows the frame's aspect ratio;
            frames narrower than this are not upscaled).
        min_area: the largest region must cover at least this share of the working
            image, else the mask is empty (a few noisy pixels are not a person).
    """

    def __init__(
        self,
        learn: int = DEFAULT_LEARN,
        threshold: float = DEFAULT_THRESHOLD,
        *,
        width: int = DEFAULT_WIDTH,
        min_area: float = 0.002,
    ) -> None:
        if learn < 1:
            raise ModelError(f"bgsub:learn={learn} must be at least 1")
        self.learn = int(learn)
        self.threshold = float(threshold)
        self.width = int(width)
        self.min_area = float(min_area)
        # The seed's kernels were tuned at 640 px wide; scale them to the working width.
        scale = self.width / 640.0
        self._open = _ellipse(round(5 * scale))
        self._close = _ellipse(round(53 * scale))
        self._sigma = max(0.5, 4.0 * scale)  # ~ the seed's 25x25 Gaussian on the final mask
        # Until the first frame the aspect ratio is unknown: assume 16:9.
        self._alloc((self.width, max(1, round(self.width * 9 / 16))))
        self.reset()

    @property
    def name(self) -> str:
        return NAME

    @property
    def learning(self) -> bool:
        """True until ``learn`` frames have been seen since the last reset."""
        return self._background is None

    @property
    def learned_frames(self) -> int:
        """Frames averaged into the background since the last reset (``learn`` once learned)."""
        return self.learn if self._background is not None else self._count

    @property
    def last_small(self) -> np.ndarray:
        """The working-size BGR image of the last :meth:`segment` call (segmenter-owned)."""
        return self._small_bgr

    def reset(self) -> None:
        """Forget the learned background; the next ``learn`` frames are learned again."""
        self._acc = np.zeros((self.input_size[1], self.input_size[0]), np.float32)
        self._count = 0
        self._background: np.ndarray | None = None
        self._frame_shape: tuple[int, int] | None = None

    def _alloc(self, size: tuple[int, int]) -> None:
        w, h = size
        self.input_size = (w, h)
        self._small_bgr = np.zeros((h, w, 3), np.uint8)
        self._gray8 = np.empty((h, w), np.uint8)
        self._gray = np.empty((h, w), np.float32)
        self._diff = np.empty((h, w), np.float32)
        self._fg = np.empty((h, w), np.uint8)

    def _working_size(self, frame_w: int, frame_h: int) -> tuple[int, int]:
        w = min(self.width, frame_w)
        return w, max(1, round(frame_h * w / frame_w))

    def segment(self, image: np.ndarray) -> np.ndarray:
        """Return P(person) for ``image`` (BGR uint8), shape ``(h, w)`` at working size, float32."""
        fh, fw = image.shape[:2]
        if self._frame_shape != (fh, fw):
            if self._frame_shape is not None:
                log.info(
                    "bgsub: the frame size changed from %dx%d to %dx%d; learning again",
                    self._frame_shape[1],
                    self._frame_shape[0],
                    fw,
                    fh,
                )
            size = self._working_size(fw, fh)
            if size != self.input_size:
                self._alloc(size)
            self.reset()
            self._frame_shape = (fh, fw)

        w, h = self.input_size
        cv2.resize(image, (w, h), dst=self._small_bgr, interpolation=cv2.INTER_AREA)
        cv2.cvtColor(self._small_bgr, cv2.COLOR_BGR2GRAY, dst=self._gray8)
        cv2.GaussianBlur(self._gray8, (5, 5), 0, dst=self._gray8)
        self._gray[...] = self._gray8

        if self._background is None:
            if self._count == 0:
                log.info(
                    "bgsub: learning the background from the first %d frames at %dx%d; "
                    "the mask is empty until then (keep the camera still and stay out of frame)",
                    self.learn,
                    w,
                    h,
                )
            cv2.accumulate(self._gray, self._acc)
            self._count += 1
            if self._count >= self.learn:
                self._background = self._acc / np.float32(self._count)
                log.info("bgsub: background learned from %d frames", self._count)
            return np.zeros((h, w), np.float32)

        cv2.absdiff(self._gray, self._background, dst=self._diff)
        cv2.threshold(self._diff, self.threshold, 255.0, cv2.THRESH_BINARY, dst=self._diff)
        fg = self._fg
        fg[...] = self._diff
        cv2.morphologyEx(fg, cv2.MORPH_OPEN, self._open, dst=fg)
        cv2.morphologyEx(fg, cv2.MORPH_CLOSE, self._close, dst=fg)

        contours, _ = cv2.findContours(fg, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        mask = np.zeros((h, w), np.float32)
        if contours:
            areas = [cv2.contourArea(c) for c in contours]
            best = int(np.argmax(areas))
            if areas[best] >= self.min_area * w * h:
                cv2.drawContours(mask, contours, best, 1.0, thickness=cv2.FILLED)
                cv2.GaussianBlur(mask, (0, 0), self._sigma, dst=mask)
        return mask


def make_bgsub(model: str) -> BgSubSegmenter:
    """A :class:`BgSubSegmenter` from a ``bgsub[:learn=N][:threshold=T]`` model string."""
    return BgSubSegmenter(**parse_bgsub(model))  # type: ignore[arg-type]
