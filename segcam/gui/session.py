"""The running pipeline behind the window: open, apply settings, pause, record, recover.

:class:`Session` owns at most one :class:`~segcam.pipeline.Pipeline` at a time.
Everything that can block (opening a camera, loading a model, building a
background, stopping a pipeline, finalising a recording) runs as a job off the
GUI thread (:mod:`segcam.gui.jobs`); the GUI thread only posts settings
snapshots (:meth:`Pipeline.update_settings`) and receives frames by signal.

Changes that could fail inside the worker and stop the pipeline (a model that
does not load, a background file that does not decode) are tried in a job
first; only a setting that loaded is posted, and a failure becomes a banner
while the preview goes on with the previous setting.

Failures while running arrive as the pipeline's error: a lost camera
(:class:`~segcam.errors.SourceLost`) or one that cannot be opened is retried every
few seconds until it comes back or the user picks another source.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal

from segcam.capture import open_source
from segcam.capture.base import Source
from segcam.capture.paced import PacedSource
from segcam.config import PipelineSettings
from segcam.errors import InputError, ModelError, SegcamError, SourceLost, one_line
from segcam.gui.cameras import list_cameras
from segcam.gui.jobs import Jobs
from segcam.gui.sinks import FrameBridge, PreviewSink, RecorderSlot
from segcam.pipeline import Pipeline
from segcam.sinks.recorder import Recorder

log = logging.getLogger(__name__)

RETRY_INTERVAL_MS = 3000


@dataclass(frozen=True, slots=True)
class Problem:
    """Something the user should see in the banner.

    ``kind``: ``camera`` (cannot open / lost; retried), ``no-camera`` (auto found
    none; the demo runs), ``input`` (a file), ``model``, ``background``,
    ``record``, ``snapshot``, ``config``, ``internal``.
    """

    kind: str
    message: str
    retrying: bool = False


def is_camera(spec: str) -> bool:
    s = spec.strip()
    return s.isdigit() or (s.startswith("/dev/video"))


class Session(QObject):
    """Pipeline lifecycle for the main window (GUI thread)."""

    frame_ready = Signal(object)  # (PreviewSink, Frame)
    started = Signal(str)  # source name
    problem = Signal(object)  # Problem
    problem_cleared = Signal()
    recording_changed = Signal(bool, str)  # recording?, path or message
    busy_changed = Signal(bool)
    _rec_failed = Signal(str)  # from the worker thread (RecorderSlot)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs = Jobs(self)
        self.bridge = FrameBridge(self)
        self.bridge.frame_ready.connect(self.frame_ready)
        self.pipeline: Pipeline | None = None
        self.sink: PreviewSink | None = None
        self.slot: RecorderSlot | None = None
        self.source_spec: str | list[str] = "auto"
        self.source_name = ""
        self.resolution: tuple[int, int] | None = None
        self.fps: float | None = None
        self.settings: PipelineSettings | None = None
        self.paused = False
        self.recording_path: str | None = None
        self._open_job = None
        self._validate_jobs: dict[str, object] = {}
        self._closed = False
        self._retry = QTimer(self)
        self._retry.setSingleShot(True)
        self._retry.timeout.connect(self._retry_open)
        self._watch = QTimer(self)
        self._watch.setInterval(200)
        self._watch.timeout.connect(self._check_pipeline)
        self._watch.start()
        self._recorder: Recorder | None = None
        self._recording_started = 0.0
        self._rec_failed.connect(self._on_recorder_failed)

    # -- opening -----------------------------------------------------------------

    @property
    def opening(self) -> bool:
        return self._open_job is not None

    def open(self, source: str | list[str], settings: PipelineSettings) -> None:
        """Switch to ``source`` with ``settings``: the old pipeline stops, a new one starts
        in a job. Any recording is finalised first."""
        self._retry.stop()
        self.source_spec = source
        self.settings = settings
        self.paused = False
        self.stop_recording()
        self._retire()
        if self._open_job is not None:
            self._open_job.cancel()
        resolution, fps = self.resolution, self.fps

        def work():
            return self._build(source, settings, resolution, fps)

        self.busy_changed.emit(True)
        self._open_job = self.jobs.submit(
            f"opening {source}",
            work,
            on_done=self._opened,
            on_error=self._open_failed,
            discard=lambda result: result[0].stop(1.0),
        )

    def _build(self, source, settings, resolution, fps) -> tuple[Pipeline, str, Problem | None]:
        """Open the source and start a pipeline on it (job thread)."""
        note = None
        if source == "auto":
            cameras = [c for c in list_cameras() if not c.virtual] or list_cameras()
            if cameras:
                src = open_source(cameras[0].spec, resolution=resolution or (1280, 720), fps=fps)
            else:
                src = open_source("demo", resolution=resolution, fps=fps)
                note = Problem("no-camera", "No camera found: showing the demo source.")
        else:
            src = open_source(source, resolution=resolution, fps=fps, loop=True)
            if not src.live:
                # A file or an image plays in real time, as a camera would deliver it:
                # unpaced, a 30 fps clip ran at whatever the model managed (the status
                # bar read "in 45 fps") and a still spun a core at full speed.
                name = src.name
                src = PacedSource(src)
                src.name = name  # the pacing is no news to the window's user
        try:
            sink = PreviewSink(self.bridge)
            slot = RecorderSlot(self._rec_failed.emit)
            pipeline = Pipeline(src, settings, [sink, slot])
            pipeline.start()
        except BaseException:
            src.stop()
            raise
        return pipeline, src.name, note

    def _opened(self, result: tuple[Pipeline, str, Problem | None]) -> None:
        self._open_job = None
        pipeline, name, note = result
        self.busy_changed.emit(False)
        if self._closed:
            pipeline.stop(1.0)
            return
        self.pipeline = pipeline
        self.sink, self.slot = pipeline.sinks[0], pipeline.sinks[1]  # type: ignore[assignment]
        self.source_name = name
        assert self.settings is not None
        if pipeline.settings != self.settings:  # changed while opening
            pipeline.update_settings(self.settings)
        self.problem_cleared.emit()
        if note is not None:
            self.problem.emit(note)
        self.started.emit(name)

    def _open_failed(self, err: BaseException) -> None:
        self._open_job = None
        self.busy_changed.emit(False)
        self._report(err)

    def _report(self, err: BaseException) -> None:
        message = str(err) if isinstance(err, SegcamError) else f"internal error: {one_line(err)}"
        spec = self.source_spec if isinstance(self.source_spec, str) else ""
        if isinstance(err, SourceLost) or (
            isinstance(err, InputError) and (is_camera(spec) or spec == "auto")
        ):
            self.problem.emit(Problem("camera", message, retrying=True))
            self._retry.start(RETRY_INTERVAL_MS)
        elif isinstance(err, ModelError):
            self.problem.emit(Problem("model", message))
        elif isinstance(err, InputError):
            self.problem.emit(Problem("input", message))
        else:
            self.problem.emit(Problem("internal", message))

    def _retry_open(self) -> None:
        if self._closed or self.paused or self.pipeline is not None or self.opening:
            return
        assert self.settings is not None
        log.info("retrying %s", self.source_spec)
        self.open(self.source_spec, self.settings)

    def retry(self) -> None:
        """Open the current source again now."""
        if self.settings is not None:
            self.open(self.source_spec, self.settings)

    def _check_pipeline(self) -> None:
        p = self.pipeline
        if p is None or not p.done:
            return
        err = p.error
        self.stop_recording()
        self._retire()
        if err is not None:
            self._report(err)
        else:
            self.problem.emit(Problem("input", f"{self.source_name} has ended."))

    # -- settings -------------------------------------------------------------------

    def apply(self, settings: PipelineSettings) -> None:
        """Post ``settings`` now (only for changes that cannot fail in the worker)."""
        self.settings = settings
        if self.pipeline is not None:
            self.pipeline.update_settings(settings)

    def apply_checked(
        self,
        what: str,
        check: Callable[[], object],
        on_ok: Callable[[], None],
        on_fail: Callable[[BaseException], None],
    ) -> None:
        """Run ``check`` (e.g. load the model) in a job, then ``on_ok`` or ``on_fail`` on the
        GUI thread; the caller posts the setting only once it has passed.

        A newer check of the same ``what`` supersedes an older one still running.
        """
        self.cancel_check(what)

        def done(_result) -> None:
            self._validate_jobs.pop(what, None)
            on_ok()

        def failed(err: BaseException) -> None:
            self._validate_jobs.pop(what, None)
            on_fail(err)

        self._validate_jobs[what] = self.jobs.submit(
            f"checking the {what}", check, on_done=done, on_error=failed
        )

    def cancel_check(self, what: str) -> None:
        """Forget a pending :meth:`apply_checked` of ``what`` (a newer choice replaced it)."""
        old = self._validate_jobs.pop(what, None)
        if old is not None:
            old.cancel()  # type: ignore[attr-defined]

    # -- pause ------------------------------------------------------------------------

    def pause(self) -> None:
        """Stop the pipeline (the camera is released); the window keeps the last frame."""
        if self.paused:
            return
        self.paused = True
        self._retry.stop()
        self.stop_recording()
        if self._open_job is not None:
            self._open_job.cancel()
            self._open_job = None
            self.busy_changed.emit(False)
        self._retire()

    def resume(self) -> None:
        if not self.paused:
            return
        self.paused = False
        assert self.settings is not None
        self.open(self.source_spec, self.settings)

    # -- recording --------------------------------------------------------------------

    def start_recording(self, path: str) -> None:
        """Start recording the output to ``path`` (raises :class:`SegcamError` on failure)."""
        if self.slot is None or self.pipeline is None:
            raise SegcamError("nothing to record: the video has not started")
        assert self.settings is not None
        recorder = Recorder(path)
        self.slot.attach(recorder, transparent=self.settings.background.transparent)
        self._recorder = recorder
        self.recording_path = path
        self._recording_started = time.monotonic()
        self.recording_changed.emit(True, path)

    @property
    def recording(self) -> bool:
        return self.recording_path is not None

    def recording_seconds(self) -> float:
        return time.monotonic() - self._recording_started if self.recording else 0.0

    def stop_recording(self) -> None:
        """Detach the recorder and finalise the file in a job."""
        if self.recording_path is None:
            return
        path, self.recording_path = self.recording_path, None
        if self.slot is not None:
            self.slot.detach()
        recorder, self._recorder = self._recorder, None
        if recorder is None:
            self.recording_changed.emit(False, path)
            return

        def finish():
            recorder.stop()
            if recorder.error is not None:
                raise recorder.error
            return recorder.frames_written

        def done(frames: int) -> None:
            self.recording_changed.emit(False, path)

        def failed(err: BaseException) -> None:
            self.recording_changed.emit(False, path)
            self.problem.emit(Problem("record", str(err)))

        self.jobs.submit("finishing the recording", finish, on_done=done, on_error=failed)

    def _on_recorder_failed(self, message: str) -> None:
        if self.recording_path is None:
            return
        path, self.recording_path = self.recording_path, None
        recorder, self._recorder = self._recorder, None
        if recorder is not None:  # the slot has detached it; finalise what was written
            self.jobs.submit("finishing the failed recording", recorder.stop)
        self.problem.emit(Problem("record", message))
        self.recording_changed.emit(False, path)

    # -- stopping ---------------------------------------------------------------------

    def _retire(self) -> None:
        """Take the pipeline out of service and stop it in a job."""
        pipeline, self.pipeline = self.pipeline, None
        self.sink = None
        self.slot = None
        if pipeline is not None:
            pipeline.request_stop()
            self.jobs.submit("stopping the pipeline", lambda: pipeline.stop(1.0))

    @property
    def source(self) -> Source | None:
        return self.pipeline.source if self.pipeline is not None else None

    def shutdown(self, timeout: float = 1.0) -> None:
        """Stop everything and join every thread this session started (window closing)."""
        self._closed = True
        self._retry.stop()
        self._watch.stop()
        deadline = time.monotonic() + timeout
        if self.slot is not None:
            self.slot.detach()
        recorder, self._recorder = self._recorder, None
        self.recording_path = None
        pipeline, self.pipeline = self.pipeline, None
        if pipeline is not None:
            pipeline.stop(max(0.1, deadline - time.monotonic()))
        if recorder is not None:
            recorder.stop()
        self.jobs.shutdown(max(0.1, deadline - time.monotonic()))
