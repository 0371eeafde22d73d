"""End-to-end ``segcam record``: the real LiteRT model and real codecs (PyAV), read back.

Every recording is decoded again and compared with the input frames and with the
alpha the same model gives for them (computed here with :class:`Processor`), so the
tests check what a user would see in the file, not just that a file appeared.
"""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from segcam.config import BackgroundSpec, PipelineSettings
from segcam.frame import Frame
from segcam.processor import Processor
from tests.conftest import EG_PORTRAITS, make_clip, read_video, run_cli

GREEN = np.array([0, 255, 0], np.int16)  # BGR
CCP_IMAGES = EG_PORTRAITS.parent / "ccp_fashion" / "images"
CODEC_TOL = 12  # median per-channel |diff| allowed after a lossy encode


# -- helpers ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mask_processor() -> Processor:
    return Processor(PipelineSettings(background=BackgroundSpec("mask")))


def alpha_of(processor: Processor, image: np.ndarray) -> np.ndarray:
    """Full-resolution uint8 alpha of ``image`` from the real model (a copy)."""
    processor.reset()
    frame = processor.process(Frame(0, np.ascontiguousarray(image), 0.0))
    assert frame.alpha is not None
    return frame.alpha.copy()


def regions(alpha: np.ndarray, erode: int = 9) -> tuple[np.ndarray, np.ndarray]:
    """Boolean (background, person) masks where alpha is ~0 / ~255, eroded away from edges."""
    kernel = np.ones((erode, erode), np.uint8)
    bg = cv2.erode((alpha <= 2).astype(np.uint8), kernel) > 0
    fg = cv2.erode((alpha >= 253).astype(np.uint8), kernel) > 0
    return bg, fg


def median_abs_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-channel median |a - b| over pixel lists of shape (N, C)."""
    return np.median(np.abs(a.astype(np.int16) - b.astype(np.int16)), axis=0)


def record(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code, out, err = run_cli(["record", *argv], capsys)
    assert code == 0, f"segcam record {argv} exited {code}: {err.strip()}"
    return out


def png_frames(folder: Path) -> list[np.ndarray]:
    files = sorted(folder.glob("*.png"))
    return [cv2.imread(str(f), cv2.IMREAD_UNCHANGED) for f in files]


def video_pts(path: Path) -> tuple[list[float], Fraction | None]:
    """Presentation times (s) of the decoded video frames, and the stream's average rate."""
    c = av.open(str(path))
    try:
        stream = c.streams.video[0]
        rate = stream.average_rate
        times = [float(f.pts * f.time_base) for f in c.decode(stream)]
    finally:
        c.close()
    return times, rate


def decode_vp9_alpha(path: Path) -> list[np.ndarray]:
    """Decode a WebM with the libvpx-vp9 decoder (which reads the alpha side data) as BGRA."""
    c = av.open(str(path))
    try:
        stream = c.streams.video[0]
        decoder = av.CodecContext.create("libvpx-vp9", "r")
        frames = []
        for packet in c.demux(stream):  # the last, empty packet flushes the decoder
            frames.extend(f.to_ndarray(format="bgra") for f in decoder.decode(packet))
    finally:
        c.close()
    return frames


