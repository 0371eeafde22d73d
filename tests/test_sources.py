"""Every frame source behind the Source protocol, and ``open_source`` dispatch.

Video inputs are small H.264 clips cut from the real talking-head video; image
inputs are real portraits from the shared data (copied into temporary folders
only where a test needs particular file names).
"""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from segcam.capture import (
    CameraSource,
    DemoSource,
    ImageSource,
    Source,
    VideoFileSource,
    open_source,
)
from segcam.capture.images import expand_image_inputs
from segcam.errors import InputError
from tests.conftest import EG_PORTRAITS, make_clip, read_video

CCP_IMAGES = EG_PORTRAITS.parent / "ccp_fashion" / "images"


def cover(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Reference cover-fit: scale to cover ``size`` (w, h), then centre-crop."""
    w, h = size
    ih, iw = image.shape[:2]
    scale = max(w / iw, h / ih)
    sw, sh = max(w, round(iw * scale)), max(h, round(ih * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    scaled = cv2.resize(image, (sw, sh), interpolation=interp)
    x0, y0 = (sw - w) // 2, (sh - h) // 2
    return scaled[y0 : y0 + h, x0 : x0 + w]


def read_all(source, limit: int = 1000) -> list:
    source.start()
    frames = []
    try:
        while len(frames) < limit:
            f = source.read()
            if f is None:
                break
            frames.append(f)
    finally:
        source.stop()
    return frames


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 frames of the talking head at 320x180, 15 fps, no audio."""
    path = tmp_path_factory.mktemp("src") / "clip.mp4"
    return make_clip(path, frames=12, size=(320, 180), audio=False)


@pytest.fixture(scope="module")
def portraits() -> list[Path]:
    paths = sorted(EG_PORTRAITS.glob("images/*.jpg"))[:3]
    assert len(paths) == 3
    return paths


# -- VideoFileSource -------------------------------------------------------------------


def test_video_file_source_reads_every_frame(clip: Path) -> None:
    src = VideoFileSource(str(clip))
    assert isinstance(src, Source)
    assert not src.live
    assert src.size == (320, 180)
    assert src.fps == pytest.approx(15.0)
    assert src.frame_count == 12
    assert src.media_path == str(clip)
    frames = read_all(src)
    assert len(frames) == 12
    assert [f.seq for f in frames] == list(range(12))
    assert all(f.image.shape == (180, 320, 3) and f.image.dtype == np.uint8 for f in frames)
    assert all(f.image.flags.c_contiguous for f in frames)
    pts = np.array([f.pts for f in frames])
    assert pts[0] == pytest.approx(0.0, abs=1e-6)
    assert (np.diff(pts) > 0).all()
    assert np.allclose(np.diff(pts), 1 / 15, atol=1e-3)
    # The decoded pixels are the file's pixels.
    reference, _ = read_video(clip)
    assert all(np.array_equal(f.image, r) for f, r in zip(frames, reference, strict=True))


def test_video_file_source_stop_is_idempotent(clip: Path) -> None:
    src = VideoFileSource(str(clip))
    src.start()
    assert src.read() is not None
    src.stop()
    src.stop()


def test_video_file_source_loop_continues_pts(clip: Path) -> None:
    src = VideoFileSource(str(clip), loop=True)
    assert src.frame_count is None  # endless
    frames = read_all(src, limit=30)
    assert len(frames) == 30
    assert [f.seq for f in frames] == list(range(30))
    pts = np.array([f.pts for f in frames])
    assert (np.diff(pts) > 0).all(), "pts went backwards at the loop point"
    assert np.allclose(np.diff(pts), 1 / 15, atol=1e-3), "the loop point breaks the frame timing"
    for k in range(6):  # the second pass shows the same pictures again
        assert np.array_equal(frames[k].image, frames[k + 12].image)


def test_video_file_source_cover_fits_resolution(clip: Path) -> None:
    reference, _ = read_video(clip)
    # Square from 16:9: the sides are cropped, the height fills.
    src = VideoFileSource(str(clip), resolution=(120, 120))
    assert src.size == (120, 120)
    frames = read_all(src, limit=3)
    assert frames[0].image.shape == (120, 120, 3)
    expected = cover(reference[0], (120, 120))
    assert np.abs(frames[0].image.astype(np.int16) - expected).mean() < 2
    # Same aspect ratio, smaller: a plain resize.
    src = VideoFileSource(str(clip), resolution=(160, 90))
    frames = read_all(src, limit=1)
    assert frames[0].image.shape == (90, 160, 3)
    expected = cv2.resize(reference[0], (160, 90), interpolation=cv2.INTER_AREA)
    assert np.abs(frames[0].image.astype(np.int16) - expected).mean() < 2


def test_video_file_source_errors_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        VideoFileSource(str(tmp_path / "missing.mp4"))
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 10)
    with pytest.raises(InputError) as err:
        VideoFileSource(str(junk))
    assert "\n" not in str(err.value)


