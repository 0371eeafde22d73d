"""Fused per-pixel kernels for the compositing hot path (numba, one pass over memory).

OpenCV has no single call for ``out = (fg·a + bg·(255 − a)) / 255`` with a
per-pixel uint8 ``a``: written with its primitives it takes five full-frame
passes (expand alpha, invert, two scaled multiplies, add), and
``cv2.blendLinear`` converts to float. The kernel here reads each input once and
writes the output once, in 16-bit integer lanes that LLVM vectorises, which puts
a 720p blend at about four frame copies instead of about ten.

Rounding is exact: ``v = fg·a + bg·(255 − a) + 128`` fits in 16 bits, and
``(v + (v >> 8)) >> 8`` equals ``round(v' / 255)`` for every ``v' = v − 128`` in
``[0, 255²]``, so the result is the correctly rounded float blend (a test checks
all 2²⁴ input triples).

Kernels are compiled once per machine and cached on disk (numba's cache; the
first run of a new install compiles them, which takes about a second, in
:func:`warm_up`). Without numba (an unusual install) :func:`blend` falls back to
the five-pass OpenCV version, which is within one grey level.

Threading: the kernels release the GIL and run on the calling thread only.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

log = logging.getLogger(__name__)

try:
    import numba
except ImportError:  # pragma: no cover - numba is a dependency; a broken install
    numba = None


if numba is not None:

    @numba.njit(nogil=True, boundscheck=False, cache=True)
    def _blend3(fg, bg, a, out):  # pragma: no cover - compiled
        for i in range(a.size):
            av = np.uint16(a[i])
            inv = np.uint16(255) - av
            j = 3 * i
            for c in range(3):
                v = np.uint16(fg[j + c]) * av + np.uint16(bg[j + c]) * inv + np.uint16(128)
                out[j + c] = np.uint8((v + (v >> np.uint16(8))) >> np.uint16(8))

    @numba.njit(nogil=True, boundscheck=False, cache=True)
    def _halve3(src, dst):  # pragma: no cover - compiled
        # rows of interleaved BGR; a literal channel count lets LLVM vectorise
        h, n = dst.shape
        for y in range(h):
            r0 = src[2 * y]
            r1 = src[2 * y + 1]
            d = dst[y]
            for x in range(n // 3):
                j = 6 * x
                for c in range(3):
                    v = (
                        np.uint16(r0[j + c])
                        + np.uint16(r0[j + 3 + c])
                        + np.uint16(r1[j + c])
                        + np.uint16(r1[j + 3 + c])
                        + np.uint16(2)
                    )
                    d[3 * x + c] = np.uint8(v >> np.uint16(2))

    @numba.njit(nogil=True, boundscheck=False, cache=True, fastmath=False)
    def _temporal(mask, prev, gray, prev_gray, inv_motion, w_still, out):  # pragma: no cover
        n = mask.size
        total = 0.0
        for i in range(n):
            total += gray[i] - prev_gray[i]
        shift = np.float32(total / n)
        lo = np.float32(w_still)
        inv = np.float32(inv_motion)
        for i in range(n):
            d = prev[i]
            w = max(abs(gray[i] - prev_gray[i] - shift) * inv, lo)
            w = max(w, (abs(mask[i] - d) - np.float32(0.3)) * np.float32(2.5))
            out[i] = d + (mask[i] - d) * min(w, np.float32(1.0))


def has_fast_kernels() -> bool:
    return numba is not None


def blend(fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = round(fg·a/255 + bg·(255−a)/255)``, all uint8, in one pass; returns ``out``.

    ``fg``, ``bg`` and ``out`` are C-contiguous ``(H, W, 3)``; ``alpha`` is ``(H, W)``.
    ``out`` may be ``fg`` or ``bg`` (each pixel is read before it is written).
    """
    if numba is None:
        return _blend_opencv(fg, bg, alpha, out)
    _blend3(_flat(fg), _flat(bg), _flat(alpha), _flat(out))
    return out


def halve(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """``dst`` = the 2x2 mean of ``src`` (rounded half up), i.e. OpenCV's ``INTER_AREA``
    at exactly half size, bit for bit; returns ``dst``.

    ``src`` is uint8 ``(2h, 2w)`` or ``(2h, 2w, C)``, ``dst`` ``(h, w[, C])``. Three
    channels take the fused kernel (about 2/3 of OpenCV's time at 720p); other
    layouts are already fast in OpenCV.
    """
    if numba is not None and src.ndim == 3 and src.shape[2] == 3 and src.flags.c_contiguous:
        h, w = dst.shape[:2]
        if src.shape[:2] == (2 * h, 2 * w) and dst.flags.c_contiguous:
            _halve3(src.reshape(2 * h, -1), dst.reshape(h, -1))
            return dst
    cv2.resize(src, dst.shape[1::-1], dst=dst, interpolation=cv2.INTER_AREA)
    return dst


def temporal_blend(
    mask: np.ndarray,
    prev: np.ndarray,
    gray: np.ndarray,
    prev_gray: np.ndarray,
    motion: float,
    w_still: float,
    out: np.ndarray,
) -> np.ndarray:
    """The motion-adaptive update of :class:`~segcam.filters.mask_filters.Temporal`.

    All float32 arrays of one shape; ``out = prev + w·(mask − prev)`` with
    ``w = clamp(max(|Δgray − mean Δgray| / motion, w_still, 2.5·(|mask − prev| − 0.3)), ≤ 1)``.
    One pass for the mean and one for the rest, instead of a dozen array operations.
    """
    if numba is None:
        return _temporal_numpy(mask, prev, gray, prev_gray, motion, w_still, out)
    _temporal(
        _flat(mask), _flat(prev), _flat(gray), _flat(prev_gray), 1.0 / motion, w_still, _flat(out)
    )
    return out


def _temporal_numpy(mask, prev, gray, prev_gray, motion, w_still, out):
    diff = gray - prev_gray
    diff -= float(diff.mean())
    w = np.abs(diff, out=diff)
    w *= np.float32(1.0 / motion)
    np.maximum(w, np.float32(w_still), out=w)
    jump = np.abs(mask - prev)
    jump -= np.float32(0.3)
    jump *= np.float32(2.5)
    np.maximum(w, jump, out=w)
    np.minimum(w, np.float32(1.0), out=w)
    np.subtract(mask, prev, out=out)
    out *= w
    out += prev
    return out


def _flat(a: np.ndarray) -> np.ndarray:
    if not a.flags.c_contiguous:
        raise ValueError("the fused kernels need C-contiguous arrays")
    return a.reshape(-1)


def _blend_opencv(fg, bg, alpha, out):
    a3 = cv2.cvtColor(alpha, cv2.COLOR_GRAY2BGR)
    fg_term = cv2.multiply(fg, a3, scale=1.0 / 255.0)
    cv2.bitwise_not(a3, dst=a3)
    cv2.multiply(bg, a3, dst=a3, scale=1.0 / 255.0)
    cv2.add(fg_term, a3, dst=out)
    return out


_warm = False


def warm_up() -> None:
    """Compile (or load from the cache) every kernel now, in the caller's thread.

    The compositor calls this when it is built, so the worker's first frame does
    not stall for the compilation.
    """
    global _warm
    if _warm or numba is None:
        return
    tiny = np.zeros((2, 2, 3), np.uint8)
    blend(tiny, tiny, np.zeros((2, 2), np.uint8), tiny.copy())
    halve(tiny, np.empty((1, 1, 3), np.uint8))
    m = np.zeros((2, 2), np.float32)
    temporal_blend(m, m, m, m, 1.0, 0.5, m.copy())
    _warm = True
