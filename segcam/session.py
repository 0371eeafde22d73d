"""One live session per app: the source, the loaded models and backgrounds, the sinks.

A :class:`Session` lives as long as the app (the window, ``segcam vcam``,
``segcam record``). It owns:

* **the current source**, and switches it (:meth:`Session.open`): the run on the
  old source stops and releases it, and a run on the new one starts with the same
  processor and the same attached sinks. Nothing else is rebuilt.
* **the processor** (:class:`~segcam.processor.Processor`): segmenter, mask chain
  and compositor, built once, then changed by settings diffs
  (:meth:`Session.apply`), with segmenters and background providers taken from
  caches keyed by their own settings (:mod:`segcam.caches`). :meth:`Session.caches`
  also takes objects a caller loaded to check them (the window's pre-switch
  check), so nothing is loaded twice. :attr:`Session.loads` counts real loads.
* **the attached sinks** (:mod:`segcam.sinks.attached`): preview, virtual camera,
  encoder, each attached and detached by name while frames flow. A sink is
  started when attached and stopped when detached, and stays attached across
  source switches and pauses: a virtual camera keeps its device open (it repeats
  its last frame or shows its card meanwhile) and a recording goes on in the
  same file.

A run is a :class:`~segcam.pipeline.Pipeline` that borrows the processor and the
sink registry: its capture thread reads the source, its worker processes each
frame with its own mask and hands it to every attached sink.

Threads: every method may be called from any one controlling thread at a time
(the GUI adapter calls the blocking ones, :meth:`open`, :meth:`release`,
:meth:`attach`, :meth:`close`, from a job thread, and :meth:`apply` from the GUI
thread); :meth:`apply` never blocks. A sink failure calls ``on_sink_error`` on the
worker thread; it must not block.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from segcam.caches import Caches, model_key
from segcam.capture.base import Source
from segcam.config import BackgroundSpec, PipelineSettings
from segcam.errors import SegcamError
from segcam.inference.segmenter import Segmenter
from segcam.pipeline import Pipeline, Stats
from segcam.processor import Processor
from segcam.sinks.attached import Attached, AttachedSinks
from segcam.sinks.base import Sink, StreamInfo

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 5.0
"""How long a run may take to stop (its worker finishes the frame it is on)."""


def paced(source: Source) -> Source:
    """``source`` delivered in real time: files and images at their own frame rate.

    A live session shows and sends what a camera would: a 15 fps clip at 15 fps,
    not as fast as the model runs (the window once showed such a clip "in 31 fps").
    """
    if source.live:
        return source
    from segcam.capture.paced import PacedSource

    name = source.name
    wrapped = PacedSource(source)
    wrapped.name = name  # the pacing is no news to the user
    return wrapped


class Session:
    """The long-lived headless session (see the module docs).

    Args:
        settings: the first settings snapshot.
        caches: share caches with another owner (default: the session's own).
        on_sink_error: called (worker thread) with the entry of a non-fatal sink
            that failed; the sink stays attached but is skipped until detached.
    """

    def __init__(
        self,
        settings: PipelineSettings,
        *,
        caches: Caches | None = None,
        on_sink_error: Callable[[Attached], None] | None = None,
    ) -> None:
        self._settings = settings
        self.caches = caches or Caches()
        self.loads = self.caches.loads
        self.sinks = AttachedSinks()
        self.on_sink_error = on_sink_error
        self.processor: Processor | None = None
        self.pipeline: Pipeline | None = None
        self._lock = threading.RLock()
        self._closed = False
        self.runs = 0
        """Runs started (one per source opened): the tests' count of restarts."""

    # -- settings ---------------------------------------------------------------------

    @property
    def settings(self) -> PipelineSettings:
        """The latest snapshot posted (the worker may not have applied it yet)."""
        return self._settings

    def apply(self, settings: PipelineSettings) -> None:
        """Post ``settings``; the worker applies the diff before its next frame.

        Never blocks. Loads a changed model or background on the worker unless it is
        already cached: check it first with :meth:`load_segmenter` /
        :meth:`load_background` (off the GUI thread) to keep the video flowing.
        """
        self._settings = settings
        p = self.pipeline
        if p is not None:
            p.update_settings(settings)

    def load_segmenter(self, settings: PipelineSettings) -> Segmenter:
        """The segmenter ``settings`` asks for, loaded now (caller's thread) and cached,
        so the worker takes this very object when the settings are applied."""
        return self.caches.segmenter(settings)

    def load_background(self, spec: BackgroundSpec) -> object:
        """The background provider for ``spec``, loaded now and cached (as above)."""
        return self.caches.background(spec)

    def prepare(self) -> Processor:
        """Build the processor if it does not exist yet (loads the model and background
        in the caller's thread, so a bad one fails before anything streams)."""
        with self._lock:
            if self.processor is None:
                self.processor = Processor(self._settings, caches=self.caches)
            return self.processor

    # -- source -----------------------------------------------------------------------

    @property
    def source(self) -> Source | None:
        p = self.pipeline
        return p.source if p is not None else None

    def open(
        self,
        source: Source,
        *,
        max_frames: int | None = None,
        max_duration: float | None = None,
    ) -> Pipeline:
        """Switch to ``source`` (opened by the caller; the session owns it from now on).

        The run on the previous source stops and releases it; a new run starts on
        ``source`` with the same processor and sinks. If the new run cannot start,
        ``source`` is released and the error raised; the session is then idle.
        """
        with self._lock:
            if self._closed:
                source.stop()
                raise SegcamError("the session is closed")
            try:
                self.release()
                processor = self.prepare()
                pipeline = Pipeline(
                    source,
                    self._settings,
                    [],
                    processor=processor,
                    attached=self.sinks,
                    on_sink_error=self._sink_failed,
                    max_frames=max_frames,
                    max_duration=max_duration,
                )
                pipeline.start()
            except BaseException:
                source.stop()
                raise
            self.pipeline = pipeline
            self.runs += 1
            if self._settings != pipeline.settings:
                pipeline.update_settings(self._settings)  # posted while it was starting
            log.debug("session: running %s", source.name)
            return pipeline

    def release(self, timeout: float = STOP_TIMEOUT_S) -> Pipeline | None:
        """Stop the current run and release its source (pause); sinks stay attached.

        Returns the stopped run (its :attr:`~Pipeline.error` and stats), or None.
        """
        with self._lock:
            pipeline, self.pipeline = self.pipeline, None
        if pipeline is None:
            return None
        pipeline.request_stop()
        pipeline.stop(timeout)
        if any(t.is_alive() for t in pipeline._threads):
            # The processor is not free for another run while that worker lives.
            self.processor = None
            raise SegcamError(f"the video did not stop within {timeout:g} s")
        return pipeline

    # -- sinks ------------------------------------------------------------------------

    def stream_info(self, source: Source | None = None) -> StreamInfo:
        """What a sink attached now is told about the stream (the current source's
        size and rate, the background's transparency)."""
        src = source or self.source
        if src is None:
            raise SegcamError("no video source is open")
        return StreamInfo(
            size=src.size,
            fps=src.fps,
            live=src.live,
            transparent=self._settings.background.transparent,
            media_path=src.media_path,
        )

    def attach(
        self,
        name: str,
        sink: Sink,
        *,
        info: StreamInfo | None = None,
        fatal: bool = False,
    ) -> Attached:
        """Start ``sink`` and deliver every frame from the next one on to it.

        ``info`` defaults to :meth:`stream_info`. A sink that fails to start raises
        here (one-line :class:`SegcamError`) and is not attached. ``fatal``: its
        failure ends the run (a command's only output).
        """
        sink.start(info or self.stream_info())
        entry = Attached(sink, name, fatal=fatal)
        try:
            self.sinks.add(entry)
        except BaseException:
            sink.stop()
            raise
        return entry

    def detach(self, name: str, *, stop: bool = True) -> Sink | None:
        """Stop delivering to ``name``; stop it too unless ``stop`` is False (the
        caller then stops it, e.g. finalises a recording in a job). Returns the sink."""
        entry = self.sinks.remove(name)
        if entry is None:
            return None
        if stop:
            entry.sink.stop()
        return entry.sink

    def attached(self, name: str) -> Sink | None:
        entry = self.sinks.get(name)
        return entry.sink if entry is not None else None

    def _sink_failed(self, entry: Attached) -> None:
        log.debug("sink %s failed", entry.name, exc_info=entry.sink.error)
        if self.on_sink_error is not None:
            self.on_sink_error(entry)

    # -- running ----------------------------------------------------------------------

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the current run ends (True), or ``timeout`` passes (False).
        True at once when nothing runs."""
        p = self.pipeline
        return True if p is None else p.wait(timeout)

    def request_stop(self) -> None:
        """Ask the current run to end after its frame (any thread, signal handlers)."""
        p = self.pipeline
        if p is not None:
            p.request_stop()

    @property
    def stats(self) -> Stats | None:
        p = self.pipeline
        return p.stats if p is not None else None

    def close(self, timeout: float = STOP_TIMEOUT_S) -> SegcamError | None:
        """Stop the run, detach and stop every sink (finalising recordings), forget
        the caches. Idempotent. Returns the first error of the run or of a sink."""
        with self._lock:
            if self._closed:
                return None
            self._closed = True
        error: SegcamError | None = None
        try:
            stopped = self.release(timeout)
            if stopped is not None:
                error = stopped.error
        except SegcamError as e:
            error = e
        for name in self.sinks.names():
            sink = self.detach(name, stop=False)
            if sink is None:
                continue
            try:
                sink.stop()
            except Exception as e:  # keep stopping the others
                log.debug("stopping %s failed", name, exc_info=True)
                error = error or SegcamError(f"stopping {name} failed: {e}")
            if error is None and isinstance(sink.error, SegcamError):
                error = sink.error
        self.caches.clear()
        return error


__all__ = ["Session", "model_key", "paced"]
