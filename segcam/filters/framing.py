"""Auto-framing: crop and scale the output so the person stays centred at a chosen size.

What NVIDIA Broadcast's "auto frame" and Apple's Center Stage do, from the mask
segcam already has:

* **Who is framed.** The person regions of the alpha (``> 127``), found on a
  copy 180 lines high; regions under a tenth of the largest one (and under 0.2 %
  of the frame) are noise and left out, the rest are framed *together*, so two
  people side by side both stay in the picture. ``target=box`` frames each
  region's whole bounding box; ``target=head`` (the default, for a webcam) frames
  each region's head: from the top of the region down to the neck, the narrowest
  row between the head's widest row and the shoulders (or, with no neck in
  sight, 1.3 head widths down).
* **Where the window wants to be.** Its height is the subject's height over
  ``size`` (the share of the window the subject fills), widened to fit the
  subject's width, between the whole frame and ``1/zoom`` of it; the window keeps
  the frame's aspect ratio. A box is centred; a head is put a third of the way
  down (its centre at 0.35 of the window height), which leaves the usual headroom.
* **How it moves.** The *goal* changes only when the wanted window's centre is
  more than ``deadzone`` (a share of the window's size) from the goal, or its size
  differs by more than twice that share: small moves and mask noise do nothing,
  so a person at rest gets a window that does not move at all; and only when the
  change lasts ``HOLD`` (0.1 s: 3 frames at 30 fps), so a mask region that
  flickers in and out does not drag the window to and fro. The window then
  follows the goal as a critically damped spring (the exact solution of
  ``x'' = ω²(goal − x) − 2ω x'``, per frame with the frame's real time step),
  which reaches a step's 90 % in ``response`` seconds and never overshoots. With
  nobody in the frame for a second the goal becomes the whole frame.
* **Never outside the frame.** The goal and the window itself are clamped to lie
  inside the frame, so no border or black bar is ever shown, and the zoom stays
  between 1x and ``zoom``.

Contract: a ``post`` filter, ``f(out, bg, alpha, frame) -> out'``. It returns
``out`` itself when the window is the whole frame, else a buffer it owns (the
window scaled back to the frame size, bilinear), valid until its next call. It
reads ``alpha``, which still covers the *uncropped* frame, so it must be the last
post filter of the chain (after ``lightwrap``). Threading: one instance belongs
to the compositing thread and keeps the spring's state between frames
(``reset()`` forgets it); its scratch buffers are reused.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from segcam.filters.base import Param, register
from segcam.frame import Frame
from segcam.scratch import Scratch

#: People are found on a copy of the alpha this many lines high.
FIND_LINES = 180
#: A region smaller than this share of the largest one is not a person.
MIN_SHARE = 0.1
#: ... nor one smaller than this share of the frame.
MIN_FRAME_SHARE = 0.002
#: A head is about this much taller than it is wide (used when no neck is found).
HEAD_ASPECT = 1.3
#: Below the head's widest row, a row this narrow (share of the widest) is the neck...
NECK = 0.85
#: ... and one this much wider than the neck's narrowest row the shoulders.
SHOULDERS = 1.25
#: Seconds the wanted window must stay outside the dead zone before the goal moves.
HOLD = 0.1
#: Seconds without anyone before the window goes back to the whole frame.
EMPTY_HOLD = 1.0
#: A critically damped spring is at 90 % of a step after ω·t = 3.89.
_OMEGA_T90 = 3.8897


def person_boxes(
    alpha: np.ndarray, target: str, scratch: Scratch
) -> list[tuple[float, float, float, float]]:
    """The boxes ``(x0, y0, x1, y1)`` (full-frame pixels) to frame: one per person region.

    ``target`` is ``"box"`` (each region's bounding box) or ``"head"`` (each
    region's head, module docs). Works on a nearest-neighbour copy of ``alpha``
    180 lines high, in ``scratch`` buffers.
    """
    h, w = alpha.shape
    f = max(1.0, h / FIND_LINES)
    sh, sw = max(1, round(h / f)), max(1, round(w / f))
    small = scratch("find", (sh, sw))
    cv2.resize(alpha, (sw, sh), dst=small, interpolation=cv2.INTER_NEAREST)
    cv2.threshold(small, 127, 255, cv2.THRESH_BINARY, dst=small)
    labels = scratch("labels", (sh, sw), np.int32)
    n, _, stats, _ = cv2.connectedComponentsWithStats(small, labels, connectivity=8)
    if n <= 1:
        return []
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = max(MIN_SHARE * float(areas.max()), MIN_FRAME_SHARE * sh * sw)
    sx, sy = w / sw, h / sh
    boxes = []
    for k in range(1, n):
        x, y, bw, bh, area = (int(v) for v in stats[k])
        if area < keep:
            continue
        if target == "head":
            x, y, bw, bh = _head(labels, k, (x, y, bw, bh), scratch)
        boxes.append((x * sx, y * sy, (x + bw) * sx, (y + bh) * sy))
    return boxes


def _head(
    labels: np.ndarray, k: int, box: tuple[int, int, int, int], scratch: Scratch
) -> tuple[int, int, int, int]:
    """The head of region ``k``: its top rows, down to where a head ends (module docs)."""
    x, y, bw, bh = box
    region = scratch("region", labels.shape)[:bh, :bw]
    cv2.compare(labels[y : y + bh, x : x + bw], k, cv2.CMP_EQ, dst=region)
    counts = np.count_nonzero(region, axis=1)
    # Walk down from the top: the rows widen to the head's width, narrow to the neck,
    # then widen again at the shoulders. The head ends at the neck's narrowest row;
    # without a neck (hood, long hair, a turned head) it is HEAD_ASPECT widths tall.
    widest = 0
    neck_row, neck = -1, 0
    rows = bh
    for r in range(bh):
        c = int(counts[r])
        if neck_row < 0:
            if c > widest:
                widest = c
            elif r >= 3 and c <= NECK * widest:
                neck_row, neck = r, c
            elif r >= 3 and r >= HEAD_ASPECT * widest:
                rows = r  # no neck yet and already a head's height: call it there
                break
        elif c < neck:
            neck_row, neck = r, c
        elif c > SHOULDERS * neck or r > neck_row + 0.5 * widest:
            rows = neck_row
            break
    else:
        rows = neck_row if neck_row >= 0 else min(bh, max(1, round(HEAD_ASPECT * widest)))
    cols = np.flatnonzero(np.count_nonzero(region[:rows], axis=0))
    if cols.size == 0:
        return box
    return x + int(cols[0]), y, int(cols[-1] - cols[0] + 1), rows


class _Spring:
    """A critically damped spring per coordinate: exact update for any time step."""

    def __init__(self, omega: float) -> None:
        self.omega = omega
        self.x = np.zeros(3)
        self.v = np.zeros(3)

    def step(self, goal: np.ndarray, dt: float) -> np.ndarray:
        w = self.omega
        rel = self.x - goal
        e = math.exp(-w * dt)
        c = self.v + w * rel
        self.x = goal + (rel + c * dt) * e
        self.v = (self.v - w * c * dt) * e
        return self.x


@register(
    "framing",
    "post",
    (
        Param(
            "target", "head", help="frame each person's head or whole box", choices=("head", "box")
        ),
        Param(
            "size",
            0.0,
            0.0,
            1.0,
            "share of the window height the subject fills (0: head 0.4, box 0.7)",
        ),
        Param("zoom", 2.0, 1.0, 4.0, "the most the window zooms in (2 = half the frame's height)"),
        Param("response", 0.6, 0.05, 5.0, "seconds the window takes to make 90% of a move"),
        Param("deadzone", 0.06, 0.0, 0.5, "moves under this share of the window are ignored"),
    ),
    "auto-framing: crop and scale to keep the people centred at a chosen size",
    hotkey="A",
)
class AutoFraming:
    """Keeps the people in frame by cropping and scaling the composite (module docs).

    :attr:`window` is the current crop ``(x, y, w, h)`` in frame pixels (floats,
    before rounding), for measurements and tests.
    """

    #: It moves pixels, so it runs after every other post filter (whose work is
    #: aligned with the frame's alpha), wherever it stands in ``--filters``.
    reframes = True

    def __init__(
        self,
        target: str = "head",
        size: float = 0.0,
        zoom: float = 2.0,
        response: float = 0.6,
        deadzone: float = 0.06,
    ) -> None:
        self.target = target
        self.size = size or (0.4 if target == "head" else 0.7)
        self.zoom = zoom
        self.deadzone = deadzone
        self._spring = _Spring(_OMEGA_T90 / response)
        self._scratch = Scratch()
        self.reset()

    def reset(self) -> None:
        self._shape: tuple[int, int] | None = None
        self._goal: np.ndarray | None = None
        self._last_pts: float | None = None
        self._clock = 0.0  # seconds of stream seen, from the frames' time steps
        self._empty_since: float | None = None
        self._outside_since: float | None = None
        self.window = (0.0, 0.0, 0.0, 0.0)

    def adopt(self, old: AutoFraming) -> None:
        """Take over ``old``'s window, goal and clocks (the worker, between frames, when
        only the parameters changed: the window's size control): the window then
        glides to the new framing instead of jumping back to the whole frame and
        zooming in again. ``old`` is retired."""
        self._shape, self._goal, self._last_pts = old._shape, old._goal, old._last_pts
        self._clock, self._empty_since = old._clock, old._empty_since
        self._outside_since, self.window = old._outside_since, old.window
        self._spring.x, self._spring.v = old._spring.x.copy(), old._spring.v.copy()

    def wanted(self, alpha: np.ndarray) -> np.ndarray | None:
        """The window ``(centre x, centre y, height)`` the people ask for; None if nobody."""
        h, w = alpha.shape
        boxes = person_boxes(alpha, self.target, self._scratch)
        if not boxes:
            return None
        x0 = min(b[0] for b in boxes)
        y0 = min(b[1] for b in boxes)
        x1 = max(b[2] for b in boxes)
        y1 = max(b[3] for b in boxes)
        aspect = w / h
        height = max((y1 - y0) / self.size, (x1 - x0) / (0.9 * aspect))
        height = min(max(height, h / self.zoom), h)
        cx = 0.5 * (x0 + x1)
        cy = 0.5 * (y0 + y1)
        if self.target == "head":
            cy += (0.5 - 0.35) * height  # the head a third of the way down
        return self._clamp(np.array([cx, cy, height]), w, h)

    @staticmethod
    def _clamp(win: np.ndarray, w: int, h: int) -> np.ndarray:
        """``win`` (centre x, centre y, height) moved and sized to lie inside the frame."""
        height = min(max(win[2], 1.0), h)
        half_w, half_h = 0.5 * height * w / h, 0.5 * height
        cx = min(max(win[0], half_w), w - half_w)
        cy = min(max(win[1], half_h), h - half_h)
        return np.array([cx, cy, height])

    def _dt(self, frame: Frame | None) -> float:
        pts = frame.pts if frame is not None else None
        dt = 1.0 / 30.0
        if pts is not None and self._last_pts is not None and pts > self._last_pts:
            dt = min(pts - self._last_pts, 0.25)  # a stall must not fling the window
        self._last_pts = pts
        return dt

    def update(self, alpha: np.ndarray, frame: Frame | None = None) -> tuple[int, int, int, int]:
        """Advance the window by one frame; returns the integer crop ``(x, y, w, h)``."""
        h, w = alpha.shape
        full = np.array([w / 2.0, h / 2.0, float(h)])
        if self._shape != (h, w):
            self._shape = (h, w)
            self._spring.x = full.copy()
            self._spring.v = np.zeros(3)
            self._goal = full.copy()
        dt = self._dt(frame)
        self._clock += dt
        want = self.wanted(alpha)
        goal = self._goal
        assert goal is not None
        if want is None:
            if self._empty_since is None:
                self._empty_since = self._clock
            if self._clock - self._empty_since >= EMPTY_HOLD:
                goal = full
        else:
            self._empty_since = None
            size = goal[2]
            moved = max(abs(want[0] - goal[0]) / (size * w / h), abs(want[1] - goal[1]) / size)
            resized = abs(want[2] / size - 1.0)
            if moved > self.deadzone or resized > 2.0 * self.deadzone:
                # Only a change that lasts moves the goal: a mask region that flickers
                # in and out every other frame must not drag the window back and forth.
                if self._outside_since is None:
                    self._outside_since = self._clock - dt
                if self._clock - self._outside_since >= HOLD - 1e-9:
                    goal = want
                    self._outside_since = None
            else:
                self._outside_since = None
        self._goal = goal
        win = self._clamp(self._spring.step(goal, dt), w, h)
        height = win[2]
        width = height * w / h
        self.window = (win[0] - width / 2, win[1] - height / 2, width, height)
        ch = min(h, max(1, round(height)))
        cw = min(w, max(1, round(ch * w / h)))
        x0 = min(max(0, round(win[0] - cw / 2)), w - cw)
        y0 = min(max(0, round(win[1] - ch / 2)), h - ch)
        return x0, y0, cw, ch

    def __call__(
        self, out: np.ndarray, bg: np.ndarray, alpha: np.ndarray, frame: Frame | None = None
    ) -> np.ndarray:
        h, w = out.shape[:2]
        x0, y0, cw, ch = self.update(alpha, frame)
        if (cw, ch) == (w, h):
            return out
        dst = self._scratch("out", out.shape)
        cv2.resize(out[y0 : y0 + ch, x0 : x0 + cw], (w, h), dst=dst, interpolation=cv2.INTER_LINEAR)
        return dst
