"""Wiring: Source -> Segmenter -> Compositor -> Sinks, on two threads.

Threads:

* **capture** reads the source and hands frames over through a channel: a
  :class:`~segcam.channels.LatestSlot` for live sources (stale frames are
  dropped and counted, latency stays near one frame) or a
  :class:`~segcam.channels.BoundedQueue` for files (nothing is dropped).
* **worker** takes a frame, segments it, composites it *with its own mask, or a
  mask proven still valid for it* (``frame.mask_seq == frame.seq``, except where
  the chain's ``skip`` rule reused the mask of an unchanged earlier frame, see
  :mod:`segcam.inference.skip`; :attr:`Stats.masks_reused` counts those) and
  submits it to every sink. Sinks that are slow run their own threads (see
  :mod:`segcam.sinks.base`).

The caller's thread only starts, watches and stops: :meth:`Pipeline.start`,
:meth:`Pipeline.wait`, :meth:`Pipeline.stop`. Any error in a thread is kept
in :attr:`Pipeline.error` (one user-facing message), and the pipeline winds
down cleanly: every thread is joined and every sink is stopped, so a
recording is always finalised.

Settings changes (:meth:`Pipeline.update_settings`) are immutable snapshots
that the worker swaps in between two frames.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from segcam.capture.base import Source
from segcam.channels import END, BoundedQueue, Closed, LatestSlot
from segcam.config import PipelineSettings
from segcam.errors import SegcamError, midway, one_line
from segcam.frame import Frame
from segcam.inference.segmenter import Segmenter
from segcam.processor import Processor
from segcam.sinks.attached import Attached, AttachedSinks
from segcam.sinks.base import Sink, StreamInfo

log = logging.getLogger(__name__)

_STATS_WINDOW = 300


@dataclass
class Stats:
    """Running counters, updated by the worker thread and read by anyone.

    ``times`` holds the last few hundred per-stage durations in seconds.
    """

    frames_in: int = 0
    frames_out: int = 0
    dropped_capture: int = 0
    started: float = field(default_factory=time.monotonic)
    times: dict[str, collections.deque[float]] = field(default_factory=dict)
    last_pts: float = 0.0
    worker_cpu: float = 0.0
    """CPU seconds the worker thread spent processing frames (its own thread clock)."""
    masks_reused: int = 0
    """Frames whose model run was skipped: their mask was proven still valid (skip rule)."""
    crop_only: int = 0
    """Frames that ran only the crop pass's model (skip rule, crop-only frames)."""

    def add(self, stage: str, seconds: float) -> None:
        d = self.times.get(stage)
        if d is None:
            d = self.times[stage] = collections.deque(maxlen=_STATS_WINDOW)
        d.append(seconds)

    def median_ms(self, stage: str) -> float | None:
        return self.percentile_ms(stage, 50)

    def percentile_ms(self, stage: str, q: float) -> float | None:
        """The ``q``-th percentile of the recent durations of ``stage``, in ms."""
        d = self.times.get(stage)
        if not d:
            return None
        values = sorted(d)
        return 1000.0 * values[min(len(values) - 1, int(len(values) * q / 100.0))]

    def fps(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.frames_out / elapsed if elapsed > 0 else 0.0


class Pipeline:
    """One processing run. Create, :meth:`start`, then :meth:`wait` / :meth:`stop`.

    Args:
        source: an opened :class:`~segcam.capture.base.Source`.
        settings: model, threads and background (a snapshot; see :meth:`update_settings`).
        sinks: where output frames go; started by :meth:`start`, stopped by :meth:`stop`.
        segmenter: reuse an already-loaded segmenter (otherwise one is loaded here,
            in the caller's thread, so a bad model fails before any thread starts).
        processor: borrow a session's processor (its segmenter, chain, compositor
            and caches) instead of building one; it is reset for the new source,
            ``settings`` is applied before the first frame, and the session must not
            lend it to another run until this one has stopped.
        attached: a session's registry of sinks that attach and detach while frames
            flow (:mod:`segcam.sinks.attached`); the pipeline delivers to them after
            ``sinks`` but neither starts nor stops them.
        on_sink_error: called on the worker thread when a non-fatal attached sink
            fails (it is skipped from then on); must not block.
        max_frames: stop after this many output frames.
        max_duration: stop once the output covers this many seconds of media time.
    """

    def __init__(
        self,
        source: Source,
        settings: PipelineSettings,
        sinks: list[Sink],
        *,
        segmenter: Segmenter | None = None,
        processor: Processor | None = None,
        attached: AttachedSinks | None = None,
        on_sink_error: Callable[[Attached], None] | None = None,
        max_frames: int | None = None,
        max_duration: float | None = None,
    ) -> None:
        self.source = source
        self.sinks = list(sinks)
        self.attached = attached
        self.on_sink_error = on_sink_error
        self._pending: PipelineSettings | None = None
        if processor is None:
            self.processor = Processor(settings, segmenter=segmenter)
        else:
            self.processor = processor
            processor.reset()  # a new source: nothing carries over from the last one
            if processor.settings != settings:
                self._pending = settings
        self.max_frames = max_frames
        self.max_duration = max_duration
        self.stats = Stats()
        self.error: SegcamError | None = None
        self.channel: LatestSlot[Frame] | BoundedQueue[Frame] = (
            LatestSlot() if source.live else BoundedQueue(4)
        )
        self._stop = threading.Event()
        self._done = threading.Event()
        self._settings_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._started_sinks: list[Sink] = []
        self._stopped = False

    # -- control (caller's thread) -------------------------------------------------

    def start(self) -> None:
        """Start the sinks, then the capture and worker threads."""
        info = StreamInfo(
            size=self.source.size,
            fps=self.source.fps,
            live=self.source.live,
            transparent=(self._pending or self.processor.settings).background.transparent,
            media_path=self.source.media_path,
        )
        try:
            for sink in self.sinks:
                sink.start(info)
                self._started_sinks.append(sink)
        except BaseException:
            self.stop()
            raise
        self.stats = Stats()
        self._threads = [
            threading.Thread(target=self._capture_loop, name="segcam-capture", daemon=True),
            threading.Thread(target=self._worker_loop, name="segcam-worker", daemon=True),
        ]
        for t in self._threads:
            t.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run ends (input exhausted, limit reached or error); True if it has."""
        return self._done.wait(timeout)

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def request_stop(self) -> None:
        """Ask the threads to finish after the current frame (any thread; returns at once)."""
        self._stop.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop and join every thread, then stop every sink (finalising recordings). Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._stop.set()
        self.channel.discard()
        for t in self._threads:
            t.join(timeout)
            if t.is_alive():
                log.warning("thread %s did not stop within %.1f s", t.name, timeout)
        for sink in self._started_sinks:
            try:
                sink.stop()
            except Exception as e:  # keep stopping the others
                log.debug("sink stop failed", exc_info=True)
                self._set_error(e)
            if sink.error is not None:
                self._set_error(sink.error)
        self._done.set()

    def run(self) -> Stats:
        """Start, wait for the end, stop; raise the run's error if there was one."""
        self.start()
        try:
            self.wait()
        finally:
            self.stop()
        if self.error is not None:
            raise self.error
        return self.stats

    def update_settings(self, settings: PipelineSettings) -> None:
        """Post a new settings snapshot; the worker applies it before its next frame."""
        with self._settings_lock:
            self._pending = settings

    @property
    def dropped(self) -> int:
        """Frames dropped anywhere: stale capture frames plus frames sinks discarded."""
        return sum(self.drops().values())

    def drops(self) -> dict[str, int]:
        """Frames dropped per stage: ``capture`` (stale frames the worker never took)
        and ``sink:<Name>`` for each sink (frames it discarded behind its queue)."""
        counts = {"capture": self.channel.dropped}
        for sink in self.sinks:
            counts[_sink_key(sink)] = counts.get(_sink_key(sink), 0) + sink.dropped
        if self.attached is not None:
            for entry in self.attached.current:
                counts[entry.key] = entry.sink.dropped
        return counts

    # -- threads ------------------------------------------------------------------

    def fail(self, err: BaseException) -> None:
        """Record ``err`` as the run's error unless it has one (after frames went out
        it counts as a failure part-way: exit 1). For owners that stop sinks themselves."""
        self._set_error(err)

    def _set_error(self, err: BaseException) -> None:
        if self.error is not None:
            return
        if isinstance(err, SegcamError):
            # After frames went out, the run failed part-way: exit 1, not 2 (errors.py).
            self.error = midway(err) if self.stats.frames_out else err
        else:
            log.debug("internal error", exc_info=err)
            self.error = SegcamError(f"internal error: {type(err).__name__}: {one_line(err)}")

    def _capture_loop(self) -> None:
        source, channel = self.source, self.channel
        try:
            source.start()
            while not self._stop.is_set():
                frame = source.read()
                if frame is None:
                    break
                frame.stamp("capture")
                if isinstance(channel, LatestSlot):
                    channel.put(frame)
                else:
                    while not channel.put(frame, timeout=0.2):
                        if self._stop.is_set():
                            return
        except Closed:
            pass
        except BaseException as e:
            self._set_error(e)
        finally:
            channel.close()
            try:
                source.stop()
            except Exception:
                log.debug("source stop failed", exc_info=True)

    @property
    def settings(self) -> PipelineSettings:
        return self.processor.settings

    def _apply_pending_settings(self) -> None:
        with self._settings_lock:
            new, self._pending = self._pending, None
        if new is not None:
            t0 = time.perf_counter()
            self.processor.apply(new)
            self.stats.add("apply", time.perf_counter() - t0)

    def _worker_loop(self) -> None:
        stats = self.stats
        first_pts: float | None = None
        try:
            while not self._stop.is_set():
                item = self.channel.get(timeout=0.1)
                if item is None:
                    continue
                if item is END:
                    break
                frame: Frame = item  # type: ignore[assignment]
                stats.frames_in += 1
                if first_pts is None:
                    first_pts = frame.pts
                if (
                    self.max_duration is not None
                    and frame.pts - first_pts >= self.max_duration - 1e-6
                ):
                    break
                self._apply_pending_settings()
                cpu0 = time.thread_time()
                self.processor.process(frame)
                stats.worker_cpu += time.thread_time() - cpu0
                if frame.mask_seq != frame.seq:
                    stats.masks_reused += 1
                stats.crop_only += frame.crop_only
                for stage, seconds in frame.timings.items():
                    stats.add(stage, seconds)
                for sink in self._started_sinks:
                    key = _sink_key(sink)
                    t0 = time.perf_counter()
                    sink.submit(frame)
                    stats.add(key, time.perf_counter() - t0)
                    frame.stamp(key)
                    stats.add(f"latency:{key}", frame.stamps[key] - frame.t_capture)
                    if sink.error is not None:
                        raise sink.error
                if self.attached is not None:
                    self._deliver(frame)
                frame.stamp("output")
                stats.add("latency", frame.stamps["output"] - frame.t_capture)
                stats.frames_out += 1
                stats.last_pts = frame.pts - first_pts
                stats.dropped_capture = self.channel.dropped
                if self.max_frames is not None and stats.frames_out >= self.max_frames:
                    break
        except BaseException as e:
            self._set_error(e)
        finally:
            self._stop.set()
            self.channel.discard()
            self._done.set()

    def _deliver(self, frame: Frame) -> None:
        """Hand ``frame`` to every attached sink (worker thread)."""
        assert self.attached is not None
        stats = self.stats
        entries = self.attached.begin()
        try:
            for entry in entries:
                if entry.failed:
                    continue
                sink, key = entry.sink, entry.key
                t0 = time.perf_counter()
                sink.submit(frame)
                stats.add(key, time.perf_counter() - t0)
                entry.submitted += 1
                frame.stamp(key)
                stats.add(f"latency:{key}", frame.stamps[key] - frame.t_capture)
                if sink.error is not None:
                    if entry.fatal:
                        raise sink.error
                    entry.failed = True
                    if self.on_sink_error is not None:
                        self.on_sink_error(entry)
        finally:
            self.attached.end()


def _sink_key(sink: Sink) -> str:
    return f"sink:{type(sink).__name__}"


def describe_run(settings: PipelineSettings) -> str:
    """``background blur, model landscape, filters temporal,…`` for start-up lines.

    The filters are the chain as it runs: an ``ensemble`` of the main model with
    itself is left out (:func:`~segcam.filters.chain.effective_filters`).
    """
    from segcam.filters.base import chain_text
    from segcam.filters.chain import effective_filters

    chain = chain_text(effective_filters(settings.filters, settings.model))
    return f"background {settings.background.describe()}, model {settings.model}, filters {chain}"


#: What each sink is called in messages (``sink:<class name>`` keys of :meth:`Pipeline.drops`).
_SINK_WORDS = {
    "LatencySink": "the latency probe",
    "PreviewSink": "the preview",
    "Recorder": "the recorder",
    "VirtualCameraSink": "the virtual camera",
    "MemorySink": "the memory sink",
    "preview": "the preview",
    "vcam": "the virtual camera",
    "recorder": "the recorder",
    "encoder": "the encoder",
}


def describe_drops(drops: dict[str, int]) -> str:
    """``{'capture': 22, 'sink:LatencySink': 0}`` in words, for a person.

    The total first, then where the frames went, stages with no drop left out:
    ``"22 (22 input frames replaced by a newer one before the worker took them)"``;
    ``"none"`` when nothing was dropped.
    """
    total = sum(drops.values())
    if not total:
        return "none"
    parts = []
    for key, n in drops.items():
        if not n:
            continue
        if key == "capture":
            parts.append(f"{n} input frames replaced by a newer one before the worker took them")
        else:
            name = key.split(":", 1)[-1]
            parts.append(f"{n} skipped by {_SINK_WORDS.get(name, name)}, which was still busy")
    return f"{total} ({'; '.join(parts)})"
