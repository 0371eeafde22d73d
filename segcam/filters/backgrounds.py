"""Background providers: what the person is composited onto.

A provider is built once from a :class:`~segcam.config.BackgroundSpec` and asked
for a background per frame with :meth:`Background.render`. Static backgrounds
(image, colour) are prepared once per frame size and then returned as is, so
they cost nothing per frame. The blur background (halo-free: the person is masked
out of the blur) works at reduced resolution; a video background decodes one clip
frame per output frame and loops.

Threading: a provider belongs to the compositing worker thread. The returned
array is owned by the provider and is only valid until the next ``render``.
"""

from __future__ import annotations

import logging
import os
from typing import Protocol

import av
import cv2
import numpy as np

from segcam.config import MAX_DIMENSION, BackgroundSpec
from segcam.errors import InputError, one_line
from segcam.imaging import cover_fit, load_image
from segcam.kernels import stretch_rows
from segcam.scratch import Pyramid, Scratch, shrink_area

log = logging.getLogger(__name__)


class Background(Protocol):
    def render(
        self, frame: np.ndarray, alpha: np.ndarray, pyramid: Pyramid | None = None
    ) -> np.ndarray:
        """Return a BGR uint8 background of the same size as ``frame``.

        ``pyramid``, when given, is bound to ``frame``: reductions of the frame
        come from it rather than from a fresh downscale.
        """
        ...


class RowStretchable(Protocol):
    """A background that is smooth along the height (a blur) may offer it short.

    :meth:`render_rows` returns the background at the frame's width but fewer
    rows; stretching its rows linearly to the frame's height
    (:func:`segcam.kernels.stretch_rows`) gives exactly what :meth:`render`
    returns. The compositor blends over the short form directly
    (:func:`segcam.kernels.blend_stretched`) when nothing else needs the
    full-size background, which saves writing and re-reading a full frame.
    """

    def render_rows(
        self, frame: np.ndarray, alpha: np.ndarray, pyramid: Pyramid | None = None
    ) -> np.ndarray: ...


