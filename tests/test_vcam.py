"""The virtual camera: the real ``pyvirtualcam.Camera`` over a backend that records.

This machine has no v4l2loopback module, so the device boundary is a backend
registered with ``pyvirtualcam.register_backend``: a full implementation of
pyvirtualcam's Backend contract that keeps every frame it is sent, with the time
it arrived. Everything above it is real: ``pyvirtualcam.Camera`` (its format and
shape checks, its pacing), the sink, the pipeline, the model, ``segcam vcam``.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
import pytest
import pyvirtualcam
from pyvirtualcam.camera import BACKENDS
from pyvirtualcam.util import decode_fourcc, encode_fourcc

from segcam.capture import VideoFileSource
from segcam.config import PipelineSettings, parse_background
from segcam.frame import Frame
from segcam.imaging import cover_fit
from segcam.pipeline import Pipeline
from segcam.sinks.base import MemorySink, StreamInfo
from segcam.sinks.vcam import NEUTRAL_GREY, VirtualCameraSink, device_readers
from tests.conftest import REPO, make_clip, run_cli, wait_until

DEADLINE_S = 30.0  # generous waits for threads on a busy 2-core machine; never a timing check


class RecordingBackend:
    """A pyvirtualcam backend that keeps what it receives (see the module docstring).

    Class attributes configure a registered subclass: ``fail_open`` makes the
    constructor fail as a missing device does, ``fail_after`` makes ``send`` fail
    after that many frames as a vanished device does, ``progress_file`` gets the
    number of frames received (for a test watching a subprocess).
    """

    opened: ClassVar[list[RecordingBackend]]
    fail_open: ClassVar[str | None] = None
    fail_after: ClassVar[int | None] = None
    progress_file: ClassVar[str | None] = None
    formats: ClassVar[tuple[str, ...]] = ("24BG", "raw ", "I420")

    def __init__(
        self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kw
    ) -> None:
        if self.fail_open:
            raise RuntimeError(self.fail_open)
        fmt = decode_fourcc(fourcc)
        if fmt not in self.formats:
            raise ValueError(f"unsupported pixel format {fmt!r}")
        self.width, self.height, self.fps, self.fmt = width, height, fps, fmt
        self._device = device or "/dev/video10"
        self.frames: list[np.ndarray] = []
        self.times: list[float] = []
        self.closed = 0
        type(self).opened.append(self)

    def send(self, frame: np.ndarray) -> None:
        if self.closed:
            raise RuntimeError("send() after close()")
        if self.fail_after is not None and len(self.frames) >= self.fail_after:
            raise OSError(19, "No such device")
        assert frame.dtype == np.uint8 and frame.ndim == 1 and frame.flags.c_contiguous
        assert frame.size == self.width * self.height * 3
        self.times.append(time.perf_counter())
        self.frames.append(frame.reshape(self.height, self.width, 3).copy())
        if self.progress_file:
            Path(self.progress_file).write_text(str(len(self.frames)))

    def close(self) -> None:
        self.closed += 1
        if self.progress_file:
            Path(self.progress_file).write_text(f"closed {len(self.frames)}")

    def device(self) -> str:
        return self._device

    def native_fourcc(self) -> int | None:
        return encode_fourcc(self.fmt)  # it stores frames as they come


_names = itertools.count()


def register(**attrs) -> tuple[str, type[RecordingBackend]]:
    """Register a fresh RecordingBackend subclass; returns (backend name, class)."""
    cls = type("Backend", (RecordingBackend,), {"opened": [], **attrs})
    name = f"segcam-test-{os.getpid()}-{next(_names)}"
    pyvirtualcam.register_backend(name, cls)
    return name, cls


@pytest.fixture
def backend():
    names: list[str] = []

    def make(**attrs):
        name, cls = register(**attrs)
        names.append(name)
        return name, cls

    yield make
    for n in names:
        BACKENDS.pop(n, None)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """45 frames (3 s at 15 fps) of the real talking head at 320x180, no audio."""
    return make_clip(
        tmp_path_factory.mktemp("vcam") / "talk.mp4", frames=45, size=(320, 180), audio=False
    )


def is_neutral(image: np.ndarray) -> bool:
    return bool((image == NEUTRAL_GREY).all())


def runs(frames: list[np.ndarray]) -> list[np.ndarray]:
    """The distinct pictures in arrival order (a repeated frame counts once)."""
    out: list[np.ndarray] = []
    for f in frames:
        if not out or not np.array_equal(out[-1], f):
            out.append(f)
    return out


def summary(stdout: str) -> dict[str, int]:
    """The figures of ``segcam vcam``'s two summary lines, as a user reads them."""
    m = re.search(
        r"sent (\d+) frames .*: (\d+) new, (\d+) repeated \(.*\), (\d+) placeholder cards",
        stdout,
    )
    assert m, f"no 'sent' summary line in {stdout!r}"
    n = re.search(
        r"processed (\d+) frames: (\d+) sent, (\d+) skipped[^,\n]*(?:, (\d+) not sent)?", stdout
    )
    assert n, f"no 'processed' summary line in {stdout!r}"
    keys = ("sent", "new", "repeated", "cards")
    out = dict(zip(keys, map(int, m.groups()), strict=True))
    processed, processed_sent, skipped, not_sent = n.groups()
    out.update(
        processed=int(processed),
        processed_sent=int(processed_sent),
        skipped=int(skipped),
        not_sent=int(not_sent or 0),
    )
    return out


