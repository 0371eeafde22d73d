"""``segcam bench``, the naive reference, the paced source and the pipeline's
per-stage accounting. Functional checks only: nothing here asserts on speed."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from segcam.bench import NaiveReference, run_live
from segcam.capture import VideoFileSource
from segcam.capture.paced import PacedSource
from segcam.config import BackgroundSpec, PipelineSettings, parse_background
from segcam.filters.base import parse_chain
from segcam.frame import Frame
from segcam.pipeline import Pipeline
from segcam.sinks import MemorySink
from tests.conftest import EG_PORTRAITS, make_clip, run_cli

STAGES = {"capture", "segment", "mask_filters", "composite", "output"}


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bench") / "clip.mp4"
    return make_clip(path, frames=12, size=(320, 180), audio=False)


def _bench_json(capsys, *args: str) -> dict:
    code, out, err = run_cli(["bench", *args, "--json"], capsys)
    assert code == 0, err
    return json.loads(out)


def test_bench_json_has_the_documented_keys(capsys) -> None:
    data = _bench_json(
        capsys, "--input", "demo", "--resolution", "320x180", "--frames", "10", "-b", "blur"
    )
    for key in ("compose_ms", "frame_ms", "reference_ms", "ratio"):
        assert isinstance(data[key], float) and data[key] > 0, key
    assert set(data["stages"]) >= STAGES and all(v > 0 for v in data["stages"].values())
    assert data["resolution"] == "320x180"
    assert data["background"] == "blur:12" and data["model"] == "landscape"
    assert data["frame_ms"] > data["compose_ms"]
    assert data["ratio"] == pytest.approx(data["reference_ms"] / data["compose_ms"], rel=0.02)
    # The demo is a live source: it gets the live chain unless told otherwise.
    from segcam.filters.chain import LIVE_CHAIN

    assert data["filters"] == LIVE_CHAIN


def test_bench_runs_on_the_desk_demo_and_counts_crop_only_frames(capsys) -> None:
    """``demo:desk`` (a still camera, a person who sways) is a demo source bench takes,
    with the live chain: some frames skip the model, some run only the crop's."""
    data = _bench_json(capsys, "--input", "demo:desk", "--resolution", "640x360", "--frames", "30")
    from segcam.filters.chain import LIVE_CHAIN

    assert data["filters"] == LIVE_CHAIN
    assert data["frames"] == 30
    assert data["masks_reused"] > 0 and data["crop_only"] > 0
    assert data["masks_reused"] + data["crop_only"] <= data["frames"]


def test_bench_on_a_file_with_an_image_background_and_human_output(clip: Path, capsys) -> None:
    image = sorted((EG_PORTRAITS / "images").iterdir())[0]
    code, out, err = run_cli(
        [
            "bench",
            "--input",
            str(clip),
            "--resolution",
            "320x180",
            "--frames",
            "10",
            "-b",
            str(image),
            "--filters",
            "none",
        ],
        capsys,
    )
    assert code == 0, err
    for word in ("capture", "segment", "composite", "compose", "reference", "speed-up"):
        assert word in out
    assert "filters none" in out


def test_bench_without_a_reference_background(capsys) -> None:
    data = _bench_json(
        capsys, "--input", "demo", "--resolution", "160x90", "--frames", "10", "-b", "none"
    )
    assert data["reference_ms"] is None and data["ratio"] is None
    assert data["compose_ms"] > 0


def test_bench_live_reports_latency_drops_cpu_and_memory(capsys) -> None:
    data = _bench_json(
        capsys, "--live", "--input", "demo", "--resolution", "320x180", "--duration", "1.5"
    )
    assert data["frames_in"] > 0 and data["frames_out"] > 0 and data["fps_out"] > 0
    assert 0 < data["latency_p50_ms"] <= data["latency_p95_ms"]
    assert data["compose_p50_ms"] > 0
    assert data["compose_cpu_percent"] > 0 and data["process_cpu_percent"] > 0
    assert data["rss_start_mb"] > 0 and data["rss_end_mb"] > 0
    assert "capture" in data["dropped"]


