"""The crop second pass: the model again, on a crop around the person.

A selfie model sees the whole frame at 256x144 (landscape) or 256x256 (general).
When the person fills only part of the frame (a full-body shot, someone standing
back from the camera, a tall photo squeezed into a wide model), most of those
model pixels are spent on background. :class:`CropPass` finds the person's box
in the first mask, widens it by a margin, grows it to the aspect of the model it
runs on (so the crop is not squeezed), runs that model on the crop, and merges
the crop's mask into a mask grid finer than the model's. The person is then
segmented with up to several times as many model pixels, and the edges that
reach the upsampler are finer.

Contract: :meth:`CropPass.__call__` takes the float32 mask (any grid covering the
whole frame) and the frame, and returns a float32 mask covering the whole frame
on the grid :meth:`CropPass.grid` gives for that frame and mask size (constant
for a stream, so stateful filters after it keep their state, whether or not the
crop ran on a frame). The returned array is owned by the pass, valid until its
next call. One instance belongs to one worker thread.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from segcam.scratch import Scratch

#: Models the ``auto`` choice picks from, by the aspect of the crop.
AUTO_MODELS = ("landscape", "general")


class CropPass:
    """Second model run on a crop around the person, merged into a finer grid.

    The defaults were chosen on ``validation/`` (see :mod:`segcam.filters.chain`):
    the general model on every frame's crop, with a 6 % margin. The crop is grown
    to the general model's square input, so a tall full-body shot or a portrait is
    no longer squeezed into the landscape model's 16:9, and a small person (the
    parkour clip: 2-14 % of the frame) gets most of the model's pixels.

    Args:
        model: the model for the crop; ``auto`` runs, per frame, whichever of
            :data:`AUTO_MODELS` has the input aspect closest to the person's box
            (a wide box on the landscape model, a tall or square one on the
            general model).
        max_area: run only when the person's box (with its margin) covers at most
            this share of the frame; a person who fills the frame gains nothing.
        margin: the box is widened by this share of its larger side on each
            side, so hair and limbs the first mask cut off are inside the crop.
        weight: the crop mask's share inside the crop (1: it replaces the first
            mask there); the share falls to 0 over a band at the crop's inner
            edges, so there is no seam.
        scale: the merged grid is the frame at 1/``scale`` (but never coarser than
            the first mask): 4 matches ``refine``'s fitting resolution.
        threshold: P(person) above which a mask pixel counts toward the box.
        threads: LiteRT threads for the crop's model.
        flip: also run the model on the mirrored crop and average the two masks
            (test-time augmentation): a second model run for a steadier edge. The
            default chain for files uses it; the live chain does not (its cost).
    """

    def __init__(
        self,
        model: str = "general",
        max_area: float = 1.0,
        margin: float = 0.06,
        weight: float = 1.0,
        scale: int = 4,
        threshold: float = 0.5,
        threads: int = 1,
        flip: bool = False,
    ) -> None:
        self.model, self.flip = model, flip
        # The mirrored crops run on their own segmenters: a model that carries state
        # from frame to frame (a prior mask) must see one consistent view.
        self._mirrors: dict[str, object] = {}
        self.max_area, self.margin, self.weight = max_area, margin, weight
        self.scale, self.threshold, self.threads = scale, threshold, threads
        self._segmenters: dict[str, object] = {}
        self._s = Scratch()
        self._wkey: tuple | None = None
        self.ran = False
        """Whether the last call ran the crop model (for tests and stage costs)."""
        self.box: tuple[int, int, int, int] | None = None
        """x, y, w, h of the last crop in frame pixels (None when it did not run)."""
        self.solid: tuple[float, float, float, float] | None = None
        """The part of the frame where the last call's mask is the crop's alone (weight 1,
        inside the blending band), as fractions (x0, y0, x1, y1) of the frame's width and
        height; None when the crop did not run or ``weight`` < 1. Outside it the result
        still depends on the mask the pass was given (the skip rule's crop-only frames)."""

    def reset(self) -> None:
        for seg in (*self._segmenters.values(), *self._mirrors.values()):
            seg.reset()  # type: ignore[attr-defined]

    def _segmenter(self, name: str, mirror: bool = False):
        pool = self._mirrors if mirror else self._segmenters
        seg = pool.get(name)
        if seg is None:
            from segcam.inference.segmenter import Segmenter

            seg = pool[name] = Segmenter(name, threads=self.threads)
        return seg

    def _segment(self, name: str, crop: np.ndarray) -> np.ndarray:
        """The crop's mask; with ``flip``, the mean of it and the mirrored crop's."""
        q = self._segmenter(name).segment(crop)
        if not self.flip:
            return q
        mirrored = self._s("mirrored", crop.shape, np.uint8)
        cv2.flip(crop, 1, dst=mirrored)
        qm = self._segmenter(name, mirror=True).segment(mirrored)
        both = self._s("both", q.shape, np.float32)
        cv2.flip(qm, 1, dst=both)
        both += q
        both *= 0.5
        return both

    def grid(self, frame_size: tuple[int, int], mask_shape: tuple[int, int]) -> tuple[int, int]:
        """(width, height) of the merged mask for a frame of ``frame_size`` = (w, h)."""
        fw, fh = frame_size
        mh, mw = mask_shape
        return max(mw, math.ceil(fw / self.scale)), max(mh, math.ceil(fh / self.scale))

    def person_box(
        self, mask: np.ndarray, frame_size: tuple[int, int]
    ) -> tuple[float, float, float, float] | None:
        """The box (x0, y0, x1, y1, frame pixels) of mask pixels above ``threshold``, or None."""
        fw, fh = frame_size
        mh, mw = mask.shape
        on = self._s("on", (mh, mw), np.uint8)
        cv2.compare(mask, self.threshold, cv2.CMP_GT, dst=on)
        if cv2.countNonZero(on) < 4:  # nobody (or a few stray pixels)
            return None
        x, y, w, h = cv2.boundingRect(on)
        sx, sy = fw / mw, fh / mh
        return x * sx, y * sy, (x + w) * sx, (y + h) * sy

    def choose_model(self, box_w: float, box_h: float) -> str:
        if self.model != "auto":
            return self.model
        aspect = box_w / max(box_h, 1.0)
        best, best_d = AUTO_MODELS[0], math.inf
        for name in AUTO_MODELS:
            w, h = self._segmenter(name).input_size
            d = abs(math.log(aspect * h / w))
            if d < best_d:
                best, best_d = name, d
        return best

    def crop_box(
        self, box: tuple[float, float, float, float], frame_size: tuple[int, int], aspect: float
    ) -> tuple[int, int, int, int]:
        """The crop (x, y, w, h, integer frame pixels): ``box`` plus the margin, grown to
        ``aspect`` (w/h) about its centre and moved (then, if need be, cut) to fit the frame."""
        fw, fh = frame_size
        x0, y0, x1, y1 = box
        m = self.margin * max(x1 - x0, y1 - y0)
        x0, y0, x1, y1 = x0 - m, y0 - m, x1 + m, y1 + m
        w, h = x1 - x0, y1 - y0
        if w / h < aspect:
            w = h * aspect
        else:
            h = w / aspect
        w, h = min(w, fw), min(h, fh)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        x = min(max(0.0, cx - w / 2), fw - w)
        y = min(max(0.0, cy - h / 2), fh - h)
        xi, yi = math.floor(x), math.floor(y)
        wi = max(8, min(fw - xi, math.ceil(x + w) - xi))
        hi = max(8, min(fh - yi, math.ceil(y + h) - yi))
        return xi, yi, wi, hi

    def __call__(self, mask: np.ndarray, image: np.ndarray) -> np.ndarray:
        fh, fw = image.shape[:2]
        gw, gh = self.grid((fw, fh), mask.shape)
        out = self._s("out", (gh, gw), np.float32)
        cv2.resize(mask, (gw, gh), dst=out, interpolation=cv2.INTER_LINEAR)
        self.ran, self.box, self.solid = False, None, None
        box = self.person_box(mask, (fw, fh))
        if box is None:
            return out
        name = self.choose_model(box[2] - box[0], box[3] - box[1])
        seg = self._segmenter(name)
        iw, ih = seg.input_size
        x, y, w, h = self.crop_box(box, (fw, fh), iw / ih)
        if w * h > self.max_area * fw * fh:
            return out
        # Resize the crop to the model's input here, into a fixed buffer: the
        # segmenter then sees one frame size (its geometry cache stays one entry).
        crop = self._s("crop", (ih, iw, 3), np.uint8)
        cv2.resize(image[y : y + h, x : x + w], (iw, ih), dst=crop, interpolation=cv2.INTER_LINEAR)
        q = self._segment(name, crop)
        # The crop in grid coordinates (pixel edges: frame x maps to x * gw / fw).
        kx, ky = gw / fw, gh / fh
        gx0, gy0 = round(x * kx), round(y * ky)
        gx1, gy1 = min(gw, round((x + w) * kx)), min(gh, round((y + h) * ky))
        if gx1 - gx0 < 4 or gy1 - gy0 < 4:
            return out
        rw, rh = gx1 - gx0, gy1 - gy0
        qr = self._s("q", (rh, rw), np.float32)
        shrink = q.shape[0] > rh or q.shape[1] > rw
        cv2.resize(
            q, (rw, rh), dst=qr, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        )
        wgt = self._weights(rw, rh, (gx0 > 0, gy0 > 0, gx1 < gw, gy1 < gh))
        region = out[gy0:gy1, gx0:gx1]
        # region += wgt · (q − region)
        np.subtract(qr, region, out=qr)
        qr *= wgt
        region += qr
        self.ran, self.box = True, (x, y, w, h)
        if self.weight >= 1.0:
            band = self._band(rw, rh)
            left, top = gx0 + band * (gx0 > 0), gy0 + band * (gy0 > 0)
            right, bottom = gx1 - band * (gx1 < gw), gy1 - band * (gy1 < gh)
            if right > left and bottom > top:
                self.solid = (left / gw, top / gh, right / gw, bottom / gh)
        return out

    @staticmethod
    def _band(rw: int, rh: int) -> int:
        """Width in grid pixels of the blending band at a crop's inner edges."""
        return max(2, round(0.08 * min(rw, rh)))

    def _weights(self, rw: int, rh: int, inner: tuple[bool, bool, bool, bool]) -> np.ndarray:
        """``weight`` inside the crop, falling linearly to 0 over a band at the crop's
        edges that lie inside the frame (``inner``: left, top, right, bottom); at an
        edge on the frame's border the crop saw all there is, so no band."""
        key = (rw, rh, inner)
        if key == self._wkey:  # the same crop size as last frame: same weights
            return self._s("w", (rh, rw), np.float32)
        self._wkey = key
        wgt = self._s("w", (rh, rw), np.float32)
        band = self._band(rw, rh)
        ramp_x = np.ones(rw, np.float32)
        ramp_y = np.ones(rh, np.float32)
        r = (np.arange(band, dtype=np.float32) + 0.5) / band
        left, top, right, bottom = inner
        n = min(band, rw)
        if left:
            ramp_x[:n] = np.minimum(ramp_x[:n], r[:n])
        if right:
            ramp_x[-n:] = np.minimum(ramp_x[-n:], r[:n][::-1])
        n = min(band, rh)
        if top:
            ramp_y[:n] = np.minimum(ramp_y[:n], r[:n])
        if bottom:
            ramp_y[-n:] = np.minimum(ramp_y[-n:], r[:n][::-1])
        np.multiply(ramp_y[:, None], ramp_x[None, :], out=wgt)
        wgt *= self.weight
        return wgt
