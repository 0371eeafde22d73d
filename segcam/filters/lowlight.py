"""Low-light enhancement: brighten a dark camera picture, for the viewer *and* the model.

A dark room makes two problems: the person looks murky, and the segmentation
model, trained on well-lit photos, loses their edges. The ``lowlight`` filter
treats both with one enhancement:

* **When.** The mean luminance ``m`` (BT.601 luma, on a 160-pixel-wide
  nearest-pixel copy of the *captured* frame) decides. The filter switches on
  below ``dark`` and off again only above ``dark + 0.06``: a scene hovering at the
  threshold does not flicker between the two states. Switching fades in and out
  over about 0.3 s of stream time; after :meth:`reset` (a new still image) it
  takes effect at once. How much it corrects also grows continuously with the
  darkness, ``k = clamp((dark − m) / (dark/2))``: nothing at ``dark``, all of it at
  ``dark/2`` and below, so the picture never jumps at the threshold either.
* **How (classical).** An adaptive gamma curve, the same on B, G and R (one
  256-entry LUT, the cheapest full-frame pass there is): the gamma that maps the
  frame's mean luma to ``aim = m + k·(target − m)``, ``γ = log(aim) / log(m)``,
  limited to [0.25, 1] and eased toward 1 by ``strength``. Gamma lifts the
  shadows most and leaves white at white, so nothing clips. The gamma is smoothed
  over frames.
* **Defaults** (``dark=0.4``, ``target=0.5``) were chosen on ``validation/`` with
  the raw landscape model, on dark versions of its photos (gamma 2.2–2.8 plus
  sensor noise, ``tests/test_lowlight.py::darken``): the best mean IoU over the
  three sources among target 0.4/0.5/0.6 × dark 0.25/0.3/0.35/0.4, and on the
  normal photos no source's IoU went down (``tests/lowlight_eval.py``).
* **How (a user's model).** With ``model=FILE.onnx``, a user-supplied enhancement
  network (Zero-DCE, URetinex and the like, exported to ONNX) runs through
  OpenCV's DNN module instead, at ``size`` x ``size``: its input is the frame
  times ``scale`` (RGB with ``rgb=true``), its 1x3xHxW output is read with the
  same scale. Only the change it makes is used: upsampled and added to the
  full-resolution frame, times ``strength·k``, so detail stays sharp. The model is
  loaded and run once when the filter is built: a missing or unfitting model
  fails there with one line, not per frame.

**The model's input.** :meth:`LowLight.before_segment` enhances the captured
frame *before* segmentation and puts the result in ``frame.image`` (a buffer the
filter owns), so the model, the blur background and the person all see the
brightened picture; the foreground call then has nothing left to do. The
processor must call it (see :func:`enhance_input`); where it does not (yet), the
``foreground`` call brightens the person alone, before the blend.

Contract: a ``foreground`` filter, ``f(fg, bg, alpha, frame) -> fg'``. It never
writes to ``fg``; it returns ``fg`` itself when the scene is not dark (so on a
normally lit scene it changes nothing, for the viewer or the model), else a
buffer it owns, valid until its next call. Threading: one instance belongs to
the processing thread; its state (on/off, smoothed gamma) lives between frames.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from typing import Any

import cv2
import numpy as np

from segcam.errors import ModelError
from segcam.filters.base import Param, register
from segcam.frame import Frame
from segcam.scratch import Scratch

log = logging.getLogger(__name__)

#: The luminance is measured on a copy this many pixels wide.
MEASURE_WIDTH = 160
#: Switched on below ``dark``, off above ``dark + HYSTERESIS`` (luma in [0, 1]).
HYSTERESIS = 0.06
#: Seconds to fade the enhancement in or out.
FADE = 0.3
#: Gamma never goes below this (a stronger curve only lifts noise).
MIN_GAMMA = 0.25


def enhance_input(filters: Iterable[Any], frame: Frame) -> None:
    """The pre-segmentation hook: let every filter that has one enhance the model's input.

    Call with the compositor's frame-filter instances, after the frame is read and
    before it is segmented (and before its pyramid is bound): each filter with a
    ``before_segment(frame)`` method may replace ``frame.image`` with a buffer of
    its own. Worker thread.
    """
    for f in filters:
        hook = getattr(f, "before_segment", None)
        if hook is not None:
            hook(frame)


@register(
    "lowlight",
    "foreground",
    (
        Param("strength", 1.0, 0.0, 1.0, "how much of the correction is applied"),
        Param(
            "dark", 0.4, 0.0, 0.9, "enhance below this mean luminance (0..1), fully at half of it"
        ),
        Param("target", 0.5, 0.1, 0.8, "mean luminance the gamma curve aims for (0..1)"),
        Param("model", "", help="a user-supplied enhancement network (.onnx), run by OpenCV"),
        Param("size", 256, 16, 2048, "the model's input side: the frame goes in as size x size"),
        Param("scale", 1.0 / 255.0, 1e-6, 1e6, "model input = pixel·scale; output/scale"),
        Param("rgb", True, help="the model takes and gives RGB (false: BGR)"),
    ),
    "low-light enhancement: brighten a dark scene for the viewer and the model",
    hotkey="L",
)
class LowLight:
    """Adaptive-gamma (or user-model) enhancement of dark scenes (module docs).

    :attr:`active` says whether the scene counts as dark; :attr:`gamma` is the
    curve last applied (1 = none).
    """

    def __init__(
        self,
        strength: float = 1.0,
        dark: float = 0.4,
        target: float = 0.5,
        model: str = "",
        size: int = 256,
        scale: float = 1.0 / 255.0,
        rgb: bool = True,
    ) -> None:
        self.strength = strength
        self.dark = dark
        self.target = target
        self._scratch = Scratch()
        self._lut = np.empty((1, 256), np.uint8)
        self._ramp = np.arange(256, dtype=np.float32) / 255.0
        self._pow = np.empty(256, np.float32)
        self.dnn = _DnnEnhancer(model, size, scale, rgb) if model else None
        self.reset()

    def reset(self) -> None:
        self.active: bool | None = None  # None: decide from the next frame alone
        self.amount = 0.0  # the faded share of the correction applied
        self.gamma = 1.0
        self._last_pts: float | None = None
        self._done_seq: int | None = None
        self._out: np.ndarray | None = None

    def adopt(self, old: LowLight) -> None:
        """Take over ``old``'s decision, fade and curve (the worker, between frames,
        when only the parameters changed: the window's strength control), so a new
        strength fades in over ``FADE`` like a switch does, and a scene inside the
        hysteresis band keeps its state. ``old`` is retired."""
        self.active, self.amount = old.active, old.amount
        self.gamma, self._last_pts = old.gamma, old._last_pts

    def luminance(self, image: np.ndarray) -> float:
        """Mean BT.601 luma of ``image`` in [0, 1], from a small nearest-pixel copy."""
        h, w = image.shape[:2]
        sw = min(w, MEASURE_WIDTH)
        sh = max(1, round(h * sw / w))
        small = self._scratch("measure", (sh, sw, 3))
        cv2.resize(image, (sw, sh), dst=small, interpolation=cv2.INTER_NEAREST)
        b, g, r, _ = cv2.mean(small)
        return (0.114 * b + 0.587 * g + 0.299 * r) / 255.0

    def _decide(self, luma: float, pts: float | None) -> float:
        """Update on/off (with hysteresis) and the fade; returns the share to apply."""
        fresh = self.active is None
        if fresh:
            self.active = luma < self.dark
        elif self.active and luma > self.dark + HYSTERESIS:
            self.active = False
        elif not self.active and luma < self.dark:
            self.active = True
        goal = self.strength if self.active else 0.0
        if fresh:
            self.amount = goal
        else:
            dt = 1.0 / 30.0
            if pts is not None and self._last_pts is not None and pts > self._last_pts:
                dt = min(pts - self._last_pts, FADE)
            step = dt / FADE
            self.amount += max(-step, min(step, goal - self.amount))
        self._last_pts = pts
        return self.amount

    def enhance(self, image: np.ndarray, pts: float | None = None) -> np.ndarray:
        """One frame's decision and enhancement: ``image`` itself, or a filter-owned buffer.

        Never writes to ``image``. ``pts`` (seconds) paces the fade; None means 1/30 s.
        """
        luma = self.luminance(image)
        amount = self._decide(luma, pts)
        if amount <= 1e-3:
            self.gamma = 1.0
            return image
        m = min(max(luma, 1e-3), 0.999)
        # How dark: 0 at ``dark``, 1 at half of it and below. The correction grows with
        # it, so the picture changes continuously with the light: no jump at the threshold.
        k = min(1.0, max(0.0, (self.dark - m) / (0.5 * self.dark))) if self.dark > 0 else 0.0
        if amount * k <= 1e-3:
            self.gamma = 1.0
            return image
        out = self._scratch("out", image.shape)
        if self.dnn is not None:
            self.dnn(image, amount * k, out)
        else:
            aim = m + k * max(0.0, self.target - m)
            full = min(1.0, max(MIN_GAMMA, math.log(aim) / math.log(m)))
            gamma = 1.0 - amount * (1.0 - full)
            # Smooth the curve over frames (noise moves the mean a little).
            self.gamma = gamma if self.gamma == 1.0 else self.gamma + 0.3 * (gamma - self.gamma)
            np.power(self._ramp, np.float32(self.gamma), out=self._pow)
            self._pow *= np.float32(255.0)
            np.rint(self._pow, out=self._pow)
            self._lut[0] = self._pow
            cv2.LUT(image, self._lut, dst=out)
        self._out = out
        return out

    def before_segment(self, frame: Frame) -> None:
        """The pre-segmentation hook (:func:`enhance_input`): enhance ``frame.image``.

        Replaces ``frame.image`` with the enhanced buffer when the scene is dark;
        the foreground call for this frame then returns its input unchanged.
        """
        frame.image = self.enhance(frame.image, frame.pts)
        self._done_seq = frame.seq

    def __call__(
        self, fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray, frame: Frame | None = None
    ) -> np.ndarray:
        if frame is not None and self._done_seq == frame.seq:
            return fg  # enhanced before segmentation: the whole frame already is
        return self.enhance(fg, frame.pts if frame is not None else None)


class _DnnEnhancer:
    """The model path of :class:`LowLight`: an ONNX network run by OpenCV, checked when built."""

    def __init__(self, model: str, size: int, scale: float, rgb: bool) -> None:
        from segcam.filters.frame_filters import _cv_message, _quiet_opencv, load_dnn

        self.path = model
        self.size = size
        self.scale = np.float32(scale)
        self.rgb = rgb
        self._scratch = Scratch()
        self._blob = np.zeros((1, 3, size, size), np.float32)
        self.net = load_dnn(model, owner="lowlight", role="enhancement", caffe=False)
        with _quiet_opencv():
            try:
                result = self._run(np.full((size, size, 3), 64, np.uint8))
            except cv2.error as e:
                raise ModelError(
                    f"enhancement model {model} does not run on a 1x3x{size}x{size} input: "
                    f"{_cv_message(e)}"
                ) from None
        if result.ndim != 4 or result.shape[:2] != (1, 3):
            raise ModelError(
                f"enhancement model {model} gives {'x'.join(map(str, result.shape))}: "
                "expected an image, 1x3xHxW"
            )
        log.info("lowlight: model %s", model)

    def _run(self, small: np.ndarray) -> np.ndarray:
        """``small`` (S x S BGR uint8) through the network; its raw 1x3xHxW output."""
        blob = self._blob
        image = small
        if self.rgb:
            image = self._scratch("rgb", small.shape)
            cv2.cvtColor(small, cv2.COLOR_BGR2RGB, dst=image)
        for c in range(3):
            np.multiply(image[:, :, c], self.scale, out=blob[0, c], dtype=np.float32)
        self.net.setInput(blob)
        return self.net.forward()

    def __call__(self, image: np.ndarray, amount: float, out: np.ndarray) -> None:
        """``out = image + amount·upsample(model(image) − image)`` at the model's size."""
        buf = self._scratch
        s = self.size
        h, w = image.shape[:2]
        small = buf("small", (s, s, 3))
        cv2.resize(image, (s, s), dst=small, interpolation=cv2.INTER_AREA)
        result = self._run(small)
        ho, wo = result.shape[2:]
        enhanced = buf("enhanced", (ho, wo, 3), np.float32)
        order = (2, 1, 0) if self.rgb else (0, 1, 2)
        for c, src in enumerate(order):
            np.divide(result[0, src], self.scale, out=enhanced[:, :, c])
        if (ho, wo) != (s, s):
            ref = buf("ref", (ho, wo, 3))
            cv2.resize(small, (wo, ho), dst=ref, interpolation=cv2.INTER_AREA)
            small = ref
        enhanced -= small  # the network's change
        enhanced *= np.float32(amount)
        np.rint(enhanced, out=enhanced)
        np.clip(enhanced, -255, 255, out=enhanced)
        delta = buf("delta", (ho, wo, 3), np.int16)
        delta[...] = enhanced
        full = buf("delta_full", (h, w, 3), np.int16)
        cv2.resize(delta, (w, h), dst=full, interpolation=cv2.INTER_LINEAR)
        cv2.add(image, full, dst=out, dtype=cv2.CV_8U)
