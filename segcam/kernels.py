"""Fused per-pixel kernels for the hot path (numba, one pass over memory).

OpenCV has no single call for ``out = (fg·a + bg·(255 − a)) / 255`` with a
per-pixel uint8 ``a``: written with its primitives it takes five full-frame
passes (expand alpha, invert, two scaled multiplies, add), and
``cv2.blendLinear`` converts to float. The kernel here reads each input once and
writes the output once, in 16-bit integer lanes that LLVM vectorises, which puts
a 720p blend at under three frame copies instead of about ten.

The other kernels fuse or specialise what OpenCV does in several generic passes:
an exact 2x2 halving of BGR frames (:func:`halve`), an exact-2x bilinear upsample
of alpha (:func:`upsample`), the guided filter's last step (:func:`linear_apply`),
the temporal filter's per-pixel update (:func:`temporal_blend`), the focal
blur's mix-and-blend (:func:`blend_focal`) and the clean plate's learning step
(:func:`plate_learn`).

Rounding is exact: ``v = fg·a + bg·(255 − a) + 128`` fits in 16 bits, and
``(v + (v >> 8)) >> 8`` equals ``round(v' / 255)`` for every ``v' = v − 128`` in
``[0, 255²]``, so the result is the correctly rounded float blend (a test checks
all 2²⁴ input triples).

Kernels are compiled once per machine and cached on disk, in the user cache
folder (``~/.cache/segcam/numba`` on Linux; :mod:`segcam.jit_cache`), never beside
this module: a cache written into an installed package outlives ``pip uninstall``
and can shadow a later editable install. The first run of a new install compiles
them in :func:`warm_up` and says so once. Without numba (an unusual install)
:func:`blend` falls back to the five-pass OpenCV version, which is within one grey
level.

Threading: the kernels release the GIL and run on the calling thread only.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import cv2
import numpy as np

from segcam import jit_cache
from segcam.probability import PROBABILITY_FLOOR, floor_probabilities

log = logging.getLogger(__name__)

try:
    import numba
except ImportError:  # pragma: no cover - numba is a dependency; a broken install
    numba = None

# Where the compiled kernels are cached (None: nowhere writable, compile each run).
_CACHE = jit_cache.cache_folder() if numba is not None else None
_kernel = functools.partial(jit_cache.njit, _CACHE, nogil=True, boundscheck=False)


if numba is not None:
    # Row helpers are separate, never-inlined functions on purpose: LLVM vectorises
    # a flat loop over one row reliably, but not the same loop nested in the frame
    # loop (measured: 0.23 vs 0.89 ms for a 720p row mix).

    @_kernel(inline="never")
    def _spread3(ar, a3):  # pragma: no cover - compiled
        # one alpha per pixel -> the same value for each of the pixel's three bytes
        for x in range(ar.shape[0]):
            v = ar[x]
            a3[3 * x] = v
            a3[3 * x + 1] = v
            a3[3 * x + 2] = v

    @_kernel(inline="never")
    def _blend_row(f, b, a3, o):  # pragma: no cover - compiled
        for k in range(o.shape[0]):
            av = np.uint16(a3[k])
            v = np.uint16(f[k]) * av + np.uint16(b[k]) * (np.uint16(255) - av) + np.uint16(128)
            o[k] = np.uint8((v + (v >> np.uint16(8))) >> np.uint16(8))

    @_kernel(inline="never")
    def _mix_row(r0, r1, w0, w1, d):  # pragma: no cover - compiled
        # d = round((r0·w0 + r1·w1) / 256), with w0 + w1 = 256 (uint16 weights)
        for k in range(d.shape[0]):
            v = np.uint16(r0[k]) * w0 + np.uint16(r1[k]) * w1 + np.uint16(128)
            d[k] = np.uint8(v >> np.uint16(8))

    @_kernel()
    def _blend3(fg, bg, a, out):  # pragma: no cover - compiled
        # Row by row: spread the row's alpha over its three channels first, so the
        # blend itself is one flat loop over contiguous bytes, which LLVM turns into
        # wide 16-bit vector code (the interleaved form does not vectorise).
        h, w = a.shape
        a3 = np.empty(3 * w, np.uint8)
        for y in range(h):
            _spread3(a[y], a3)
            _blend_row(fg[y], bg[y], a3, out[y])

    @_kernel()
    def _stretch_rows(src, dst, upper, lower, w_upper, w_lower):  # pragma: no cover
        for y in range(dst.shape[0]):
            _mix_row(src[upper[y]], src[lower[y]], w_upper[y], w_lower[y], dst[y])

    @_kernel()
    def _blend3_stretched(fg, bg, a, out, upper, lower, w_upper, w_lower):  # pragma: no cover
        # _blend3 with each background row mixed from two rows of the short ``bg``
        # on the fly, so the full-size background is never written or read back.
        h, w = a.shape
        a3 = np.empty(3 * w, np.uint8)
        b = np.empty(3 * w, np.uint8)
        for y in range(h):
            _mix_row(bg[upper[y]], bg[lower[y]], w_upper[y], w_lower[y], b)
            _spread3(a[y], a3)
            _blend_row(fg[y], b, a3, out[y])

    @_kernel()
    def _blend3_focal(fg, bg, a, far, t, out, upper, lower, w_upper, w_lower):  # pragma: no cover
        # The focal blur's blend: the background row is first mixed toward the far
        # (more blurred) level by the amount ``t``, both stretched from short rows on
        # the fly, then the person goes on top; no full-size intermediate is written.
        # ``t`` comes spread over the three channels already (done once on the short
        # rows), so both stretches are the same flat, vectorised row mix.
        h, w = a.shape
        a3 = np.empty(3 * w, np.uint8)
        t3 = np.empty(3 * w, np.uint8)
        f = np.empty(3 * w, np.uint8)
        b = np.empty(3 * w, np.uint8)
        for y in range(h):
            _mix_row(far[upper[y]], far[lower[y]], w_upper[y], w_lower[y], f)
            _mix_row(t[upper[y]], t[lower[y]], w_upper[y], w_lower[y], t3)
            _blend_row(f, bg[y], t3, b)
            _spread3(a[y], a3)
            _blend_row(fg[y], b, a3, out[y])

    @_kernel()
    def _upsample2(src, dst):  # pragma: no cover - compiled
        # Centre-aligned bilinear at exactly twice the size has fixed weights:
        # output 2i is (src[i-1] + 3·src[i]) / 4 and 2i+1 is (3·src[i] + src[i+1]) / 4
        # along each axis (edges clamped). Vertical first, in 4x fixed point.
        h, w = src.shape
        row = np.empty(w + 2, np.uint16)
        for y in range(2 * h):
            i = y // 2
            j = max(i - 1, 0) if y % 2 == 0 else min(i + 1, h - 1)
            s0 = src[i]
            s1 = src[j]
            for x in range(w):
                row[x + 1] = np.uint16(3) * np.uint16(s0[x]) + np.uint16(s1[x])
            row[0] = row[1]
            row[w + 1] = row[w]
            d = dst[y]
            for x in range(w):
                c = np.uint16(3) * row[x + 1] + np.uint16(8)
                d[2 * x] = np.uint8((c + row[x]) >> np.uint16(4))
                d[2 * x + 1] = np.uint8((c + row[x + 2]) >> np.uint16(4))

    @_kernel()
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

    @_kernel()
    def _mean_change(gray, prev_gray):  # pragma: no cover - compiled
        total = 0.0
        for i in range(gray.shape[0]):
            total += gray[i] - prev_gray[i]
        return total / gray.shape[0]

    # Values that decay under PROBABILITY_FLOOR are set to 0 (floor_probabilities):
    # subnormals made this step 0.17 ms instead of 0.03 per frame at model size.
    @_kernel(inline="never")
    def _temporal_update(mask, prev, gray, prev_gray, shift, inv, lo, out):  # pragma: no cover
        for i in range(mask.shape[0]):
            d = prev[i]
            w = max(abs(gray[i] - prev_gray[i] - shift) * inv, lo)
            w = max(w, (abs(mask[i] - d) - np.float32(0.3)) * np.float32(2.5))
            v = d + (mask[i] - d) * min(w, np.float32(1.0))
            out[i] = v if v >= np.float32(PROBABILITY_FLOOR) else np.float32(0.0)

    @_kernel()
    def _temporal(mask, prev, gray, prev_gray, inv_motion, w_still, out):  # pragma: no cover
        shift = np.float32(_mean_change(gray, prev_gray))
        _temporal_update(
            mask, prev, gray, prev_gray, shift, np.float32(inv_motion), np.float32(w_still), out
        )

    @_kernel()
    def _plate_learn(image, plate, known, wgt):  # pragma: no cover - compiled
        # known += w·(1 − known); plate += (w / known)·(image − plate): one pass
        # instead of six numpy passes and two temporaries (the clean plate's update).
        for i in range(known.shape[0]):
            w = wgt[i]
            if w <= np.float32(0.0):
                continue
            k = known[i] + w * (np.float32(1.0) - known[i])
            known[i] = k
            r = w / k
            j = 3 * i
            for c in range(3):
                plate[j + c] += r * (image[j + c] - plate[j + c])

    @_kernel()
    def _linear_apply2(a, b, gray, out):  # pragma: no cover - compiled
        # out = sat(A·gray + B) with A, B the exact-2x bilinear upsample of a, b
        # (weights 3/4 and 1/4, edges clamped), without materialising A and B.
        h, w = a.shape
        ra = np.empty(w + 2, np.float32)
        rb = np.empty(w + 2, np.float32)
        q, t = np.float32(0.25), np.float32(0.75)
        for y in range(2 * h):
            i = y // 2
            j = max(i - 1, 0) if y % 2 == 0 else min(i + 1, h - 1)
            for x in range(w):
                ra[x + 1] = t * a[i, x] + q * a[j, x]
                rb[x + 1] = t * b[i, x] + q * b[j, x]
            ra[0], ra[w + 1] = ra[1], ra[w]
            rb[0], rb[w + 1] = rb[1], rb[w]
            g = gray[y]
            o = out[y]
            for x in range(w):
                for k in range(2):
                    n = x + 2 * k  # left neighbour for the even output, right for the odd
                    av = t * ra[x + 1] + q * ra[n]
                    bv = t * rb[x + 1] + q * rb[n]
                    v = av * np.float32(g[2 * x + k]) + bv
                    v = min(max(v, np.float32(0.0)), np.float32(255.0))
                    o[2 * x + k] = np.uint8(np.rint(v))


def has_fast_kernels() -> bool:
    return numba is not None


def blend(fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = round(fg·a/255 + bg·(255−a)/255)``, all uint8, in one pass; returns ``out``.

    ``fg``, ``bg`` and ``out`` are C-contiguous ``(H, W, 3)``; ``alpha`` is ``(H, W)``.
    ``out`` may be ``fg`` or ``bg`` (each pixel is read before it is written).
    """
    if numba is None:
        return _blend_opencv(fg, bg, alpha, out)
    h = alpha.shape[0]
    _blend3(_rows(fg, h), _rows(bg, h), _rows(alpha, h), _rows(out, h))
    return out


