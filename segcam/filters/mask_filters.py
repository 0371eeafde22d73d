"""Mask filters: temporal smoothing, smoothstep, morphology, upsampling (bilinear or
edge-aware refine) and feathering. See :mod:`segcam.filters.base` for the stages.

Everything before the upsample runs at model resolution on float32 (a 256x144 mask
is 37k pixels, so these cost microseconds); only the upsample and the feather touch
full-resolution pixels, and they do so in float32/uint8 with reused buffers.
"""

from __future__ import annotations

import cv2
import numpy as np

from segcam.filters.base import Param, register
from segcam.frame import Frame
from segcam.kernels import linear_apply, temporal_blend, upsample
from segcam.scratch import Scratch, reuse


@register(
    "ensemble",
    "mask",
    (
        Param("model", "general", help="the second model"),
        Param("weight", 0.5, 0.0, 1.0, "share of the second model where it is used"),
        Param(
            "mode",
            "mean",
            help="mean: average everywhere; gated: use the second model only where the main "
            "one is unsure; confidence: weight each model by its confidence; choose: per "
            "pixel, the more confident model",
            choices=("mean", "gated", "confidence", "choose"),
        ),
        Param("gate", 0.3, 0.01, 0.5, "gated: the main model is unsure where |p - 0.5| < gate"),
        Param("threads", 1, 1, 16, "LiteRT threads for the second model"),
    ),
    "test-time ensemble: fuse the mask with a second model's mask of the same frame",
)
class Ensemble:
    """Runs a second model on the frame and fuses its mask into the main one.

    MediaPipe's two selfie models make different mistakes (the landscape model
    squeezes tall portraits, the general one squeezes wide frames). How the two
    masks meet is ``mode`` (``w`` = ``weight``, ``p`` main, ``q`` second, both
    at the main mask's resolution):

    * ``mean``: ``(1 − w)·p + w·q`` everywhere.
    * ``gated``: the same mix, but only where the main model is unsure: the second
      model's share falls linearly from ``w`` at ``p = 0.5`` to 0 at
      ``|p − 0.5| = gate``, so a confident main mask is never changed.
    * ``confidence``: each model weighted by its confidence ``|· − 0.5|`` (times
      ``1 − w`` and ``w``), so where they disagree the surer one wins smoothly.
    * ``choose``: per pixel, the mask of the more confident model.

    Which mode the default chain uses was decided on ``validation/`` (see
    :mod:`segcam.filters.chain`).
    """

    def __init__(
        self,
        model: str = "general",
        weight: float = 0.5,
        mode: str = "mean",
        gate: float = 0.3,
        threads: int = 1,
    ) -> None:
        from segcam.inference.segmenter import Segmenter

        self.weight, self.mode, self.gate = weight, mode, gate
        self.segmenter = Segmenter(model, threads=threads)
        self._s = Scratch()

    def reset(self) -> None:
        self.segmenter.reset()

    def __call__(self, mask: np.ndarray, frame: Frame) -> np.ndarray:
        other = self.segmenter.segment(frame.image)
        h, w = mask.shape
        buf = self._s
        if other.shape != mask.shape:
            resized = buf("resized", (h, w), np.float32)
            shrink = other.shape[0] > h or other.shape[1] > w
            interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
            cv2.resize(other, (w, h), dst=resized, interpolation=interp)
            other = resized
        out = buf("out", (h, w), np.float32)
        if self.mode == "mean":
            cv2.addWeighted(mask, 1.0 - self.weight, other, self.weight, 0.0, dst=out)
            return out
        cm = buf("cm", (h, w), np.float32)  # confidence of the main model
        np.subtract(mask, 0.5, out=cm)
        np.abs(cm, out=cm)
        if self.mode == "gated":
            # share of the second model: w·(1 − |p − 0.5| / gate), clipped at 0
            cm *= -self.weight / self.gate
            cm += self.weight
            np.maximum(cm, 0.0, out=cm)
            np.subtract(other, mask, out=out)
            out *= cm
            out += mask
            return out
        co = buf("co", (h, w), np.float32)  # confidence of the second model
        np.subtract(other, 0.5, out=co)
        np.abs(co, out=co)
        if self.mode == "choose":
            np.copyto(out, mask)
            np.copyto(out, other, where=co > cm)
            return out
        cm *= 1.0 - self.weight
        co *= self.weight
        cm += 1e-3  # both unsure (p = q = 0.5): an even mix, not 0/0
        co += 1e-3
        np.multiply(mask, cm, out=out)
        out += np.multiply(other, co, out=buf("t", (h, w), np.float32))
        cm += co
        out /= cm
        return out