class ImageBackground:
    """A still image, cover-fitted to the frame once per frame size."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._image = load_image(path, "background image")
        h, w = self._image.shape[:2]
        if min(w, h) < 16:
            raise InputError(f"background image {path} is too small ({w}x{h}); use at least 16x16")
        if max(w, h) > 2 * MAX_DIMENSION:
            raise InputError(
                f"background image {path} is too large ({w}x{h}); use at most "
                f"{2 * MAX_DIMENSION} pixels per side"
            )
        self._fitted: np.ndarray | None = None

    def render(
        self, frame: np.ndarray, alpha: np.ndarray, pyramid: Pyramid | None = None
    ) -> np.ndarray:
        h, w = frame.shape[:2]
        if self._fitted is None or self._fitted.shape[:2] != (h, w):
            self._fitted = cover_fit(self._image, (w, h))
        return self._fitted


class ColourBackground:
    """A solid colour."""

    def __init__(self, bgr: tuple[int, int, int]) -> None:
        self.bgr = bgr
        self._canvas: np.ndarray | None = None

    def render(
        self, frame: np.ndarray, alpha: np.ndarray, pyramid: Pyramid | None = None
    ) -> np.ndarray:
        if self._canvas is None or self._canvas.shape != frame.shape:
            self._canvas = np.empty_like(frame)
            self._canvas[...] = self.bgr
        return self._canvas


class BlurBackground:
    """The frame itself, blurred without the person: no halo around them.

    A plain blur of the frame smears the person's colours into a glow around their
    silhouette (the "halo" of naive virtual-background tools). Here the person is
    masked out and the blur renormalised::

        background = blur(frame · w) / blur(w),   w = 1 − alpha

    so every background pixel is an average of *background* pixels only. ``w`` is
    computed from the alpha dilated by one low-resolution pixel, so edge pixels
    that mix person and background colours carry no weight either. A tiny constant
    (``_EPS``) is added to ``w`` so the ratio stays defined deep inside a large
    person, where no background pixel is within reach; there the result falls back
    to a plain blur, which the person covers anyway.

    ``strength`` is the blur sigma in pixels of a 720-line frame; it scales with the
    frame height so the look does not change with the resolution. Everything runs at
    1/f of the frame size (f = sigma/1.5, from 1 to 8) with sigma/f, in float32: the
    result has no detail above the blur's cut-off, so this looks the same as a
    full-size blur and costs about 1/f² as much. Full-resolution work is one
    downscale of the frame and alpha and one bilinear upscale of the result, done
    as a width stretch on the few small rows and a row stretch (see
    :class:`RowStretchable`), which the compositor can fold into its blend.
    """

    _EPS = 1e-3

    def __init__(self, strength: float) -> None:
        self.strength = strength
        self._scratch = Scratch()
        self._shape: tuple[int, ...] | None = None
        self._factor = 1
        self._kernel = np.ones((3, 3), np.uint8)

    def _prepare(self, shape: tuple[int, ...]) -> None:
        h, w = shape[:2]
        sigma = self.strength * h / 720.0
        self._factor = int(max(1, min(8, round(sigma / 1.5))))
        self._small_size = (max(1, w // self._factor), max(1, h // self._factor))
        self._sigma_small = max(0.5, sigma / self._factor)
        self._shape = shape

    def render(
        self, frame: np.ndarray, alpha: np.ndarray, pyramid: Pyramid | None = None
    ) -> np.ndarray:
        rows = self.render_rows(frame, alpha, pyramid)
        return stretch_rows(rows, self._scratch("out", frame.shape))

    def render_rows(
        self, frame: np.ndarray, alpha: np.ndarray, pyramid: Pyramid | None = None
    ) -> np.ndarray:
        """The background at the frame's width and 1/f of its height (a buffer the
        provider owns, valid until the next call)."""
        if self._shape != frame.shape:
            self._prepare(frame.shape)
        w = frame.shape[1]
        sw, sh = self._small_size
        buf = self._scratch
        if pyramid is None:
            pyramid = Pyramid(buf, "frame").bind(frame)
        small = pyramid.shrink((sw, sh))
        a_small = shrink_area(alpha, (sw, sh), buf, "alpha")
        a_dil = buf("a_dil", (sh, sw))
        cv2.dilate(a_small, self._kernel, dst=a_dil)
        # w = (255 − a) / 255 + eps, in float32 (as is everything below).
        wgt = buf("w", (sh, sw), np.float32)
        cv2.bitwise_not(a_dil, dst=a_dil)
        np.multiply(a_dil, 1.0 / 255.0, out=wgt, dtype=np.float32)
        wgt += self._EPS
        num = buf("num", (sh, sw, 3), np.float32)
        np.multiply(small, wgt[:, :, None], out=num, dtype=np.float32)
        sig = self._sigma_small
        cv2.GaussianBlur(num, (0, 0), sig, dst=num)
        den = buf("den", (sh, sw), np.float32)
        cv2.GaussianBlur(wgt, (0, 0), sig, dst=den)
        np.divide(num, den[:, :, None], out=num)
        res = buf("res", (sh, sw, 3))
        cv2.convertScaleAbs(num, dst=res)  # rounds and saturates to uint8
        wide = buf("wide", (sh, w, 3))
        return cv2.resize(res, (w, sh), dst=wide, interpolation=cv2.INTER_LINEAR)


class VideoBackground:
    """A video clip, looped, cover-fitted to the frame size: ``--background clip.mp4``.

    Frames are decoded with PyAV on demand, one clip frame per :meth:`render` call
    (so the clip plays at the output frame rate), and the clip restarts from the
    beginning when it ends. FFmpeg's swscale scales and converts each frame to BGR
    in one pass; the centre crop is then copied into a buffer the provider owns.

    The first frame is decoded when the provider is built, so a file that is not a
    video, has no video stream or cannot be decoded fails at once with one
    :class:`~segcam.errors.InputError` line, before anything streams. A decoding
    error later in the clip (a damaged tail) is logged once and the clip restarts.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        if not os.path.isfile(path):
            raise InputError(f"background video not found: {path}")
        try:
            self._container = av.open(path, mode="r")
        except (av.error.FFmpegError, OSError, ValueError) as e:
            raise InputError(f"cannot open background video {path}: {_av_message(e)}") from None
        if not self._container.streams.video:
            self._container.close()
            raise InputError(f"background {path} has no video stream")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        self._iter = self._container.decode(self._stream)
        self._decoded = 0  # frames decoded in the current pass through the clip
        self._warned = False
        self._out: np.ndarray | None = None
        try:
            self._pending: av.VideoFrame | None = self._next()
        except InputError:
            self.close()
            raise
        w, h = self._pending.width, self._pending.height
        if min(w, h) < 16:
            self.close()
            raise InputError(f"background video {path} is too small ({w}x{h}); use at least 16x16")

    def _next(self) -> av.VideoFrame:
        """The next frame of the clip, restarting it at the end."""
        for _attempt in range(2):
            try:
                vf = next(self._iter)
                self._decoded += 1
                return vf
            except StopIteration:
                pass
            except av.error.FFmpegError as e:
                if self._decoded == 0:
                    raise InputError(
                        f"cannot decode background video {self.path}: {_av_message(e)}"
                    ) from None
                if not self._warned:
                    log.warning(
                        "background video %s: decoding failed after %d frames (%s); looping",
                        self.path,
                        self._decoded,
                        _av_message(e),
                    )
                    self._warned = True
            if self._decoded == 0:
                break
            self._restart()
        raise InputError(f"cannot decode background video {self.path}: it has no video frames")

    def _restart(self) -> None:
        self._decoded = 0
        try:
            self._container.seek(0, stream=self._stream)
        except av.error.FFmpegError:
            # Some formats cannot seek: reopen the file instead.
            self._container.close()
            self._container = av.open(self.path, mode="r")
            self._stream = self._container.streams.video[0]
            self._stream.thread_type = "AUTO"
        self._iter = self._container.decode(self._stream)

    def render(
        self, frame: np.ndarray, alpha: np.ndarray, pyramid: Pyramid | None = None
    ) -> np.ndarray:
        h, w = frame.shape[:2]
        vf = self._pending if self._pending is not None else self._next()
        self._pending = None
        if self._out is None or self._out.shape != (h, w, 3):
            self._out = np.empty((h, w, 3), np.uint8)
        sw, sh, x0, y0 = _cover_geometry((vf.width, vf.height), (w, h))
        if sw * sh > 4 * w * h:
            # A clip of extreme shape (16x4000) scaled whole would be huge before the
            # crop; cover_fit crops first and scales only what shows.
            np.copyto(self._out, cover_fit(vf.to_ndarray(format="bgr24"), (w, h)))
            return self._out
        image = vf.to_ndarray(
            format="bgr24", width=sw, height=sh, interpolation="AREA" if sw < vf.width else None
        )
        np.copyto(self._out, image[y0 : y0 + h, x0 : x0 + w])
        return self._out

    def close(self) -> None:
        self._container.close()


def _cover_geometry(src: tuple[int, int], dst: tuple[int, int]) -> tuple[int, int, int, int]:
    """Scaled size and crop origin that cover ``dst`` with ``src`` (as :func:`cover_fit`)."""
    iw, ih = src
    w, h = dst
    scale = max(w / iw, h / ih)
    sw, sh = max(w, round(iw * scale)), max(h, round(ih * scale))
    return sw, sh, (sw - w) // 2, (sh - h) // 2


def _av_message(err: BaseException) -> str:
    # FFmpegError's str() repeats the errno and path; its strerror is the useful part.
    msg = getattr(err, "strerror", None) or one_line(err)
    return str(msg).strip().splitlines()[0] if msg else type(err).__name__


def make_background(spec: BackgroundSpec) -> Background | None:
    """Build the provider for ``spec``; None for ``none`` and ``mask``, which need no background."""
    if spec.kind == "image":
        assert spec.path is not None
        return ImageBackground(spec.path)
    if spec.kind == "colour":
        return ColourBackground(spec.colour)
    if spec.kind == "blur":
        return BlurBackground(spec.blur)
    if spec.kind == "video":
        assert spec.path is not None
        return VideoBackground(spec.path)
    return None
