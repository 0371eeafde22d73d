"""Focal blur: the background's blur grows with distance from the person, like a lens.

A camera focused on the person renders what is right behind them a little soft
and what is far away very soft. segcam has no depth, but it has the person's
mask, and in a webcam picture distance from the person's silhouette is a fair
stand-in for depth behind them (the wall beside the head, the ceiling, the far
corners). So the ``focal`` blend filter mixes the background toward more and
more blurred versions of itself as the distance from the person's edge grows.

How, per frame (all at 1/f of the frame size, f from 1 to 8):

1. the background and the alpha are area-averaged to the small size;
2. two *halo-free* blur levels of the background are made, with extra sigmas
   ``far/2`` and ``far``: ``blur(bg·w)/blur(w)`` with ``w = 1 − dilate(alpha)``,
   so no level ever averages the person's colours into the background (the same
   renormalisation as :class:`~segcam.filters.backgrounds.BlurBackground`);
3. the distance from the person (``alpha > 127``) is a distance transform of
   the small mask; ``t = clamp((d − start) / (reach − start), 0, 1)`` in pixels
   of a 720-line frame;
4. the stack is collapsed at the small size: ``far_level = L1 + u·(L2 − L1)``
   with ``u = clamp(2t − 1)``, and the amount of it, ``T = clamp(2t)``;
5. at full size one fused pass (:func:`segcam.kernels.blend_focal`) mixes the
   background toward the (row-stretched) far level by ``T`` and blends the person
   on top: the cost of a blend, not of a blur.

So next to the person (``d ≤ start``) the background is exactly the one the
compositor rendered (today's halo-free blur at its own strength, or a sharp
image), and at ``reach`` and beyond it has ``far`` more blur. With a blur
background, ``--background blur:N`` sets the blur at the person's edge.

Contract: a ``blend`` filter, ``f(fg, bg, alpha, out) -> out``: writes ``out`` and
returns it. With no person in the frame it is the plain blend. Threading: one
instance belongs to the compositing thread; its scratch buffers are reused from
frame to frame and reallocated only when the frame size changes.
"""

from __future__ import annotations

import cv2
import numpy as np

from segcam.filters.base import Param, register
from segcam.kernels import blend, blend_focal
from segcam.scratch import Pyramid, Scratch, shrink_area

#: The blur levels' sigma at the small size is at least this (in small pixels):
#: below it the 1/f grid itself would show.
_MIN_SMALL_SIGMA = 1.5


