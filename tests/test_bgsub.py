"""Static background subtraction (``--model bgsub``) on a real scene with a real person.

The scene is the first frame of the DAVIS parkour clip (an outdoor square, camera
held still for these synthetic frames), shown with Gaussian sensor noise. The
"person" is an EG portrait cut out with its hand-drawn mask and pasted in, so the
pasted mask is exact ground truth.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from segcam.config import BackgroundSpec, PipelineSettings
from segcam.errors import ModelError
from segcam.frame import Frame
from segcam.inference import BgSubSegmenter, Segmenter, make_segmenter, resolve_model
from segcam.processor import Processor
from tests.conftest import eg_portraits, read_video, run_cli, shared_path

SIZE = (640, 360)  # scene (w, h)
PERSON = (240, 320)  # pasted portrait (w, h)
AT = (300, 40)  # its top-left corner; its bottom edge is the frame's
LEARN = 10
NOISE = 3.0  # sensor noise, grey levels (sigma)


@pytest.fixture(scope="module")
def scene() -> np.ndarray:
    c = av.open(str(shared_path("data", "videos", "parkour.mp4")))
    try:
        first = next(c.decode(video=0)).to_ndarray(format="bgr24")
    finally:
        c.close()
    return cv2.resize(first, SIZE, interpolation=cv2.INTER_AREA)


def portrait(name: str) -> tuple[np.ndarray, np.ndarray]:
    image = cv2.imread(str(eg_portraits() / "images" / f"{name}.jpg"))
    mask = cv2.imread(str(eg_portraits() / "masks" / f"{name}.png"), cv2.IMREAD_GRAYSCALE)
    assert image is not None and mask is not None, name
    image = cv2.resize(image, PERSON, interpolation=cv2.INTER_AREA)
    mask = cv2.resize(mask, PERSON, interpolation=cv2.INTER_AREA)
    return image, mask


def paste(scene: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The scene with the portrait's person alpha-blended in, and the person's boolean mask."""
    image, mask = portrait(name)
    x, y = AT
    w, h = PERSON
    frame = scene.copy()
    a = (mask.astype(np.float32) / 255.0)[..., None]
    roi = frame[y : y + h, x : x + w].astype(np.float32)
    frame[y : y + h, x : x + w] = np.round(a * image + (1.0 - a) * roi).astype(np.uint8)
    truth = np.zeros(scene.shape[:2], bool)
    truth[y : y + h, x : x + w] = mask > 127
    return frame, truth