@register(
    "skip",
    "mask",
    (
        Param("psnr", 35.0, 20.0, 80.0, "the frame counts as unchanged at this PSNR (dB) or more"),
        Param("max_skips", 5, 1, 30, "the model runs at least once every max_skips + 1 frames"),
        Param("motion", 6.0, 0.5, 64.0, "a part of the picture that changes this much is motion"),
        Param(
            "whole_every",
            15,
            1,
            120,
            "with a crop pass: frames that moved only inside the crop run just the crop; "
            "the whole frame is segmented at least once every whole_every frames",
        ),
    ),
    "skip the model on unchanged frames: reuse the last model mask while the picture is still",
)
class Skip:
    """Inference skipping (:class:`~segcam.inference.skip.SkipRule`, whose docs give
    the rule). Not a mask filter itself: :class:`~segcam.filters.chain.MaskChain`
    takes it out of the chain and the processor asks it before running the model.
    Called as a filter it changes nothing."""

    def __init__(
        self, psnr: float = 35.0, max_skips: int = 5, motion: float = 6.0, whole_every: int = 15
    ) -> None:
        from segcam.inference.skip import SkipRule

        self.rule = SkipRule(psnr=psnr, max_skips=max_skips, motion=motion, whole_every=whole_every)

    def reset(self) -> None:
        self.rule.reset()

    def __call__(self, mask: np.ndarray, frame: Frame) -> np.ndarray:
        return mask


@register(
    "crop",
    "mask",
    (
        Param(
            "model",
            "general",
            help="model for the crop: a model name, or auto (by the crop's aspect)",
        ),
        Param("max_area", 1.0, 0.05, 1.0, "run only when the crop covers at most this share"),
        Param("margin", 0.06, 0.0, 1.0, "widen the person's box by this share of its size"),
        Param("weight", 1.0, 0.0, 1.0, "share of the crop's mask inside the crop"),
        Param("scale", 4, 1, 8, "merge on a grid of the frame at 1/scale (finer than the model's)"),
        Param("threads", 1, 1, 16, "LiteRT threads for the crop's model"),
        Param("flip", False, help="also segment the mirrored crop and average (a second run)"),
    ),
    "crop second pass: run the model again on a crop around a small person, merge finer",
)
class Crop:
    """The model again on a crop around the person (:class:`~segcam.inference.crop.CropPass`).

    Returns the mask on a grid finer than the model's (the frame at 1/``scale``),
    the same grid every frame of a stream, whether the crop ran or not.
    """

    def __init__(self, **kwargs) -> None:
        from segcam.inference.crop import CropPass

        self.crop = CropPass(**kwargs)

    def reset(self) -> None:
        self.crop.reset()

    def __call__(self, mask: np.ndarray, frame: Frame) -> np.ndarray:
        return self.crop(mask, frame.image)


