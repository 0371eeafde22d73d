"""Reusable scratch buffers and fast, shared area downscales.

Hot paths must not allocate a full-size array per frame. A :class:`Scratch`
holds named buffers that live as long as their owner (a filter, a background)
and are reallocated only when a frame's shape or dtype changes. Buffers are
owned by one thread, like their owner.
"""

from __future__ import annotations

import cv2
import numpy as np

from segcam.kernels import halve


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


class Pyramid:
    """Area-averaged reductions of one image, computed on first use and shared.

    Several parts of a frame's processing need the frame at a reduced size (the
    refine filter's guide, the blur background, the light wrap). Bound to the
    frame once, the pyramid reads the full-size image once, for its first
    halving, and every later reduction starts from the smallest level that is
    still at least twice the size asked for.

    Threading and buffers: one pyramid belongs to one thread (the processor's
    worker). What :meth:`shrink` returns is a view of the pyramid's buffers (or
    the bound image itself), valid until the next :meth:`bind`.
    """

    def __init__(self, scratch: Scratch | None = None, name: str = "pyr") -> None:
        self._scratch = scratch if scratch is not None else Scratch()
        self._name = name
        self._levels: list[np.ndarray] = []
        self._sized: dict[tuple[int, int], np.ndarray] = {}

    def bind(self, image: np.ndarray) -> Pyramid:
        """Forget the previous image's reductions and serve ``image``'s; returns self."""
        self._levels = [image]
        self._sized.clear()
        return self

    def shrink(self, size: tuple[int, int]) -> np.ndarray:
        """The image area-averaged to ``size`` = (width, height).

        Halves while the image is at least twice the target size (an exact 2x2
        mean, the cheapest area step), then resizes the rest of the way.
        """
        w, h = size
        k = 0
        while self._levels[k].shape[1] >= 2 * w and self._levels[k].shape[0] >= 2 * h:
            k += 1
            if k == len(self._levels):
                cur = self._levels[-1]
                shape = (cur.shape[0] // 2, cur.shape[1] // 2, *cur.shape[2:])
                dst = self._scratch(f"{self._name}.{k}", shape, cur.dtype)
                self._levels.append(halve(cur, dst))
        cur = self._levels[k]
        if cur.shape[:2] == (h, w):
            return cur
        out = self._sized.get(size)
        if out is None:
            shape = (h, w, *cur.shape[2:])
            out = self._scratch(f"{self._name}.{w}x{h}", shape, cur.dtype)
            cv2.resize(cur, (w, h), dst=out, interpolation=cv2.INTER_AREA)
            self._sized[size] = out
        return out


def shrink_area(src: np.ndarray, size: tuple[int, int], scratch: Scratch, name: str) -> np.ndarray:
    """``src`` area-averaged down to ``size`` = (width, height), into ``scratch`` buffers.

    A one-off :meth:`Pyramid.shrink`: use a pyramid bound to the image instead
    when more than one reduction of the same image is needed.
    """
    return Pyramid(scratch, name).bind(src).shrink(size)
