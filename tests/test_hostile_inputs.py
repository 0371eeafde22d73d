"""Hostile inputs from issue 15: each behaves, with one clear line or a correct result.

* Huge images are refused from their header, before any decoding, on every path.
* Images one pixel wide or tall are refused as inputs (or scaled with --resolution).
* A phone video's display matrix is applied: frames come out upright.
* Config files that are not UTF-8 or nest too deeply, non-finite --duration,
  eval masks of the wrong size or missing: clean errors.
* A second Ctrl+C does not turn exit 130 into death by SIGINT.
* A missing background file says "not found"; the threshold survives a restart.
* A corrupt image part-way through a run exits 1 (the README's table).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from segcam.capture import open_source
from segcam.capture.orientation import display_orientation
from segcam.capture.video import VideoFileSource
from segcam.errors import ConfigError, InputError
from segcam.image_header import HeaderError, image_size
from segcam.imaging import MAX_IMAGE_PIXELS, cover_fit, load_image
from tests.conftest import EG_PORTRAITS, TALKING_HEAD, read_video, run_cli, run_segcam
from tests.hostile_media import patch_jpeg_size, write_flat_png

# -- huge images ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def huge_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20000x20000 pixels in about 1.2 MB; decoded it would be 1.2 GB."""
    return write_flat_png(tmp_path_factory.mktemp("huge") / "huge.png", 20000, 20000)


@pytest.fixture(scope="module")
def huge_jpeg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real portrait JPEG whose frame header claims 20000x20000."""
    data = next(iter(sorted(EG_PORTRAITS.glob("images/*.jpg")))).read_bytes()
    path = tmp_path_factory.mktemp("huge") / "huge.jpg"
    path.write_bytes(patch_jpeg_size(data, 20000, 20000))
    return path


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any attempt to decode an image fail loudly (the refusal must come first)."""

    real = cv2.imdecode

    def guarded(buf, flags):
        size = image_size(bytes(buf))
        if size is None or size[0] * size[1] > MAX_IMAGE_PIXELS:
            raise AssertionError("an over-limit image was decoded")
        return real(buf, flags)

    def refuse(*_a, **_k):
        raise AssertionError("an image was read around segcam.imaging")

    monkeypatch.setattr("segcam.imaging.cv2.imdecode", guarded)
    monkeypatch.setattr(cv2, "imread", refuse)


def test_huge_image_is_refused_from_its_header(huge_png, huge_jpeg, no_decoding) -> None:
    for path in (huge_png, huge_jpeg):
        with pytest.raises(InputError, match=r"too large \(20000x20000, 400 megapixels\)"):
            load_image(str(path), "background image")


def test_huge_image_refused_on_every_cli_path(
    huge_png, huge_jpeg, tmp_path, capsys, no_decoding
) -> None:
    out = tmp_path / "out.mp4"
    cases = [
        ["record", "--input", str(huge_png), "--output", str(out), "--frames", "2"],
        ["record", "--input", str(huge_png.parent), "--output", str(out), "--frames", "2"],
        ["record", "--input", "demo", "-b", str(huge_jpeg), "--output", str(out), "--frames", "2"],
        ["mask", str(huge_png), "--out-dir", str(tmp_path / "masks")],
    ]
    for argv in cases:
        code, _, err = run_cli(argv, capsys)
        assert code != 0, argv
        assert "too large" in err and "internal error" not in err, (argv, err)
        assert not out.exists()
    assert not list((tmp_path / "masks").glob("*.png"))


def test_huge_image_in_eval_data_is_refused(huge_png, tmp_path, capsys, no_decoding) -> None:
    root = tmp_path / "data" / "set"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    os.link(huge_png, root / "images" / "a.png")
    write_flat_png(root / "masks" / "a.png", 64, 64)
    code, _, err = run_cli(["eval", str(tmp_path / "data")], capsys)
    assert code == 2 and "too large" in err and "internal error" not in err


def test_limit_is_inclusive_and_a_big_image_under_it_loads(tmp_path) -> None:
    # The limit refuses what it states and no more: 8192x8192 is 67 MP (< 134 MP).
    assert 8192 * 8192 <= MAX_IMAGE_PIXELS < 20000 * 20000
    path = write_flat_png(tmp_path / "ok.png", 3000, 2000, (10, 20, 30))
    assert load_image(str(path)).shape == (2000, 3000, 3)


