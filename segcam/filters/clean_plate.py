"""Clean-plate mode for still cameras: fuse a learned background with the network's alpha.

Most video calls happen at a desk, in front of a camera that does not move. There
the background itself can be learned (a "clean plate"), and a pixel that looks
like the plate is background, whatever the network says; one that does not, next
to the person, is person. That fixes what a selfie network gets wrong there:

* **held objects** (a helmet, a mug, a name tag): the network keeps them as a
  see-through, flickering "half person"; they differ from the plate, so they
  become solid;
* **background blobs**: a patch the network calls person but that matches the
  plate is dropped;
* **edges**: the colour difference is taken at half the frame's resolution, so the
  edge follows hair and shoulders at that resolution instead of a guided filter's
  guess from a 256x144 mask (difference matting, with a soft ramp).

How it learns (``CleanPlate``, an ``alpha`` filter: ``--filters live,cleanplate``):

* **step out**: for the first ``learn`` frames of a stream, or the
  :data:`RELEARN_FRAMES` after :meth:`CleanPlate.relearn` (the GUI's "Learn
  background" button), every pixel is averaged into the plate, whatever the
  network says: the user has stepped out. Also, whenever the network sees nobody
  (its alpha covers under 0.2 % of the frame), every pixel is learned, quickly,
  except where a known plate disagrees with a frame that is moving there: a slice of
  a person walking in or out at the frame's edge, too small for the network to see,
  is not learned into the plate (it would be a hole in them once they are back);
* **over time**: pixels the network is sure are background, away from the person,
  are blended into the plate slowly, so a plate builds up even if nobody steps out,
  and slow lighting changes are followed;
* **exposure**: the frame's gain against the plate (per channel, over pixels known
  to be background) is divided out before comparing, so auto-exposure is not
  "person";
* **camera shake**: the plate is first shifted onto the frame (one global
  sub-pixel translation, found by Lucas-Kanade over the known background at a
  quarter of the frame size: a desk camera shakes when someone types), and the
  comparison then forgives what is left of a shift at the plate's own edges (its
  3x3 morphological gradient times ``shake``);
* **camera moved**: when most of the known background stops matching for a few
  frames in a row, the plate is dropped and learned again, and
  :func:`camera_moved_hint` says why (shown once in the log; doctor-style).

Where the plate is not known yet (behind a person who never moved), the network's
alpha is kept as it is: the mode never makes a pixel worse than the live chain
before it has evidence.

Fusion at each working pixel (``a`` the network alpha, ``f`` the colour evidence
``clip((d − threshold) / softness, 0, 1)`` of the plate distance ``d``, ``k`` how
well the plate is known there)::

    near     = the network's person (a > 0.1) widened by ``near`` × the frame height
    core     = the network's confident person (a > 0.5), shrunk by 2 px, where the
               colour evidence around it (a box of ``near`` × height) is at least
               ``support`` (a blob that matches the plate everywhere has none)
    fused    = max(min(f, near), a · core)
    out      = k · fused + (1 − k) · a

Cost: about a dozen passes over the frame at half size (uint8 and float32), no
allocation per frame. A 720p frame takes about 5 ms on one core of the 2-core dev
VM, ``align`` under 1 ms of it (``segcam bench -i demo:desk --filters
live,cleanplate``, against ``--filters live``). Threading: one instance
belongs to one worker thread; :meth:`CleanPlate.relearn` may be called from
another thread (it only sets a flag that the worker reads before the next frame).
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from segcam.filters.base import Param, register
from segcam.frame import Frame
from segcam.kernels import plate_learn, upsample
from segcam.scratch import Scratch

log = logging.getLogger(__name__)

#: The share of the frame under which the network's person counts as "nobody".
EMPTY_SHARE = 0.002
#: Frames in a row with most of the known plate mismatching before it is dropped.
MOVED_FRAMES = 5
#: Frames learned whole after :meth:`CleanPlate.relearn` (about 1 s at 30 fps).
RELEARN_FRAMES = 30
#: Share of known background pixels that must mismatch for a frame to count as moved.
MOVED_SHARE = 0.35
#: A shake under this (working pixels) is not worth the plate's warp: its colour
#: change at an edge is a few grey levels, well inside ``shake``'s tolerance.
MIN_SHIFT = 0.05
# The 3x3 structuring element of the plate's gradient, made once, not per frame.
_SQUARE3 = np.ones((3, 3), np.uint8)
_CROSS3 = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def _clip01(a: np.ndarray) -> None:
    """``a`` clipped to [0, 1] in place (two thresholds: eight times numpy's clip)."""
    cv2.threshold(a, 1.0, 1.0, cv2.THRESH_TRUNC, dst=a)
    cv2.threshold(a, 0.0, 0.0, cv2.THRESH_TOZERO, dst=a)


def camera_moved_hint(times: int = 1) -> str:
    """The doctor-style hint for a camera that moved under the clean plate."""
    again = "" if times <= 1 else f" ({times} times so far)"
    return (
        "clean plate: the camera moved, so the learned background no longer fits and is "
        f"being learned again{again}. The clean-plate mode needs a still camera: put it on "
        "a stand or the screen's edge, then step out of the frame for a second (or press "
        "'Learn background'); with a hand-held or moving camera, use the live chain "
        "without cleanplate"
    )


@register(
    "cleanplate",
    "alpha",
    (
        Param("threshold", 14.0, 1.0, 128.0, "colour distance (grey levels) that starts to count"),
        Param("softness", 16.0, 1.0, 128.0, "colour distance over which alpha goes 0 to 1"),
        Param("near", 0.15, 0.0, 0.5, "how far from the network's person colour may add person"),
        Param("support", 0.2, 0.0, 1.0, "colour evidence a region needs to stay person"),
        Param("shake", 0.5, 0.0, 4.0, "tolerance for sub-pixel camera shake at plate edges"),
        Param("rate", 0.03, 0.001, 1.0, "how fast confident background is learned over time"),
        Param("scale", 2, 1, 8, "work at 1/scale of the frame size"),
        Param("align", True, help="follow the camera's sub-pixel shake before comparing"),
        Param("learn", 0, 0, 10_000, "learn every pixel for the first N frames (you step out)"),
    ),
    "clean-plate mode for still cameras: learns the background and fuses it with the mask",
)
class CleanPlate:
    """An ``alpha`` filter: the network's uint8 alpha in, the fused uint8 alpha out.

    See the module docstring for the model. ``learned`` says how much of the frame
    the plate covers (0..1), ``moves`` how often the camera was seen to move, and
    ``shift`` the last frame's shake (dx, dy in working pixels; (0, 0) when it was
    not measured or too small to follow).
    """

    def __init__(
        self,
        threshold: float = 14.0,
        softness: float = 16.0,
        near: float = 0.15,
        support: float = 0.2,
        shake: float = 0.5,
        rate: float = 0.03,
        scale: int = 2,
        learn: int = 0,
        align: bool = True,
    ) -> None:
        self.threshold, self.softness, self.near = threshold, softness, near
        self.support, self.shake, self.rate, self.scale = support, shake, rate, scale
        self.learn, self.align = learn, align
        self.shift = (0.0, 0.0)
        self._s = Scratch()
        self.moves = 0
        self._relearn = False
        self.reset()

    # -- public ----------------------------------------------------------------------

    def reset(self) -> None:
        """Forget the plate (a new stream)."""
        self._size: tuple[int, int] | None = None
        self._stepout = 0
        self._moved_run = 0
        self.learned = 0.0

    def relearn(self) -> None:
        """Drop the plate before the next frame and learn it again ("Learn background"):
        the next ``max(learn, RELEARN_FRAMES)`` frames are learned whole, whatever the
        network says, so the user steps out of the frame meanwhile.

        Safe to call from any thread: it sets a flag the worker reads."""
        self._relearn = True

    @property
    def learning(self) -> int:
        """Frames left of a step-out learning period (0 when none is running)."""
        return self._stepout

    # -- per frame -------------------------------------------------------------------

    def _setup(self, ww: int, wh: int) -> None:
        s = self._s
        self._plate = s("plate", (wh, ww, 3), np.float32)
        self._known = s("known", (wh, ww), np.float32)
        self._plate.fill(0.0)
        self._known.fill(0.0)
        # This frame and the last one (at working size), to tell a moving difference
        # from a still one: two buffers that swap roles, so nothing is copied.
        self._frames = [s("I0", (wh, ww, 3), np.float32), s("I1", (wh, ww, 3), np.float32)]
        self._prev = self._frames[1]
        self._prev_ok = False
        # The wide neighbourhoods (`near`, the learning margin, the support window) are
        # found on a grid 4x coarser than the working one: a 73-px elliptic dilation
        # at full working size costs tens of ms, at a quarter size well under one.
        cw, ch = max(8, ww // 4), max(8, wh // 4)
        self._coarse = (cw, ch)
        r_near = max(1, round(self.near * ch))
        self._k_near = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r_near + 1,) * 2)
        # Learn only well away from the person: twice the reach of `near`, so the
        # person's own soft edge (and a held object next to it) never enters the plate.
        self._k_away = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (4 * r_near + 1,) * 2)
        self._k_core = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
        # The support window is wide (3x `near`): a camouflaged patch of a real person
        # (a dark dress on a dark wall) has changed pixels around it; a blob has none.
        self._box = (6 * r_near + 1, 6 * r_near + 1)
        self._size = (ww, wh)
        self._count = 0
        self._moved_run = 0
        self.learned = 0.0

    def __call__(self, alpha: np.ndarray, frame: Frame) -> np.ndarray:
        h, w = alpha.shape
        ww, wh = max(16, w // self.scale), max(16, h // self.scale)
        if self._size != (ww, wh) or self._relearn:
            self._stepout = max(self.learn, RELEARN_FRAMES) if self._relearn else self.learn
            self._relearn = False
            self._setup(ww, wh)
        s = self._s
        shape = (wh, ww)
        image = self._frames[0] if self._prev is self._frames[1] else self._frames[1]
        image[...] = frame.shrunk((ww, wh))
        a8 = s("a8", shape, np.uint8)
        cv2.resize(alpha, (ww, wh), dst=a8, interpolation=cv2.INTER_AREA)
        a = s("a", shape, np.float32)
        np.multiply(a8, np.float32(1.0 / 255.0), out=a)
        plate, known = self._plate, self._known
        person = s("person", shape, np.uint8)  # a > 0.5
        cv2.compare(a8, 127, cv2.CMP_GT, dst=person)
        n = ww * wh
        stepout = self._stepout > 0
        if stepout:
            self._stepout -= 1
        empty = stepout or cv2.countNonZero(person) < EMPTY_SHARE * n

        # Background pixels the network is sure of, where the plate is known.
        sure_bg = s("sure_bg", shape, np.uint8)
        cv2.compare(a8, 5, cv2.CMP_LT, dst=sure_bg)
        known8 = s("known8", shape, np.uint8)
        cv2.compare(known, 0.5, cv2.CMP_GT, dst=known8)
        ref = s("ref", shape, np.uint8)
        cv2.bitwise_and(sure_bg, known8, dst=ref)
        n_ref = cv2.countNonZero(ref)

        # Exposure: the per-channel gain of the frame against the plate.
        gplate = s("gplate", (wh, ww, 3), np.float32)
        if n_ref > 0.05 * n:
            # On every 4th pixel each way: a masked mean over the whole frame costs
            # 0.8 ms a channel set, and thousands of pixels give the same gain.
            sub = ref[::4, ::4]
            mi = cv2.mean(image[::4, ::4], mask=sub)
            mp = cv2.mean(plate[::4, ::4], mask=sub)
            gain = tuple(min(2.0, max(0.5, mi[c] / max(mp[c], 1.0))) for c in range(3))
            cv2.multiply(plate, (*gain, 0.0), dst=gplate)
        else:
            np.copyto(gplate, plate)

        self.shift = (0.0, 0.0)
        if self.align and n_ref > 0.05 * n:
            self._align(image, gplate, ref)
        # Colour distance to the plate, less what a sub-pixel shift explains.
        diff3 = s("diff3", (wh, ww, 3), np.float32)
        cv2.absdiff(image, gplate, dst=diff3)
        d = s("d", shape, np.float32)
        # max over the channels, as two element-wise maxima (a numpy reduce over the
        # last axis is ten times slower)
        np.maximum(diff3[:, :, 0], diff3[:, :, 1], out=d)
        np.maximum(d, diff3[:, :, 2], out=d)
        if self.shake > 0:
            pg = s("pg", shape, np.float32)
            cv2.cvtColor(gplate, cv2.COLOR_BGR2GRAY, dst=pg)
            grad = s("grad", shape, np.float32)
            cv2.morphologyEx(pg, cv2.MORPH_GRADIENT, _SQUARE3, dst=grad)
            grad *= self.shake
            d -= grad
        f = s("f", shape, np.float32)
        np.subtract(d, self.threshold, out=f)
        f *= 1.0 / self.softness
        _clip01(f)

        self._watch_camera(f, ref, n_ref, n)
        # Close one-pixel gaps in the evidence: a striped mug or a patterned shirt whose
        # colours happen to match the plate behind leaves thin lines of "background".
        cv2.morphologyEx(f, cv2.MORPH_CLOSE, _CROSS3, dst=f)

        # Fusion.
        near = self._widened(a8, 25, self._k_near, "near", shape)
        fused = s("fused", shape, np.float32)
        fused.fill(0.0)
        cv2.copyTo(f, near, dst=fused)  # min(f, near) with a binary `near`
        core = s("core", shape, np.uint8)
        cv2.erode(person, self._k_core, dst=core)
        f_c = s("f_c", self._coarse[::-1], np.float32)
        cv2.resize(f, self._coarse, dst=f_c, interpolation=cv2.INTER_AREA)
        cv2.boxFilter(f_c, -1, self._box, dst=f_c)
        support = s("support", shape, np.float32)
        cv2.resize(f_c, (shape[1], shape[0]), dst=support, interpolation=cv2.INTER_LINEAR)
        strong = s("strong", shape, np.uint8)
        cv2.compare(support, self.support, cv2.CMP_GE, dst=strong)
        cv2.bitwise_and(core, strong, dst=core)
        held = s("held", shape, np.float32)
        np.multiply(a, core, out=held)  # a · core (core is 0/255: scaled below)
        held *= 1.0 / 255.0
        np.maximum(fused, held, out=fused)
        # out = a + k · (fused − a), with k ramping from 0 to 1 as `known` goes from
        # 0.2 to 0.7: a plate averaged over a few frames is trusted fully.
        k = s("k", shape, np.float32)
        np.subtract(known, 0.2, out=k)
        k *= 2.0
        _clip01(k)
        fused -= a
        fused *= k
        fused += a

        self._learn(image, a8, known, plate, empty, s, shape, stepout, f)

        out8 = s("out8", shape, np.uint8)
        cv2.convertScaleAbs(fused, dst=out8, alpha=255.0)
        if (ww, wh) == (w, h):
            return out8
        return upsample(out8, s("out", (h, w), np.uint8))

    def _learn(self, image, a8, known, plate, empty, s, shape, stepout=False, f=None) -> None:
        """Blend the frame into the plate where it is background (see the module doc)."""
        wgt = s("wgt", shape, np.float32)
        if stepout:
            # A step-out period: a plain running mean of every frame since it began.
            self._count += 1
            wgt.fill(1.0 / self._count)
        else:
            # Per-pixel rate: fast while a pixel is barely known (its first frames are
            # averaged), then ``rate``; while nobody is in the frame, at least 0.25.
            np.subtract(1.0, known, out=wgt)
            wgt *= 0.5
            np.maximum(wgt, 0.25 if empty else self.rate, out=wgt)
            if empty and f is not None and self._prev_ok:
                # The network sees nobody, but where a well-known plate disagrees with
                # the frame *and the frame is moving*, someone it misses may be there (a
                # slice of a person at the frame's edge, walking in or out): learn only
                # slowly there, or that slice would be in the plate, and punch a hole in
                # the person once they are back. A still disagreement is the room the
                # person uncovered (or a plate learned wrong): learned at once.
                odd = s("odd", shape, np.bool_)
                also = s("also", shape, np.bool_)
                np.greater(f, 0.5, out=odd)
                np.greater(known, 0.5, out=also)
                np.logical_and(odd, also, out=odd)
                moved = s("moved3", (*shape, 3), np.float32)
                cv2.absdiff(image, self._prev, dst=moved)
                m = s("moved", shape, np.float32)
                np.maximum(moved[:, :, 0], moved[:, :, 1], out=m)
                np.maximum(m, moved[:, :, 2], out=m)
                np.greater(m, 2 * self.threshold, out=also)
                np.logical_and(odd, also, out=odd)
                np.copyto(wgt, np.float32(self.rate), where=odd)
        if not empty:
            away = self._widened(a8, 4, self._k_away, "away", shape)
            cv2.bitwise_not(away, dst=away)  # 255 where the pixel may be learned
            cv2.multiply(wgt, away, dst=wgt, scale=1.0 / 255.0, dtype=cv2.CV_32F)
        # known += wgt · (1 − known);  plate += (wgt / known) · (image − plate): the
        # plate is the mean of what was learned, not that mean times ``known`` (which
        # started a pixel learned over time at half its brightness).
        plate_learn(image, plate, known, wgt)
        self.learned = float(cv2.mean(known)[0])
        self._prev = image
        self._prev_ok = True

    def _align(self, image: np.ndarray, gplate: np.ndarray, ref: np.ndarray) -> None:
        """Shift ``gplate`` in place onto ``image``: the camera's sub-pixel shake.

        Lucas-Kanade for one global translation, on grey images at half the working
        size, over the known background (``ref``), two steps; then one warp of the
        colour plate. A shift over 2 working pixels is left alone (that is the camera
        moving, which :meth:`_watch_camera` handles). Sets :attr:`shift`."""
        s = self._s
        wh, ww = ref.shape
        shape = (max(8, wh // 2), max(8, ww // 2))
        size = (shape[1], shape[0])
        grey = s("al_grey", ref.shape, np.float32)
        gi = s("al_gi", shape, np.float32)
        gp0 = s("al_gp0", shape, np.float32)
        cv2.cvtColor(image, cv2.COLOR_BGR2GRAY, dst=grey)
        cv2.resize(grey, size, dst=gi, interpolation=cv2.INTER_AREA)
        cv2.cvtColor(gplate, cv2.COLOR_BGR2GRAY, dst=grey)
        cv2.resize(grey, size, dst=gp0, interpolation=cv2.INTER_AREA)
        # Smoothed, so that sharp edges (book spines) do not bias the sub-pixel estimate.
        cv2.GaussianBlur(gi, (5, 5), 0, dst=gi)
        cv2.GaussianBlur(gp0, (5, 5), 0, dst=gp0)
        mask = s("al_ref", shape, np.uint8)
        cv2.resize(ref, size, dst=mask, interpolation=cv2.INTER_NEAREST)
        # Away from the edge of what is not background: a pixel there mixes both.
        cv2.erode(mask, _SQUARE3, dst=mask)
        ix = s("al_ix", shape, np.float32)
        iy = s("al_iy", shape, np.float32)
        cv2.Sobel(gp0, cv2.CV_32F, 1, 0, dst=ix, ksize=3, scale=0.125)
        cv2.Sobel(gp0, cv2.CV_32F, 0, 1, dst=iy, ksize=3, scale=0.125)
        # Means over the mask as dot products with mask-weighted gradients (a masked
        # cv2.mean is ten times slower than a dot product of the same length).
        count = cv2.countNonZero(mask)
        if count < 16:
            return
        w = s("al_wt", shape, np.float32)
        np.multiply(mask, np.float32(1.0 / (255.0 * count)), out=w, casting="unsafe")
        ixw = s("al_ixw", shape, np.float32)
        iyw = s("al_iyw", shape, np.float32)
        np.multiply(ix, w, out=ixw)
        np.multiply(iy, w, out=iyw)
        fx, fy, fxw, fyw = (a.reshape(-1) for a in (ix, iy, ixw, iyw))
        xx, xy, yy = float(fxw @ fx), float(fxw @ fy), float(fyw @ fy)
        det = xx * yy - xy * xy
        if xx + yy < 0.25 or det <= 1e-3 * (xx + yy) ** 2:
            return  # a flat (or one-directional) plate: nothing to align on
        gp = s("al_gp", shape, np.float32)
        it = s("al_it", shape, np.float32)
        m = np.float32([[1, 0, 0], [0, 1, 0]])
        dx = dy = 0.0
        for step in range(2):
            if step:
                m[0, 2], m[1, 2] = dx, dy
                cv2.warpAffine(gp0, m, size, dst=gp, borderMode=cv2.BORDER_REPLICATE)
            np.subtract(gi, gp if step else gp0, out=it)
            # A pixel the plate does not explain (someone the network missed, a moving
            # object) is limited in how far it can pull the estimate.
            np.clip(it, -2 * self.threshold, 2 * self.threshold, out=it)
            xt, yt = float(fxw @ it.reshape(-1)), float(fyw @ it.reshape(-1))
            # image ≈ plate(x − d) ≈ plate − d·∇plate  →  d = −A⁻¹ Σ ∇plate · it
            dx -= (yy * xt - xy * yt) / det
            dy -= (xx * yt - xy * xt) / det
        dx, dy = 2 * dx, 2 * dy  # back to working pixels
        if abs(dx) > 2 or abs(dy) > 2 or max(abs(dx), abs(dy)) < MIN_SHIFT:
            return
        m[0, 2], m[1, 2] = dx, dy
        warped = s("al_w", (wh, ww, 3), np.float32)
        cv2.warpAffine(gplate, m, (ww, wh), dst=warped, borderMode=cv2.BORDER_REPLICATE)
        np.copyto(gplate, warped)
        self.shift = (dx, dy)

    def _widened(self, a8: np.ndarray, level: int, kernel, name: str, shape) -> np.ndarray:
        """``a8 > level``, dilated by ``kernel`` on the coarse grid, at working size (0/255)."""
        s = self._s
        cw, ch = self._coarse
        small = s(name + "_c", (ch, cw), np.uint8)
        # An area mean above a quarter of the level: a thin limb that covers only part
        # of a coarse pixel still counts.
        cv2.resize(a8, (cw, ch), dst=small, interpolation=cv2.INTER_AREA)
        cv2.compare(small, level // 4, cv2.CMP_GT, dst=small)
        cv2.dilate(small, kernel, dst=small)
        out = s(name, shape, np.uint8)
        cv2.resize(small, (shape[1], shape[0]), dst=out, interpolation=cv2.INTER_NEAREST)
        return out

    def _watch_camera(self, f: np.ndarray, ref: np.ndarray, n_ref: int, n: int) -> None:
        """Count frames where most known background mismatches; drop the plate after a few."""
        if n_ref < 0.05 * n:
            self._moved_run = 0
            return
        mism = self._s("mism", f.shape, np.uint8)
        cv2.compare(f, 0.5, cv2.CMP_GT, dst=mism)
        cv2.bitwise_and(mism, ref, dst=mism)
        if cv2.countNonZero(mism) > MOVED_SHARE * n_ref:
            self._moved_run += 1
        else:
            self._moved_run = 0
        if self._moved_run >= MOVED_FRAMES:
            self.moves += 1
            if self.moves == 1:
                log.warning(camera_moved_hint(self.moves))
            else:
                log.info(camera_moved_hint(self.moves))
            self._plate.fill(0.0)
            self._known.fill(0.0)
            self._moved_run = 0
