"""``segcam bench``: segcam's per-frame cost against the naive reference, in one run.

Absolute times on a shared laptop are noisy, so every figure comes with the
same-run time of the naive reference pipeline of DESIGN.md §7 (the way the open
peers do it), and the headline is the ratio. Both pipelines see the same
in-memory frames, interleaved frame by frame, so a noisy neighbour slows both.

Stages of a segcam frame:

* ``capture``: decoding or rendering the frame (file decode, demo render);
* ``segment``, ``mask_filters``, ``composite``: :class:`~segcam.processor.Processor`;
* ``output``: handing the frame to a sink that keeps a copy (what a preview or
  virtual-camera sink costs the worker).

``compose_ms`` is ``segment + mask_filters + composite``; ``frame_ms`` adds capture
and output. The live mode (:func:`run_live`) instead runs the real threaded
pipeline on a source paced at its frame rate and reports latency, drops, CPU
and memory.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import cv2
import numpy as np

from segcam.capture.base import Source
from segcam.config import BackgroundSpec, PipelineSettings
from segcam.frame import Frame
from segcam.imaging import cover_fit, load_image
from segcam.inference import builtin_store
from segcam.native import quiet_native_stderr
from segcam.processor import Processor

REFERENCE_MODEL = "selfie_segmentation_landscape.tflite"


def percentile_ms(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile of ``values`` (seconds), in milliseconds."""
    arr = np.fromiter(values, dtype=np.float64)
    return float(np.percentile(arr, q) * 1000.0) if arr.size else 0.0


class NaiveReference:
    """The naive reference pipeline of DESIGN.md §7, written the obvious way.

    1. MediaPipe's landscape model (LiteRT, one thread), on a bilinear resize;
    2. bilinear float upscale of the mask to the frame size;
    3. a 7×7 Gaussian on the full-size float mask;
    4. ``cv2.blendLinear`` with the background: the image (cover-fit once, as
       peers preload it) or a full-resolution 21×21 Gaussian blur of the frame.

    This is a yardstick, not a product path: it allocates per frame and works
    in float at full resolution on purpose.
    """

    def __init__(self, background: BackgroundSpec, size: tuple[int, int]) -> None:
        from ai_edge_litert.interpreter import Interpreter

        path = builtin_store.ensure(REFERENCE_MODEL)
        with quiet_native_stderr():
            self._interp = Interpreter(model_path=str(path), num_threads=1)
            self._interp.allocate_tensors()
        inp = self._interp.get_input_details()[0]
        self._in_index = inp["index"]
        self._out_index = self._interp.get_output_details()[0]["index"]
        self._in_size = (int(inp["shape"][2]), int(inp["shape"][1]))
        self.size = size
        self.kind = background.kind
        self._image_bg: np.ndarray | None = None
        if background.kind == "image":
            assert background.path is not None
            self._image_bg = cover_fit(load_image(background.path, "background"), size)
        elif background.kind == "colour":
            w, h = size
            self._image_bg = np.empty((h, w, 3), np.uint8)
            self._image_bg[:] = background.colour
        elif background.kind != "blur":
            raise ValueError(f"the reference has no {background.kind!r} background")

    @staticmethod
    def supports(background: BackgroundSpec) -> bool:
        return background.kind in ("image", "colour", "blur")

    def process(self, image: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
        t0 = time.perf_counter()
        small = cv2.resize(image, self._in_size, interpolation=cv2.INTER_LINEAR)
        rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
        self._interp.set_tensor(self._in_index, rgb[None])
        self._interp.invoke()
        mask = self._interp.get_tensor(self._out_index)[0, :, :, 0]
        t1 = time.perf_counter()
        h, w = image.shape[:2]
        alpha = cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR)
        alpha = cv2.GaussianBlur(alpha, (7, 7), 0)
        t2 = time.perf_counter()
        if self._image_bg is not None:
            background = self._image_bg
        else:
            background = cv2.GaussianBlur(image, (21, 21), 0)
        out = cv2.blendLinear(image, background, alpha, 1.0 - alpha)
        t3 = time.perf_counter()
        return out, {"segment": t1 - t0, "mask_filters": t2 - t1, "composite": t3 - t2}


