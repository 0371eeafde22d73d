"""The window's Qt adapter over the headless :class:`segcam.session.Session`.

All pipeline logic lives in :mod:`segcam.session`: the source and its switching,
the processor with its caches, the sinks that attach and detach while frames flow.
This adapter only

* runs the session's blocking calls (open a source, pause, attach the virtual
  camera, finalise a recording) as jobs off the GUI thread (:mod:`segcam.gui.jobs`),
  one at a time and in order, so a later choice always wins;
* turns what happens on worker threads into Qt signals: frames for the preview
  (:class:`~segcam.gui.sinks.PreviewSink`), failures for the banner;
* retries a lost or missing camera every few seconds, and watches whether an app
  reads the virtual camera.

A choice that could fail inside the worker (a model, a background file) is
checked in a job first (:meth:`SessionAdapter.apply_checked`); the object that
check loads is handed to the session's cache, so the worker takes that very object
and nothing is loaded twice; only a choice that loaded is posted.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal

from segcam.capture import DemoSource, is_auto, open_source
from segcam.capture.base import Source
from segcam.config import PipelineSettings
from segcam.errors import InputError, ModelError, SegcamError, SourceLost, one_line
from segcam.gui.jobs import Jobs
from segcam.gui.sinks import FrameBridge, PreviewSink
from segcam.pipeline import Pipeline
from segcam.session import Session as CoreSession
from segcam.session import paced
from segcam.sinks.attached import Attached
from segcam.sinks.base import StreamInfo
from segcam.sinks.encoder import Encoder, FileOutput, Output, output_for

log = logging.getLogger(__name__)

RETRY_INTERVAL_MS = 3000
VCAM_POLL_MS = 1000


@dataclass(frozen=True, slots=True)
class Problem:
    """Something the user should see in the banner.

    ``kind``: ``camera`` (cannot open / lost; retried), ``no-camera`` (auto found
    none; the demo runs), ``input`` (a file), ``model``, ``background``,
    ``record``, ``vcam``, ``snapshot``, ``config``, ``internal``.
    """

    kind: str
    message: str
    retrying: bool = False


def is_camera(spec: str) -> bool:
    s = spec.strip()
    return s.isdigit() or (s.startswith("/dev/video"))


def vcam_target(value: str | None) -> tuple[str | None, str | None]:
    """``--vcam`` value -> ``(device, backend)``: ``pipewire`` names the backend, ``auto``
    or nothing lets pyvirtualcam pick, anything else is a device."""
    v = (value or "").strip()
    if not v or v.lower() == "auto":
        return None, None
    if v.lower() == "pipewire":
        return None, "pipewire"
    return v, None


def reader_probe(sink) -> Callable[[], bool] | None:
    """A check "does an app read this virtual camera now?" (slow-ish: run it in a job),
    or None where segcam cannot tell. A v4l2loopback device on Linux shows its readers
    (their open file descriptors, :func:`~segcam.sinks.vcam.device_readers`); a
    PipeWire camera node its links in the graph (:func:`segcam.pipewire_env.readers`)."""
    device = sink.device or ""
    if sink.backend == "pipewire":

        def probe_graph() -> bool:
            from segcam import pipewire_env

            objects = pipewire_env.dump()
            return objects is not None and pipewire_env.readers(objects, device) > 0

        return probe_graph
    if not (
        sink.backend == "v4l2loopback"
        and sys.platform.startswith("linux")
        and os.path.exists(device)
    ):
        return None

    def probe() -> bool:
        from segcam.sinks.vcam import device_readers

        return bool(device_readers(device))

    return probe


def doctor_fix(backend: str | None) -> str:
    """What ``segcam doctor`` says about the virtual camera here: the failed checks
    and their fixes, as lines for the banner ("" when it finds nothing wrong)."""
    try:
        from segcam import doctor

        checks = doctor.run_checks(models=False)
    except Exception:  # the doctor must never hide the error it was asked to explain
        log.debug("doctor failed", exc_info=True)
        return ""
    lines = []
    for c in checks:
        section = c.section.lower()
        about_vcam = "virtual camera" in section or "pipewire" in section
        if c.ok or not c.required or not about_vcam:
            continue
        lines.append(c.title)
        lines += [f"  {f}" for f in c.fix[:3]]
    return "\n".join(lines[:8])


class Session(QObject):
    """The window's session (GUI thread; see the module docs)."""

    frame_ready = Signal(object)  # (PreviewSink, Frame)
    started = Signal(str)  # source name
    problem = Signal(object)  # Problem
    problem_cleared = Signal()
    recording_changed = Signal(bool, str)  # recording?, path or message
    busy_changed = Signal(bool)
    vcam_changed = Signal(str, str)  # state (off, starting, waiting, in-use, on), device
    _sink_failed = Signal(str, str)  # from the worker thread: sink name, message
    _output_failed = Signal(object)  # from the encoder thread: the Output

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs = Jobs(self)
        self.bridge = FrameBridge(self)
        self.bridge.frame_ready.connect(self.frame_ready)
        self.core: CoreSession | None = None
        self.sink: PreviewSink | None = None
        self.source_spec: str | list[str] = "auto"
        self.source_name = ""
        self.resolution: tuple[int, int] | None = None
        self.fps: float | None = None
        self._settings: PipelineSettings | None = None
        self.paused = False
        self.recording_path: str | None = None
        self.vcam_state = "off"
        self.vcam_device = ""
        self._vcam_want: tuple[str | None, str | None] | None = None
        self._vcam_job = None
        self._reader_probe: Callable[[], bool] | None = None
        self._encoder: Encoder | None = None
        self._file: Output | None = None
        self._stream: Output | None = None
        self._open_job = None
        self._validate_jobs: dict[str, object] = {}
        self._closed = False
        self._generation = 0
        self._control = threading.Lock()  # one blocking session call at a time
        self._running: Pipeline | None = None  # the run the GUI thread knows about
        self._retry = QTimer(self)
        self._retry.setSingleShot(True)
        self._retry.timeout.connect(self._retry_open)
        self._watch = QTimer(self)
        self._watch.setInterval(200)
        self._watch.timeout.connect(self._check_pipeline)
        self._watch.start()
        self._readers = QTimer(self)
        self._readers.setInterval(VCAM_POLL_MS)
        self._readers.timeout.connect(self._poll_readers)
        self._reader_job = None
        self._recording_started = 0.0
        self._sink_failed.connect(self._on_sink_failed)
        self._output_failed.connect(self._on_output_failed)

    # -- the headless session ------------------------------------------------------

    def _core(self) -> CoreSession:
        """The session, made on first use with the settings given (GUI thread)."""
        if self.core is None:
            assert self._settings is not None
            self.core = CoreSession(self._settings, on_sink_error=self._worker_sink_failed)
            self.sink = PreviewSink(self.bridge)
            info = StreamInfo(size=(1280, 720), fps=30.0, live=True)
            self.core.attach("preview", self.sink, info=info)
        return self.core

    @property
    def settings(self) -> PipelineSettings | None:
        return self._settings

    @settings.setter
    def settings(self, settings: PipelineSettings) -> None:
        self._settings = settings
        if self.core is not None:
            self.core.apply(settings)

    @property
    def pipeline(self) -> Pipeline | None:
        """The current run (None while opening, paused or failed)."""
        return self._running

    @property
    def source(self) -> Source | None:
        return self._running.source if self._running is not None else None

    # -- opening -----------------------------------------------------------------------

    @property
    def opening(self) -> bool:
        return self._open_job is not None

    def open(self, source: str | list[str], settings: PipelineSettings) -> None:
        """Switch to ``source`` with ``settings`` in a job; sinks (the virtual camera, a
        recording) stay attached, and the model and background stay loaded."""
        self._retry.stop()
        self.source_spec = source
        self.settings = settings
        self.paused = False
        core = self._core()
        self._running = None
        if self._open_job is not None:
            self._open_job.cancel()
        self._generation += 1
        generation = self._generation
        resolution, fps = self.resolution, self.fps

        def work():
            with self._control:
                if generation != self._generation:
                    return None  # a later choice replaced this one
                src, note = _open(source, resolution, fps)
                if generation != self._generation:
                    src.stop()
                    return None
                try:
                    pipeline = core.open(src)
                except BaseException:
                    core.release()
                    raise
                return pipeline, src.name, note

        self.busy_changed.emit(True)
        self._open_job = self.jobs.submit(
            f"opening {source}", work, on_done=self._opened, on_error=self._open_failed
        )

    def _opened(self, result) -> None:
        self._open_job = None
        self.busy_changed.emit(False)
        if result is None or self._closed:
            return
        pipeline, name, note = result
        self._running = pipeline
        self.source_name = name
        self.problem_cleared.emit()
        if note is not None:
            self.problem.emit(note)
        self.started.emit(name)
        if self._vcam_want is not None:
            self.set_vcam(True, *self._vcam_want)

    def _open_failed(self, err: BaseException) -> None:
        self._open_job = None
        self.busy_changed.emit(False)
        self._report(err)

    def _report(self, err: BaseException) -> None:
        message = str(err) if isinstance(err, SegcamError) else f"internal error: {one_line(err)}"
        spec = self.source_spec if isinstance(self.source_spec, str) else ""
        if isinstance(err, SourceLost) or (
            isinstance(err, InputError) and (is_camera(spec) or is_auto(spec))
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
        if self._closed or self.paused or self._running is not None or self.opening:
            return
        assert self._settings is not None
        log.info("retrying %s", self.source_spec)
        self.open(self.source_spec, self._settings)

    def retry(self) -> None:
        """Open the current source again now."""
        if self._settings is not None:
            self.open(self.source_spec, self._settings)

    def _check_pipeline(self) -> None:
        p = self._running
        if p is None or not p.done:
            return
        self._running = None
        self._release_in_job()  # the source is released; the sinks stay
        if p.error is not None:
            self._report(p.error)
        else:
            self.problem.emit(Problem("input", f"{self.source_name} has ended."))

    def _release_in_job(self) -> None:
        core = self.core
        if core is None:
            return

        def work():
            with self._control:
                core.release()

        self.jobs.submit("releasing the source", work)

    # -- settings -------------------------------------------------------------------

    def apply(self, settings: PipelineSettings) -> None:
        """Post ``settings`` now; the worker applies only what changed."""
        self.settings = settings

    def apply_checked(
        self,
        what: str,
        check: Callable[[], object],
        on_ok: Callable[[], None],
        on_fail: Callable[[BaseException], None],
    ) -> None:
        """Run ``check`` (e.g. load the model into the session's cache) in a job, then
        ``on_ok`` or ``on_fail`` on the GUI thread; the caller posts the setting only
        once it has passed. A newer check of the same ``what`` supersedes an older one."""
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

    def load_model(self, model: str, threads: int, accelerator: str) -> object:
        """Load ``model`` into the session's cache (job thread): the worker then takes
        this very object when the settings naming it are posted."""
        if self.core is None:
            from segcam.inference import make_segmenter

            return make_segmenter(model, threads, accelerator)
        return self.core.caches.segmenters.get((model, threads, accelerator))

    def load_background(self, spec) -> object:
        """Load the background provider for ``spec`` into the session's cache (job thread)."""
        if self.core is None:
            from segcam.filters.backgrounds import make_background

            return make_background(spec)
        return self.core.load_background(spec)

    # -- pause ------------------------------------------------------------------------

    def pause(self) -> None:
        """Release the source (the camera light goes off); the window keeps the last
        frame, the virtual camera shows its card and a recording pauses."""
        if self.paused:
            return
        self.paused = True
        self._retry.stop()
        self._generation += 1  # an open still running is no longer wanted
        if self._open_job is not None:
            self._open_job.cancel()
            self._open_job = None
            self.busy_changed.emit(False)
        self._running = None
        self._set_vcam_paused(True)
        self._release_in_job()

    def resume(self) -> None:
        if not self.paused:
            return
        self.paused = False
        self._set_vcam_paused(False)
        assert self._settings is not None
        self.open(self.source_spec, self._settings)

    # -- recording and streaming --------------------------------------------------------

    def _encoder_for(self) -> Encoder:
        """The session's encoder, attached on first use (GUI thread; quick)."""
        core = self._core()
        if self._encoder is None:
            encoder = Encoder(on_output_error=self._output_failed.emit)
            info = self._info()
            core.attach("encoder", encoder, info=info)
            self._encoder = encoder
        return self._encoder

    def _info(self) -> StreamInfo:
        assert self._settings is not None
        src = self.source
        size = src.size if src is not None else (self.resolution or (1280, 720))
        fps = src.fps if src is not None else (self.fps or 30.0)
        return StreamInfo(
            size=size, fps=fps, live=True, transparent=self._settings.background.transparent
        )

    def start_recording(self, path: str) -> None:
        """Record the output to ``path`` (raises :class:`SegcamError` on failure); the
        virtual camera, the preview and a stream go on untouched."""
        if self._running is None:
            raise SegcamError("nothing to record: the video has not started")
        encoder = self._encoder_for()
        if encoder.transparent != self._settings.background.transparent:  # type: ignore[union-attr]
            self._drop_encoder_if_idle()
            encoder = self._encoder_for()
        output = FileOutput(path)
        encoder.add_output(output)
        self._file = output
        self.recording_path = path
        self._recording_started = time.monotonic()
        self.recording_changed.emit(True, path)

    def start_stream(self, url: str) -> None:
        """Stream the output to ``url`` from the same encode as a recording."""
        if self._running is None:
            raise SegcamError("nothing to stream: the video has not started")
        output = output_for(url)
        self._encoder_for().add_output(output)
        self._stream = output

    def stop_stream(self) -> None:
        output, self._stream = self._stream, None
        if output is not None and self._encoder is not None:
            encoder = self._encoder
            self.jobs.submit("ending the stream", lambda: encoder.remove_output(output))

    @property
    def recording(self) -> bool:
        return self.recording_path is not None

    def recording_seconds(self) -> float:
        return time.monotonic() - self._recording_started if self.recording else 0.0

    def stop_recording(self) -> None:
        """Finalise the file in a job; the encoder stays for a stream that goes on."""
        if self.recording_path is None:
            return
        path, self.recording_path = self.recording_path, None
        output, self._file = self._file, None
        encoder = self._encoder
        if output is None or encoder is None:
            self.recording_changed.emit(False, path)
            return

        def finish():
            encoder.remove_output(output)
            if output.error is not None:
                raise output.error
            return output.packets

        def done(_frames: int) -> None:
            self.recording_changed.emit(False, path)
            self._drop_encoder_if_idle()

        def failed(err: BaseException) -> None:
            self.recording_changed.emit(False, path)
            self.problem.emit(Problem("record", str(err)))

        self.jobs.submit("finishing the recording", finish, on_done=done, on_error=failed)

    def _drop_encoder_if_idle(self) -> None:
        """Detach the encoder once nothing is written (it costs nothing idle, but a new
        recording may need other settings: size, transparency)."""
        encoder = self._encoder
        if encoder is None or encoder.outputs or self.core is None:
            return
        self._encoder = None
        self.core.detach("encoder", stop=False)
        self.jobs.submit("stopping the encoder", encoder.stop)

    def _on_output_failed(self, output: Output) -> None:
        message = str(output.error) if output.error is not None else "the output failed"
        if output is self._file:
            self._file = None
            path, self.recording_path = self.recording_path, None
            self.recording_changed.emit(False, path or "")
            self.problem.emit(Problem("record", message))
        elif output is self._stream:
            self._stream = None
            self.problem.emit(Problem("record", message))

    # -- virtual camera -----------------------------------------------------------------

    def set_vcam(self, on: bool, device: str | None = None, backend: str | None = None) -> None:
        """Turn the virtual camera on (``device``/``backend`` as ``--vcam`` gives them) or
        off. Opening the device runs in a job; its state comes by :attr:`vcam_changed`."""
        if not on:
            self._vcam_want = None
            self._readers.stop()
            core = self.core
            self._set_vcam_state("off", "")
            if core is not None and core.attached("vcam") is not None:
                self.jobs.submit("closing the virtual camera", lambda: core.detach("vcam"))
            return
        self._vcam_want = (device, backend)
        if self.core is None or self._running is None:
            self._set_vcam_state("starting", device or "")
            return  # attached as soon as the video runs (see _opened)
        if self._vcam_job is not None or self.core.attached("vcam") is not None:
            return
        core, info = self.core, self._info()
        self._set_vcam_state("starting", device or "")

        def work():
            from segcam.sinks.vcam import VirtualCameraSink

            sink = VirtualCameraSink(device=device, backend=backend)
            with self._control:
                core.attach("vcam", sink, info=info)
            return sink

        def done(sink) -> None:
            self._vcam_job = None
            if self._vcam_want is None or self._closed:  # turned off meanwhile
                self.jobs.submit("closing the virtual camera", lambda: core.detach("vcam"))
                return
            sink.paused = self.paused
            self.vcam_device = sink.device or ""
            self._reader_probe = reader_probe(sink)
            watchable = self._reader_probe is not None
            self._set_vcam_state("waiting" if watchable else "on", self.vcam_device)
            if watchable:
                self._readers.start()

        def failed(err: BaseException) -> None:
            self._vcam_job = None
            self._vcam_want = None
            self._set_vcam_state("off", "")
            self._vcam_problem(str(err) if isinstance(err, SegcamError) else one_line(err), backend)

        self._vcam_job = self.jobs.submit(
            "opening the virtual camera", work, on_done=done, on_error=failed
        )

    def _vcam_problem(self, message: str, backend: str | None) -> None:
        """Banner the error with what ``segcam doctor`` says (its checks run in a job)."""

        def done(fix: str) -> None:
            text = f"Virtual camera: {message}"
            if fix:
                text += f"\nsegcam doctor says:\n{fix}"
            self.problem.emit(Problem("vcam", text))

        self.jobs.submit("asking the doctor", lambda: doctor_fix(backend), on_done=done)

    def _set_vcam_state(self, state: str, device: str) -> None:
        if (state, device) != (self.vcam_state, self.vcam_device):
            self.vcam_state, self.vcam_device = state, device
            self.vcam_changed.emit(state, device)

    def _set_vcam_paused(self, paused: bool) -> None:
        sink = self.core.attached("vcam") if self.core is not None else None
        if sink is not None:
            sink.paused = paused  # type: ignore[attr-defined]

    def _poll_readers(self) -> None:
        if self._reader_job is not None or self.vcam_state not in ("waiting", "in-use"):
            return
        device, probe = self.vcam_device, self._reader_probe
        if probe is None:
            return
        work = probe

        def done(reading: bool) -> None:
            self._reader_job = None
            if self.vcam_state in ("waiting", "in-use"):
                self._set_vcam_state("in-use" if reading else "waiting", device)

        def failed(_err) -> None:
            self._reader_job = None

        self._reader_job = self.jobs.submit("who reads the virtual camera", work, done, failed)

    # -- failures on worker threads ---------------------------------------------------------

    def _worker_sink_failed(self, entry: Attached) -> None:
        err = entry.sink.error
        self._sink_failed.emit(entry.name, str(err) if err is not None else "failed")

    def _on_sink_failed(self, name: str, message: str) -> None:
        core = self.core
        if core is not None:
            self.jobs.submit(f"detaching the {name}", lambda: core.detach(name))
        if name == "vcam":
            backend = self._vcam_want[1] if self._vcam_want else None
            self._vcam_want = None
            self._readers.stop()
            self._set_vcam_state("off", "")
            self._vcam_problem(message, backend)
        elif name == "encoder":
            self._encoder = None
            if self.recording_path is not None:
                path, self.recording_path = self.recording_path, None
                self.recording_changed.emit(False, path)
            self.problem.emit(Problem("record", message))
        else:
            self.problem.emit(Problem("internal", f"{name}: {message}"))

    # -- stopping ---------------------------------------------------------------------

    def shutdown(self, timeout: float = 1.0) -> None:
        """Stop everything and join every thread this session started (window closing);
        a recording is finalised."""
        self._closed = True
        self._generation += 1
        self._retry.stop()
        self._watch.stop()
        self._readers.stop()
        self.recording_path = None
        self._running = None
        deadline = time.monotonic() + timeout
        core = self.core
        if core is not None:
            # A job may be opening a camera; wait for it a bounded time, then close anyway.
            locked = self._control.acquire(timeout=max(0.1, deadline - time.monotonic()))
            try:
                error = core.close(max(0.5, deadline - time.monotonic()))
            finally:
                if locked:
                    self._control.release()
            if error is not None:
                log.warning("closing: %s", error)
        self.jobs.shutdown(max(0.1, deadline - time.monotonic()))


def _open(
    source: str | list[str], resolution: tuple[int, int] | None, fps: float | None
) -> tuple[Source, Problem | None]:
    """Open what the user chose (job thread): files and images paced like a camera."""
    src = open_source(source, resolution=resolution, fps=fps, loop=True)
    note = None
    if is_auto(source) and isinstance(src, DemoSource):
        note = Problem("no-camera", "No camera found: showing the demo source.")
    return paced(src), note