def noisy(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = rng.normal(0.0, NOISE, image.shape)
    return np.clip(image + n, 0, 255).astype(np.uint8)


def learn(seg: BgSubSegmenter, scene: np.ndarray, rng: np.random.Generator, n: int = LEARN):
    for _ in range(n):
        assert not seg.segment(noisy(scene, rng)).any(), "the mask must be empty while learning"


def upsampled(mask: np.ndarray) -> np.ndarray:
    return cv2.resize(mask, SIZE, interpolation=cv2.INTER_LINEAR) > 0.5


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


# -- the algorithm ---------------------------------------------------------------------


def test_learning_is_empty_logged_once_then_segments(scene, caplog) -> None:
    rng = np.random.default_rng(1)
    seg = BgSubSegmenter(learn=LEARN)
    assert seg.name == "bgsub" and seg.learning
    with caplog.at_level(logging.INFO, logger="segcam.inference.bgsub"):
        learn(seg, scene, rng)
    assert not seg.learning
    assert seg.input_size == (320, 180)  # 320 wide, the frame's aspect ratio
    assert seg.last_small.shape == (180, 320, 3) and seg.last_small.dtype == np.uint8
    msgs = [r.getMessage() for r in caplog.records]
    assert sum("learning the background" in m for m in msgs) == 1, msgs
    assert sum("background learned" in m for m in msgs) == 1, msgs
    # The empty scene itself, after learning: noise alone is no person.
    mask = seg.segment(noisy(scene, rng))
    assert mask.dtype == np.float32 and mask.shape == (180, 320)
    assert not mask.any()


def test_pasted_person_iou(scene) -> None:
    rng = np.random.default_rng(2)
    seg = BgSubSegmenter(learn=LEARN)
    learn(seg, scene, rng)
    frame, truth = paste(scene, "eg_00012")
    mask = seg.segment(noisy(frame, rng))
    assert mask.dtype == np.float32 and mask.min() >= 0.0 and mask.max() <= 1.0
    soft = ((mask > 0.05) & (mask < 0.95)).mean()
    assert 0.0 < soft < 0.1, "the edge is soft, the inside is not"
    assert iou(upsampled(mask), truth) >= 0.85


def test_iou_over_several_portraits(scene) -> None:
    """The first 8 EG portraits, none picked. Grey-level subtraction misses clothing as
    bright as the wall behind it (eg_00002's white top scores ~0.76), hence the mean."""
    names = sorted(p.stem for p in (eg_portraits() / "images").glob("*.jpg"))[:8]
    scores = []
    for i, name in enumerate(names):
        rng = np.random.default_rng(10 + i)
        seg = BgSubSegmenter(learn=LEARN)
        learn(seg, scene, rng)
        frame, truth = paste(scene, name)
        scores.append(iou(upsampled(seg.segment(noisy(frame, rng))), truth))
    assert np.mean(scores) >= 0.85, dict(zip(names, np.round(scores, 3), strict=True))


def test_keep_largest_removes_stray_blobs(scene) -> None:
    rng = np.random.default_rng(3)
    seg = BgSubSegmenter(learn=LEARN)
    learn(seg, scene, rng)
    blob = (slice(20, 50), slice(20, 50))  # 30x30 px, far from the person
    with_blob = scene.copy()
    with_blob[blob] = 255 - with_blob[blob]
    for y, x in ((300, 40), (200, 150), (30, 600)):  # a few 2x2 specks
        with_blob[y : y + 2, x : x + 2] = 255 - with_blob[y : y + 2, x : x + 2]

    # Alone, the blob is the largest region, so it is kept: it is a real change.
    alone = upsampled(seg.segment(noisy(with_blob, rng)))
    assert alone[blob].mean() > 0.8
    assert alone.sum() < 2 * 30 * 30, "the specks are gone"

    # With the person in, only the person is kept.
    frame, truth = paste(with_blob, "eg_00012")
    mask = upsampled(seg.segment(noisy(frame, rng)))
    assert not mask[blob].any()
    assert iou(mask, truth) >= 0.85
    for y, x in ((300, 40), (200, 150), (30, 600)):
        assert not mask[y : y + 2, x : x + 2].any()


def test_reset_forgets_the_background(scene, caplog) -> None:
    rng = np.random.default_rng(4)
    seg = BgSubSegmenter(learn=LEARN)
    learn(seg, scene, rng)
    frame, truth = paste(scene, "eg_00012")
    assert iou(upsampled(seg.segment(noisy(frame, rng))), truth) >= 0.85

    seg.reset()
    assert seg.learning
    with caplog.at_level(logging.INFO, logger="segcam.inference.bgsub"):
        learn(seg, frame, rng)  # the person is now part of the learned scene
    assert any("learning the background" in r.getMessage() for r in caplog.records)
    assert upsampled(seg.segment(noisy(frame, rng))).mean() < 0.01
    # ... and the old, empty scene now differs where the person was.
    assert iou(upsampled(seg.segment(noisy(scene, rng))), truth) >= 0.7


def test_frame_size_change_learns_again(scene) -> None:
    rng = np.random.default_rng(5)
    seg = BgSubSegmenter(learn=3)
    learn(seg, scene, rng, 3)
    assert not seg.learning
    small = cv2.resize(scene, (256, 144), interpolation=cv2.INTER_AREA)
    mask = seg.segment(small)
    assert seg.learning and mask.shape == (144, 256) and not mask.any()
    assert seg.input_size == (256, 144)  # narrower than 320: not upscaled


# -- selection ---------------------------------------------------------------------------


def test_make_segmenter_and_model_strings() -> None:
    seg = make_segmenter("bgsub", threads=4)
    assert isinstance(seg, BgSubSegmenter)
    assert (seg.learn, seg.threshold) == (30, 25.0)
    seg = make_segmenter(" BgSub:learn=60:threshold=12.5 ", threads=1)
    assert isinstance(seg, BgSubSegmenter) and (seg.learn, seg.threshold) == (60, 12.5)
    assert isinstance(make_segmenter("landscape", threads=1), Segmenter)
    for bad, match in (
        ("bgsub:learn=0", "out of range"),
        ("bgsub:learn=2.5", "integer"),
        ("bgsub:threshold=x", "number"),
        ("bgsub:frames=3", "bgsub takes"),
        ("bgsub:learn", "bgsub takes"),
    ):
        with pytest.raises(ModelError, match=match):
            make_segmenter(bad, threads=1)
    with pytest.raises(ModelError, match="--model bgsub only"):
        resolve_model("bgsub")
    with pytest.raises(ModelError, match="bgsub"):
        resolve_model("nosuchmodel")


def test_processor_uses_bgsub() -> None:
    settings = PipelineSettings(model="bgsub:learn=2", background=BackgroundSpec("mask"))
    processor = Processor(settings)
    assert isinstance(processor.segmenter, BgSubSegmenter)
    image = np.full((90, 160, 3), 100, np.uint8)
    frame = processor.process(Frame(0, image, 0.0))
    assert frame.small is not None and frame.small.shape == (90, 160, 3)
    assert frame.alpha is not None and frame.alpha.shape == (90, 160)


def test_model_help_states_the_limits(capsys) -> None:
    from segcam.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["record", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "bgsub" in text and "does not move" in text and "first N frames" in text


# -- end to end --------------------------------------------------------------------------


def write_clip(path: Path, frames: list[np.ndarray], fps: int = 15) -> Path:
    out = av.open(str(path), "w")
    vs = out.add_stream("libx264", rate=fps)
    vs.pix_fmt = "yuv420p"
    vs.width, vs.height = frames[0].shape[1], frames[0].shape[0]
    for i, img in enumerate(frames):
        vf = av.VideoFrame.from_ndarray(img, format="bgr24")
        vf.pts = i
        vf.time_base = Fraction(1, fps)
        for p in vs.encode(vf):
            out.mux(p)
    for p in vs.encode(None):
        out.mux(p)
    out.close()
    return path


def test_record_with_bgsub(scene, tmp_path: Path, capsys) -> None:
    """8 frames of the empty scene, then the person walks in; the mask video must be
    exactly what the same processor makes of the decoded clip, empty while learning."""
    rng = np.random.default_rng(6)
    size = (384, 216)
    small_scene = cv2.resize(scene, size, interpolation=cv2.INTER_AREA)
    frame, truth = paste(scene, "eg_00012")
    with_person = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    frames = [noisy(small_scene, rng) for _ in range(8)] + [
        noisy(with_person, rng) for _ in range(4)
    ]
    clip = write_clip(tmp_path / "walk_in.mp4", frames)
    out = tmp_path / "mask.mp4"
    args = ["-v", "-i", str(clip), "-o", str(out), "-b", "mask"]
    code, _, err = run_cli(["record", *args, "--model", "bgsub:learn=8", "--frames", "11"], capsys)
    assert code == 0, err
    assert "bgsub: learning the background from the first 8 frames" in err
    assert "model bgsub:learn=8" in err
    written, info = read_video(out)
    assert len(written) == 11 and info["size"] == size

    # The same settings run here on the decoded input give the expected alpha.
    inputs, _ = read_video(clip)
    processor = Processor(
        PipelineSettings(model="bgsub:learn=8", background=BackgroundSpec("mask"))
    )
    for i, (got, image) in enumerate(zip(written, inputs, strict=False)):
        alpha = processor.process(Frame(i, image, i / 15.0)).alpha
        diff = np.abs(got[..., 1].astype(np.int16) - alpha.astype(np.int16))
        assert np.median(diff) <= 2 and np.mean(diff) < 6, f"frame {i}"
        if i < 8:
            assert alpha.mean() < 0.05 * 255, f"frame {i} is a learning frame"
    last = cv2.resize(written[-1][..., 1], SIZE, interpolation=cv2.INTER_LINEAR) > 127
    assert iou(last, truth) >= 0.8


def test_default_chain_for_bgsub_has_no_neural_ensemble():
    import argparse

    from segcam.settings_file import pipeline_settings

    args = argparse.Namespace(
        model="bgsub", threads=None, filters=None, background=None, config=None
    )
    from segcam.filters.chain import effective_filters

    settings = pipeline_settings(args)
    names = [f.name for f in effective_filters(settings.filters, settings.model)]
    assert "ensemble" not in names and "crop" not in names and "temporal" in names
    args.model = "landscape"
    settings = pipeline_settings(args)
    assert "crop" in [f.name for f in effective_filters(settings.filters, settings.model)]
