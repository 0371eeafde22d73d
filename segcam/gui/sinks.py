"""The two sinks the window puts in every pipeline.

:class:`PreviewSink` hands output frames to the GUI thread through a Qt signal.
``frame.output`` is a compositor buffer that the next frame overwrites, so the
sink copies it (one memcpy, ~0.2 ms at 720p) into a small pool of buffers it
owns and emits a new :class:`~segcam.frame.Frame` that carries the copy. At most
two frames are in flight to the GUI thread; when the GUI falls further behind,
newer frames are dropped here (and counted) instead of piling up in Qt's event
queue, so the preview's latency stays bounded. The GUI returns a frame's buffer
with :meth:`PreviewSink.release` once it no longer shows it.

:class:`RecorderSlot` is always in the pipeline and forwards frames to a
:class:`~segcam.sinks.recorder.Recorder` attached while the pipeline runs
(Ctrl+R), so recording starts and stops without restarting the camera. A
recorder failure is reported and the recorder detached; it never stops the
preview.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import cv2
import numpy as np
from PySide6.QtCore import QObject, Signal

from segcam.frame import Frame
from segcam.sinks.base import StreamInfo
from segcam.sinks.recorder import Recorder

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


class RecorderSlot:
    """A sink that forwards to a recorder attached at run time (see module docs).

    ``attach`` and ``detach`` are called from the GUI thread, ``submit`` from the
    worker. Timestamps are rebased so the recording starts at 0, and the output's
    channel count is adapted if the background switches between transparent and
    opaque while recording (the encoder was opened for one of them).
    """

    def __init__(self, on_error: Callable[[str], None]) -> None:
        self.on_error = on_error
        self.error: BaseException | None = None  # never fails the pipeline
        self.dropped = 0
        self.info: StreamInfo | None = None
        self._lock = threading.Lock()
        self._recorder: Recorder | None = None
        self._channels = 3
        self._t0: float | None = None
        self._convert: np.ndarray | None = None

    def start(self, info: StreamInfo) -> None:
        self.info = info

    @property
    def recorder(self) -> Recorder | None:
        return self._recorder

    def attach(self, recorder: Recorder, *, transparent: bool) -> None:
        """Start ``recorder`` for this stream and begin feeding it (GUI thread)."""
        assert self.info is not None, "attach after the pipeline has started"
        info = StreamInfo(
            size=self.info.size,
            fps=self.info.fps,
            live=True,
            transparent=transparent,
            media_path=None,
        )
        recorder.start(info)
        with self._lock:
            self._recorder = recorder
            self._channels = 4 if transparent else 3
            self._t0 = None

    def detach(self) -> Recorder | None:
        """Stop feeding the recorder and return it; the caller stops (finalises) it."""
        with self._lock:
            recorder, self._recorder = self._recorder, None
        return recorder

    def submit(self, frame: Frame) -> None:
        with self._lock:
            recorder = self._recorder
            if recorder is None or frame.output is None:
                return
            if self._t0 is None:
                self._t0 = frame.pts
            out = frame.output
            if out.shape[2] != self._channels:
                code = cv2.COLOR_BGRA2BGR if self._channels == 3 else cv2.COLOR_BGR2BGRA
                shape = (*out.shape[:2], self._channels)
                if self._convert is None or self._convert.shape != shape:
                    self._convert = np.empty(shape, np.uint8)
                out = cv2.cvtColor(out, code, dst=self._convert)
            rebased = Frame(frame.seq, frame.image, frame.pts - self._t0, output=out)
            recorder.submit(rebased)
            self.dropped = recorder.dropped
            failed = recorder.error
            if failed is not None:
                self._recorder = None
        if failed is not None:
            log.debug("recording failed", exc_info=failed)
            self.on_error(str(failed))

    def stop(self) -> None:
        recorder = self.detach()
        if recorder is not None:
            recorder.stop()
