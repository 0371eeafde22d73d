"""Clean plate on segcam's drawn rooms: camera shake, and how a plate starts.

No shared data: the background is one of segcam's drawn rooms (a bookshelf, whose
book edges are where an unaligned plate shows false "person" lines).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from segcam.composites import drawn_backgrounds
from segcam.filters.clean_plate import CleanPlate
from segcam.frame import Frame

SIZE = (480, 270)


def _shifted(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    out = cv2.warpAffine(
        image.astype(np.float32), m, SIZE, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    return np.clip(out, 0, 255).astype(np.uint8)


def _false_person(align: bool, dx: float, dy: float) -> tuple[int, CleanPlate]:
    """Pixels called person outside a still person block, after a shifted frame."""
    room = drawn_backgrounds(SIZE)[0]
    cp = CleanPlate(learn=4, align=align)
    empty = np.zeros(room.shape[:2], np.uint8)
    for t in range(4):  # the step-out: the plate is the room
        cp(empty, Frame(t, room, t / 30))
    person = empty.copy()
    person[90:, 190:290] = 255  # what the network says: a person in the middle
    frame = _shifted(room, dx, dy)
    frame[90:, 190:290] = (60, 90, 200)
    out = cp(person, Frame(4, frame, 4 / 30))
    outside = out > 127
    outside[80:, 180:300] = False  # the person and a 10-px band around it
    return int(np.count_nonzero(outside)), cp


@pytest.mark.parametrize("dx, dy", [(1.2, -0.8), (-0.7, 0.9)])
def test_a_sub_pixel_shake_leaves_no_false_person_at_the_books_edges(dx, dy):
    unaligned, _ = _false_person(False, dx, dy)
    aligned, cp = _false_person(True, dx, dy)
    print(f"false person pixels: unaligned {unaligned}, aligned {aligned}, shift {cp.shift}")
    # The plate works at half size: the shift it finds is half the frame's.
    assert cp.shift == pytest.approx((dx / 2, dy / 2), abs=0.15)  # measured: within 0.1
    assert unaligned > 100  # the lines this fixes are there without it (measured 186-400)
    assert aligned <= 5  # measured: 0


def test_a_flat_wall_needs_no_alignment_and_gets_none():
    wall = np.full((SIZE[1], SIZE[0], 3), 128, np.uint8)
    cp = CleanPlate(learn=2)
    empty = np.zeros(wall.shape[:2], np.uint8)
    for t in range(3):
        cp(empty, Frame(t, wall, t / 30))
    assert cp.shift == (0.0, 0.0)


def test_a_pixel_learned_over_time_is_learned_at_its_own_brightness():
    """The first frame a pixel is learned from sets it whole: a plate started at half
    brightness put a ring of false "person" round the network's person at once."""
    room = drawn_backgrounds(SIZE)[2]
    cp = CleanPlate()  # no step-out period: the plate is learned over time
    empty = np.zeros(room.shape[:2], np.uint8)
    cp(empty, Frame(0, room, 0.0))  # nobody in view: every pixel learned once
    person = empty.copy()
    person[90:, 190:290] = 255
    frame = room.copy()
    frame[90:, 190:290] = (60, 90, 200)
    out = cp(person, Frame(1, frame, 1 / 30))
    outside = out > 127
    outside[80:, 180:300] = False
    assert np.count_nonzero(outside) == 0  # the old code: a ring of thousands
    assert np.count_nonzero(out[100:, 200:280] > 127) == 80 * 170  # the person stays


def test_a_striped_object_whose_stripes_match_the_wall_comes_out_solid():
    """Thin stripes of the wall's own colour on a held object are not "background"."""
    wall = np.full((SIZE[1], SIZE[0], 3), (150, 180, 205), np.uint8)
    cp = CleanPlate(learn=3)
    empty = np.zeros(wall.shape[:2], np.uint8)
    for t in range(3):
        cp(empty, Frame(t, wall, t / 30))
    person = empty.copy()
    person[90:, 190:290] = 255  # the network's person; it misses the object beside it
    frame = wall.copy()
    frame[90:, 190:290] = (60, 90, 200)
    frame[150:210, 290:312] = (40, 40, 160)  # the object, held at the side
    frame[150:210:6, 290:312] = wall[0, 0]  # with 2-px stripes of the wall's colour
    frame[151:210:6, 290:312] = wall[0, 0]
    out = cp(person, Frame(3, frame, 0.1))
    obj = out[152:208, 292:310]
    assert obj.min() > 127  # the old code: a "background" line through every stripe