def stretch_rows(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Centre-aligned linear interpolation of uint8 ``src`` (h, ...) along its first
    axis to ``dst`` (H, ...), H ≥ h, the other axes equal; returns ``dst``.

    With a width-stretched image as ``src``, this is the second half of a bilinear
    enlargement: each output row is a fixed mix of two source rows (weights in
    1/256), within one grey level of the float bilinear.
    """
    if numba is None:
        return _stretch_rows_opencv(src, dst)
    row_map = _row_map(src.shape[0], dst.shape[0])
    _stretch_rows(_rows(src, src.shape[0]), _rows(dst, dst.shape[0]), *row_map)
    return dst


def blend_stretched(
    fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray, out: np.ndarray
) -> np.ndarray:
    """:func:`blend` over ``stretch_rows(bg)``, without materialising it; returns ``out``.

    ``bg`` is ``(h, W, 3)`` with ``h`` ≤ the frame's height and the frame's width
    (a background that is smooth along the height, like a blur). The result is
    bit-identical to ``blend(fg, stretch_rows(bg, full), alpha, out)``, in about
    the time of the blend alone. ``out`` may be ``fg``.
    """
    h = alpha.shape[0]
    if numba is None:
        full = _stretch_rows_opencv(bg, np.empty((h, *bg.shape[1:]), np.uint8))
        return _blend_opencv(fg, full, alpha, out)
    row_map = _row_map(bg.shape[0], h)
    _blend3_stretched(
        _rows(fg, h), _rows(bg, bg.shape[0]), _rows(alpha, h), _rows(out, h), *row_map
    )
    return out


def blend_focal(
    fg: np.ndarray,
    bg: np.ndarray,
    alpha: np.ndarray,
    far: np.ndarray,
    amount: np.ndarray,
    out: np.ndarray,
) -> np.ndarray:
    """The focal blur's blend, in one pass; returns ``out``.

    ``out = blend(fg, blend(stretch_rows(far), bg, stretch_rows(amount)), alpha)``:
    the background ``bg`` (full size) is mixed toward ``far`` by ``amount``
    (255 = all ``far``, per channel), then the person ``fg`` is blended on top by
    ``alpha``. ``far`` and ``amount`` are ``(h, W, 3)`` uint8 at the frame's width
    and ``h`` ≤ the frame's height rows (both smooth along the height), stretched
    on the fly as in :func:`blend_stretched`. Bit-identical to the three-step
    version; ``out`` may be ``fg`` or ``bg``.
    """
    h = alpha.shape[0]
    if numba is None:
        shape = (h, *far.shape[1:])
        far_full = _stretch_rows_opencv(far, np.empty(shape, np.uint8))
        t_full = _stretch_rows_opencv(amount, np.empty(shape, np.uint8))
        mixed = cv2.add(
            cv2.multiply(far_full, t_full, scale=1.0 / 255.0),
            cv2.multiply(bg, cv2.bitwise_not(t_full), scale=1.0 / 255.0),
        )
        return _blend_opencv(fg, mixed, alpha, out)
    if far.shape != amount.shape:
        raise ValueError("far and amount must have the same shape")
    row_map = _row_map(far.shape[0], h)
    n = far.shape[0]
    _blend3_focal(
        _rows(fg, h),
        _rows(bg, h),
        _rows(alpha, h),
        _rows(far, n),
        _rows(amount, n),
        _rows(out, h),
        *row_map,
    )
    return out


_ROW_MAPS: dict[tuple[int, int], tuple[np.ndarray, ...]] = {}


def _row_map(n_src: int, n_dst: int) -> tuple[np.ndarray, ...]:
    """Centre-aligned linear interpolation from ``n_src`` rows to ``n_dst``: for each
    output row, the two source rows mixed and their weights in 1/256 (uint16,
    summing to 256), edges clamped; cached per size pair."""
    key = (n_src, n_dst)
    found = _ROW_MAPS.get(key)
    if found is not None:
        return found
    if not 1 <= n_src <= n_dst:
        raise ValueError(f"cannot stretch {n_src} rows to {n_dst}")
    pos = np.clip((np.arange(n_dst) + 0.5) * (n_src / n_dst) - 0.5, 0.0, n_src - 1.0)
    upper = np.floor(pos).astype(np.int64)
    lower = np.minimum(upper + 1, n_src - 1)
    w_lower = np.rint((pos - upper) * 256.0).astype(np.uint16)
    w_upper = (256 - w_lower).astype(np.uint16)
    found = _ROW_MAPS[key] = (upper, lower, w_upper, w_lower)
    return found


def _stretch_rows_opencv(src, dst):
    flat = src.reshape(src.shape[0], -1)
    cv2.resize(
        flat,
        (flat.shape[1], dst.shape[0]),
        dst=dst.reshape(dst.shape[0], -1),
        interpolation=cv2.INTER_LINEAR,
    )
    return dst


def upsample(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Centre-aligned bilinear upsample of uint8 ``src`` (H, W) into ``dst``; returns ``dst``.

    At exactly twice the size, a fixed-weight kernel (about 2/3 of OpenCV's
    time at 720p); otherwise ``cv2.resize``. Both are within one grey level of
    the float bilinear.
    """
    h, w = src.shape
    contiguous = src.flags.c_contiguous and dst.flags.c_contiguous
    if numba is not None and dst.shape == (2 * h, 2 * w) and contiguous:
        _upsample2(src, dst)
        return dst
    cv2.resize(src, dst.shape[::-1], dst=dst, interpolation=cv2.INTER_LINEAR)
    return dst


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


def linear_apply(
    a: np.ndarray,
    b: np.ndarray,
    gray: np.ndarray,
    out: np.ndarray,
    work: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """``out = saturate(round(A·gray + B))``, where ``A, B`` are ``a, b`` (float32)
    upsampled bilinearly to ``gray``'s size (uint8); returns ``out`` (uint8).

    The last step of the guided filter. When ``gray`` is exactly twice the size
    of ``a``, one fused pass; otherwise two resizes into ``work`` (two float32
    arrays of ``gray``'s shape, allocated when not given), a multiply and an add.
    """
    h, w = a.shape
    shapes_fit = gray.shape == (2 * h, 2 * w) and out.shape == gray.shape
    arrays = (a, b, gray, out)
    if numba is not None and shapes_fit and all(x.flags.c_contiguous for x in arrays):
        _linear_apply2(a, b, gray, out)
        return out
    if work is None:
        work = (np.empty(gray.shape, np.float32), np.empty(gray.shape, np.float32))
    big_a, big_b = work
    size = gray.shape[::-1]
    cv2.resize(a, size, dst=big_a, interpolation=cv2.INTER_LINEAR)
    cv2.resize(b, size, dst=big_b, interpolation=cv2.INTER_LINEAR)
    cv2.multiply(gray, big_a, dst=big_a, dtype=cv2.CV_32F)
    cv2.add(big_a, big_b, dst=out, dtype=cv2.CV_8U)
    return out


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
    ``w = clamp(max(|Δgray − mean Δgray| / motion, w_still, 2.5·(|mask − prev| − 0.3)), ≤ 1)``;
    values under :data:`PROBABILITY_FLOOR` are set to 0 (no float32 subnormals).
    One pass for the mean and one for the rest, instead of a dozen array operations.
    """
    if numba is None:
        return _temporal_numpy(mask, prev, gray, prev_gray, motion, w_still, out)
    _temporal(
        _flat(mask), _flat(prev), _flat(gray), _flat(prev_gray), 1.0 / motion, w_still, _flat(out)
    )
    return out


def plate_learn(image: np.ndarray, plate: np.ndarray, known: np.ndarray, wgt: np.ndarray) -> None:
    """The clean plate's per-pixel learning step, in place (float32, C-contiguous):
    ``known += wgt·(1 − known)``, then ``plate += (wgt / known)·(image − plate)``, so
    the plate is the weighted mean of the frames learned (a pixel's first one is
    copied whole). ``image`` and ``plate`` are (h, w, 3); ``known`` and ``wgt`` (h, w).
    """
    if numba is None:
        _plate_learn_numpy(image, plate, known, wgt)
        return
    _plate_learn(_flat(image), _flat(plate), _flat(known), _flat(wgt))


def _plate_learn_numpy(image, plate, known, wgt):
    kd = np.subtract(1.0, known, dtype=np.float32)
    kd *= wgt
    known += kd
    r = np.divide(wgt, known, out=np.zeros_like(wgt), where=wgt > 0)
    plate += r[:, :, None] * (image - plate)


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
    return floor_probabilities(out)


def _flat(a: np.ndarray) -> np.ndarray:
    if not a.flags.c_contiguous:
        raise ValueError("the fused kernels need C-contiguous arrays")
    return a.reshape(-1)


def _rows(a: np.ndarray, h: int) -> np.ndarray:
    """``a`` as ``h`` rows of samples (a view), for the row-wise kernels."""
    if not a.flags.c_contiguous:
        raise ValueError("the fused kernels need C-contiguous arrays")
    return a.reshape(h, -1)


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
    source = Path(__file__)
    first_time = not jit_cache.is_compiled(_CACHE, source)
    if first_time:
        # A one-off pause of seconds must not look like a hang.
        log.warning("preparing fast kernels, once, a few seconds")
    tiny = np.zeros((2, 2, 3), np.uint8)
    blend(tiny, tiny, np.zeros((2, 2), np.uint8), tiny.copy())
    halve(tiny, np.empty((1, 1, 3), np.uint8))
    upsample(tiny[:, :, 0].copy(), np.empty((4, 4), np.uint8))
    stretch_rows(tiny, np.empty((3, 2, 3), np.uint8))
    blend_stretched(tiny, tiny, np.zeros((3, 2), np.uint8), np.empty((3, 2, 3), np.uint8))
    blend_focal(tiny, tiny, np.zeros((3, 2), np.uint8), tiny, tiny, np.empty((3, 2, 3), np.uint8))
    f = np.zeros((2, 2), np.float32)
    linear_apply(f, f, np.zeros((4, 4), np.uint8), np.empty((4, 4), np.uint8))
    m = np.zeros((2, 2), np.float32)
    temporal_blend(m, m, m, m, 1.0, 0.5, m.copy())
    plate_learn(np.zeros((2, 2, 3), np.float32), np.zeros((2, 2, 3), np.float32), m.copy(), m)
    if first_time:
        jit_cache.mark_compiled(_CACHE, source)
    _warm = True