@register(
    "temporal",
    "mask",
    (
        Param("strength", 0.6, 0.0, 0.95, "share of the previous mask a still pixel keeps"),
        Param("motion", 6.0, 0.5, 64.0, "grey-level change (model resolution) that is motion"),
    ),
    "motion-adaptive smoothing: damps flicker where the image is still, follows motion at once",
)
class Temporal:
    """Per-pixel exponential smoothing whose weight follows image motion.

    At each model pixel: ``out = prev + w·(new − prev)``. Where the image (at model
    resolution, lightly blurred so sensor noise does not count) is still,
    ``w = 1 − strength``; it rises linearly to 1 where the image changes by
    ``motion`` grey levels (after removing the frame's mean brightness change, so
    auto-exposure is not motion), so a moving person is followed without lag. A jump of
    the mask itself by more than 0.3 also raises ``w``, so a real change in a
    flat, textureless region is not held back.
    """

    def __init__(self, strength: float = 0.6, motion: float = 6.0) -> None:
        self.w_still = 1.0 - strength
        self.motion = motion
        self.reset()

    def reset(self) -> None:
        self._prev: np.ndarray | None = None
        self._prev_gray: np.ndarray | None = None
        self._gray: np.ndarray | None = None
        self._g8: np.ndarray | None = None
        self._out: np.ndarray | None = None

    def adopt(self, old: Temporal) -> None:
        """Carry ``old``'s history over, so a change of strength or motion does not
        restart the smoothing (the worker thread, between frames; ``old`` is retired)."""
        self._prev, self._prev_gray = old._prev, old._prev_gray
        self._gray, self._g8, self._out = old._gray, old._g8, old._out

    def __call__(self, mask: np.ndarray, frame: Frame) -> np.ndarray:
        small = frame.small
        assert small is not None, "temporal needs the model-size image (frame.small)"
        h, w = mask.shape
        if small.shape[:2] != (h, w):
            # A mask on another grid (after ``crop``): the frame's shared reduction.
            small = frame.shrunk((w, h))
        g8 = self._g8 = reuse(self._g8, (h, w), np.uint8)
        cv2.cvtColor(small, cv2.COLOR_BGR2GRAY, dst=g8)
        gray = self._gray = reuse(self._gray, (h, w))
        gray[...] = g8
        cv2.GaussianBlur(gray, (5, 5), 0, dst=gray)
        if self._prev is None or self._prev.shape != mask.shape or self._prev_gray is None:
            self._prev = mask.copy()
            self._prev_gray, self._gray = gray, None
            return self._prev
        out = self._out = reuse(self._out, (h, w))
        # Motion = local change beyond the frame's overall brightness change, so
        # auto-exposure and flickering lights do not count as movement.
        temporal_blend(mask, self._prev, gray, self._prev_gray, self.motion, self.w_still, out)
        # Swap buffers: this output is the next frame's "previous".
        self._prev, self._out = out, self._prev
        self._prev_gray, self._gray = gray, self._prev_gray
        return out


@register(
    "smoothstep",
    "mask",
    (
        Param("lo", 0.3, 0.0, 1.0, "probability that becomes fully background"),
        Param("hi", 0.7, 0.0, 1.0, "probability that becomes fully person"),
    ),
    "the seed's [M] smooth step: clamp to [lo, hi] and apply 3t²−2t³",
    hotkey="M",
)
class Smoothstep:
    """``t = clamp((p − lo) / (hi − lo), 0, 1)``, then ``3t² − 2t³``: a crisper, still soft edge."""

    def __init__(self, lo: float = 0.3, hi: float = 0.7) -> None:
        self.lo, self.hi = lo, hi
        self._t: np.ndarray | None = None
        self._u: np.ndarray | None = None

    def reset(self) -> None:
        pass

    def __call__(self, mask: np.ndarray, frame: Frame | None = None) -> np.ndarray:
        t = self._t = reuse(self._t, mask.shape)
        u = self._u = reuse(self._u, mask.shape)
        np.subtract(mask, self.lo, out=t)
        t *= 1.0 / (self.hi - self.lo)
        np.clip(t, 0.0, 1.0, out=t)
        np.multiply(t, -2.0, out=u)
        u += 3.0  # u = 3 − 2t
        u *= t
        u *= t  # u = t²(3 − 2t)
        return u


