"""The preview sink the window attaches to its session.

:class:`PreviewSink` hands output frames to the GUI thread through a Qt signal.
``frame.output`` is a compositor buffer that the next frame overwrites, so the
sink copies it (one memcpy, ~0.2 ms at 720p) into a small pool of buffers it
owns and emits a new :class:`~segcam.frame.Frame` that carries the copy. At most
two frames are in flight to the GUI thread; when the GUI falls further behind,
newer frames are dropped here (and counted) instead of piling up in Qt's event
queue, so the preview's latency stays bounded. The GUI returns a frame's buffer
with :meth:`PreviewSink.release` once it no longer shows it.

Recording, streaming and the virtual camera are sinks of their own that the
session attaches and detaches while frames flow (:mod:`segcam.session`).
"""

from __future__ import annotations

import logging
import threading

import numpy as np
from PySide6.QtCore import QObject, Signal

from segcam.frame import Frame
from segcam.sinks.base import StreamInfo

log = logging.getLogger(__name__)

#: Frames emitted to the GUI thread and not yet taken by it, at most.
MAX_IN_FLIGHT = 2


class FrameBridge(QObject):
    """Lives in the GUI thread; ``frame_ready`` carries ``(sink, frame)`` to it (queued)."""

    frame_ready = Signal(object)


class PreviewSink:
    """A :class:`~segcam.sinks.base.Sink` that shows frames in the window (see module docs).

    ``submit`` runs on the pipeline's worker thread; ``taken`` and ``release`` on
    the GUI thread.
    """

    def __init__(self, bridge: FrameBridge) -> None:
        self.bridge = bridge
        self.error: BaseException | None = None
        self.dropped = 0
        self.emitted = 0
        self._lock = threading.Lock()
        self._free: list[np.ndarray] = []
        self._in_flight = 0
        self._stopped = False

    def start(self, info: StreamInfo) -> None:
        self._stopped = False

    def submit(self, frame: Frame) -> None:
        out = frame.output
        if out is None or self._stopped:
            return
        with self._lock:
            if self._in_flight >= MAX_IN_FLIGHT:
                self.dropped += 1
                return
            buf = None
            while self._free:
                candidate = self._free.pop()
                if candidate.shape == out.shape:
                    buf = candidate
                    break
            self._in_flight += 1
        if buf is None:
            buf = np.empty_like(out)
        np.copyto(buf, out)
        shown = Frame(
            frame.seq,
            frame.image,
            frame.pts,
            t_capture=frame.t_capture,
            mask_seq=frame.mask_seq,
            output=buf,
            timings=dict(frame.timings),
            stamps=dict(frame.stamps),
        )
        shown.stamp("preview")
        self.emitted += 1
        self.bridge.frame_ready.emit((self, shown))

    def taken(self) -> None:
        """The GUI thread has received one emitted frame."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)

    def release(self, frame: Frame) -> None:
        """The GUI no longer shows ``frame``: its buffer may be reused."""
        if frame.output is None:
            return
        with self._lock:
            if len(self._free) < MAX_IN_FLIGHT + 1:
                self._free.append(frame.output)

    def stop(self) -> None:
        self._stopped = True
