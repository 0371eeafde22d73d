"""Background providers: the halo-free blur and looping video backgrounds."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from segcam.compositor import Compositor
from segcam.config import BackgroundSpec, parse_background
from segcam.errors import InputError
from segcam.filters.backgrounds import BlurBackground, VideoBackground, make_background
from segcam.frame import Frame
from tests.conftest import TALKING_HEAD, make_clip, read_video, run_cli

# -- halo-free blur -------------------------------------------------------------------------------


def red_disc(h: int = 360, w: int = 640, radius: int = 90):
    """A saturated red person disc on a grey background, and alpha = the disc."""
    frame = np.full((h, w, 3), 128, np.uint8)
    alpha = np.zeros((h, w), np.uint8)
    cv2.circle(alpha, (w // 2, h // 2), radius, 255, -1)
    frame[alpha > 0] = (0, 0, 255)
    yy, xx = np.mgrid[0:h, 0:w]
    dist = np.hypot(xx - w // 2, yy - h // 2)
    return frame, alpha, dist


@pytest.mark.parametrize("strength", [6.0, 12.0, 30.0])
def test_blur_background_has_no_halo(strength: float) -> None:
    frame, alpha, dist = red_disc()
    out = BlurBackground(strength).render(frame, alpha)
    assert out.shape == frame.shape and out.dtype == np.uint8
    sigma = strength * frame.shape[0] / 720.0
    ring = (dist > 92) & (dist < 92 + 2 * sigma + 4)  # just outside the person
    redness = out[..., 2].astype(int) - out[..., 1]
    assert np.abs(out[ring].astype(int) - 128).max() <= 3  # still grey
    assert np.abs(redness[ring]).max() <= 3
    # A naive blur of the frame (what the background used to be) glows red there.
    naive = cv2.GaussianBlur(frame, (0, 0), sigma)
    naive_red = naive[..., 2].astype(int) - naive[..., 1]
    assert naive_red[(dist > 92) & (dist < 92 + sigma)].mean() > 20
    assert naive_red[ring].max() > 40


def test_blur_background_blurs_the_room() -> None:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (360, 640, 3), dtype=np.uint8)
    alpha = np.zeros((360, 640), np.uint8)
    out = BlurBackground(12).render(frame, alpha)
    assert out.std() < frame.std() / 5  # noise averaged away
    assert abs(float(out.mean()) - float(frame.mean())) < 2  # brightness kept
    # A person filling the frame must not break the normalisation (no NaN, no black).
    full = BlurBackground(12).render(frame, np.full((360, 640), 255, np.uint8))
    assert abs(float(full.mean()) - float(frame.mean())) < 3


def test_blur_background_follows_the_frame_size() -> None:
    blur = BlurBackground(12)
    for h, w in ((144, 256), (720, 1280), (101, 203)):
        frame = np.full((h, w, 3), 77, np.uint8)
        out = blur.render(frame, np.zeros((h, w), np.uint8))
        assert out.shape == (h, w, 3)
        assert np.abs(out.astype(int) - 77).max() <= 1


# -- video backgrounds ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def five_frames(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(
        tmp_path_factory.mktemp("bg") / "five.mp4", frames=5, size=(160, 96), audio=False
    )


def test_video_background_is_parsed_and_built(five_frames: Path) -> None:
    spec = parse_background(str(five_frames))
    assert spec == BackgroundSpec("video", path=str(five_frames))
    assert spec.describe() == f"video {five_frames}"
    background = make_background(spec)
    assert isinstance(background, VideoBackground)
    background.close()
    assert parse_background(str(TALKING_HEAD)).kind == "video"


def test_video_background_loops(five_frames: Path) -> None:
    background = VideoBackground(str(five_frames))
    frame = np.zeros((72, 128, 3), np.uint8)
    shown = [background.render(frame, None).copy() for _ in range(13)]  # more than the clip has
    assert all(s.shape == (72, 128, 3) and s.dtype == np.uint8 for s in shown)
    for i in range(8):
        assert np.array_equal(shown[i], shown[i + 5])  # the same clip frame, one loop later
    for i in range(4):
        assert not np.array_equal(shown[i], shown[i + 1])  # it plays
    # Cover-fit: the clip's own first frame, scaled to cover 128x72 and centre-cropped.
    first = read_video(five_frames)[0][0]
    expected = cv2.resize(first, (128, 77), interpolation=cv2.INTER_AREA)[2:74]
    assert np.abs(shown[0].astype(int) - expected).mean() < 4
    background.close()


def test_video_background_in_the_compositor(five_frames: Path) -> None:
    comp = Compositor(parse_background(str(five_frames)))
    frame = np.full((90, 90, 3), 200, np.uint8)  # square: cover-fit crops the clip's sides
    outputs = []
    for seq in range(7):
        f = Frame(seq, frame, seq / 15)
        f.alpha = np.zeros((90, 90), np.uint8)
        comp.process(f)
        assert f.output is not None
        outputs.append(f.output.copy())
    assert np.array_equal(outputs[0], outputs[5])
    assert not np.array_equal(outputs[0], outputs[1])


@pytest.mark.parametrize("content", ["random", "empty", "truncated"])
def test_corrupt_video_background_is_one_clear_error(
    content: str, five_frames: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.mp4"
    if content == "random":
        bad.write_bytes(np.random.default_rng(1).integers(0, 256, 4096, np.uint8).tobytes())
    elif content == "truncated":
        bad.write_bytes(five_frames.read_bytes()[: five_frames.stat().st_size // 2])
    else:
        bad.write_bytes(b"")
    spec = parse_background(str(bad))  # only the path is checked here
    assert spec.kind == "video"
    with pytest.raises(InputError) as e:
        make_background(spec)
    msg = str(e.value)
    assert str(bad) in msg and "\n" not in msg and msg.startswith("cannot")


def test_corrupt_video_background_from_the_cli(five_frames: Path, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "broken.webm"
    bad.write_bytes(b"\x1a\x45\xdf\xa3" + bytes(2000))
    out = tmp_path / "out.mp4"
    argv = ["record", "--input", str(five_frames), "--output", str(out), "--background", str(bad)]
    code, _, err = run_cli(argv, capsys)
    assert code == 2
    lines = [line for line in err.splitlines() if "broken.webm" in line]
    assert len(lines) == 1 and "Traceback" not in err
    assert not out.exists()


def test_record_onto_a_video_background(five_frames: Path, tmp_path: Path, capsys) -> None:
    clip = make_clip(tmp_path / "talk.mp4", frames=8, size=(256, 144), audio=False)
    out = tmp_path / "out.mp4"
    argv = ["record", "--input", str(clip), "--output", str(out), "--background", str(five_frames)]
    code, _, err = run_cli(argv, capsys)
    assert code == 0, err
    frames, info = read_video(out)
    assert len(frames) == 8 and info["size"] == (256, 144)


@pytest.mark.parametrize("strength", [4.0, 12.0, 30.0])
def test_reduced_resolution_blur_looks_like_a_full_size_blur(strength: float) -> None:
    """The blur runs at 1/8 of the frame for the default strength; the result must
    still be the full-size Gaussian blur to within a few grey levels."""
    from segcam.capture.demo import DemoSource

    frame = DemoSource().render(3)
    out = BlurBackground(strength).render(frame, np.zeros(frame.shape[:2], np.uint8))
    full = cv2.GaussianBlur(frame, (0, 0), strength, borderType=cv2.BORDER_REFLECT)
    diff = np.abs(out.astype(int) - full)
    assert diff.mean() < 1.2
    assert np.percentile(diff, 99) <= 6