@register(
    "morphology",
    "mask",
    (
        Param("open", 0, 0, 15, "opening radius in model pixels: removes specks"),
        Param("close", 0, 0, 15, "closing radius in model pixels: fills small holes"),
        Param("keep", 2, 0, 16, "keep the N largest person regions (0 = keep all)"),
        Param("min_area", 0.15, 0.0, 1.0, "drop regions smaller than this share of the largest"),
    ),
    "open/close and keep-largest-components: removes blobs in the background",
)
class Morphology:
    """Grey-level open/close, then zero every person region but the largest ones.

    Regions are found on the mask thresholded at 0.5. A kept region keeps its soft
    edge: the keep-mask is dilated by one pixel before it multiplies the mask.
    """

    def __init__(
        self, open: int = 0, close: int = 0, keep: int = 2, min_area: float = 0.15
    ) -> None:
        self.open, self.close, self.keep, self.min_area = open, close, keep, min_area
        self._k_open = _disk(open)
        self._k_close = _disk(close)
        self._out: np.ndarray | None = None

    def reset(self) -> None:
        pass

    def __call__(self, mask: np.ndarray, frame: Frame | None = None) -> np.ndarray:
        out = self._out = reuse(self._out, mask.shape)
        np.copyto(out, mask)
        if self._k_open is not None:
            cv2.morphologyEx(out, cv2.MORPH_OPEN, self._k_open, dst=out)
        if self._k_close is not None:
            cv2.morphologyEx(out, cv2.MORPH_CLOSE, self._k_close, dst=out)
        if self.keep or self.min_area > 0:
            binary = (out > 0.5).astype(np.uint8)
            n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
            if n > 2:  # background + more than one region
                areas = stats[1:, cv2.CC_STAT_AREA]
                order = np.argsort(areas)[::-1]
                keep = order[: self.keep] if self.keep else order
                keep = [i for i in keep if areas[i] >= self.min_area * areas[order[0]]]
                lut = np.zeros(n, np.uint8)
                lut[np.asarray(keep, dtype=np.int64) + 1] = 1
                keep_mask = lut[labels]
                # Also drop soft (below 0.5) fringes that touch no kept region.
                keep_mask = cv2.dilate(keep_mask, np.ones((3, 3), np.uint8))
                out *= keep_mask
        return out


def _disk(radius: int) -> np.ndarray | None:
    if radius <= 0:
        return None
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


