"""Video files (and anything else FFmpeg can demux), decoded with PyAV."""

from __future__ import annotations

import logging
import os
from fractions import Fraction

import av
import numpy as np

from segcam.errors import InputError, one_line
from segcam.frame import Frame
from segcam.imaging import cover_fit

log = logging.getLogger(__name__)


class VideoFileSource:
    """Frames of a video file, optionally looped.

    ``pts`` is the file's own presentation time, continued across loops, so a
    recorder keeps the original timing (and audio stays in sync on the first pass).
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
        self.fps = float(rate)
        native = (stream.codec_context.width, stream.codec_context.height)
        if min(native) <= 0:
            self._container.close()
            raise InputError(f"{path}: cannot determine the video size (corrupt header?)")
        self._resize = resolution if resolution and resolution != native else None
        self.size = self._resize or native
        count = stream.frames
        if not count and stream.duration and stream.time_base:
            count = round(float(stream.duration * stream.time_base) * self.fps)
        self.frame_count = None if loop else (count or None)
        self._iter = None
        self._seq = 0
        self._loop_offset = 0.0
        self._last_pts = 0.0
        self._stopped = False

    def start(self) -> None:
        self._iter = self._container.decode(self._stream)

    def read(self) -> Frame | None:
        if self._iter is None:
            self.start()
        while True:
            try:
                vf = next(self._iter)
            except StopIteration:
                if not self.loop or self._seq == 0:
                    return None
                self._loop_offset = self._last_pts + 1.0 / self.fps
                self._container.seek(0, stream=self._stream)
                self._iter = self._container.decode(self._stream)
                continue
            except av.error.FFmpegError as e:
                raise InputError(
                    f"corrupt video {self.path} at frame {self._seq}: {_av_message(e)}"
                ) from None
            break
        image = vf.to_ndarray(format="bgr24")
        if self._resize:
            image = cover_fit(image, self._resize)
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