# -- ImageSource -----------------------------------------------------------------------


def test_image_source_repeats_one_image(portraits: list[Path]) -> None:
    image = cv2.imread(str(portraits[0]))
    src = ImageSource([str(portraits[0])], fps=10.0, repeat=True)
    assert isinstance(src, Source)
    assert not src.live
    assert src.frame_count is None
    assert src.size == (image.shape[1], image.shape[0])
    frames = read_all(src, limit=4)
    assert len(frames) == 4
    assert [f.seq for f in frames] == [0, 1, 2, 3]
    assert [f.pts for f in frames] == pytest.approx([0.0, 0.1, 0.2, 0.3])
    for f in frames:
        assert np.array_equal(f.image, image)
    # Each frame owns its pixels: changing one changes no other.
    frames[0].image[...] = 0
    assert np.array_equal(frames[1].image, image)
    assert not np.shares_memory(frames[1].image, frames[2].image)


def test_image_source_list_order(portraits: list[Path]) -> None:
    a, b = portraits[0], portraits[1]
    src = ImageSource([str(b), str(a)])
    assert src.frame_count == 2
    frames = read_all(src)
    assert len(frames) == 2
    assert np.array_equal(frames[0].image, cv2.imread(str(b)))
    assert np.array_equal(frames[1].image, cv2.imread(str(a)))


def test_image_source_list_repeat_cycles(portraits: list[Path]) -> None:
    paths = [str(p) for p in portraits[:2]]
    frames = read_all(ImageSource(paths, repeat=True), limit=5)
    images = [cv2.imread(p) for p in paths]
    for i, f in enumerate(frames):
        assert np.array_equal(f.image, images[i % 2])


def test_image_source_cover_fits_to_first_image(portraits: list[Path]) -> None:
    ccp = sorted(CCP_IMAGES.glob("*.jpg"))[0]
    first = cv2.imread(str(portraits[0]))
    other = cv2.imread(str(ccp))
    assert other.shape != first.shape
    src = ImageSource([str(portraits[0]), str(ccp)])
    h, w = first.shape[:2]
    assert src.size == (w, h)
    frames = read_all(src)
    assert frames[1].image.shape == (h, w, 3)
    expected = cover(other, (w, h))
    assert np.abs(frames[1].image.astype(np.int16) - expected).mean() < 2


def test_image_source_resolution(portraits: list[Path]) -> None:
    src = ImageSource([str(portraits[0])], resolution=(200, 100))
    assert src.size == (200, 100)
    frames = read_all(src)
    assert frames[0].image.shape == (100, 200, 3)


@pytest.fixture()
def numbered_folder(tmp_path: Path, portraits: list[Path]) -> Path:
    folder = tmp_path / "imgs"
    folder.mkdir()
    for name, src in zip(["img2.jpg", "img10.jpg", "img1.jpg"], portraits, strict=True):
        shutil.copyfile(src, folder / name)
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_expand_image_inputs_natural_order(numbered_folder: Path, portraits: list[Path]) -> None:
    got = expand_image_inputs([str(numbered_folder)])
    assert [os.path.basename(p) for p in got] == ["img1.jpg", "img2.jpg", "img10.jpg"]
    # Files named explicitly keep the user's order.
    explicit = [str(portraits[2]), str(portraits[0])]
    assert expand_image_inputs(explicit) == explicit
    with pytest.raises(InputError):
        expand_image_inputs([str(numbered_folder / "missing.jpg")])
    empty = numbered_folder / "empty"
    empty.mkdir()
    with pytest.raises(InputError):
        expand_image_inputs([str(empty)])