@pytest.mark.parametrize(
    "ext", [".png", ".jpg", ".webp", ".bmp", ".tiff", ".ppm", ".pgm", ".pbm", ".jp2", ".pfm"]
)
def test_header_size_matches_every_format_segcam_reads(ext: str) -> None:
    img = (np.random.default_rng(1).random((37, 53, 3)) * 255).astype(np.uint8)
    if ext in (".pgm", ".pbm"):
        img = img[:, :, 0]
    if ext == ".pfm":
        img = img.astype(np.float32) / 255
    ok, data = cv2.imencode(ext, img)
    assert ok
    assert image_size(data.tobytes()) == (53, 37)


def test_truncated_headers_raise_header_error_and_unknown_bytes_none() -> None:
    _ok, data = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))
    png = data.tobytes()
    for cut in (9, 16, 20):
        with pytest.raises(HeaderError):
            image_size(png[:cut])
    assert image_size(b"hello world, not an image") is None
    assert image_size(b"RIFF\x00\x00\x00\x00AVI LIST") is None  # RIFF, but not WebP


def test_damaged_jpeg2000_is_refused_not_a_crash(tmp_path) -> None:
    """A .jp2 whose SIZ marker was damaged killed the process (SIGSEGV in OpenCV's
    OpenJPEG decoder); found by test_properties. JPEG 2000 is refused, unread."""
    img = cv2.resize(cv2.imread(str(sorted(EG_PORTRAITS.glob("images/*.jpg"))[0])), (64, 48))
    data = bytearray(cv2.imencode(".jp2", img)[1].tobytes())
    for at, value in ((122, 63), (130, 179), (136, 175), (150, 218), (193, 240)):
        data[at] = value
    path = tmp_path / "damaged.png"
    path.write_bytes(bytes(data))
    code = (
        "import sys\n"
        "from segcam.imaging import load_image\n"
        "from segcam.errors import InputError\n"
        "try:\n"
        f"    load_image({str(path)!r})\n"
        "except InputError as e:\n"
        "    print(e)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"crashed: {r.returncode}"
    assert "JPEG 2000 is not supported" in r.stdout


# -- one-pixel inputs ---------------------------------------------------------------


@pytest.mark.parametrize("size", [(640, 1), (1, 480)])
def test_one_pixel_image_input_is_a_clear_error(tmp_path, capsys, size) -> None:
    img = write_flat_png(tmp_path / "thin.png", *size)
    out = tmp_path / "out.mp4"
    code, _, err = run_cli(["record", "-i", str(img), "-o", str(out), "--frames", "2"], capsys)
    assert code == 2
    assert "at least 16 pixels" in err and "internal error" not in err
    assert not out.exists()


def test_one_pixel_image_with_resolution_is_cover_fitted(tmp_path) -> None:
    img = write_flat_png(tmp_path / "thin.png", 640, 1, (200, 100, 50))
    src = open_source(str(img), resolution=(64, 48))
    frame = src.read()
    assert frame.image.shape == (48, 64, 3)
    assert tuple(frame.image[24, 32]) == (50, 100, 200)


def test_cover_fit_of_an_extreme_shape_crops_before_scaling() -> None:
    thin = np.zeros((1, 640, 3), np.uint8)
    thin[:, 320:] = 255
    out = cover_fit(thin, (1280, 720))  # scaled whole first, this was 460800x720 (1 GB)
    assert out.shape == (720, 1280, 3)
    # What shows is the middle 2 source pixels (1280/720 of them), the edge in between.
    assert out[:, :320].max() == 0 and out[:, -320:].min() == 255


# -- rotation metadata ----------------------------------------------------------------


def _rotated_clip(path: Path, degrees: float, *, hflip: bool = False, frames: int = 6) -> Path:
    """A 320x180 clip of the talking head, stored as is, with a display matrix."""
    src = av.open(str(TALKING_HEAD))
    out = av.open(str(path), "w")
    vs = out.add_stream("libx264", rate=15)
    vs.pix_fmt, vs.width, vs.height = "yuv420p", 320, 180
    vs.set_display_rotation(degrees, hflip=hflip)
    for i, vf in enumerate(src.decode(video=0)):
        img = vf.to_ndarray(format="bgr24", width=320, height=180)
        frame = av.VideoFrame.from_ndarray(img, format="bgr24")
        frame.pts, frame.time_base = i, Fraction(1, 15)
        for p in vs.encode(frame):
            out.mux(p)
        if i + 1 == frames:
            break
    for p in vs.encode(None):
        out.mux(p)
    out.close()
    src.close()
    return path


@pytest.fixture(scope="module")
def phone_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # -90: what a phone held upright writes (ffprobe: "rotation of -90.00 degrees").
    return _rotated_clip(tmp_path_factory.mktemp("rot") / "phone.mp4", -90)


def _stored_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]