def cover(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Reference cover-fit: scale to cover ``size`` (w, h), then centre-crop."""
    w, h = size
    ih, iw = image.shape[:2]
    scale = max(w / iw, h / ih)
    sw, sh = max(w, round(iw * scale)), max(h, round(ih * scale))
    scaled = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA)
    x0, y0 = (sw - w) // 2, (sh - h) // 2
    return scaled[y0 : y0 + h, x0 : x0 + w]


# -- shared inputs and recordings ------------------------------------------------------


@pytest.fixture(scope="module")
def clip_frames(clip_with_audio: Path) -> list[np.ndarray]:
    frames, info = read_video(clip_with_audio)
    assert len(frames) == 30 and info["size"] == (512, 288)
    return frames


@pytest.fixture(scope="module")
def clip_alphas(clip_frames: list[np.ndarray], mask_processor: Processor) -> list[np.ndarray]:
    """Each frame's alpha as the pipeline computes it: in order, stateful filters included."""
    mask_processor.reset()
    alphas = []
    for i, image in enumerate(clip_frames):
        frame = mask_processor.process(Frame(i, np.ascontiguousarray(image), i / 15.0))
        alphas.append(frame.alpha.copy())
    return alphas


@pytest.fixture(scope="module")
def green_recordings(clip_with_audio: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The 30-frame clip recorded on #00ff00 to .mp4 and .mkv (recorded once per module)."""
    from segcam.cli import main

    out = tmp_path_factory.mktemp("green")
    paths = {}
    for ext in ("mp4", "mkv"):
        path = out / f"green.{ext}"
        code = main(["record", "-i", str(clip_with_audio), "-o", str(path), "-b", "#00ff00"])
        assert code == 0
        paths[ext] = path
    return paths


# -- round trip ------------------------------------------------------------------------


@pytest.mark.parametrize("ext", ["mp4", "mkv"])
def test_round_trip_green_background(
    ext: str,
    green_recordings: dict,
    clip_frames: list[np.ndarray],
    clip_alphas: list[np.ndarray],
) -> None:
    frames, info = read_video(green_recordings[ext])
    assert len(frames) == 30
    assert info["size"] == (512, 288)
    assert info["audio"], "the input's audio track was not carried over"

    for i in (0, 14, 29):
        out, src, alpha = frames[i], clip_frames[i], clip_alphas[i]
        bg, fg = regions(alpha)
        assert bg.sum() > 5000 and fg.sum() > 2000, "the model found no clear person/background"
        # Background: pure green, up to codec error.
        assert (median_abs_diff(out[bg], np.broadcast_to(GREEN, (bg.sum(), 3))) < CODEC_TOL).all()
        # Person: the original pixels, and not green.
        assert (median_abs_diff(out[fg], src[fg]) < CODEC_TOL).all()
        greenish = (np.abs(out[fg].astype(np.int16) - GREEN).max(axis=1) < 40).mean()
        assert greenish < 0.02, f"{greenish:.1%} of the person is green in frame {i}"


@pytest.mark.parametrize("ext", ["mp4", "mkv"])
def test_timestamps_and_frame_rate(ext: str, green_recordings: dict) -> None:
    times, rate = video_pts(green_recordings[ext])
    assert len(times) == 30
    assert (np.diff(times) > 0).all(), "pts are not strictly increasing"
    steps = np.diff(times)
    assert np.allclose(steps, 1 / 15, atol=0.002), f"frame steps {steps} are not 1/15 s"
    assert rate is not None and abs(float(rate) - 15.0) < 0.05


# -- limits ----------------------------------------------------------------------------


def test_frames_limit_on_longer_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = make_clip(tmp_path / "long.mp4", frames=40, size=(256, 144), audio=False)
    out = tmp_path / "out.mp4"
    record(["-i", str(clip), "-o", str(out), "-b", "#00ff00", "--frames", "12"], capsys)
    frames, info = read_video(out)
    assert len(frames) == 12
    assert info["size"] == (256, 144)


def test_duration_limit(clip_with_audio: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out.mkv"
    args = ["-i", str(clip_with_audio), "-o", str(out), "-b", "#00ff00", "--duration", "1.2"]
    record(args, capsys)
    frames, _ = read_video(out)
    assert abs(len(frames) - round(1.2 * 15)) <= 1


# -- transparency ----------------------------------------------------------------------


def test_webm_keeps_alpha(
    clip_with_audio: Path,
    clip_frames: list[np.ndarray],
    clip_alphas: list[np.ndarray],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "alpha.webm"
    record(["-i", str(clip_with_audio), "-o", str(out), "-b", "none", "--frames", "10"], capsys)
    frames = decode_vp9_alpha(out)
    assert len(frames) == 10
    for i in (0, 9):
        bgra, alpha_ref = frames[i], clip_alphas[i]
        assert bgra.shape == (288, 512, 4)
        alpha = bgra[..., 3]
        assert alpha.min() != alpha.max(), "the alpha plane is constant"
        bg, fg = regions(alpha_ref)
        assert np.median(alpha[fg]) > 230, "alpha is not high on the person"
        assert np.median(alpha[bg]) < 25, "alpha is not low on the background"
        assert np.abs(alpha.astype(np.int16) - alpha_ref).mean() < 3
        # Colour is the unmodified input (transparent output does not premultiply).
        assert (median_abs_diff(bgra[..., :3][fg], clip_frames[i][fg]) < CODEC_TOL).all()


# -- PNG sequences ---------------------------------------------------------------------


def test_png_sequence_opaque(
    clip_with_audio: Path,
    clip_frames: list[np.ndarray],
    clip_alphas: list[np.ndarray],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path / "seq"
    folder.mkdir()
    args = ["-i", str(clip_with_audio), "-o", str(folder), "-b", "#00ff00", "--frames", "5"]
    record(args, capsys)
    files = sorted(p.name for p in folder.iterdir())
    assert len(files) == 5 and all(f.endswith(".png") for f in files)
    digits = ["".join(ch for ch in f if ch.isdigit()) for f in files]
    assert [int(d) for d in digits] == list(range(5)), files
    frames = png_frames(folder)
    for i, img in enumerate(frames):
        assert img.shape == (288, 512, 3), "an opaque PNG sequence must be BGR"
        # Lossless: the exact blend of the input on green, up to uint8 rounding.
        a = clip_alphas[i].astype(np.float64)[..., None] / 255.0
        ref = clip_frames[i] * a + GREEN.astype(np.float64) * (1 - a)
        assert np.abs(img - ref).max() <= 2


def test_png_sequence_transparent(
    clip_with_audio: Path,
    clip_frames: list[np.ndarray],
    clip_alphas: list[np.ndarray],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path / "rgba"
    folder.mkdir()
    record(["-i", str(clip_with_audio), "-o", str(folder), "-b", "none", "--frames", "4"], capsys)
    frames = png_frames(folder)
    assert len(frames) == 4
    for i, img in enumerate(frames):
        assert img.shape == (288, 512, 4), "a transparent PNG sequence must be BGRA"
        assert np.abs(img[..., 3].astype(np.int16) - clip_alphas[i]).max() <= 1
        assert np.array_equal(img[..., :3], clip_frames[i])


# -- other backgrounds -----------------------------------------------------------------


def test_blur_background(
    clip_with_audio: Path,
    clip_frames: list[np.ndarray],
    clip_alphas: list[np.ndarray],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "blur.mp4"
    record(["-i", str(clip_with_audio), "-o", str(out), "-b", "blur", "--frames", "5"], capsys)
    frames, _ = read_video(out)
    assert len(frames) == 5
    for i in (0, 4):
        bg, fg = regions(clip_alphas[i])
        src = clip_frames[i]
        assert (median_abs_diff(frames[i][fg], src[fg]) < CODEC_TOL).all()
        diff_bg = np.abs(frames[i][bg].astype(np.int16) - src[bg]).mean()
        diff_fg = np.abs(frames[i][fg].astype(np.int16) - src[fg]).mean()
        assert diff_bg > 6, f"the background was not blurred (mean diff {diff_bg:.1f})"
        assert diff_bg > 2 * diff_fg
        # Blurred: much less high-frequency detail than the input background.
        lap_out = np.abs(cv2.Laplacian(cv2.cvtColor(frames[i], cv2.COLOR_BGR2GRAY), cv2.CV_32F))
        lap_src = np.abs(cv2.Laplacian(cv2.cvtColor(src, cv2.COLOR_BGR2GRAY), cv2.CV_32F))
        assert lap_out[bg].mean() < 0.5 * lap_src[bg].mean()


def test_image_background(
    clip_with_audio: Path,
    clip_frames: list[np.ndarray],
    clip_alphas: list[np.ndarray],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bg_path = sorted(CCP_IMAGES.glob("*.jpg"))[0]
    out = tmp_path / "image.mp4"
    args = ["-i", str(clip_with_audio), "-o", str(out), "-b", str(bg_path), "--frames", "5"]
    record(args, capsys)
    frames, _ = read_video(out)
    assert len(frames) == 5
    expected_bg = cover(cv2.imread(str(bg_path)), (512, 288))
    for i in (0, 4):
        bg, fg = regions(clip_alphas[i])
        src = clip_frames[i]
        assert (median_abs_diff(frames[i][fg], src[fg]) < CODEC_TOL).all()
        assert (median_abs_diff(frames[i][bg], expected_bg[bg]) < CODEC_TOL).all()
        assert np.abs(frames[i][bg].astype(np.int16) - src[bg]).mean() > 20


# -- mirror and loop -------------------------------------------------------------------


def test_mirror(clip_with_audio: Path, tmp_path: Path, capsys) -> None:
    plain, mirrored = tmp_path / "plain.mp4", tmp_path / "mirror.mp4"
    common = ["-i", str(clip_with_audio), "-b", "#00ff00", "--frames", "5"]
    record([*common, "-o", str(plain)], capsys)
    record([*common, "-o", str(mirrored), "--mirror"], capsys)
    a, _ = read_video(plain)
    b, _ = read_video(mirrored)
    assert len(a) == len(b) == 5
    for fa, fb in zip(a, b, strict=True):
        flipped = cv2.flip(fa, 1).astype(np.int16)
        assert np.abs(flipped - fb).mean() < 3
        # The frame is not symmetric, so this would fail if --mirror did nothing.
        assert np.abs(fa.astype(np.int16) - fb).mean() > 10


def test_loop_short_clip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = make_clip(tmp_path / "short.mp4", frames=6, size=(256, 144), audio=False)
    out = tmp_path / "loop.mp4"
    record(["-i", str(clip), "-o", str(out), "-b", "mask", "--loop", "--frames", "15"], capsys)
    frames, _ = read_video(out)
    assert len(frames) == 15
    times, _ = video_pts(out)
    assert (np.diff(times) > 0).all()
    assert np.allclose(np.diff(times), 1 / 15, atol=0.002), "looping broke the frame timing"
    for k in range(6):  # the second pass repeats the first
        assert np.abs(frames[k].astype(np.int16) - frames[k + 6]).mean() < 3


# -- image inputs ----------------------------------------------------------------------


def test_single_image_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mask_processor: Processor
) -> None:
    image_path = sorted(EG_PORTRAITS.glob("images/*.jpg"))[0]
    image = cv2.imread(str(image_path))
    h, w = image.shape[:2]
    folder = tmp_path / "masks"
    folder.mkdir()
    record(["-i", str(image_path), "-o", str(folder), "-b", "mask", "--frames", "5"], capsys)
    frames = png_frames(folder)
    assert len(frames) == 5
    ref = alpha_of(mask_processor, image)
    for f in frames:
        assert f.shape == (h, w, 3)
        assert np.abs(f[..., 0].astype(np.int16) - ref).max() <= 1

    out = tmp_path / "still.mp4"
    record(["-i", str(image_path), "-o", str(out), "-b", "#00ff00", "--frames", "5"], capsys)
    video, info = read_video(out)
    assert len(video) == 5
    assert info["size"] == (w, h)


def test_image_folder_natural_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mask_processor: Processor
) -> None:
    sources = sorted(EG_PORTRAITS.glob("images/*.jpg"))[:3]
    folder = tmp_path / "images"
    folder.mkdir()
    # Lexical order would be img1, img10, img2; natural order is img1, img2, img10.
    for name, src in zip(["img2.jpg", "img10.jpg", "img1.jpg"], sources, strict=True):
        shutil.copyfile(src, folder / name)
    natural = [folder / n for n in ("img1.jpg", "img2.jpg", "img10.jpg")]
    inputs = [cv2.imread(str(p)) for p in natural]
    assert all(im.shape == inputs[0].shape for im in inputs)

    out = tmp_path / "out"
    out.mkdir()
    record(["-i", str(folder), "-o", str(out), "-b", "none"], capsys)
    frames = png_frames(out)
    assert len(frames) == 3
    mask_processor.reset()  # the images form one stream: stateful filters carry over
    for i, (frame, image) in enumerate(zip(frames, inputs, strict=True)):
        assert np.array_equal(frame[..., :3], image), f"frame {i} is not {natural[i].name}"
        ref = mask_processor.process(Frame(i, image, i / 30.0)).alpha
        assert np.abs(frame[..., 3].astype(np.int16) - ref).max() <= 1


def test_record_help_shows_the_png_pattern_as_typed(capsys: pytest.CaptureFixture[str]) -> None:
    # argparse does not %-format a description, so '%%' was printed as is.
    code, out, _ = run_cli(["record", "--help"], capsys)
    assert code == 0
    assert "out/%05d.png" in " ".join(out.split())
    assert "%%" not in out
    assert "--overwrite" in out
