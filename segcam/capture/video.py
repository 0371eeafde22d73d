"""Video files (and anything else FFmpeg can demux), decoded with PyAV."""

from __future__ import annotations

import logging
import math
import os
from fractions import Fraction

import av
import av.sidedata.sidedata
import numpy as np

from segcam.capture.orientation import display_orientation
from segcam.config import MIN_DIMENSION
from segcam.errors import InputError, midway, one_line
from segcam.frame import Frame
from segcam.imaging import cover_fit

log = logging.getLogger(__name__)


class VideoFileSource:
    """Frames of a video file, optionally looped, shown upright.

    ``pts`` is the file's own presentation time, continued across loops, so a
    recorder keeps the original timing (and audio stays in sync on the first pass).
    The stream's display matrix (a phone video stored sideways) is applied, so
    frames and ``size`` are what a player shows (:mod:`segcam.capture.orientation`).
    With ``resolution``, frames are cover-fitted to that size.
    """

    live = False

    def __init__(
        self, path: str, *, loop: bool = False, resolution: tuple[int, int] | None = None
    ) -> None:
        self.path = path
        self.name = path
        self.media_path = path
        self.loop = loop
        self._container = _open_container(path)
        try:
            stream = self._container.streams.video[0]
        except IndexError:
            self._container.close()
            raise InputError(f"{path} has no video stream") from None
        self._stream = stream
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate or Fraction(30)
        self.fps = float(rate) if math.isfinite(float(rate)) and float(rate) > 0 else 30.0
        ctx = stream.codec_context
        if ctx is None:  # a codec tag FFmpeg has no decoder for (or a damaged one)
            self._container.close()
            raise InputError(f"{path}: no decoder for its video codec (corrupt header?)")
        stored = (ctx.width or 0, ctx.height or 0)
        if min(stored) <= 0:
            self._container.close()
            raise InputError(f"{path}: cannot determine the video size (corrupt header?)")
        # The first frame is decoded now: it carries the display matrix (the size we
        # promise depends on it), and a file with no decodable frame fails here.
        self._iter = self._container.decode(self._stream)
        self._seq = 0
        try:
            self._pending: av.VideoFrame | None = self._next_frame()
        except InputError:
            self._container.close()
            raise
        if self._pending is None:
            self._container.close()
            raise InputError(f"{path} has no video frames")
        self._orientation = display_orientation(_display_matrix(self._pending))
        if self._orientation.apply is not None:
            log.info("%s: shown %s, as its display matrix asks", path, self._orientation.label)
        native = self._orientation.size((self._pending.width, self._pending.height))
        if resolution is None and min(native) < MIN_DIMENSION:
            self._container.close()
            w, h = native
            raise InputError(
                f"{path} is {w}x{h}: frames need at least {MIN_DIMENSION} pixels per side "
                "(give --resolution WxH to scale it up)"
            )
        self._resize = resolution if resolution and resolution != native else None
        self.size = self._resize or native
        count = stream.frames
        if not count and stream.duration and stream.time_base:
            count = round(float(stream.duration * stream.time_base) * self.fps)
        self.frame_count = None if loop else (count or None)
        self._loop_offset = 0.0
        self._last_pts = 0.0
        self._stopped = False

    def start(self) -> None:
        pass  # opened and primed in the constructor

    def _next_frame(self) -> av.VideoFrame | None:
        try:
            return next(self._iter)
        except StopIteration:
            return None
        except av.error.FFmpegError as e:
            err = InputError(f"corrupt video {self.path} at frame {self._seq}: {_av_message(e)}")
            raise (midway(err) if self._seq else err) from None

    def read(self) -> Frame | None:
        vf, self._pending = self._pending, None
        while vf is None:
            vf = self._next_frame()
            if vf is not None:
                break
            if not self.loop or self._seq == 0:
                return None
            self._loop_offset = self._last_pts + 1.0 / self.fps
            self._container.seek(0, stream=self._stream)
            self._iter = self._container.decode(self._stream)
        image = vf.to_ndarray(format="bgr24")
        if self._orientation.apply is not None:
            image = self._orientation.apply(image)
        if self._resize:
            image = cover_fit(image, self._resize)
        elif image.shape[1::-1] != self.size:
            # A stream whose frame size changes mid-way still gives the size promised.
            image = cover_fit(image, self.size)
        t = vf.time
        pts = (t if t is not None else self._seq / self.fps) + self._loop_offset
        self._last_pts = pts
        frame = Frame(self._seq, np.ascontiguousarray(image), pts)
        self._seq += 1
        return frame

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            self._container.close()


def _open_container(path: str) -> av.container.InputContainer:
    if "://" not in path and not os.path.exists(path):
        raise InputError(f"input not found: {path}")
    try:
        return av.open(path, mode="r")
    except av.error.FFmpegError as e:
        raise InputError(f"cannot open video {path}: {_av_message(e)}") from None
    except (OSError, ValueError) as e:
        raise InputError(f"cannot open video {path}: {one_line(e)}") from None


def _av_message(err: Exception) -> str:
    # FFmpegError's str() repeats the errno and path; its strerror is the useful part.
    msg = getattr(err, "strerror", None) or str(err)
    return str(msg).strip().splitlines()[0] if msg else type(err).__name__


def _display_matrix(vf: av.VideoFrame) -> bytes | None:
    """The frame's display-matrix side data (36 bytes), or None."""
    for sd in vf.side_data:
        if sd.type == av.sidedata.sidedata.Type.DISPLAYMATRIX:
            return bytes(sd)
    return None