@pytest.mark.parametrize(
    ("degrees", "hflip", "expected"),
    [
        (-90, False, lambda a: cv2.rotate(a, cv2.ROTATE_90_CLOCKWISE)),
        (90, False, lambda a: cv2.rotate(a, cv2.ROTATE_90_COUNTERCLOCKWISE)),
        (180, False, lambda a: cv2.rotate(a, cv2.ROTATE_180)),
        (0, True, lambda a: cv2.flip(a, 1)),
        (0, False, lambda a: a),
    ],
)
def test_video_source_applies_the_display_matrix(tmp_path, degrees, hflip, expected) -> None:
    clip = _rotated_clip(tmp_path / "r.mp4", degrees, hflip=hflip, frames=3)
    stored = _stored_frames(clip)
    src = VideoFileSource(str(clip))
    want = expected(stored[0])
    assert src.size == (want.shape[1], want.shape[0])
    for k in range(3):
        frame = src.read()
        assert np.array_equal(frame.image, expected(stored[k])), k
    assert src.read() is None
    src.stop()


def test_display_orientation_ignores_malformed_matrices() -> None:
    assert display_orientation(None).apply is None
    assert display_orientation(b"\x00" * 36).apply is None  # degenerate: all zero
    assert display_orientation(b"\x01" * 7).apply is None


def test_phone_video_records_upright(phone_clip, tmp_path) -> None:
    out = tmp_path / "out.mp4"
    r = run_segcam(
        ["record", "-i", str(phone_clip), "-o", str(out), "-b", "green", "--filters", "none"],
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    frames, info = read_video(out)
    assert info["size"] == (180, 320), "portrait video recorded on its side"
    stored = _stored_frames(phone_clip)[0].astype(np.int16)
    got = frames[0].astype(np.int16)
    upright = cv2.rotate(stored, cv2.ROTATE_90_CLOCKWISE)
    wrong = cv2.rotate(stored, cv2.ROTATE_90_COUNTERCLOCKWISE)
    # Where the person was kept, the output equals the upright frame.
    person = np.abs(got - upright).sum(axis=2) < 40
    assert person.mean() > 0.1
    assert np.abs(got - upright).mean() < np.abs(got - wrong).mean()


# -- config, options, eval ------------------------------------------------------------


def test_config_that_is_not_utf8_is_a_clear_error(tmp_path, capsys) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_bytes('model = "caf\xe9"\n'.encode("latin-1"))
    code, _, err = run_cli(["--config", str(cfg), "mask", "x.png", "-o", str(tmp_path)], capsys)
    assert code == 2 and "not UTF-8" in err and "internal error" not in err


def test_deeply_nested_config_is_a_clear_error(tmp_path, capsys) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("backgrounds = " + "[" * 100_000 + "]" * 100_000 + "\n")
    code, _, err = run_cli(["--config", str(cfg), "mask", "x.png", "-o", str(tmp_path)], capsys)
    assert code == 2 and "too deeply" in err and "internal error" not in err


def test_config_that_is_a_folder_or_fifo_is_refused_without_blocking(tmp_path, capsys) -> None:
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    for cfg in (tmp_path, fifo):
        code, _, err = run_cli(["--config", str(cfg), "mask", "a.png", "-o", "x"], capsys)
        assert code == 2 and "not a regular file" in err


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "-1", "0", "1e308", "abc"])
def test_bad_duration_is_a_usage_error(value, tmp_path, capsys) -> None:
    out = tmp_path / "o.mp4"
    code, _, err = run_cli(["record", "-i", "demo", "-o", str(out), f"--duration={value}"], capsys)
    assert code == 2 and "--duration" in err and "internal error" not in err
    assert not out.exists()