# -- DemoSource ------------------------------------------------------------------------


def test_demo_source_is_webcam_like() -> None:
    src = DemoSource(resolution=(320, 180), fps=30)
    assert isinstance(src, Source)
    assert src.live
    assert src.frame_count is None
    assert src.media_path is None
    assert src.size == (320, 180)
    assert src.fps == 30
    frames = read_all(src, limit=4)
    assert [f.seq for f in frames] == [0, 1, 2, 3]
    assert (np.diff([f.pts for f in frames]) > 0).all()
    for f in frames:
        assert f.image.shape == (180, 320, 3) and f.image.dtype == np.uint8
    for a, b in itertools.pairwise(frames):
        d = np.abs(a.image.astype(np.int16) - b.image).mean()
        assert 0 < d < 10, f"consecutive demo frames differ by {d:.2f} grey levels on average"
    # Not a flat or blank picture: a real photo with structure.
    assert frames[0].image.std() > 20


def test_demo_source_default_resolution() -> None:
    src = DemoSource()
    assert src.size == (1280, 720)
    assert src.render(0).shape == (720, 1280, 3)


# -- open_source -----------------------------------------------------------------------


def test_open_source_demo() -> None:
    src = open_source("demo", resolution=(320, 180), fps=25)
    assert isinstance(src, DemoSource)
    assert src.size == (320, 180) and src.fps == 25


def test_open_source_image_is_endless(portraits: list[Path]) -> None:
    src = open_source(str(portraits[0]))
    assert isinstance(src, ImageSource)
    assert src.frame_count is None
    frames = read_all(src, limit=3)
    assert len(frames) == 3


def test_open_source_folder(numbered_folder: Path) -> None:
    src = open_source(str(numbered_folder))
    assert isinstance(src, ImageSource)
    assert src.frame_count == 3
    assert [os.path.basename(p) for p in src.paths] == ["img1.jpg", "img2.jpg", "img10.jpg"]


def test_open_source_several_images(portraits: list[Path]) -> None:
    paths = [str(portraits[1]), str(portraits[0])]
    src = open_source(paths)
    assert isinstance(src, ImageSource)
    assert src.paths == paths


def test_open_source_video(clip: Path) -> None:
    src = open_source(str(clip))
    try:
        assert isinstance(src, VideoFileSource)
        assert src.frame_count == 12 and not src.loop
    finally:
        src.stop()
    src = open_source(str(clip), loop=True, resolution=(160, 90))
    try:
        assert isinstance(src, VideoFileSource)
        assert src.loop and src.size == (160, 90)
    finally:
        src.stop()


def test_open_source_missing_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        open_source(str(tmp_path / "nothing.mp4"))


@pytest.mark.skipif(os.path.exists("/dev/video7"), reason="this machine has a /dev/video7")
def test_open_source_camera_index_without_camera() -> None:
    with pytest.raises(InputError) as err:
        open_source("7")
    assert "\n" not in str(err.value)


@pytest.mark.skipif(os.path.exists("/dev/video0"), reason="this machine has a webcam")
def test_open_source_auto_falls_back_to_demo() -> None:
    src = open_source("auto", resolution=(320, 180))
    assert isinstance(src, DemoSource)
    assert src.size == (320, 180)


# -- CameraSource ----------------------------------------------------------------------


@pytest.mark.parametrize("device", [9, "9", "/dev/video42"])
def test_camera_source_missing_device(device) -> None:
    if os.path.exists("/dev/video9") or os.path.exists("/dev/video42"):
        pytest.skip("this machine has the device")
    with pytest.raises(InputError) as err:
        CameraSource(device)
    msg = str(err.value)
    assert "\n" not in msg
    assert "video" in msg
