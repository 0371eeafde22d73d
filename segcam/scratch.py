"""Reusable scratch buffers and a fast area downscale.

Hot paths must not allocate a full-size array per frame. A :class:`Scratch`
holds named buffers that live as long as their owner (a filter, a background)
and are reallocated only when a frame's shape or dtype changes. Buffers are
owned by one thread, like their owner.
"""

from __future__ import annotations

import cv2
import numpy as np


def reuse(buf: np.ndarray | None, shape: tuple[int, ...], dtype=np.float32) -> np.ndarray:
    """``buf`` if it already has this shape and dtype, else a new array."""
    if buf is None or buf.shape != shape or buf.dtype != dtype:
        return np.empty(shape, dtype)
    return buf


class Scratch:
    """Named scratch buffers, reallocated only when a shape or dtype changes."""

    def __init__(self) -> None:
        self._bufs: dict[str, np.ndarray] = {}

    def __call__(self, name: str, shape: tuple[int, ...], dtype=np.uint8) -> np.ndarray:
        buf = self._bufs[name] = reuse(self._bufs.get(name), shape, dtype)
        return buf


def shrink_area(src: np.ndarray, size: tuple[int, int], scratch: Scratch, name: str) -> np.ndarray:
    """``src`` area-averaged down to ``size`` = (width, height), into a scratch buffer.

    Halves with ``INTER_AREA`` while the image is at least twice the target size
    (a 2x2 average is OpenCV's fastest area path: 1280x720 -> 320x180 costs about
    half as much as one direct ``INTER_AREA`` resize), then resizes the rest of the way.
    """
    w, h = size
    cur = src
    step = 0
    while cur.shape[1] >= 2 * w and cur.shape[0] >= 2 * h:
        half = (cur.shape[1] // 2, cur.shape[0] // 2)
        dst = scratch(f"{name}.{step}", (half[1], half[0], *cur.shape[2:]), cur.dtype)
        cv2.resize(cur, half, dst=dst, interpolation=cv2.INTER_AREA)
        cur, step = dst, step + 1
    if cur.shape[:2] != (h, w):
        dst = scratch(f"{name}.{step}", (h, w, *cur.shape[2:]), cur.dtype)
        cv2.resize(cur, (w, h), dst=dst, interpolation=cv2.INTER_AREA)
        cur = dst
    return cur