@register("bilinear", "upsample", (), "plain bilinear upsampling of the mask (no refinement)")
class Bilinear:
    """Model-resolution probability -> full-resolution uint8 alpha, bilinear.

    The mask is converted to uint8 at model resolution first (cheap), then
    upsampled; ``cv2.resize`` maps pixel centres to pixel centres, so the mask is
    not shifted by half a pixel.
    """

    def __init__(self) -> None:
        self._u8: np.ndarray | None = None
        self._alpha: np.ndarray | None = None

    def reset(self) -> None:
        pass

    def __call__(self, mask: np.ndarray, frame: Frame) -> np.ndarray:
        h, w = frame.image.shape[:2]
        return self.upsample(mask, (w, h))

    def upsample(self, mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """``mask`` (float32, any size) to uint8 alpha of ``size`` = (width, height)."""
        w, h = size
        u8 = self._u8 = reuse(self._u8, mask.shape, np.uint8)
        cv2.convertScaleAbs(mask, dst=u8, alpha=255.0)
        alpha = self._alpha = reuse(self._alpha, (h, w), np.uint8)
        cv2.resize(u8, (w, h), dst=alpha, interpolation=cv2.INTER_LINEAR)
        return alpha


@register(
    "refine",
    "upsample",
    (
        Param("radius", 12, 1, 64, "guided-filter window radius, in pixels of a 720-line frame"),
        Param("eps", 0.006, 1e-6, 1.0, "edge sensitivity: smaller follows weaker image edges"),
        Param("scale", 4, 1, 8, "fit the filter at 1/scale of the frame size"),
        Param("detail", 1, 1, 4, "apply it at 1/detail of the frame size (2: faster, coarser)"),
    ),
    "edge-aware upsampling guided by the full-resolution frame (fast guided filter)",
)
class Refine:
    """Fast guided filter (He & Sun, 2015) from the model mask to the frame.

    The linear coefficients ``a, b`` of ``alpha ≈ a·I + b`` (``I`` = the frame's
    luminance) are fitted in local windows at 1/``scale`` of the frame size, then
    bilinearly upsampled and applied to the luminance at 1/``detail`` of the frame
    size; that alpha is upsampled (uint8, bilinear) to the frame. Edges of the alpha
    therefore follow real edges in the image (hair, shoulders) instead of the
    model's 256x144 grid. ``detail=2`` costs a quarter of ``detail=1`` in the
    full-size passes, for about 0.005 less boundary F on the EG portraits.
    """

    def __init__(
        self, radius: int = 12, eps: float = 0.006, scale: int = 4, detail: int = 1
    ) -> None:
        self.radius, self.eps, self.scale, self.detail = radius, eps, scale, detail
        self._s = Scratch()

    def reset(self) -> None:
        pass

    def __call__(self, mask: np.ndarray, frame: Frame) -> np.ndarray:
        buf = self._s
        image = frame.image
        h, w = image.shape[:2]
        dw, dh = max(8, w // self.detail), max(8, h // self.detail)
        sw, sh = max(8, w // self.scale), max(8, h // self.scale)
        r = max(1, round(self.radius * (h / 720.0) / self.scale))
        ksize = (2 * r + 1, 2 * r + 1)
        # Luminance at the detail and fit resolutions, from the frame's shared
        # reductions (shrinking colour first leaves fewer pixels to convert).
        gray = buf("gray", (dh, dw), np.uint8)
        cv2.cvtColor(frame.shrunk((dw, dh)), cv2.COLOR_BGR2GRAY, dst=gray)
        g_small = buf("g", (sh, sw), np.uint8)
        cv2.cvtColor(frame.shrunk((sw, sh)), cv2.COLOR_BGR2GRAY, dst=g_small)
        guide = buf("I", (sh, sw), np.float32)
        guide[...] = g_small
        guide *= 1.0 / 255.0
        p = buf("p", (sh, sw), np.float32)
        cv2.resize(mask, (sw, sh), dst=p, interpolation=cv2.INTER_LINEAR)
        mean_i = cv2.boxFilter(guide, -1, ksize, dst=buf("mean_i", (sh, sw), np.float32))
        mean_p = cv2.boxFilter(p, -1, ksize, dst=buf("mean_p", (sh, sw), np.float32))
        ip = cv2.multiply(guide, p, dst=buf("ip", (sh, sw), np.float32))
        cv2.boxFilter(ip, -1, ksize, dst=ip)
        ii = cv2.multiply(guide, guide, dst=buf("ii", (sh, sw), np.float32))
        cv2.boxFilter(ii, -1, ksize, dst=ii)
        tmp = buf("tmp", (sh, sw), np.float32)
        # cov_ip = E[Ip] − E[I]E[p];  var_i = E[I²] − E[I]²
        ip -= cv2.multiply(mean_i, mean_p, dst=tmp)
        ii -= cv2.multiply(mean_i, mean_i, dst=tmp)
        ii += self.eps
        a = cv2.divide(ip, ii, dst=buf("a", (sh, sw), np.float32))
        b = buf("b", (sh, sw), np.float32)
        np.multiply(a, mean_i, out=b)
        np.subtract(mean_p, b, out=b)
        cv2.boxFilter(a, -1, ksize, dst=a)
        cv2.boxFilter(b, -1, ksize, dst=b)
        b *= 255.0  # I is in [0, 255] from here on, alpha too
        # At detail resolution: alpha = A·I + B, with A and B upsampled on the fly.
        work = None
        if (dw, dh) != (2 * sw, 2 * sh):  # not the fused step: resize into buffers
            work = (buf("A", (dh, dw), np.float32), buf("B", (dh, dw), np.float32))
        alpha_d = linear_apply(a, b, gray, buf("alpha_d", (dh, dw), np.uint8), work)
        if (dw, dh) == (w, h):
            return alpha_d
        return upsample(alpha_d, buf("alpha", (h, w), np.uint8))


@register(
    "feather",
    "alpha",
    (Param("sigma", 1.5, 0.1, 20.0, "Gaussian sigma in pixels of a 720-line frame"),),
    "Gaussian softening of the final alpha (the seed's alpha blending)",
)
class Feather:
    """Gaussian blur of the full-resolution alpha, scaled with the frame height."""

    def __init__(self, sigma: float = 1.5) -> None:
        self.sigma = sigma
        self._out: np.ndarray | None = None

    def reset(self) -> None:
        pass

    def __call__(self, alpha: np.ndarray, frame: Frame | None = None) -> np.ndarray:
        s = self.sigma * alpha.shape[0] / 720.0
        out = self._out = reuse(self._out, alpha.shape, np.uint8)
        cv2.GaussianBlur(alpha, (0, 0), max(0.1, s), dst=out)
        return out
