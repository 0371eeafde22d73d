"""The ``demo:desk`` source: a still camera at a desk, to show the clean-plate mode.

The ``demo`` source moves its camera (a slow pan and zoom), so the clean-plate
filter (``--filters live,cleanplate``), which needs a still camera, keeps dropping
its plate there. This one holds the camera still: a drawn room
(:func:`segcam.composites.drawn_backgrounds`, a bookshelf wall) and, as the person,
the astronaut of the ``demo`` source, cut out of her photo once at start-up with
segcam's own ``general`` model (largest region, holes filled, a little feathering).
The cut-out carries the model's own errors (a blurry edge from its 256x256 mask),
which is fine for a demo. She sits behind a drawn desk at the right of the frame,
cut by its right edge as a webcam at a desk would frame her, with the helmet of
the photo in her arm.

Timeline, looping every :data:`LOOP_S` seconds and deterministic from ``seq``:

* the whole time she sways and nods slightly (a few pixels, a gentle scale);
* from 3 to 6.5 s and from 13.5 to 18.5 s she lifts a striped mug from the desk (a held object,
  half outside her outline, where a selfie network leaves a see-through ghost);
* at 8 s she slides out of the frame to the right (1 s), stays out 2 s (the room
  is empty: the clean plate learns it), and slides back in (0.6 s, from 11 s).

The camera does not move: only sensor noise and a slight exposure wobble, as in
the ``demo`` source (:class:`~segcam.capture.demo.PacedSynthetic`). Per frame
the room is copied and only the person's (and the mug's) bounding box is warped
and blended (uint8 and float32).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from segcam.capture.demo import PacedSynthetic, demo_photo_path
from segcam.errors import InputError
from segcam.imaging import load_image
from segcam.native import quiet_native_stderr

#: Seconds per loop of the timeline.
LOOP_S = 20.0
#: When she starts sliding out, how long that takes, how long she stays out, and how
#: long she takes to come back.
OUT_AT, SLIDE_S, AWAY_S, BACK_S = 8.0, 1.0, 2.0, 0.6
#: When the mug is held (start, end) in seconds of the loop; it takes ``LIFT_S`` to lift.
MUG_HELD = ((3.0, 6.5), (13.5, 18.5))
LIFT_S = 0.4
#: Which of :func:`~segcam.composites.drawn_backgrounds` is the room (the bookshelf).
_ROOM = 0
#: Pixels the cut-out reaches past the frame's right and bottom edges, so the sway
#: never shows where the photo ends.
_MARGIN = 12
#: The desk's top edge, as a share of the frame's height: the desk is in front of her.
DESK_TOP = 0.9


def _ease(x: float) -> float:
    """Smoothstep of ``x`` clipped to 0..1."""
    x = min(1.0, max(0.0, x))
    return x * x * (3.0 - 2.0 * x)


def away(t: float) -> float:
    """How far out of the frame she is at ``t`` seconds: 0 in place, 1 fully out.

    She leaves smoothly over :data:`SLIDE_S` and comes back briskly over
    :data:`BACK_S`, fast at the frame's edge and settling in place. While only a
    sliver of her shows at the edge the network sees nobody; the clean plate does
    not learn that sliver, because it moves (see :mod:`segcam.filters.clean_plate`).
    """
    u = t % LOOP_S
    back_at = OUT_AT + SLIDE_S + AWAY_S
    if u < back_at:
        return _ease((u - OUT_AT) / SLIDE_S)
    x = min(1.0, max(0.0, (u - back_at) / BACK_S))
    return (1.0 - x) ** 3


def lift(t: float) -> float:
    """How far the mug is lifted at ``t`` seconds: 0 below the frame, 1 held."""
    u = t % LOOP_S
    for start, end in MUG_HELD:
        if start <= u < end:
            return min(_ease((u - start) / LIFT_S), _ease((end - u) / LIFT_S))
    return 0.0


def cut_out(photo: np.ndarray, segmenter=None) -> np.ndarray:
    """The person's alpha (uint8, the photo's size) from segcam's ``general`` model:
    its largest region above 0.5, with holes filled (the model's own errors remain)."""
    if segmenter is None:
        from segcam.inference.segmenter import Segmenter

        segmenter = Segmenter("general")
    h, w = photo.shape[:2]
    p = cv2.resize(segmenter.segment(photo), (w, h), interpolation=cv2.INTER_LINEAR)
    binary = (p > 0.5).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if n <= 1:
        raise InputError("the model found no person in the demo photo")
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    mask = np.where(labels == biggest, 255, 0).astype(np.uint8)
    # Fill holes: what the border cannot reach through the background is person.
    # (The photo's right and bottom edges cut the person: pad with background
    # first so the flood reaches around.)
    padded = cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    flood = padded.copy()
    cv2.floodFill(flood, None, (0, 0), 255)
    holes = cv2.bitwise_not(flood)[1:-1, 1:-1]
    return cv2.bitwise_or(mask, holes)


def _desk(room: np.ndarray, top: int) -> None:
    """Draw a wooden desk top over the room's rows from ``top`` down, in place."""
    h, w = room.shape[:2]
    room[top:] = (70, 110, 160)  # BGR: light wood
    rng = np.random.default_rng(3)
    for _ in range(max(1, (h - top) // 6)):
        y = int(rng.integers(top + 3, h))
        shade = tuple(int(c) for c in rng.integers(55, 95, 3) * np.array([1.0, 1.4, 2.0]))
        cv2.line(room, (0, y), (w, y + int(rng.integers(-2, 3))), shade, 1)
    cv2.line(room, (0, top), (w, top), (120, 160, 200), max(2, h // 240))


def _mug(r: int, seed: int) -> np.ndarray:
    """A striped mug with a handle and a highlight, BGRA uint8 (alpha 0 or 255, feathered)."""
    rng = np.random.default_rng(seed + 7)
    hh, ww = int(2.6 * r), int(2.9 * r)
    img = np.zeros((hh, ww, 3), np.uint8)
    a = np.zeros((hh, ww), np.uint8)
    x0, x1 = int(0.15 * r), int(2.15 * r)
    y0, y1 = int(0.2 * r), int(2.4 * r)
    colour = (40, 60, 200)  # a red mug (BGR)
    other = tuple(int(c) for c in rng.integers(200, 250, 3))
    # The handle on the right: a thick ring, half hidden by the body.
    cv2.ellipse(img, (x1, (y0 + y1) // 2), (int(0.55 * r), int(0.6 * r)), 0, -90, 90, colour, -1)
    cv2.ellipse(a, (x1, (y0 + y1) // 2), (int(0.55 * r), int(0.6 * r)), 0, -90, 90, 255, -1)
    cv2.ellipse(img, (x1, (y0 + y1) // 2), (int(0.3 * r), int(0.35 * r)), 0, -90, 90, 0, -1)
    cv2.ellipse(a, (x1, (y0 + y1) // 2), (int(0.3 * r), int(0.35 * r)), 0, -90, 90, 0, -1)
    cv2.rectangle(img, (x0, y0), (x1, y1), colour, -1)
    cv2.rectangle(a, (x0, y0), (x1, y1), 255, -1)
    for k in range(1, 5):
        y = y0 + k * (y1 - y0) // 5
        cv2.line(img, (x0, y), (x1, y), other, max(2, r // 10))
    cv2.ellipse(
        img, ((x0 + x1) // 2, y0), ((x1 - x0) // 2, max(2, r // 6)), 0, 0, 360, (30, 40, 120), -1
    )
    cv2.circle(img, (x0 + r // 3, y0 + r // 2), max(2, r // 6), (245, 245, 245), -1)
    a = cv2.GaussianBlur(a, (0, 0), 1.0)
    return np.dstack([img, a])


def _paste(image: np.ndarray, sprite: np.ndarray, m: np.ndarray, truth: np.ndarray | None) -> None:
    """Warp the BGRA ``sprite`` by the 2x3 affine ``m`` and blend it over ``image`` in
    place, working only inside its bounding box; its alpha goes into ``truth`` (max)."""
    h, w = image.shape[:2]
    sh, sw = sprite.shape[:2]
    corners = np.array([[0, 0, 1], [sw, 0, 1], [0, sh, 1], [sw, sh, 1]], np.float64) @ m.T
    x0 = max(0, math.floor(corners[:, 0].min()) - 1)
    y0 = max(0, math.floor(corners[:, 1].min()) - 1)
    x1 = min(w, math.ceil(corners[:, 0].max()) + 2)
    y1 = min(h, math.ceil(corners[:, 1].max()) + 2)
    if x1 <= x0 or y1 <= y0:
        return
    mm = m.copy()
    mm[0, 2] -= x0
    mm[1, 2] -= y0
    warped = cv2.warpAffine(
        sprite, mm, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    a = warped[:, :, 3].astype(np.float32)
    a *= 1.0 / 255.0
    region = image[y0:y1, x0:x1]
    # The sprite keeps its photo's own colours under alpha 0, so its soft edge blends
    # with what the photo showed there, as a real cut-out would (no dark fringe).
    cv2.blendLinear(warped[:, :, :3], region, a, 1.0 - a, dst=region)
    if truth is not None:
        np.maximum(truth[y0:y1, x0:x1], warped[:, :, 3], out=truth[y0:y1, x0:x1])


class DeskDemoSource(PacedSynthetic):
    """A still camera at a desk: a person who sways, lifts a mug and steps out (module docs)."""

    def __init__(
        self,
        *,
        resolution: tuple[int, int] | None = None,
        fps: float | None = None,
        seed: int = 0,
        segmenter=None,
    ) -> None:
        from segcam.composites import drawn_backgrounds

        super().__init__(resolution or (1280, 720), fps or 30.0, seed)
        self.name = "demo (desk, still camera)"
        w, h = self.size
        self._room = drawn_backgrounds(self.size, seed)[_ROOM]
        self._desk_top = round(DESK_TOP * h)
        _desk(self._room, self._desk_top)
        with quiet_native_stderr():  # the PNG's colour profile makes libpng warn
            photo = load_image(str(demo_photo_path()), "demo photo")
        alpha = cut_out(photo, segmenter)
        # She fills 0.92 of the frame's height (at most 0.7 of its width), her photo's
        # right and bottom edges a little past the frame's.
        ph, pw = photo.shape[:2]
        s = min(0.92 * h / ph, 0.7 * w / pw)
        size = (max(1, round(pw * s)), max(1, round(ph * s)))
        interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
        person = cv2.resize(photo, size, interpolation=interp)
        a = cv2.resize(alpha, size, interpolation=interp)
        a = cv2.GaussianBlur(a, (0, 0), max(0.8, h / 480))  # a little feathering
        self._person = np.dstack([person, a])
        self._origin = (w + _MARGIN - size[0], h + _MARGIN - size[1])
        # The mug: at 0.74 of the height, centred on her outline's left edge there.
        r = max(4, round(0.075 * h))
        self._mug = _mug(r, seed)
        row = min(size[1] - 1, max(0, round(0.74 * h) - self._origin[1]))
        xs = np.nonzero(a[row] > 127)[0]
        left = int(xs.min()) if xs.size else size[0] // 3
        mh = self._mug.shape[0]
        # (in the person's own coordinates: the mug moves with her)
        self._mug_at = (left - int(1.15 * r), row - mh // 2)
        self._pivot = (size[0] / 2, float(size[1]))  # sway about her bottom centre

    def _transforms(self, seq: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The person's and the mug's affine maps into the frame (None when not shown)."""
        w, h = self.size
        t = seq / self.fps
        # Periods that divide the loop, so that it loops exactly.
        scale = 1.0 + 0.008 * math.sin(2 * math.pi * t / (LOOP_S / 4))
        dx = 0.003 * w * math.sin(2 * math.pi * t / (LOOP_S / 5))
        dy = 0.003 * h * (1.0 - math.cos(2 * math.pi * t / (LOOP_S / 8)))  # nods down, not up
        slide = away(t) * (w - self._origin[0] + 4)
        px, py = self._pivot
        ox, oy = self._origin
        person = np.array(
            [
                [scale, 0.0, ox + px * (1 - scale) + dx + slide],
                [0.0, scale, oy + py * (1 - scale) + dy],
            ]
        )
        if slide >= w - ox + 2:
            return None, None
        up = lift(t)
        if up <= 0.0:
            return person, None
        mx, my = self._mug_at
        drop = (1.0 - up) * (self._desk_top - (oy + my) + 2)  # from behind the desk
        mug = person.copy()
        mug[:, 2] += person[:, :2] @ np.array([mx, my], np.float64)
        mug[1, 2] += drop
        return person, mug

    def render(self, seq: int) -> np.ndarray:
        """The frame for index ``seq`` (deterministic; no pacing)."""
        image = self._room.copy()
        self._draw(image, seq, None, None)
        self._sensor(image, seq)
        return image

    def truth(self, seq: int) -> tuple[np.ndarray, np.ndarray]:
        """The true alphas of frame ``seq`` (uint8, frame size): everything in front of
        the room (her cut-out and the mug), and the mug alone."""
        w, h = self.size
        fg = np.zeros((h, w), np.uint8)
        held = np.zeros((h, w), np.uint8)
        self._draw(np.empty((h, w, 3), np.uint8), seq, fg, held)
        return fg, held

    def _draw(self, image, seq, fg, held) -> None:
        """Paste her and the mug above the desk (the desk is in front of both)."""
        person, mug = self._transforms(seq)
        top = self._desk_top
        image = image[:top]
        fg = fg[:top] if fg is not None else None
        if person is not None:
            _paste(image, self._person, person, fg)
        if mug is not None:
            _paste(image, self._mug, mug, fg)
            if held is not None:
                _paste(np.empty_like(image), self._mug, mug, held[:top])
