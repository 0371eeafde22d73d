"""Pipeline behaviour (drops, order, limits, stopping, errors, settings), channels, compositor.

Runs use the real model on small real frames. Nothing here asserts on time: a
slow sink only makes the consumer slower than the producer, and the tests check
what that must (or must not) cause.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from segcam.capture import DemoSource, VideoFileSource
from segcam.channels import END, BoundedQueue, Closed, LatestSlot
from segcam.compositor import Compositor, blend
from segcam.config import BackgroundSpec, PipelineSettings
from segcam.errors import InputError, SegcamError
from segcam.frame import Frame
from segcam.inference.segmenter import Segmenter
from segcam.pipeline import Pipeline
from segcam.sinks import MemorySink
from segcam.sinks.base import StreamInfo
from tests.conftest import make_clip, read_video, wait_until

GREEN = BackgroundSpec("colour", colour=(0, 255, 0))
CLIP_FRAMES = 20


# -- fixtures and helpers --------------------------------------------------------------


@pytest.fixture(scope="module")
def segmenter() -> Segmenter:
    return Segmenter("landscape")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pipe") / "clip.mp4"
    return make_clip(path, frames=CLIP_FRAMES, size=(256, 144), audio=False)


@pytest.fixture(scope="module")
def still(clip: Path) -> np.ndarray:
    frames, _ = read_video(clip)
    return frames[0]


def segcam_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("segcam-") and t.is_alive()]


@pytest.fixture(autouse=True)
def no_leftover_threads():
    yield
    assert not segcam_threads(), f"threads left running: {segcam_threads()}"


class SlowSink(MemorySink):
    """A MemorySink whose submit takes ~20 ms; it notes how full the channel was."""

    def __init__(self, delay: float = 0.02) -> None:
        super().__init__()
        self.delay = delay
        self.pipeline: Pipeline | None = None
        self.max_backlog = 0

    def submit(self, frame: Frame) -> None:
        if self.pipeline is not None:
            self.max_backlog = max(self.max_backlog, len(self.pipeline.channel))
        super().submit(frame)
        time.sleep(self.delay)


class FastLiveSource:
    """A live source that produces frames as fast as it is read (no pacing), up to ``limit``."""

    live = True
    fps = 30.0
    frame_count = None
    media_path = None
    name = "fast live test source"

    def __init__(self, image: np.ndarray, limit: int | None = None) -> None:
        self.image = image
        self.size = (image.shape[1], image.shape[0])
        self.limit = limit
        self.seq = 0
        self.stopped = False

    def start(self) -> None:
        pass

    def read(self) -> Frame | None:
        if self.limit is not None and self.seq >= self.limit:
            return None
        frame = Frame(self.seq, self.image.copy(), self.seq / self.fps)
        self.seq += 1
        return frame

    def stop(self) -> None:
        self.stopped = True


class FailingSource(FastLiveSource):
    """A file-like source whose read raises after ``good`` frames."""

    live = False

    def __init__(self, image: np.ndarray, good: int, exc: BaseException) -> None:
        super().__init__(image)
        self.good = good
        self.exc = exc

    def read(self) -> Frame | None:
        if self.seq >= self.good:
            raise self.exc
        return super().read()


class FailingSink(MemorySink):
    def __init__(self, good: int) -> None:
        super().__init__()
        self.good = good

    def submit(self, frame: Frame) -> None:
        if len(self.frames) >= self.good:
            raise RuntimeError("disk on fire")
        super().submit(frame)


def settings(background: BackgroundSpec = GREEN) -> PipelineSettings:
    return PipelineSettings(background=background)


def finish(pipeline: Pipeline) -> None:
    assert pipeline.wait(60), "the pipeline did not end"
    pipeline.stop()


# -- file jobs -------------------------------------------------------------------------


def test_file_job_with_slow_sink_drops_nothing(clip: Path, segmenter: Segmenter) -> None:
    source = VideoFileSource(str(clip))
    sink = SlowSink()
    pipeline = Pipeline(source, settings(), [sink], segmenter=segmenter)
    sink.pipeline = pipeline
    stats = pipeline.run()
    assert stats.frames_out == CLIP_FRAMES == source.frame_count
    assert pipeline.dropped == 0
    assert pipeline.channel.dropped == 0
    seqs = [s for s, *_ in sink.frames]
    assert seqs == list(range(CLIP_FRAMES))
    assert all(mask_seq == seq for seq, mask_seq, *_ in sink.frames)
    assert sink.stopped
    assert pipeline.error is None


def test_outputs_match_their_own_frames(clip: Path, segmenter: Segmenter) -> None:
    """mask_seq == seq, and each output really is its own input composited."""
    inputs, _ = read_video(clip)
    sink = MemorySink()
    Pipeline(
        VideoFileSource(str(clip)), settings(BackgroundSpec("none")), [sink], segmenter=segmenter
    ).run()
    assert len(sink.frames) == CLIP_FRAMES
    for seq, mask_seq, output, alpha in sink.frames:
        assert mask_seq == seq
        assert output.shape == (144, 256, 4)
        assert np.array_equal(output[..., :3], inputs[seq])
        assert np.array_equal(output[..., 3], alpha)


def test_max_frames(clip: Path, segmenter: Segmenter) -> None:
    sink = MemorySink()
    p = Pipeline(VideoFileSource(str(clip)), settings(), [sink], segmenter=segmenter, max_frames=7)
    stats = p.run()
    assert stats.frames_out == 7
    assert [s for s, *_ in sink.frames] == list(range(7))


def test_max_duration(clip: Path, segmenter: Segmenter) -> None:
    sink = MemorySink()
    p = Pipeline(
        VideoFileSource(str(clip)), settings(), [sink], segmenter=segmenter, max_duration=1.0
    )
    stats = p.run()
    # Frames at 0, 1/15, ..., 14/15 s cover one second; the frame at 1.0 s does not fit.
    assert stats.frames_out == 15
    assert [s for s, *_ in sink.frames] == list(range(15))


# -- live sources ----------------------------------------------------------------------


def test_live_source_with_slow_sink_drops_instead_of_piling_up(
    still: np.ndarray, segmenter: Segmenter
) -> None:
    source = FastLiveSource(still)
    sink = SlowSink()
    pipeline = Pipeline(source, settings(), [sink], segmenter=segmenter, max_frames=8)
    sink.pipeline = pipeline
    pipeline.run()
    assert pipeline.stats.frames_out == 8
    assert pipeline.channel.dropped > 0, "a slow consumer of a live source must drop frames"
    assert pipeline.dropped >= pipeline.channel.dropped
    assert sink.max_backlog <= 1, "frames piled up between capture and the worker"
    seqs = [s for s, *_ in sink.frames]
    assert (np.diff(seqs) > 0).all(), seqs
    assert seqs[-1] > len(seqs), "no frames were skipped although the sink is slow"
    assert all(mask_seq == seq for seq, mask_seq, *_ in sink.frames)
    assert source.stopped


def test_demo_source_pipeline(segmenter: Segmenter) -> None:
    sink = MemorySink()
    source = DemoSource(resolution=(256, 144), fps=60)
    p = Pipeline(source, settings(), [sink], segmenter=segmenter, max_frames=4)
    p.run()
    assert len(sink.frames) == 4
    seqs = [s for s, *_ in sink.frames]
    assert seqs == sorted(set(seqs))
    assert all(mask_seq == seq for seq, mask_seq, *_ in sink.frames)
    assert sink.info == StreamInfo(size=(256, 144), fps=60, live=True)


# -- stopping and errors ---------------------------------------------------------------


def test_stop_while_running_joins_threads_and_is_idempotent(
    still: np.ndarray, segmenter: Segmenter
) -> None:
    sink = MemorySink()
    pipeline = Pipeline(FastLiveSource(still), settings(), [sink], segmenter=segmenter)
    pipeline.start()
    wait_until(lambda: pipeline.stats.frames_out >= 3, "three output frames")
    assert not pipeline.done
    assert segcam_threads(), "no pipeline threads are running"
    pipeline.stop()
    assert not segcam_threads(), f"threads still running after stop(): {segcam_threads()}"
    assert pipeline.done
    assert sink.stopped
    assert pipeline.error is None
    pipeline.stop()  # idempotent
    assert pipeline.wait(0)


def test_request_stop_ends_the_run(still: np.ndarray, segmenter: Segmenter) -> None:
    sink = MemorySink()
    pipeline = Pipeline(FastLiveSource(still), settings(), [sink], segmenter=segmenter)
    pipeline.start()
    wait_until(lambda: pipeline.stats.frames_out >= 2, "two output frames")
    pipeline.request_stop()
    finish(pipeline)
    assert pipeline.error is None


def _assert_failed_cleanly(pipeline: Pipeline, sink: MemorySink, *needles: str) -> None:
    assert pipeline.wait(60), "an error did not end the run"
    pipeline.stop()
    assert isinstance(pipeline.error, SegcamError)
    msg = str(pipeline.error)
    assert msg and "\n" not in msg, f"not a one-line message: {msg!r}"
    for needle in needles:
        assert needle in msg
    assert sink.stopped, "the sinks were not stopped after the error"
    assert not segcam_threads()


def test_sink_exception_ends_the_run(still: np.ndarray, segmenter: Segmenter) -> None:
    sink = FailingSink(good=3)
    pipeline = Pipeline(FastLiveSource(still), settings(), [sink], segmenter=segmenter)
    pipeline.start()
    _assert_failed_cleanly(pipeline, sink, "disk on fire")
    assert len(sink.frames) == 3
    assert pipeline.stats.frames_out == 3


def test_multiline_internal_error_becomes_one_line(clip: Path, segmenter: Segmenter) -> None:
    """A real OpenCV error (its message spans several lines) raised inside a sink."""

    class BuggySink(MemorySink):
        def submit(self, frame: Frame) -> None:
            cv2.cvtColor(frame.image[..., :2], cv2.COLOR_BGR2GRAY)  # wrong channel count

    sink = BuggySink()
    pipeline = Pipeline(VideoFileSource(str(clip)), settings(), [sink], segmenter=segmenter)
    pipeline.start()
    _assert_failed_cleanly(pipeline, sink, "error")


def test_run_reraises_the_error(clip: Path, segmenter: Segmenter) -> None:
    pipeline = Pipeline(
        VideoFileSource(str(clip)), settings(), [FailingSink(good=2)], segmenter=segmenter
    )
    with pytest.raises(SegcamError, match="disk on fire"):
        pipeline.run()
    assert not segcam_threads()


def test_source_exception_ends_the_run(still: np.ndarray, segmenter: Segmenter) -> None:
    sink = MemorySink()
    source = FailingSource(still, good=4, exc=ValueError("bad bytes"))
    pipeline = Pipeline(source, settings(), [sink], segmenter=segmenter)
    pipeline.start()
    _assert_failed_cleanly(pipeline, sink, "bad bytes")
    assert source.stopped


def test_source_input_error_is_kept_as_is(still: np.ndarray, segmenter: Segmenter) -> None:
    sink = MemorySink()
    err = InputError("corrupt video x.mp4 at frame 2: Invalid data")
    pipeline = Pipeline(
        FailingSource(still, good=2, exc=err), settings(), [sink], segmenter=segmenter
    )
    pipeline.start()
    _assert_failed_cleanly(pipeline, sink)
    assert pipeline.error is err


# -- settings --------------------------------------------------------------------------


def test_update_settings_switches_background(clip: Path, segmenter: Segmenter) -> None:
    switch_after = 5

    class SwitchingSink(MemorySink):
        pipeline: Pipeline

        def submit(self, frame: Frame) -> None:
            super().submit(frame)
            if frame.seq == switch_after:
                self.pipeline.update_settings(settings(BackgroundSpec("mask")))

    sink = SwitchingSink()
    pipeline = Pipeline(VideoFileSource(str(clip)), settings(), [sink], segmenter=segmenter)
    sink.pipeline = pipeline
    pipeline.run()
    assert len(sink.frames) == CLIP_FRAMES
    assert pipeline.settings.background.kind == "mask"
    for seq, _, output, alpha in sink.frames:
        is_mask = all(np.array_equal(output[..., c], alpha) for c in range(3))
        if seq <= switch_after:
            assert not is_mask, f"frame {seq} shows the mask before the switch"
            bg = alpha == 0
            assert bg.any()
            assert (output[bg] == (0, 255, 0)).all(), f"frame {seq} is not on green"
        else:
            assert is_mask, f"frame {seq} does not show the mask after the switch"


# -- channels --------------------------------------------------------------------------


def test_latest_slot_replaces_and_counts_drops() -> None:
    slot: LatestSlot[int] = LatestSlot()
    assert slot.put(1) is None
    assert slot.put(2) == 1
    assert slot.put(3) == 2
    assert slot.dropped == 2
    assert slot.passed == 3
    assert len(slot) == 1
    assert slot.get() == 3
    assert slot.get(timeout=0.01) is None
    slot.put(4)
    slot.close()
    assert slot.get() == 4, "an item put before close() must still be delivered"
    assert slot.get() is END
    assert slot.get() is END
    with pytest.raises(Closed):
        slot.put(5)


def test_bounded_queue_blocks_and_never_drops() -> None:
    q: BoundedQueue[int] = BoundedQueue(2)
    assert q.put(1) and q.put(2)
    assert q.put(3, timeout=0.01) is False  # full: the put times out rather than dropping
    assert len(q) == 2
    assert q.dropped == 0

    done = threading.Event()

    def producer() -> None:
        q.put(3)
        done.set()

    t = threading.Thread(target=producer)
    t.start()
    assert not done.wait(0.05), "put() on a full queue did not block"
    assert q.get() == 1
    t.join(10)
    assert done.is_set()
    assert [q.get(), q.get()] == [2, 3]
    assert q.dropped == 0 and q.passed == 3


def test_bounded_queue_offer_counts_drops() -> None:
    q: BoundedQueue[int] = BoundedQueue(1)
    assert q.offer(1)
    assert not q.offer(2)
    assert q.dropped == 1
    assert q.get() == 1


def test_bounded_queue_close_then_end_after_drain() -> None:
    q: BoundedQueue[int] = BoundedQueue(4)
    q.put(1)
    q.put(2)
    q.close()
    q.close()  # idempotent
    assert q.closed
    assert [q.get(), q.get()] == [1, 2]
    assert q.get() is END
    with pytest.raises(Closed):
        q.put(3)
    with pytest.raises(Closed):
        q.offer(3)


def test_close_wakes_blocked_producer_and_consumer() -> None:
    full: BoundedQueue[int] = BoundedQueue(1)
    full.put(0)
    empty: BoundedQueue[int] = BoundedQueue(1)
    results: dict[str, object] = {}

    def blocked_put() -> None:
        try:
            full.put(1)
            results["put"] = "returned"
        except Closed:
            results["put"] = "closed"

    def blocked_get() -> None:
        results["get"] = empty.get()

    threads = [threading.Thread(target=blocked_put), threading.Thread(target=blocked_get)]
    for t in threads:
        t.start()
    time.sleep(0.05)
    full.discard()
    empty.close()
    for t in threads:
        t.join(10)
        assert not t.is_alive()
    assert results == {"put": "closed", "get": END}


def test_discard_returns_pending_items() -> None:
    q: BoundedQueue[str] = BoundedQueue(4)
    for item in "abc":
        q.put(item)
    assert q.discard() == ["a", "b", "c"]
    assert q.closed
    assert len(q) == 0
    assert q.get() is END
    slot: LatestSlot[str] = LatestSlot()
    slot.put("x")
    assert slot.discard() == ["x"]
    assert slot.get() is END


# -- compositor ------------------------------------------------------------------------


def test_blend_matches_float_reference() -> None:
    rng = np.random.default_rng(1)
    h, w = 97, 131
    fg = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    bg = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    alpha = rng.integers(0, 256, (h, w), dtype=np.uint8)
    alpha[0, :] = 0
    alpha[1, :] = 255
    out = blend(fg, bg, alpha, np.empty((h, w, 3), np.uint8))
    a = alpha.astype(np.float64)[..., None] / 255.0
    ref = fg * a + bg * (1.0 - a)
    assert np.abs(out - ref).max() <= 1.0
    assert np.array_equal(out[0], bg[0]), "alpha 0 must give the background exactly"
    assert np.array_equal(out[1], fg[1]), "alpha 255 must give the foreground exactly"


def _composite(spec: BackgroundSpec, image: np.ndarray, mask: np.ndarray) -> Frame:
    frame = Frame(0, image, 0.0)
    frame.mask = mask
    Compositor(spec).process(frame)
    return frame


@pytest.fixture()
def random_frame() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (180, 320, 3), dtype=np.uint8)
    mask = rng.random((144, 256), dtype=np.float32)
    return image, mask


def test_compositor_none_gives_bgra_with_alpha(random_frame) -> None:
    image, mask = random_frame
    frame = _composite(BackgroundSpec("none"), image, mask)
    assert frame.output.shape == (180, 320, 4)
    assert frame.alpha.shape == (180, 320)
    assert np.array_equal(frame.output[..., 3], frame.alpha)
    assert np.array_equal(frame.output[..., :3], image)
    assert frame.alpha.min() < 50 and frame.alpha.max() > 200


def test_compositor_mask_gives_grey_alpha(random_frame) -> None:
    image, mask = random_frame
    frame = _composite(BackgroundSpec("mask"), image, mask)
    assert frame.output.shape == (180, 320, 3)
    for c in range(3):
        assert np.array_equal(frame.output[..., c], frame.alpha)


def test_compositor_alpha_extremes(random_frame) -> None:
    image, _ = random_frame
    ones = np.ones((144, 256), np.float32)
    frame = _composite(GREEN, image, ones)
    assert (frame.alpha == 255).all()
    assert np.array_equal(frame.output, image)
    frame = _composite(GREEN, image, np.zeros_like(ones))
    assert (frame.alpha == 0).all()
    assert (frame.output == (0, 255, 0)).all()


def test_compositor_alpha_is_bilinear_and_centre_aligned() -> None:
    """A horizontal ramp upsampled 8x must stay a ramp, not steps, and must not shift."""
    cols = np.arange(32, dtype=np.float32) * 8.0
    mask = np.tile(cols / 255.0, (18, 1))
    alpha = Compositor(GREEN).alpha(mask, (256, 144))
    assert alpha.shape == (144, 256)
    # Pixel centres map to pixel centres: output x samples input (x + 0.5) / 8 - 0.5.
    x_src = (np.arange(256) + 0.5) / 8.0 - 0.5
    expected = np.interp(x_src, np.arange(32), cols)
    assert np.abs(alpha.astype(np.float64) - expected[None, :]).max() <= 1.0


def test_start_up_description_names_the_chain_as_it_runs():
    from segcam.filters.base import parse_chain
    from segcam.pipeline import describe_run

    chain = parse_chain("ensemble,temporal,smoothstep:lo=0.4:hi=0.8,refine")
    text = describe_run(PipelineSettings(model="landscape", filters=chain))
    assert text.endswith(
        "model landscape, filters ensemble,temporal,smoothstep:lo=0.4:hi=0.8,refine"
    )
    # --model general: the ensemble would run general twice, so it is not run (or named).
    text = describe_run(PipelineSettings(model="general", filters=chain))
    assert text.endswith("model general, filters temporal,smoothstep:lo=0.4:hi=0.8,refine")


def test_drops_are_described_in_words():
    from segcam.pipeline import describe_drops

    assert describe_drops({"capture": 0, "sink:LatencySink": 0}) == "none"
    assert describe_drops({"capture": 3, "sink:Recorder": 2, "sink:PreviewSink": 0}) == (
        "5 (3 input frames replaced by a newer one before the worker took them; "
        "2 skipped by the recorder, which was still busy)"
    )
