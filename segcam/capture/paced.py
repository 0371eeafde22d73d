"""A wrapper that turns a file source into a live one, delivered in real time."""

from __future__ import annotations

import time

from segcam.capture.base import Source
from segcam.frame import Frame


class PacedSource:
    """Reads ``inner`` no faster than ``fps`` and presents it as a live source.

    Frames are due every ``1 / fps`` seconds. A frame that is late (slow decoding)
    is handed out at once and the schedule goes on from it, without a burst to
    catch up. ``t_capture`` is set when the frame is handed out (decoding is not
    the camera's latency). Reads happen on the pipeline's capture thread.
    """

    live = True

    def __init__(self, inner: Source, fps: float | None = None) -> None:
        self.inner = inner
        self.fps = float(fps or inner.fps)
        self.size = inner.size
        self.name = f"{inner.name} (paced at {self.fps:g} fps)"
        self.media_path = inner.media_path
        self.frame_count = inner.frame_count
        self._due: float | None = None

    def start(self) -> None:
        self.inner.start()
        self._due = time.monotonic()

    def read(self) -> Frame | None:
        frame = self.inner.read()
        if frame is None:
            return None
        now = time.monotonic()
        if self._due is None:
            self._due = now
        if self._due > now:
            time.sleep(self._due - now)
            now = time.monotonic()
        self._due = max(self._due + 1.0 / self.fps, now)
        frame.t_capture = now
        return frame

    def stop(self) -> None:
        self.inner.stop()
