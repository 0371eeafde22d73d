"""The live session (segcam/session.py): sinks that attach and detach while frames flow,
source switches that keep the sinks, settings applied as a diff (counted loads), and
"every output is composited with its own frame's mask", checked on the outputs' pixels.

Everything is real (LiteRT model, filters, PyAV encoder, pyvirtualcam's Camera) except
at the device boundary: file-backed sources, a pyvirtualcam backend registered with
``register_backend``, and, in the own-mask tests only, a segmenter whose mask is read
from the frame's pixels, so that a mask from another frame shows in the output.
"""

# ruff: noqa: F811  (the backend fixture is imported from tests/test_vcam.py)

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from segcam.caches import model_key
from segcam.capture import DemoSource, VideoFileSource
from segcam.config import PipelineSettings, parse_background
from segcam.filters.base import parse_chain
from segcam.frame import Frame
from segcam.processor import Processor
from segcam.session import Session, paced
from segcam.sinks.base import MemorySink, StreamInfo
from segcam.sinks.encoder import Encoder, FileOutput
from segcam.sinks.vcam import VirtualCameraSink
from tests.conftest import make_clip, wait_until
from tests.test_vcam import (
    backend,  # noqa: F401  (the fake pyvirtualcam backends fixture)
    wait_until,
)

DEADLINE_S = 60.0  # hang guard for a loaded 2-core machine; no timing is asserted


def more_frames(sink: MemorySink, n: int) -> None:
    have = len(sink.frames)
    wait_until(lambda: len(sink.frames) >= have + n, f"{n} more frames")


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_clip(
        tmp_path_factory.mktemp("session") / "talk.mp4", frames=30, size=(320, 180), audio=False
    )


LIVE = PipelineSettings(filters=parse_chain("live"))


# -- every output has its own frame's mask ------------------------------------------------

W, H = 320, 192
STRIPE = 32  # the "person": a 32-px column stripe whose place encodes seq