@dataclass
class StageTimes:
    """Per-stage durations in seconds, one entry per measured frame."""

    times: dict[str, list[float]] = field(default_factory=dict)

    def add(self, stage: str, seconds: float) -> None:
        self.times.setdefault(stage, []).append(seconds)

    def p(self, stage: str, q: float) -> float:
        return percentile_ms(self.times.get(stage, ()), q)

    def total(self, stages: Iterable[str]) -> list[float]:
        cols = [self.times[s] for s in stages if s in self.times]
        return [sum(v) for v in zip(*cols, strict=True)] if cols else []


def read_frames(source: Source, count: int) -> tuple[list[np.ndarray], list[float]]:
    """The first ``count`` images of ``source`` and the time each took to read.

    The demo is rendered without its real-time pacing (its render is what a
    camera's capture would cost); a video is decoded, looping if it is short.
    """
    images: list[np.ndarray] = []
    times: list[float] = []
    render = getattr(source, "render", None)
    source.start()
    try:
        for seq in range(count):
            t0 = time.perf_counter()
            if render is not None:
                image = render(seq)
            else:
                frame = source.read()
                if frame is None:
                    break
                image = frame.image
            times.append(time.perf_counter() - t0)
            images.append(image)
    finally:
        source.stop()
    return images, times


@dataclass
class BenchResult:
    segcam: StageTimes
    reference: StageTimes | None
    resolution: tuple[int, int]
    background: str
    model: str
    filters: str
    frames: int
    masks_reused: int = 0
    """Timed frames that skipped the model (the ``skip`` rule reused a still-valid mask)."""
    crop_only: int = 0
    """Timed frames that ran only the crop pass's model (the ``skip`` rule's crop-only
    frames: the rest of the frame was proven unchanged)."""

    COMPOSE = ("segment", "mask_filters", "composite")

    def compose_ms(self, q: float = 50) -> float:
        return percentile_ms(self.segcam.total(self.COMPOSE), q)

    def compose_mean_ms(self) -> float:
        """The mean compose time: with skipping, what a frame costs on average (the
        p50 is then the cost of a skipped or of a full frame, whichever is the more)."""
        totals = self.segcam.total(self.COMPOSE)
        return 1000.0 * float(np.mean(totals)) if totals else 0.0

    def reference_mean_ms(self) -> float | None:
        if self.reference is None:
            return None
        totals = self.reference.total(self.COMPOSE)
        return 1000.0 * float(np.mean(totals)) if totals else 0.0

    def frame_ms(self, q: float = 50) -> float:
        return percentile_ms(self.segcam.total(("capture", *self.COMPOSE, "output")), q)

    def reference_ms(self, q: float = 50) -> float | None:
        if self.reference is None:
            return None
        return percentile_ms(self.reference.total(self.COMPOSE), q)

    def as_dict(self) -> dict:
        ref = self.reference_ms()
        compose = self.compose_ms()
        mean, ref_mean = self.compose_mean_ms(), self.reference_mean_ms()
        return {
            "compose_ms": round(compose, 3),
            "compose_p95_ms": round(self.compose_ms(95), 3),
            "compose_mean_ms": round(mean, 3),
            "frame_ms": round(self.frame_ms(), 3),
            "reference_ms": None if ref is None else round(ref, 3),
            "reference_mean_ms": None if ref_mean is None else round(ref_mean, 3),
            "ratio": None if ref is None or compose <= 0 else round(ref / compose, 2),
            "ratio_mean": None if ref_mean is None or mean <= 0 else round(ref_mean / mean, 2),
            "masks_reused": self.masks_reused,
            "crop_only": self.crop_only,
            "stages": {s: round(self.segcam.p(s, 50), 3) for s in self.segcam.times},
            "stages_p95": {s: round(self.segcam.p(s, 95), 3) for s in self.segcam.times},
            "reference_stages": (
                {s: round(self.reference.p(s, 50), 3) for s in self.reference.times}
                if self.reference
                else None
            ),
            "resolution": f"{self.resolution[0]}x{self.resolution[1]}",
            "background": self.background,
            "model": self.model,
            "filters": self.filters,
            "frames": self.frames,
        }