def _eval_set(root: Path, image_size: tuple[int, int], mask: tuple[str, tuple[int, int]]) -> Path:
    (root / "set" / "images").mkdir(parents=True)
    (root / "set" / "masks").mkdir()
    write_flat_png(root / "set" / "images" / "a.png", *image_size)
    write_flat_png(root / "set" / "masks" / mask[0], *mask[1], (0, 0, 0))
    return root


def test_eval_with_masks_of_the_wrong_size_is_a_clear_error(tmp_path, capsys) -> None:
    data = _eval_set(tmp_path, (64, 48), ("a.png", (32, 32)))
    code, _out, err = run_cli(["eval", str(data)], capsys)
    assert code == 2 and "must have its image's size" in err and "internal error" not in err


def test_eval_with_no_matching_masks_is_an_error_not_nan(tmp_path, capsys) -> None:
    data = _eval_set(tmp_path, (64, 48), ("b.png", (64, 48)))
    code, out, err = run_cli(["eval", str(data), "--json"], capsys)
    assert code == 2 and "has a mask of the same name" in err
    assert "NaN" not in out and "nan" not in out


def test_eval_limit_zero_is_refused(tmp_path, capsys) -> None:
    data = _eval_set(tmp_path, (64, 48), ("a.png", (64, 48)))
    code, out, err = run_cli(["eval", str(data), "--limit", "0"], capsys)
    assert code == 2 and "--limit" in err and "nan" not in out.lower()


def test_missing_background_file_says_not_found(tmp_path, capsys) -> None:
    for spec in ("nosuch.jpg", "dir/nosuch", str(tmp_path / "gone.mp4")):
        code, _, err = run_cli(["record", "-i", "demo", "-b", spec, "-o", "x.mp4"], capsys)
        assert code == 2 and f"background file not found: {spec}" in err, err
    code, _, err = run_cli(["record", "-i", "demo", "-b", "purpel", "-o", "x.mp4"], capsys)
    assert code == 2 and "a colour" in err  # a typo'd word is still told the choices


# -- threshold round trip ----------------------------------------------------------------


@pytest.mark.parametrize("threshold", [0.05, 0.1, 0.3, 0.6, 0.77, 0.9, 0.95])
def test_threshold_survives_a_restart(tmp_path, threshold) -> None:
    from segcam import settings_file
    from segcam.gui.state import GuiState

    cfg = tmp_path / "config.toml"
    cfg.write_text("")
    state = GuiState.from_settings(settings_file.pipeline_settings(_args(cfg)), {})
    state.set_filter_on("smoothstep", True)
    state.set_threshold(threshold)
    settings_file.update({k: v for k, v in state.file_values().items()}, cfg)
    for _restart in range(3):  # and again: nothing drifts
        fs = settings_file.load(cfg)
        again = GuiState.from_settings(settings_file.pipeline_settings(_args(cfg)), fs.values)
        assert again.threshold == pytest.approx(threshold, abs=1e-9)
        assert again.half_width == pytest.approx(state.half_width, abs=1e-9)
        settings_file.update(again.file_values(), cfg)


def _args(cfg: Path):
    import argparse

    return argparse.Namespace(
        config=str(cfg), model=None, threads=None, background=None, filters=None, accelerator=None
    )


# -- exit codes and Ctrl+C ----------------------------------------------------------------


def test_corrupt_image_part_way_exits_1_and_keeps_the_output(tmp_path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    for k in range(1, 4):
        write_flat_png(folder / f"f{k}.png", 64, 48, (10 * k, 20, 30))
    (folder / "f4.png").write_bytes((folder / "f1.png").read_bytes()[:40])  # cut mid-header
    out = tmp_path / "out.mkv"
    r = run_segcam(["record", "-i", str(folder), "-o", str(out), "-b", "green"], timeout=120)
    assert r.returncode == 1, r.stderr
    assert "f4.png" in r.stderr and "internal error" not in r.stderr
    frames, _ = read_video(out)
    assert len(frames) == 3


def test_second_ctrl_c_still_exits_130(tmp_path) -> None:
    out = tmp_path / "out.mp4"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "segcam",
            "record",
            "-i",
            "demo",
            "-o",
            str(out),
            "--frames",
            "100000",
            "--resolution",
            "320x240",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (out.exists() and out.stat().st_size > 20_000):
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "no frames within 60 s"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err


def test_config_errors_are_config_errors() -> None:
    from segcam.settings_file import _parse

    with pytest.raises(ConfigError):
        _parse(b"\xff\xfe", Path("x.toml"))