def test_bench_rejects_bad_options(capsys) -> None:
    for args in (["--frames", "3"], ["--resolution", "wide"], ["--live", "--duration", "0"]):
        code, _, err = run_cli(["bench", *args], capsys)
        assert code == 2
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("spec", ["blur", "#00ff00"])
def test_naive_reference_composites_like_the_design_says(spec: str) -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (90, 160, 3), dtype=np.uint8)
    ref = NaiveReference(parse_background(spec), (160, 90))
    out, times = ref.process(image)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert set(times) == {"segment", "mask_filters", "composite"}
    assert not NaiveReference.supports(BackgroundSpec("none"))


def test_paced_source_is_live_and_keeps_every_frame(clip: Path) -> None:
    source = PacedSource(VideoFileSource(str(clip)), fps=200)
    assert source.live and source.fps == 200
    source.start()
    frames = []
    while (f := source.read()) is not None:
        frames.append(f)
    source.stop()
    assert [f.seq for f in frames] == list(range(12))
    times = [f.t_capture for f in frames]
    assert times == sorted(times)


class _SlowSink(MemorySink):
    def __init__(self) -> None:
        super().__init__(keep_output=False)
        self.release = threading.Event()

    def submit(self, frame: Frame) -> None:
        super().submit(frame)
        self.release.wait(0.03)


def test_live_run_counts_drops_per_stage_and_latency_per_sink(clip: Path) -> None:
    sink = _SlowSink()
    source = PacedSource(VideoFileSource(str(clip), loop=True), fps=120)
    settings = PipelineSettings(filters=parse_chain("live"))
    pipeline = Pipeline(source, settings, [sink], max_frames=15)
    pipeline.run()
    drops = pipeline.drops()
    assert drops["capture"] > 0, "a slow sink on a live source must make capture drop"
    assert drops["sink:_SlowSink"] == 0
    assert pipeline.dropped == sum(drops.values())
    assert pipeline.stats.percentile_ms("latency:sink:_SlowSink", 95) > 0
    assert pipeline.stats.percentile_ms("latency", 50) > 0
    assert pipeline.stats.worker_cpu > 0
    assert all(mask_seq == seq for seq, mask_seq, *_ in sink.frames)


def test_file_job_with_the_same_slow_sink_drops_nothing(clip: Path) -> None:
    sink = _SlowSink()
    pipeline = Pipeline(VideoFileSource(str(clip)), PipelineSettings(), [sink])
    pipeline.run()
    assert [s for s, *_ in sink.frames] == list(range(12))
    assert pipeline.dropped == 0


def test_run_live_stops_early_on_request(clip: Path) -> None:
    stop = threading.Event()
    stop.set()
    source = PacedSource(VideoFileSource(str(clip), loop=True), fps=30)
    result = run_live(source, PipelineSettings(), duration=30, warmup=0.2, stop_event=stop)
    assert result.seconds < 30
    assert not [t for t in threading.enumerate() if t.name.startswith("segcam-")]


def test_bench_live_says_where_frames_were_dropped_in_words(capsys, monkeypatch) -> None:
    import segcam.bench as bench

    code, out, err = run_cli(
        ["bench", "--live", "--input", "demo", "--resolution", "320x180", "--duration", "1"],
        capsys,
    )
    assert code == 0, err
    line = next(s for s in out.splitlines() if s.startswith("dropped"))
    assert "{" not in line and "sink:" not in line
    # The figures of the run that printed a raw dict: {'capture': 22, 'sink:LatencySink': 0}.
    real = bench.run_live

    def with_drops(*a, **kw):
        result = real(*a, **kw)
        result.dropped = {"capture": 22, "sink:LatencySink": 0}
        return result

    monkeypatch.setattr(bench, "run_live", with_drops)
    code, out, err = run_cli(
        ["bench", "--live", "--input", "demo", "--resolution", "320x180", "--duration", "0.5"],
        capsys,
    )
    assert code == 0, err
    line = next(s for s in out.splitlines() if s.startswith("dropped"))
    assert line.split(None, 1)[1] == (
        "22 (22 input frames replaced by a newer one before the worker took them)"
    )