class _CopySink:
    """What the output stage costs the worker: one copy of the output, as a preview takes."""

    def __init__(self) -> None:
        self._buf: np.ndarray | None = None

    def submit(self, frame: Frame) -> None:
        out = frame.output
        assert out is not None
        if self._buf is None or self._buf.shape != out.shape:
            self._buf = np.empty_like(out)
        np.copyto(self._buf, out)


def run_offline(
    images: list[np.ndarray],
    capture_times: list[float],
    settings: PipelineSettings,
    *,
    warmup: int = 5,
    with_reference: bool = True,
    block: int = 10,
) -> BenchResult:
    """Time segcam (and the reference) on the same frames, interleaved in blocks.

    Each pipeline runs ``block`` frames, then the other runs the same frames, so
    both see the same background load, and each runs in the steady state it has
    in an app (its own buffers and model in the caches, as when it is the only
    pipeline running). ``block=1`` interleaves frame by frame instead, where each
    pipeline evicts the other's working set before every frame.
    """
    h, w = images[0].shape[:2]
    processor = Processor(settings)
    reference = (
        NaiveReference(settings.background, (w, h))
        if with_reference and NaiveReference.supports(settings.background)
        else None
    )
    ours, theirs = StageTimes(), StageTimes() if reference else None
    sink = _CopySink()
    reused = crop_only = 0
    for start in range(0, len(images), block):
        seqs = range(start, min(start + block, len(images)))
        for seq in seqs:
            frame = Frame(seq, images[seq], seq / 30.0)
            processor.process(frame)
            t0 = time.perf_counter()
            sink.submit(frame)
            t_out = time.perf_counter() - t0
            if seq < warmup:
                continue
            reused += frame.mask_seq != frame.seq
            crop_only += frame.crop_only
            ours.add("capture", capture_times[seq])
            for stage, seconds in frame.timings.items():
                ours.add(stage, seconds)
            ours.add("output", t_out)
        if reference is None or theirs is None:
            continue
        for seq in seqs:
            _, ref_times = reference.process(images[seq])
            if seq >= warmup:
                for stage, seconds in ref_times.items():
                    theirs.add(stage, seconds)
    from segcam.filters.base import chain_text

    return BenchResult(
        segcam=ours,
        reference=theirs,
        resolution=(w, h),
        background=settings.background.describe(),
        model=settings.model,
        filters=chain_text(settings.filters),
        frames=max(0, len(images) - warmup),
        masks_reused=reused,
        crop_only=crop_only,
    )


class LatencySink(_CopySink):
    """Copies each output (as a preview would) and records its capture-to-sink
    latency and compose time (worker thread)."""

    error: BaseException | None = None
    dropped = 0

    def __init__(self) -> None:
        super().__init__()
        self.latencies: list[float] = []
        self.compose: list[float] = []

    def start(self, info) -> None:
        pass

    def submit(self, frame: Frame) -> None:
        super().submit(frame)
        self.latencies.append(time.monotonic() - frame.t_capture)
        self.compose.append(sum(frame.timings.get(s, 0.0) for s in BenchResult.COMPOSE))

    def stop(self) -> None:
        pass