@register(
    "focal",
    "blend",
    (
        Param("far", 24.0, 2.0, 100.0, "extra blur sigma far from the person, px of a 720p frame"),
        Param(
            "reach", 360.0, 10.0, 2000.0, "distance from the person at which the blur is full, px"
        ),
        Param(
            "start", 16.0, 0.0, 1000.0, "band next to the person left at the background's blur, px"
        ),
    ),
    "focal blur: the background blurs more the farther it is from the person (a lens look)",
    hotkey="F",
)
class FocalBlur:
    """The focal blend filter (module docs): background blur grows with distance from the person."""

    _EPS = 1e-3

    def __init__(self, far: float = 24.0, reach: float = 360.0, start: float = 16.0) -> None:
        from segcam.errors import ConfigError

        if not start < reach:
            raise ConfigError(f"focal: start ({start:g}) must be below reach ({reach:g})")
        self.far = far
        self.reach = reach
        self.start = start
        self._scratch = Scratch()
        self._pyramid = Pyramid(self._scratch, "bg")
        self._shape: tuple[int, int] | None = None
        self._kernel = np.ones((3, 3), np.uint8)

    def reset(self) -> None:
        pass  # no state between frames

    def _prepare(self, h: int, w: int) -> None:
        self._shape = (h, w)
        half = 0.5 * self.far * h / 720.0  # the first level's sigma, full-size pixels
        self.factor = int(max(1, min(8, half // _MIN_SMALL_SIGMA)))
        f = self.factor
        self.small = sw, sh = (max(1, w // f), max(1, h // f))
        # The second level has twice the sigma, so it is made at half the small size
        # (a quarter of the cost) with the same sigma there, and enlarged.
        self.smaller = (max(1, sw // 2), max(1, sh // 2))
        self._sigma = max(0.5, half / f)
        # distance (small px) -> 2t = d·gain − offset (the ramp runs over [0, 2])
        px = 720.0 / h * f  # 720p pixels per small pixel
        span = self.reach - self.start
        self._t_gain = np.float32(2.0 * px / span)
        self._t_offset = np.float32(2.0 * self.start / span)

    def _level(self, bg_s: np.ndarray, a_s: np.ndarray, name: str) -> np.ndarray:
        """A halo-free blur of ``bg_s`` (uint8, small) with the person ``a_s`` left out."""
        buf = self._scratch
        sh, sw = a_s.shape
        a_dil = buf(name + ".a", (sh, sw))
        cv2.dilate(a_s, self._kernel, dst=a_dil)
        cv2.bitwise_not(a_dil, dst=a_dil)
        wgt = buf(name + ".w", (sh, sw), np.float32)
        # w = (255 − dilate(a)) / 255 + eps
        np.multiply(a_dil, np.float32(1.0 / 255.0), out=wgt, dtype=np.float32)
        wgt += np.float32(self._EPS)
        num = buf(name + ".num", (sh, sw, 3), np.float32)
        np.multiply(bg_s, wgt[:, :, None], out=num, dtype=np.float32)
        cv2.GaussianBlur(num, (0, 0), self._sigma, dst=num)
        cv2.GaussianBlur(wgt, (0, 0), self._sigma, dst=wgt)
        np.divide(num, wgt[:, :, None], out=num)
        return num

    def __call__(
        self, fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray, out: np.ndarray
    ) -> np.ndarray:
        h, w = alpha.shape
        if self._shape != (h, w):
            self._prepare(h, w)
        buf = self._scratch
        sw, sh = self.small
        a_s = shrink_area(alpha, (sw, sh), buf, "alpha")
        person = buf("person", (sh, sw))
        cv2.threshold(a_s, 127, 255, cv2.THRESH_BINARY_INV, dst=person)  # 0 on the person
        if cv2.countNonZero(person) == person.size:
            return blend(fg, bg, alpha, out)  # nobody to focus on
        # s = 2t; the amount of the far level is T = clamp(s, 0, 1) and the share of
        # the second (farther) level in it u = clamp(s − 1, 0, 1).
        s = buf("s", (sh, sw), np.float32)
        cv2.distanceTransform(person, cv2.DIST_L2, 3, dst=s)
        s *= self._t_gain
        s -= self._t_offset
        amount = buf("amount", (sh, sw), np.float32)
        np.clip(s, 0.0, 1.0, out=amount)
        amount_s = buf("amount_s", (sh, sw))
        cv2.convertScaleAbs(amount, dst=amount_s, alpha=255.0)  # rounds (amount ≥ 0)
        s -= np.float32(1.0)
        u = np.clip(s, 0.0, 1.0, out=s)
        v = buf("v", (sh, sw), np.float32)
        np.subtract(np.float32(1.0), u, out=v)
        # The two blur levels, halo-free; the second at half the small size.
        pyramid = self._pyramid.bind(bg)
        near = self._level(pyramid.shrink((sw, sh)), a_s, "near")
        aw, ah = self.smaller
        a_ss = shrink_area(a_s, (aw, ah), buf, "alpha2")
        far_ss = self._level(pyramid.shrink((aw, ah)), a_ss, "far2")
        far = buf("far", (sh, sw, 3), np.float32)
        cv2.resize(far_ss, (sw, sh), dst=far, interpolation=cv2.INTER_LINEAR)
        mixed = cv2.blendLinear(far, near, u, v, dst=far)  # L1 + u·(L2 − L1)
        far_s = buf("far_s", (sh, sw, 3))
        cv2.convertScaleAbs(mixed, dst=far_s)
        # Stretch the short images to the frame's width; the kernel stretches the rows.
        far_wide = buf("far_wide", (sh, w, 3))
        cv2.resize(far_s, (w, sh), dst=far_wide, interpolation=cv2.INTER_LINEAR)
        amount_wide = buf("amount_wide", (sh, w))
        cv2.resize(amount_s, (w, sh), dst=amount_wide, interpolation=cv2.INTER_LINEAR)
        amount3 = buf("amount3", (sh, w, 3))
        cv2.cvtColor(amount_wide, cv2.COLOR_GRAY2BGR, dst=amount3)  # one amount per channel
        return blend_focal(fg, bg, alpha, far_wide, amount3, out)