def assert_adds_up(s: dict[str, int], frames: list[np.ndarray]) -> None:
    """The summary's arithmetic, checked against what the device really received."""
    assert s["sent"] == len(frames)
    assert s["sent"] == s["new"] + s["repeated"] + s["cards"]
    assert s["processed"] == s["processed_sent"] + s["skipped"] + s["not_sent"]
    assert s["new"] == s["processed_sent"]
    assert s["cards"] == sum(is_neutral(f) for f in frames)
    # Every new frame is a distinct picture; a repeat is the picture before it again.
    assert s["new"] == len([f for f in runs(frames) if not is_neutral(f)])


def synthetic(seq: int, size=(64, 48), channels: int = 3) -> Frame:
    w, h = size
    rng = np.random.default_rng(seq)
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    frame = Frame(seq, image, seq / 30)
    if channels == 3:
        frame.output = image.copy()
    else:
        frame.output = np.dstack([image, np.full((h, w), 255, np.uint8)])
    return frame


# -- segcam vcam, end to end ---------------------------------------------------------------


def test_frames_arrive_at_device_size_in_bgr_and_frames_is_honoured(backend, clip, capsys):
    name, cls = backend()
    code, out, err = run_cli(
        ["vcam", "--input", str(clip), "--backend", name, "--device", "/dev/video10",
         "--frames", "12", "-b", "#00ff00"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert len(cls.opened) == 1
    cam = cls.opened[0]
    assert (cam.width, cam.height, cam.fmt) == (320, 180, "24BG")
    assert cam.fps == pytest.approx(15.0)
    assert cam.closed == 1
    s = summary(out)
    assert s["processed"] == 12
    assert s["sent"] == len(cam.frames)
    pictures = [f for f in runs(cam.frames) if not is_neutral(f)]
    # Every processed frame was sent once, except those a newer one replaced in time.
    assert len(pictures) == 12 - s["skipped"]
    assert len(pictures) >= 6
    for p in pictures:
        assert p.shape == (180, 320, 3)
        # The background really was replaced: a good share of each picture is pure green.
        green = (p[..., 1] > 200) & (p[..., 0] < 60) & (p[..., 2] < 60)
        assert green.mean() > 0.2
        assert green.mean() < 0.95  # and the person is still there


def test_the_summary_adds_up_and_the_start_line_names_the_chain(backend, clip, capsys):
    # The run that printed "sent 18 frames: 20 processed": --frames 20 on a 15 fps clip.
    name, cls = backend()
    code, out, err = run_cli(
        ["vcam", "--input", str(clip), "--backend", name, "--frames", "20", "-b", "#00ff00"],
        capsys,
    )
    assert code == 0, err
    s = summary(out)
    assert s["processed"] == 20
    assert_adds_up(s, cls.opened[0].frames)
    assert s["cards"] >= 1  # the card goes out before the model's first frame
    # The live chain as it runs (named through the constant: the chain itself may change).
    from segcam.filters.base import chain_text, parse_chain
    from segcam.filters.chain import LIVE_CHAIN

    assert f"filters {chain_text(parse_chain(LIVE_CHAIN))})" in err


def test_paced_rate_within_20_percent_of_requested_fps(backend, capsys):
    name, cls = backend()
    code, _, err = run_cli(
        ["vcam", "--input", "demo", "--resolution", "320x180", "--fps", "20", "--backend",
         name, "--frames", "40"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    times = cls.opened[0].times
    assert len(times) >= 30
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert 16.0 <= rate <= 24.0, f"paced at {rate:.1f} fps, asked for 20"


def test_device_that_vanishes_gives_one_line_and_clean_exit(backend, capsys):
    name, cls = backend(fail_after=8)
    code, _, err = run_cli(
        ["vcam", "--input", "demo", "--resolution", "320x180", "--backend", name], capsys
    )
    assert code == 1
    errors = [line for line in err.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, err
    assert "virtual camera /dev/video10 stopped working: [Errno 19] No such device" in errors[0]
    assert "segcam doctor" in errors[0]
    assert "Traceback" not in err
    assert cls.opened[0].closed == 1
    assert len(cls.opened[0].frames) == 8


def test_device_that_does_not_open_points_to_doctor(backend, capsys):
    name, cls = backend(fail_open="Device /dev/video10 does not exist.")
    code, _, err = run_cli(
        ["vcam", "--input", "demo", "--backend", name, "--device", "/dev/video10"], capsys
    )
    assert code == 2
    assert err.strip().splitlines() == [
        "segcam: error: cannot open the virtual camera /dev/video10: Device /dev/video10 does "
        "not exist; run `segcam doctor` to see what is missing and how to fix it"
    ]
    assert cls.opened == []


def test_unknown_backend_lists_the_registered_ones(backend, capsys):
    name, _ = backend()
    code, _, err = run_cli(["vcam", "--input", "demo", "--backend", "nosuch"], capsys)
    assert code == 2
    [line] = err.strip().splitlines()
    assert "unknown virtual camera backend 'nosuch'" in line
    assert name in line


def test_ctrl_c_stops_cleanly(tmp_path):
    progress = tmp_path / "progress"
    code = (
        "import sys, pyvirtualcam\n"
        "from tests.test_vcam import register\n"
        f"name, cls = register(progress_file={str(progress)!r})\n"
        "from segcam.cli import main\n"
        "sys.exit(main(['vcam', '--input', 'demo', '--resolution', '320x180', "
        "'--backend', name]))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def received() -> int:
        text = progress.read_text() if progress.exists() else ""
        return int(text) if text.isdigit() else 0

    try:
        wait_until(
            lambda: received() >= 10 or proc.poll() is not None,
            "frames from the subprocess",
            deadline=90,
        )
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert summary(out)["sent"] >= 10
    assert progress.read_text().startswith("closed ")


# -- the sink ----------------------------------------------------------------------------


def started_sink(name: str, size=(64, 48), fps: float = 30.0, **kw) -> VirtualCameraSink:
    sink = VirtualCameraSink(backend=name, fps=fps, **kw)
    sink.start(StreamInfo(size=size, fps=fps, live=True))
    return sink


class StallingSource:
    """A live source that stops delivering, as a hung webcam does.

    It plays ``count`` frames of the real clip at its frame rate, then ``read()``
    blocks until :attr:`release` is set and the stream ends.
    """

    live = True
    media_path = None
    frame_count = None

    def __init__(self, path: Path, count: int) -> None:
        self.inner = VideoFileSource(str(path))
        self.size, self.fps, self.name = self.inner.size, self.inner.fps, "stalling clip"
        self.count = count
        self.delivered = 0
        self.release = threading.Event()

    def start(self) -> None:
        self.inner.start()

    def read(self) -> Frame | None:
        if self.delivered >= self.count:
            self.release.wait()
            return None
        time.sleep(1.0 / self.fps)
        self.delivered += 1
        return self.inner.read()

    def stop(self) -> None:
        self.release.set()
        self.inner.stop()


def test_last_frame_is_repeated_while_the_source_stalls(backend, clip):
    name, cls = backend()
    source = StallingSource(clip, count=5)
    sink = VirtualCameraSink(backend=name, fps=20)
    memory = MemorySink()
    settings = PipelineSettings(background=parse_background("#00ff00"))
    pipeline = Pipeline(source, settings, [memory, sink])
    pipeline.start()
    try:
        wait_until(lambda: pipeline.stats.frames_out == 5, "the five frames")
        wait_until(lambda: sink.frames_new + sink.dropped == 5, "the sink to take them")
        cam = cls.opened[0]
        stalled_at = len(cam.frames)
        wait_until(lambda: len(cam.frames) >= stalled_at + 10, "ten ticks of the stall")
    finally:
        source.release.set()
        pipeline.stop()
    last_output = memory.frames[-1][2]
    stall = cam.frames[stalled_at - 1 : stalled_at + 10]
    for f in stall:
        assert np.array_equal(f, last_output)
    assert sink.repeats >= 10
    assert cam.closed == 1


def test_paused_sends_the_neutral_card_then_resumes_with_fresh_frames(backend):
    name, cls = backend()
    sink = started_sink(name)
    try:
        cam = cls.opened[0]
        wait_until(lambda: len(cam.frames) >= 2, "the card before the first frame")
        assert all(is_neutral(f) for f in cam.frames)
        first = synthetic(1)
        sink.submit(first)
        wait_until(lambda: any(np.array_equal(f, first.output) for f in cam.frames), "frame 1")
        sink.paused = True
        n = len(cam.frames)
        wait_until(lambda: len(cam.frames) >= n + 5, "sends while paused")
        sink.submit(synthetic(2))  # ignored while paused
        n = len(cam.frames)
        wait_until(lambda: len(cam.frames) >= n + 3, "more sends while paused")
        assert all(is_neutral(f) for f in cam.frames[n:])
        sink.paused = False
        n = len(cam.frames)
        wait_until(lambda: len(cam.frames) >= n + 3, "sends after resuming")
        # No stale picture from before the pause: the card until a new frame comes.
        assert all(is_neutral(f) for f in cam.frames[n:])
        third = synthetic(3)
        sink.submit(third)
        wait_until(lambda: np.array_equal(cam.frames[-1], third.output), "frame 3")
        assert not any(np.array_equal(f, synthetic(2).output) for f in cam.frames)
    finally:
        sink.stop()


def test_mirror_is_per_sink_and_leaves_the_shared_output_alone(backend):
    name_a, cls_a = backend()
    name_b, cls_b = backend()
    plain = started_sink(name_a)
    mirrored = started_sink(name_b, mirror=True)
    frame = synthetic(7)
    before = frame.output.copy()
    try:
        plain.submit(frame)
        mirrored.submit(frame)
        assert np.array_equal(frame.output, before)
        a, b = cls_a.opened[0], cls_b.opened[0]
        wait_until(lambda: plain.frames_new and mirrored.frames_new, "both sinks to send")
        wait_until(lambda: not is_neutral(a.frames[-1]) and not is_neutral(b.frames[-1]), "x")
    finally:
        plain.stop()
        mirrored.stop()
    assert np.array_equal(a.frames[-1], before)
    assert np.array_equal(b.frames[-1], before[:, ::-1])


def test_transparent_output_is_composited_on_the_neutral_grey(backend):
    name, cls = backend()
    sink = started_sink(name)
    frame = synthetic(3)
    alpha = np.zeros((48, 64), np.uint8)
    alpha[:, :32] = 255  # person on the left, background on the right
    frame.output = np.dstack([frame.image, alpha])
    try:
        sink.submit(frame)
        cam = cls.opened[0]
        wait_until(lambda: sink.frames_new == 1 and len(cam.frames) > 2, "the frame")
        wait_until(lambda: not is_neutral(cam.frames[-1]), "the composited frame")
    finally:
        sink.stop()
    got = cam.frames[-1]
    assert got.shape == (48, 64, 3)
    assert np.array_equal(got[:, :32], frame.image[:, :32])
    assert (got[:, 32:] == NEUTRAL_GREY).all()


@pytest.mark.parametrize("frame_size", [(320, 180), (240, 180)])
def test_frames_are_cover_fitted_to_the_device_size(backend, frame_size):
    name, cls = backend()
    sink = VirtualCameraSink(backend=name, size=(160, 90), fps=30)
    sink.start(StreamInfo(size=frame_size, fps=30, live=True))
    frame = synthetic(5, size=frame_size)
    frame.output = cv2.GaussianBlur(frame.output, (0, 0), 3)  # a picture, not pixel noise
    try:
        sink.submit(frame)
        cam = cls.opened[0]
        wait_until(lambda: sink.frames_new == 1, "the frame")
        wait_until(lambda: not is_neutral(cam.frames[-1]), "the fitted frame")
    finally:
        sink.stop()
    assert (cam.width, cam.height) == (160, 90)
    got = cam.frames[-1]
    # The same cover-fit geometry as the rest of segcam (no bars, no stretch), give or
    # take the half-pixel rounding of where the crop starts.
    diff = np.abs(got.astype(np.int16) - cover_fit(frame.output, (160, 90)).astype(np.int16))
    assert diff.mean() < 1.0 and diff.max() <= 8


def test_stop_is_clean_idempotent_and_safe_before_start(backend):
    VirtualCameraSink(backend="unused").stop()  # never started: nothing to do
    name, cls = backend()
    sink = started_sink(name)
    cam = cls.opened[0]
    wait_until(lambda: len(cam.frames) >= 1, "the first send")
    sink.submit(synthetic(1))
    stopper = threading.Thread(target=sink.stop)
    stopper.start()
    stopper.join(DEADLINE_S)
    sink.stop()
    assert not stopper.is_alive()
    assert not any(t.name == "segcam-vcam" and t.is_alive() for t in threading.enumerate())
    assert cam.closed == 1
    assert sink.error is None
    n = len(cam.frames)
    sink.submit(synthetic(2))
    time.sleep(0.1)
    assert len(cam.frames) == n


# -- --on-demand ---------------------------------------------------------------------------


def open_by_us(path: Path) -> bool:
    """Whether this process has ``path`` open (the input released or not)."""
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                return True
        except OSError:
            continue
    return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="--on-demand is Linux only")
def test_on_demand_runs_only_while_an_app_reads_the_device(
    backend, clip, tmp_path, monkeypatch, capsys
):
    import segcam.commands.vcam as vcam_command
    from segcam.cli import main

    proc = tmp_path / "proc"
    (proc / "4242" / "fd").mkdir(parents=True)
    monkeypatch.setattr(vcam_command, "PROC_ROOT", str(proc))
    monkeypatch.setattr(vcam_command, "POLL_S", 0.05)
    monkeypatch.setattr(vcam_command, "READER_GRACE_S", 0.2)
    reader = proc / "4242" / "fd" / "7"
    name, cls = backend()
    result: dict[str, int] = {}
    argv = ["vcam", "--input", str(clip), "--loop", "--on-demand", "--backend", name,
            "--device", "/dev/video10", "--frames", "40"]  # fmt: skip
    runner = threading.Thread(target=lambda: result.setdefault("code", main(argv)))
    runner.start()
    try:
        wait_until(lambda: cls.opened and len(cls.opened[0].frames) >= 5, "the first sends")
        cam = cls.opened[0]
        assert all(is_neutral(f) for f in cam.frames)  # nobody reads: the paused card
        assert not open_by_us(clip)  # and the input is released
        assert device_readers("/dev/video10", proc_root=str(proc)) == []

        reader.symlink_to("/dev/video10")  # an app opens the camera
        wait_until(lambda: not is_neutral(cam.frames[-1]), "processing to resume")
        assert open_by_us(clip)

        reader.unlink()  # the app closes it
        wait_until(lambda: is_neutral(cam.frames[-1]), "the pause")
        wait_until(lambda: not open_by_us(clip), "the input to be released")
        assert runner.is_alive()

        reader.symlink_to("/dev/video10")
        runner.join(DEADLINE_S)
        assert not runner.is_alive()
    finally:
        if reader.is_symlink():
            reader.unlink()
        runner.join(DEADLINE_S)
    assert result["code"] == 0
    assert cam.closed == 1
    assert not open_by_us(clip)
    s = summary(capsys.readouterr().out)  # paused twice: cards between the pictures
    assert s["processed"] == 40
    assert_adds_up(s, cam.frames)


def test_device_readers_finds_other_processes_only(tmp_path):
    proc = tmp_path / "proc"
    for pid, target in [(100, "/dev/video10"), (200, "/dev/video0"), (os.getpid(), "/dev/video10")]:
        (proc / str(pid) / "fd").mkdir(parents=True)
        (proc / str(pid) / "fd" / "3").symlink_to(target)
    (proc / "self").mkdir()
    (proc / "300").mkdir()  # a process whose fds we may not read
    assert device_readers("/dev/video10", proc_root=str(proc)) == [100]
    assert device_readers("/dev/video11", proc_root=str(proc)) == []