@dataclass
class LiveResult:
    frames_in: int
    frames_out: int
    dropped: dict[str, int]
    latency_p50_ms: float
    latency_p95_ms: float
    compose_p50_ms: float
    compose_p95_ms: float
    compose_cpu_percent: float
    process_cpu_percent: float
    masks_reused: int
    """Frames out that skipped the model (their mask was proven still valid)."""
    crop_only: int
    """Frames out that ran only the crop pass's model (the rest proven unchanged)."""
    rss_start_mb: float
    rss_end_mb: float
    seconds: float
    fps_in: float
    fps_out: float
    resolution: tuple[int, int]
    background: str
    model: str
    filters: str

    def as_dict(self) -> dict:
        d = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}
        d["resolution"] = f"{self.resolution[0]}x{self.resolution[1]}"
        d["rss_growth_percent"] = round(
            100.0 * (self.rss_end_mb - self.rss_start_mb) / max(self.rss_start_mb, 1e-9), 2
        )
        return d


@dataclass(frozen=True)
class _Sample:
    """Counters of a live run at one moment; a result is the difference of two."""

    t: float
    cpu: float
    worker_cpu: float
    rss: int
    frames_in: int
    frames_out: int
    drops: dict[str, int]
    masks_reused: int
    crop_only: int

    @classmethod
    def take(cls, proc, pipeline) -> _Sample:
        times = proc.cpu_times()
        frames_out = pipeline.stats.frames_out  # before frames_in: a frame may be in flight
        return cls(
            t=time.monotonic(),
            cpu=times.user + times.system,
            worker_cpu=pipeline.stats.worker_cpu,
            rss=proc.memory_info().rss,
            frames_in=pipeline.stats.frames_in,
            frames_out=frames_out,
            drops=pipeline.drops(),
            masks_reused=pipeline.stats.masks_reused,
            crop_only=pipeline.stats.crop_only,
        )


def run_live(
    source: Source,
    settings: PipelineSettings,
    *,
    duration: float,
    warmup: float = 1.0,
    stop_event: threading.Event | None = None,
) -> LiveResult:
    """Run the threaded pipeline on a live (paced) source for ``duration`` seconds.

    CPU is read from the worker thread's own clock around each frame's processing
    (``compose_cpu_percent``, in % of one core) and from the whole process
    (``process_cpu_percent``, which includes decoding or rendering the source).
    RSS is sampled after the warm-up and at the end.
    """
    import psutil

    from segcam.filters.base import chain_text
    from segcam.pipeline import Pipeline

    proc = psutil.Process()
    sink = LatencySink()
    pipeline = Pipeline(source, settings, [sink])
    pipeline.start()
    stop_event = stop_event or threading.Event()
    try:
        stop_event.wait(warmup)
        n0 = len(sink.latencies)
        start = _Sample.take(proc, pipeline)
        while not pipeline.done and time.monotonic() - start.t < duration:
            if stop_event.wait(0.2):
                break
        end = _Sample.take(proc, pipeline)
    finally:
        pipeline.stop()
    if pipeline.error is not None:
        raise pipeline.error
    lat = sink.latencies[n0:]
    comp = sink.compose[n0:]
    seconds = end.t - start.t
    frames_in, frames_out = end.frames_in - start.frames_in, end.frames_out - start.frames_out
    return LiveResult(
        frames_in=frames_in,
        frames_out=frames_out,
        dropped={k: v - start.drops.get(k, 0) for k, v in end.drops.items()},
        latency_p50_ms=percentile_ms(lat, 50),
        latency_p95_ms=percentile_ms(lat, 95),
        compose_p50_ms=percentile_ms(comp, 50),
        compose_p95_ms=percentile_ms(comp, 95),
        compose_cpu_percent=100.0 * (end.worker_cpu - start.worker_cpu) / seconds,
        process_cpu_percent=100.0 * (end.cpu - start.cpu) / seconds,
        masks_reused=end.masks_reused - start.masks_reused,
        crop_only=end.crop_only - start.crop_only,
        rss_start_mb=start.rss / 2**20,
        rss_end_mb=end.rss / 2**20,
        seconds=seconds,
        fps_in=frames_in / seconds,
        fps_out=frames_out / seconds,
        resolution=source.size,
        background=settings.background.describe(),
        model=settings.model,
        filters=chain_text(settings.filters),
    )
