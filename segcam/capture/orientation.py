"""A video's display matrix, applied: phone videos stored sideways come out upright.

Phones record in the sensor's orientation and store how to show the picture as a
display matrix (ISO/IEC 14496-12 ``tkhd``; FFmpeg's ``AV_FRAME_DATA_DISPLAYMATRIX``),
for example "turn 90° clockwise". Players apply it; a pipeline that ignores it
produces a video lying on its side.

:func:`display_orientation` turns the matrix into one of the eight right-angle
orientations (rotations and mirrors), with the same decisions as the ``ffmpeg``
command line's autorotate (``fftools``): a quarter turn becomes a transpose,
and a matrix that is no right angle is ignored (never seen from a phone).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

Transform = Callable[[np.ndarray], np.ndarray]


def _rotation_ccw(m: tuple[int, ...]) -> float:
    """FFmpeg's ``av_display_rotation_get``: degrees counter-clockwise, NaN if degenerate."""
    a, b, c, d = (v / 65536.0 for v in (m[0], m[1], m[3], m[4]))
    s0, s1 = math.hypot(a, c), math.hypot(b, d)
    if s0 == 0.0 or s1 == 0.0:
        return math.nan
    return -math.degrees(math.atan2(b / s1, a / s0))


@dataclass(frozen=True, slots=True)
class Orientation:
    """How to show a stored frame upright."""

    apply: Transform | None
    """The image operation, or None when the frame is already upright."""
    swaps: bool
    """True for a quarter turn or a transpose: the width and height trade places."""
    label: str

    def size(self, stored: tuple[int, int]) -> tuple[int, int]:
        """The displayed (width, height) of a frame stored as ``stored``."""
        return (stored[1], stored[0]) if self.swaps else stored


UPRIGHT = Orientation(None, False, "upright")


def _cw(img: np.ndarray) -> np.ndarray:
    return cv2.rotate(img, cv2.ROTATE_90_CLOCKWISE)


def _ccw(img: np.ndarray) -> np.ndarray:
    return cv2.rotate(img, cv2.ROTATE_90_COUNTERCLOCKWISE)


def _half_turn(img: np.ndarray) -> np.ndarray:
    return cv2.rotate(img, cv2.ROTATE_180)


def _mirror(img: np.ndarray) -> np.ndarray:
    return cv2.flip(img, 1)


def _upside_down(img: np.ndarray) -> np.ndarray:
    return cv2.flip(img, 0)


def _transpose(img: np.ndarray) -> np.ndarray:
    return cv2.transpose(img)


def _anti_transpose(img: np.ndarray) -> np.ndarray:
    return cv2.rotate(cv2.transpose(img), cv2.ROTATE_180)


def display_orientation(matrix: bytes | None) -> Orientation:
    """The :class:`Orientation` a display matrix asks for.

    ``matrix`` is the side data's 36 bytes (nine native-endian int32, 16.16 fixed
    point but the last column 2.30); None, or anything malformed or degenerate,
    means upright.
    """
    if matrix is None or len(matrix) != 36:
        return UPRIGHT
    m = struct.unpack("=9i", matrix)
    ccw = _rotation_ccw(m)
    if math.isnan(ccw):
        return UPRIGHT
    # fftools: theta = -round(rotation), brought into [0, 360).
    theta = -round(ccw)
    theta -= 360 * math.floor(theta / 360 + 0.9 / 360)
    if abs(theta - 90) < 1:
        if m[3] > 0:
            return Orientation(_transpose, True, "transposed")
        return Orientation(_cw, True, "turned 90° clockwise")
    if abs(theta - 270) < 1:
        if m[3] < 0:
            return Orientation(_anti_transpose, True, "anti-transposed")
        return Orientation(_ccw, True, "turned 90° counter-clockwise")
    if abs(theta - 180) < 1:
        flip_h, flip_v = m[0] < 0, m[4] < 0
        if flip_h and flip_v:
            return Orientation(_half_turn, False, "turned 180°")
        if flip_h:
            return Orientation(_mirror, False, "mirrored")
        if flip_v:
            return Orientation(_upside_down, False, "flipped upside down")
        return UPRIGHT
    if abs(theta) < 1 and m[4] < 0:
        return Orientation(_upside_down, False, "flipped upside down")
    return UPRIGHT