def stripe_x(seq: int) -> int:
    return (seq % (W // STRIPE)) * STRIPE


def level(seq: int) -> int:
    return 40 + 16 * (seq % 10)  # the frame's grey level also encodes seq


class SeqSource:
    """Frames whose pixels say which frame they are: grey ``level(seq)`` everywhere, and a
    stripe at ``stripe_x(seq)`` whose red channel is 255 (the "person")."""

    live = False
    fps = 30.0
    size = (W, H)
    frame_count = None
    media_path = None
    name = "sequence"

    def __init__(self, frames: int) -> None:
        self.frames = frames
        self.seq = 0

    def start(self) -> None:
        pass

    def read(self) -> Frame | None:
        if self.seq >= self.frames:
            return None
        img = np.full((H, W, 3), level(self.seq), np.uint8)
        x = stripe_x(self.seq)
        img[:, x : x + STRIPE, 2] = 255
        f = Frame(self.seq, img, self.seq / self.fps)
        self.seq += 1
        return f

    def stop(self) -> None:
        pass


class PixelSegmenter:
    """A segmenter whose mask comes from the image it is given: person where red is 255."""

    def __init__(self) -> None:
        self.last_small = np.zeros((H // 2, W // 2, 3), np.uint8)

    def segment(self, image: np.ndarray) -> np.ndarray:
        cv2.resize(image, (W // 2, H // 2), dst=self.last_small, interpolation=cv2.INTER_AREA)
        return (self.last_small[:, :, 2] > 250).astype(np.float32)

    def reset(self) -> None:
        pass


class StaleSegmenter(PixelSegmenter):
    """The bug the test must catch: each output gets the previous frame's mask."""

    def __init__(self) -> None:
        super().__init__()
        self._prev: np.ndarray | None = None

    def segment(self, image: np.ndarray) -> np.ndarray:
        mask = super().segment(image)
        prev, self._prev = self._prev, mask
        return mask if prev is None else prev


BLUE = (255, 0, 0)
OWN_MASK = PipelineSettings(
    filters=parse_chain("none"), background=parse_background("#0000ff"), model="landscape"
)


def frame_of(output: np.ndarray) -> tuple[int | None, int | None]:
    """(seq mod 10 read from the grey level of the person, stripe index read from where the
    output is not the blue background); a frame composited with its own mask gives the
    same seq both ways."""
    row = output[H // 2, :, :3].astype(int)
    person = np.abs(row - np.array(BLUE)).sum(axis=1) > 120
    xs = np.flatnonzero(person)
    if not STRIPE // 2 <= len(xs) <= 2 * STRIPE:
        return None, None  # no stripe: the virtual camera's card, say
    g = int(np.median(row[xs, 1]))
    return (g - 40 + 8) // 16 % 10, int(np.median(xs)) // STRIPE


def mismatches(outputs: list[tuple[int, np.ndarray]]) -> list[int]:
    """Seqs whose output shows a mask from another frame."""
    bad = []
    for seq, out in outputs:
        lvl, stripe = frame_of(out)
        if (lvl, stripe) != (seq % 10, stripe_x(seq) // STRIPE):
            bad.append(seq)
    return bad


def run_seq(segmenter, tmp_path: Path, backend_name: str, frames: int = 40):
    session = Session(OWN_MASK)
    session.caches.segmenters.put(model_key(OWN_MASK), segmenter)
    memory = MemorySink()
    info = StreamInfo(size=(W, H), fps=30.0, live=False)
    session.attach("memory", memory, info=info)
    encoder = Encoder()
    session.attach("encoder", encoder, info=info)
    out = FileOutput(str(tmp_path / "seq.mkv"))
    encoder.add_output(out)
    vcam = VirtualCameraSink(backend=backend_name, fps=30.0)
    session.attach("vcam", vcam, info=StreamInfo(size=(W, H), fps=30.0, live=True))
    pipeline = session.open(SeqSource(frames))
    assert pipeline.wait(DEADLINE_S)
    assert session.close() is None
    return memory, tmp_path / "seq.mkv", vcam


def decoded(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]


def test_every_output_is_composited_with_its_own_frames_mask(tmp_path, backend):
    name, cls = backend()
    memory, video, vcam = run_seq(PixelSegmenter(), tmp_path, name)
    # The memory sink: every frame, lossless.
    assert [s for s, *_ in memory.frames] == list(range(40))
    assert mismatches([(s, out) for s, _, out, _ in memory.frames]) == []
    # The recording: frames in order (H.264 is lossy; the check reads coarse features).
    frames = decoded(video)
    assert len(frames) == 40
    assert mismatches(list(enumerate(frames))) == []
    # The virtual camera: whatever frames it sent (it may repeat or skip), each is whole.
    sent = [f for f in cls.opened[0].frames if frame_of(f) != (None, None)]
    assert sent and vcam.frames_new > 0
    for f in sent:
        lvl, stripe = frame_of(f)
        assert any((lvl, stripe) == (s % 10, stripe_x(s) // STRIPE) for s in range(40)), (
            "the virtual camera sent a frame composited with another frame's mask"
        )


def test_the_own_mask_check_fails_when_masks_lag_a_frame(tmp_path, backend):
    """The same checks catch the bug they are for: a processor that pairs each frame with
    the previous frame's mask (what a stale mask looks like in the output)."""
    name, _ = backend()
    memory, video, _ = run_seq(StaleSegmenter(), tmp_path, name)
    assert len(mismatches([(s, out) for s, _, out, _ in memory.frames])) >= 39
    assert len(mismatches(list(enumerate(decoded(video))))) >= 39


# -- attach and detach while frames flow ----------------------------------------------------


def test_sinks_attach_and_detach_during_a_run_without_drops_at_the_others(clip, tmp_path):
    session = Session(LIVE)
    steady = MemorySink(keep_output=False)
    source = VideoFileSource(str(clip), loop=True)
    session.attach("steady", steady, info=session.stream_info(source))
    pipeline = session.open(source, max_frames=150)
    transient: list[MemorySink] = []
    outputs: list[FileOutput] = []
    for i in range(3):
        more_frames(steady, 10)
        extra = MemorySink(keep_output=False)
        session.attach("extra", extra)
        encoder = Encoder()
        session.attach("encoder", encoder)
        out = FileOutput(str(tmp_path / f"part{i}.mp4"))
        encoder.add_output(out)
        more_frames(steady, 10)
        assert session.detach("extra") is extra
        assert session.detach("encoder") is encoder  # stops it: the file is finalised
        transient.append(extra)
        outputs.append(out)
    assert pipeline.wait(DEADLINE_S)
    assert session.close() is None
    seqs = [s for s, *_ in steady.frames]
    # The sink that stayed saw every frame, in order, while the others came and went.
    assert seqs == list(range(150)) and steady.dropped == 0
    assert pipeline.drops()["capture"] == 0
    for extra, out in zip(transient, outputs, strict=True):
        got = [s for s, *_ in extra.frames]
        assert got and got == list(range(got[0], got[0] + len(got)))  # a contiguous run
        assert out.error is None and len(decoded(Path(out.target))) >= 5


def test_one_encode_feeds_a_file_and_a_second_file_at_once(clip, tmp_path):
    session = Session(LIVE)
    source = paced(VideoFileSource(str(clip), loop=True))
    session.open(source)
    encoder = Encoder()
    session.attach("encoder", encoder)
    a, b = FileOutput(str(tmp_path / "a.mp4")), FileOutput(str(tmp_path / "b.mkv"))
    encoder.add_output(a)
    wait_until(lambda: a.packets >= 10, "the first file")
    encoder.add_output(b)  # joins the running encode at its next (forced) keyframe
    wait_until(lambda: b.packets >= 10, "the second file")
    assert session.close() is None
    assert encoder.frames_encoded >= a.packets >= b.packets + 10
    assert len(decoded(Path(a.target))) == a.packets
    assert len(decoded(Path(b.target))) == b.packets


# -- switching the source ---------------------------------------------------------------------


def test_switching_the_source_keeps_the_sinks_and_the_model(clip, tmp_path, backend):
    name, cls = backend()
    session = Session(LIVE)
    memory = MemorySink(keep_output=False)
    first = paced(VideoFileSource(str(clip), loop=True))
    info = session.stream_info(first)
    session.attach("memory", memory, info=info)
    vcam = VirtualCameraSink(backend=name, fps=30.0)
    session.attach("vcam", vcam, info=info)
    encoder = Encoder()
    session.attach("encoder", encoder, info=info)
    out = FileOutput(str(tmp_path / "both.mp4"))
    encoder.add_output(out)
    session.open(first)
    wait_until(lambda: len(memory.frames) >= 10, "frames from the clip")
    session.open(DemoSource(resolution=(640, 360)))
    n = len(memory.frames)
    wait_until(lambda: len(memory.frames) >= n + 10, "frames from the demo")
    assert session.runs == 2
    assert session.sinks.names() == ["memory", "vcam", "encoder"]
    assert not memory.stopped and vcam.error is None and encoder.error is None
    sizes = {a.shape[:2] for *_, a in memory.frames}
    assert sizes == {(180, 320), (360, 640)}  # frames of both sources reached the sink
    assert session.loads["model"] == 1 and session.loads["background"] == 1
    assert session.loads["filter:temporal"] == 1  # the same processor, not a rebuilt one
    assert session.close() is None
    assert len(cls.opened) == 1 and cls.opened[0].closed == 1  # the device stayed open
    frames = decoded(Path(out.target))  # one file across the switch, at its first size
    assert len(frames) == out.packets >= 15 and frames[-1].shape[:2] == (180, 320)


# -- settings as a diff -------------------------------------------------------------------------


def applied(session: Session, settings: PipelineSettings) -> None:
    session.apply(settings)
    wait_until(lambda: session.processor.settings == settings, "the worker to apply them")


def test_settings_changes_rebuild_only_what_changed(clip, tmp_path):
    big = tmp_path / "big.jpg"
    cv2.imwrite(str(big), np.random.default_rng(0).integers(0, 255, (2160, 3840, 3), np.uint8))
    other = tmp_path / "other.png"
    cv2.imwrite(str(other), np.full((90, 160, 3), 200, np.uint8))
    chain = "temporal,smoothstep:lo=0.4:hi=0.8,refine:detail=2"
    start = PipelineSettings(filters=parse_chain(chain), background=parse_background(str(big)))
    session = Session(start)
    memory = MemorySink(keep_output=False)
    source = paced(VideoFileSource(str(clip), loop=True))
    session.attach("memory", memory, info=session.stream_info(source))
    session.open(source)
    wait_until(lambda: len(memory.frames) >= 5, "frames")
    proc = session.processor
    temporal = proc.chain.instances[0]
    provider = proc.compositor._background
    before = session.loads.snapshot()

    # 20 threshold ticks: the smooth step alone is rebuilt each time.
    for i in range(20):
        lo = 0.30 + 0.01 * i
        s = PipelineSettings(
            filters=parse_chain(f"temporal,smoothstep:lo={lo:.2f}:hi=0.8,refine:detail=2"),
            background=start.background,
        )
        applied(session, s)
    after = session.loads.snapshot()
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    assert {k: v for k, v in delta.items() if v} == {"filter:smoothstep": 20}
    assert proc.chain.instances[0] is temporal and temporal._prev is not None  # state kept
    assert proc.compositor._background is provider  # the 4K image was not decoded again

    # A frame filter on and off: no model, background or mask filter is touched.
    with_colour = PipelineSettings(
        filters=(*s.filters, *parse_chain("colour")), background=s.background
    )
    applied(session, with_colour)
    applied(session, s)
    after2 = session.loads.snapshot()
    delta = {k: after2.get(k, 0) - after.get(k, 0) for k in after2}
    assert {k: v for k, v in delta.items() if v} == {"filter:colour": 1}  # built once, on
    assert proc.chain.instances[0] is temporal

    # A background switch loads the background, not the model; and back: from the cache.
    applied(session, PipelineSettings(filters=s.filters, background=parse_background(str(other))))
    applied(session, s)
    # A model switch loads the model, not the background; and back: from the cache.
    applied(session, PipelineSettings(filters=s.filters, background=s.background, model="general"))
    applied(session, s)
    after3 = session.loads.snapshot()
    delta = {k: after3.get(k, 0) - after2.get(k, 0) for k in after3}
    assert {k: v for k, v in delta.items() if v} == {"background": 1, "model": 1}
    assert proc.compositor._background is provider

    assert session.close() is None


def test_a_checked_model_is_handed_over_not_loaded_again(clip):
    session = Session(LIVE)
    session.open(paced(VideoFileSource(str(clip), loop=True)))
    general = PipelineSettings(filters=LIVE.filters, model="general")
    checked = session.load_segmenter(general)  # what the window's check does, in a job
    assert session.loads["model"] == 2
    applied(session, general)
    assert session.processor.segmenter is checked and session.loads["model"] == 2
    assert session.close() is None


def test_temporal_keeps_its_history_when_its_own_parameters_change(clip):
    """A new strength builds a new temporal filter, which takes over the old one's
    history: smoothing goes on from the past instead of restarting."""
    chain = "temporal:strength=0.6,smoothstep:lo=0.4:hi=0.8"
    proc = Processor(PipelineSettings(filters=parse_chain(chain), background=LIVE.background))
    source = VideoFileSource(str(clip), loop=True)
    source.start()
    try:
        for _ in range(5):
            proc.process(source.read())
    finally:
        source.stop()
    old = proc.chain.instances[0]
    kept = old._prev.copy()
    stronger = chain.replace("strength=0.6", "strength=0.9")
    proc.apply(PipelineSettings(filters=parse_chain(stronger), background=LIVE.background))
    new = proc.chain.instances[0]
    assert new is not old and new.w_still == pytest.approx(0.1)
    assert new._prev is not None and np.array_equal(new._prev, kept)
    assert new._prev_gray is old._prev_gray


def test_a_processor_of_its_own_keeps_the_old_behaviour():
    """Outside a session (mask, eval) a processor has private caches: nothing is shared."""
    a, b = Processor(LIVE), Processor(LIVE)
    assert a.segmenter is not b.segmenter and a.caches is not b.caches


def test_one_encode_feeds_a_file_and_a_udp_stream(clip, tmp_path):
    """The picamera2 split: one H.264 encode, muxed into an MP4 and an MPEG-TS stream."""
    import io
    import socket
    import threading

    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(0.2)
    port = rx.getsockname()[1]
    received = bytearray()
    done = threading.Event()

    def receive() -> None:
        while not done.is_set():
            try:
                received.extend(rx.recv(65536))
            except TimeoutError:
                continue

    t = threading.Thread(target=receive, daemon=True)
    t.start()
    try:
        session = Session(LIVE)
        session.open(paced(VideoFileSource(str(clip), loop=True)))
        encoder = Encoder()
        session.attach("encoder", encoder)
        from segcam.sinks.encoder import StreamOutput

        stream = StreamOutput(f"udp://127.0.0.1:{port}")
        encoder.add_output(stream)
        file = FileOutput(str(tmp_path / "also.mp4"))
        encoder.add_output(file)
        wait_until(lambda: file.packets >= 20, "the file")
        assert session.close() is None
        wait_until(lambda: len(received) >= 188 * 50, "datagrams")
    finally:
        done.set()
        t.join(5)
        rx.close()
    assert stream.error is None and file.error is None
    with av.open(io.BytesIO(bytes(received)), format="mpegts") as c:
        streamed = sum(1 for _ in c.decode(video=0))
    assert streamed >= 15 and len(decoded(Path(file.target))) == file.packets
    assert encoder.frames_encoded >= max(stream.packets, file.packets)  # encoded once


class BrokenSink(MemorySink):
    """Fails on its third frame, as a recorder on a full disk would."""

    def submit(self, frame: Frame) -> None:
        super().submit(frame)
        if len(self.frames) == 3:
            self.error = RuntimeError("disk full")


def test_a_failing_sink_is_reported_and_the_others_go_on(clip):
    failed = []
    session = Session(LIVE, on_sink_error=lambda entry: failed.append(entry.name))
    steady = MemorySink(keep_output=False)
    source = VideoFileSource(str(clip), loop=True)
    session.attach("steady", steady, info=session.stream_info(source))
    session.attach("broken", BrokenSink(keep_output=False), info=session.stream_info(source))
    pipeline = session.open(source, max_frames=40)
    assert pipeline.wait(DEADLINE_S)
    assert pipeline.error is None and failed == ["broken"]
    assert [s for s, *_ in steady.frames] == list(range(40))
    assert len(session.attached("broken").frames) == 3  # skipped after its failure
    session.close()


# -- inference skipping: a mask proven still valid, or the frame's own ----------------------

SQUARE = 10  # a small "person": a red square on a still grey room


def square_x(seq: int, step: int) -> int:
    return 40 + step * seq


class SquareSource(SeqSource):
    """A still grey room with sensor noise and a red square that moves ``step`` px a frame
    (0: it stays), or jumps 60 px every ``jump`` frames."""

    def __init__(self, frames: int, step: int = 0, jump: int = 0) -> None:
        super().__init__(frames)
        self.step, self.jump = step, jump
        self._rng = np.random.default_rng(1)

    def x(self, seq: int) -> int:
        return square_x(seq, self.step) + (60 * (seq // self.jump) if self.jump else 0)

    def read(self) -> Frame | None:
        if self.seq >= self.frames:
            return None
        img = np.full((H, W, 3), 128, np.int16)
        img += self._rng.integers(-1, 2, img.shape, dtype=np.int16)  # sensor noise
        img = img.astype(np.uint8)
        x, y = self.x(self.seq), H // 2 - SQUARE // 2
        img[y : y + SQUARE, x : x + SQUARE, 2] = 255
        f = Frame(self.seq, img, self.seq / self.fps)
        self.seq += 1
        return f


def square_at(output: np.ndarray) -> int | None:
    """The left edge of what the output shows of the person (not the blue background)."""
    row = output[H // 2, :, :3].astype(int)
    xs = np.flatnonzero(np.abs(row - np.array(BLUE)).sum(axis=1) > 120)
    return int(xs[0]) if len(xs) else None


def run_squares(source: SquareSource, chain: str) -> list[tuple[int, int, np.ndarray]]:
    """(seq, mask_seq, output) of every frame of ``source`` through a session whose
    segmenter reads the person from the pixels, with the chain ``chain``."""
    settings = PipelineSettings(
        filters=parse_chain(chain), background=OWN_MASK.background, model="landscape"
    )
    session = Session(settings)
    session.caches.segmenters.put(model_key(settings), PixelSegmenter())
    memory = MemorySink()
    session.attach("memory", memory, info=StreamInfo(size=(W, H), fps=30.0, live=False))
    pipeline = session.open(source)
    assert pipeline.wait(DEADLINE_S)
    reused = pipeline.stats.masks_reused
    assert session.close() is None
    frames = [(s, m, out) for s, m, out, _ in memory.frames]
    assert sum(s != m for s, m, _ in frames) == reused  # the count the status bar shows
    return frames


def wrong_place(frames, source: SquareSource) -> list[int]:
    return [s for s, _, out in frames if square_at(out) != source.x(s)]


def test_a_still_scene_skips_the_model_and_each_output_still_shows_its_own_frame():
    """Between jumps of the square the room is still: the model's mask is reused (at most
    5 frames in a row), and every output, reused or not, shows the square where that
    frame has it; a jump is never covered by an old mask."""
    source = SquareSource(48, jump=12)
    frames = run_squares(source, "skip")
    assert [s for s, *_ in frames] == list(range(48))
    reused = [(s, m) for s, m, _ in frames if m != s]
    assert len(reused) >= 30  # 48 frames, a model run at least every 6th and at each jump
    assert all(0 < s - m <= 5 for s, m in reused)
    assert all(s // 12 == m // 12 for s, m in reused)  # never across a jump
    assert wrong_place(frames, SquareSource(48, jump=12)) == []


def test_a_small_moving_object_never_gets_an_old_mask():
    """A square of 10 px moving 2 px a frame changes the model's input too little for PSNR
    to see (over 35 dB between frames); the rule's cell test sees it, so the model runs on
    every frame. With the cell test made blind (motion=64) the stale masks show in the
    output: this test would catch a rule that skips during motion."""
    from segcam.inference.skip import SkipRule

    src = SquareSource(3, step=2)
    a, b = src.read(), src.read()
    rule = SkipRule()
    size = (W // 2, H // 2)
    rule.still(a.image, size)
    rule.keep(0, np.zeros((1, 1), np.float32), np.zeros((1, 1), np.float32))
    assert not rule.still(b.image, size)
    assert rule.last_psnr >= 35.0  # PSNR alone would have reused the mask

    frames = run_squares(SquareSource(30, step=2), "skip")
    assert [(s, m) for s, m, _ in frames if m != s] == []
    assert wrong_place(frames, SquareSource(30, step=2)) == []

    blind = run_squares(SquareSource(30, step=2), "skip:motion=64")
    assert sum(s != m for s, m, _ in blind) >= 10
    assert len(wrong_place(blind, SquareSource(30, step=2))) >= 10
