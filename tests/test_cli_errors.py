"""Bad input gets one clear line, a non-zero exit and no traceback.

Every case runs the real CLI on a real bad input (a missing or corrupt video,
an absent camera, an unwritable output, a bad background, bad option values, a
garbage model, corrupt images for ``segcam mask``, unknown options) and checks:

* the exit code is the documented one (2 for bad usage or input, 1 when some
  ``mask`` inputs failed);
* stderr holds exactly one non-blank line, which names the offending value;
* there is no traceback;
* nothing is left behind that looks like a finished recording (no output file,
  nothing on stdout claiming one was written).

Most cases run in-process (fast); a few run ``python -m segcam`` in a subprocess to
prove the real process (with native libraries writing to fd 2) prints no more.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from segcam.inference.models import resolve_model
from tests.conftest import EG_PORTRAITS, make_clip, run_cli, run_segcam

IMAGES = EG_PORTRAITS / "images"
GOOD_IMAGES = [IMAGES / "eg_00002.jpg", IMAGES / "eg_00012.jpg"]


# -- helpers ------------------------------------------------------------------------------------


def one_error_line(err: str, *needles: str) -> str:
    """stderr must be one non-blank segcam error line, containing every needle."""
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{err}"
    line = lines[0]
    assert line.startswith("segcam"), line
    assert "error" in line, line
    for needle in needles:
        assert needle in line, f"{needle!r} not in {line!r}"
    return line


def assert_fails(result: tuple[int, str, str], *needles: str, code: int = 2) -> str:
    """A failed run: the documented exit code, one error line, nothing on stdout."""
    rc, out, err = result
    assert rc == code, f"exit code {rc}, expected {code}; stderr:\n{err}"
    assert out == "", f"stdout should be empty on failure, got {out!r}"
    return one_error_line(err, *needles)


def assert_empty(folder: Path) -> None:
    left = sorted(p.name for p in folder.iterdir())
    assert left == [], f"files left behind in {folder}: {left}"


def random_file(path: Path, size: int = 4096, seed: int = 0) -> Path:
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, size, np.uint8).tobytes())
    return path


def proc_result(p) -> tuple[int, str, str]:
    return p.returncode, p.stdout, p.stderr


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A case that wrongly falls through to a default output must not litter the repo.
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """A small, valid H.264 + AAC clip of the real talking head."""
    return make_clip(tmp_path_factory.mktemp("errclip") / "clip.mp4", frames=6, size=(256, 144))


@pytest.fixture
def outdir(tmp_path: Path) -> Path:
    d = tmp_path / "out"
    d.mkdir()
    return d


def record(clip: Path, out: Path, *extra: str) -> list[str]:
    return ["record", "--input", str(clip), "--output", str(out), *extra]


# -- a control: the same inputs work when nothing is wrong ---------------------------------------


def test_control_good_record_succeeds(clip: Path, outdir: Path, capsys) -> None:
    out = outdir / "ok.mp4"
    code, stdout, err = run_cli(record(clip, out, "--frames", "3"), capsys)
    assert code == 0, err
    assert "Traceback" not in err
    assert out.is_file() and out.stat().st_size > 0
    assert "wrote 3 frames" in stdout


# -- inputs -------------------------------------------------------------------------------------


def test_missing_input(tmp_path: Path, outdir: Path, capsys) -> None:
    missing = tmp_path / "no-such-video.mp4"
    out = outdir / "out.mp4"
    assert_fails(run_cli(record(missing, out), capsys), "no-such-video.mp4")
    assert_empty(outdir)


def test_missing_input_subprocess(tmp_path: Path, outdir: Path) -> None:
    missing = tmp_path / "no-such-video.mp4"
    p = run_segcam(record(missing, outdir / "out.mp4"), cwd=tmp_path)
    assert_fails(proc_result(p), "no-such-video.mp4")
    assert_empty(outdir)


def test_random_bytes_video(tmp_path: Path, outdir: Path, capsys) -> None:
    bad = random_file(tmp_path / "garbage.mp4", 20000)
    assert_fails(run_cli(record(bad, outdir / "out.mp4"), capsys), "garbage.mp4")
    assert_empty(outdir)


def test_random_bytes_video_subprocess(tmp_path: Path, outdir: Path) -> None:
    bad = random_file(tmp_path / "garbage.mp4", 20000)
    p = run_segcam(record(bad, outdir / "out.mp4"), cwd=tmp_path)
    assert_fails(proc_result(p), "garbage.mp4")
    assert_empty(outdir)


def test_truncated_video(clip: Path, tmp_path: Path, outdir: Path, capsys) -> None:
    cut = tmp_path / "truncated.mp4"
    cut.write_bytes(clip.read_bytes()[:4096])
    assert_fails(run_cli(record(cut, outdir / "out.mp4"), capsys), "truncated.mp4")
    assert_empty(outdir)


@pytest.mark.parametrize("spec", ["7", "/dev/video7"])
def test_camera_that_does_not_exist(spec: str, outdir: Path, capsys) -> None:
    if os.path.exists("/dev/video7"):
        pytest.skip("this machine has a /dev/video7")
    argv = ["record", "--input", spec, "--output", str(outdir / "out.mp4")]
    line = assert_fails(run_cli(argv, capsys), "7")
    assert "camera" in line
    assert_empty(outdir)


# -- outputs ------------------------------------------------------------------------------------


def test_output_folder_does_not_exist(clip: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "no-such-folder" / "out.mp4"
    assert_fails(run_cli(record(clip, out), capsys), str(out))
    assert not out.parent.exists()


def test_output_under_a_file(clip: Path, tmp_path: Path, capsys) -> None:
    not_a_dir = tmp_path / "plain.txt"
    not_a_dir.write_text("not a folder")
    out = not_a_dir / "out.mp4"
    assert_fails(run_cli(record(clip, out), capsys), str(out))
    assert not_a_dir.read_text() == "not a folder"


def test_output_in_proc(clip: Path, capsys) -> None:
    # /proc refuses new files even for root, where chmod would not stop a write.
    out = Path("/proc/segcam-test-output.mp4")
    assert_fails(run_cli(record(clip, out), capsys), str(out))
    assert not out.exists()


def test_output_in_read_only_folder(clip: Path, tmp_path: Path, capsys) -> None:
    if os.geteuid() == 0:
        pytest.skip("root can write to a read-only folder")
    ro = tmp_path / "readonly"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        out = ro / "out.mp4"
        assert_fails(run_cli(record(clip, out), capsys), str(out))
        assert_empty(ro)
    finally:
        ro.chmod(0o755)


def test_unsupported_output_extension(clip: Path, outdir: Path, capsys) -> None:
    out = outdir / "out.avi"
    line = assert_fails(run_cli(record(clip, out), capsys), ".avi", str(out))
    assert ".mp4" in line  # says what to use instead
    assert_empty(outdir)


def test_transparent_background_needs_webm(clip: Path, outdir: Path, capsys) -> None:
    out = outdir / "out.mp4"
    argv = record(clip, out, "--background", "none")
    assert_fails(run_cli(argv, capsys), ".mp4", ".webm")
    assert_empty(outdir)


# -- backgrounds --------------------------------------------------------------------------------


def test_missing_background_image(clip: Path, tmp_path: Path, outdir: Path, capsys) -> None:
    bg = tmp_path / "no-such-beach.jpg"
    argv = record(clip, outdir / "out.mp4", "--background", str(bg))
    assert_fails(run_cli(argv, capsys), str(bg))
    assert_empty(outdir)


def test_corrupt_background_image(clip: Path, tmp_path: Path, outdir: Path, capsys) -> None:
    bg = random_file(tmp_path / "beach.jpg", 3000)
    argv = record(clip, outdir / "out.mp4", "--background", str(bg))
    assert_fails(run_cli(argv, capsys), str(bg))
    assert_empty(outdir)


def test_too_small_background_image(clip: Path, tmp_path: Path, outdir: Path, capsys) -> None:
    bg = tmp_path / "tiny.png"
    assert cv2.imwrite(str(bg), np.full((4, 4, 3), 200, np.uint8))
    argv = record(clip, outdir / "out.mp4", "--background", str(bg))
    assert_fails(run_cli(argv, capsys), str(bg), "4x4")
    assert_empty(outdir)


def test_background_folder(clip: Path, tmp_path: Path, outdir: Path, capsys) -> None:
    bg = tmp_path / "backgrounds"
    bg.mkdir()
    argv = record(clip, outdir / "out.mp4", "--background", str(bg))
    assert_fails(run_cli(argv, capsys), str(bg))
    assert_empty(outdir)


def test_unknown_background_colour(clip: Path, outdir: Path, capsys) -> None:
    argv = record(clip, outdir / "out.mp4", "--background", "#12345")
    assert_fails(run_cli(argv, capsys), "#12345")
    assert_empty(outdir)


# -- option values ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["abc", "0x0", "1280", "-5x3", "99999x10"])
def test_bad_resolution(value: str, clip: Path, outdir: Path, capsys) -> None:
    argv = record(clip, outdir / "out.mp4", f"--resolution={value}")
    assert_fails(run_cli(argv, capsys), value)
    assert_empty(outdir)


@pytest.mark.parametrize("value", ["abc", "0", "1000"])
def test_bad_fps(value: str, clip: Path, outdir: Path, capsys) -> None:
    argv = record(clip, outdir / "out.mp4", f"--fps={value}")
    assert_fails(run_cli(argv, capsys), value)
    assert_empty(outdir)


@pytest.mark.parametrize(
    ("option", "value"),
    [("--frames", "0"), ("--frames", "-3"), ("--frames", "abc"), ("--duration", "-1")],
)
def test_bad_frames_and_duration(option: str, value: str, clip: Path, outdir: Path, capsys) -> None:
    argv = record(clip, outdir / "out.mp4", f"{option}={value}")
    assert_fails(run_cli(argv, capsys), option, value)
    assert_empty(outdir)


def test_zero_duration(clip: Path, outdir: Path, capsys) -> None:
    argv = record(clip, outdir / "out.mp4", "--duration", "0")
    assert_fails(run_cli(argv, capsys), "--duration", "0")
    assert_empty(outdir)


# -- models -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def real_model() -> Path:
    path = resolve_model("landscape").path
    assert path.is_file()
    return path


def test_random_bytes_model(clip: Path, tmp_path: Path, outdir: Path, capsys) -> None:
    model = random_file(tmp_path / "garbage.tflite", 5000)
    argv = record(clip, outdir / "out.mp4", "--model", str(model))
    assert_fails(run_cli(argv, capsys), "garbage.tflite")
    assert_empty(outdir)


def test_empty_model(clip: Path, tmp_path: Path, outdir: Path, capsys) -> None:
    model = tmp_path / "empty.tflite"
    model.write_bytes(b"")
    argv = record(clip, outdir / "out.mp4", "--model", str(model))
    assert_fails(run_cli(argv, capsys), "empty.tflite")
    assert_empty(outdir)


@pytest.mark.parametrize("fraction", [0.05, 0.5, 0.95])
def test_truncated_model(
    fraction: float, real_model: Path, clip: Path, tmp_path: Path, outdir: Path, capsys
) -> None:
    data = real_model.read_bytes()
    model = tmp_path / "truncated.tflite"
    model.write_bytes(data[: int(len(data) * fraction)])
    argv = record(clip, outdir / "out.mp4", "--model", str(model))
    assert_fails(run_cli(argv, capsys), "truncated.tflite")
    assert_empty(outdir)


def test_truncated_model_subprocess(
    real_model: Path, clip: Path, tmp_path: Path, outdir: Path
) -> None:
    # LiteRT reports load failures from C++; the real process must still show one line.
    data = real_model.read_bytes()
    model = tmp_path / "truncated.tflite"
    model.write_bytes(data[: len(data) // 3])
    p = run_segcam(record(clip, outdir / "out.mp4", "--model", str(model)), cwd=tmp_path)
    assert_fails(proc_result(p), "truncated.tflite")
    assert_empty(outdir)


def test_missing_model_file(clip: Path, tmp_path: Path, outdir: Path, capsys) -> None:
    model = tmp_path / "no-such-model.tflite"
    argv = record(clip, outdir / "out.mp4", "--model", str(model))
    assert_fails(run_cli(argv, capsys), "no-such-model.tflite")
    assert_empty(outdir)


def test_unknown_model_name(clip: Path, outdir: Path, capsys) -> None:
    argv = record(clip, outdir / "out.mp4", "--model", "bogusnet")
    line = assert_fails(run_cli(argv, capsys), "bogusnet")
    assert "landscape" in line  # lists what is available
    assert_empty(outdir)


# -- segcam mask --------------------------------------------------------------------------------


def test_mask_missing_input(tmp_path: Path, capsys, shared_data: Path) -> None:
    masks = tmp_path / "masks"
    missing = tmp_path / "no-such-photo.jpg"
    argv = ["mask", str(GOOD_IMAGES[0]), str(missing), "--out-dir", str(masks)]
    assert_fails(run_cli(argv, capsys), "no-such-photo.jpg")
    assert not masks.exists() or not any(masks.iterdir())


def test_mask_corrupt_images_among_good_ones(tmp_path: Path, shared_data: Path) -> None:
    random_jpg = random_file(tmp_path / "random.jpg", 3000)
    truncated_jpg = tmp_path / "truncated.jpg"
    truncated_jpg.write_bytes((IMAGES / "eg_00024.jpg").read_bytes()[:20000])
    masks = tmp_path / "masks"
    inputs = [GOOD_IMAGES[0], random_jpg, GOOD_IMAGES[1], truncated_jpg]
    p = run_segcam(["mask", *map(str, inputs), "--out-dir", str(masks)], cwd=tmp_path)

    assert p.returncode == 1, p.stderr
    assert "Traceback" not in p.stderr
    # The good images are still processed, and only they.
    assert sorted(f.name for f in masks.iterdir()) == ["eg_00002.png", "eg_00012.png"]
    for src in GOOD_IMAGES:
        mask = cv2.imread(str(masks / (src.stem + ".png")), cv2.IMREAD_UNCHANGED)
        image = cv2.imread(str(src))
        assert mask is not None and mask.ndim == 2
        assert mask.shape == image.shape[:2]
        assert mask.max() == 255 and mask.min() == 0  # a person and some background
    assert "wrote 2 masks" in p.stdout
    # One line per failure, naming the file; at most one summary line besides.
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert all(ln.startswith("segcam") for ln in lines), p.stderr
    for bad in (random_jpg, truncated_jpg):
        naming = [ln for ln in lines if bad.name in ln]
        assert len(naming) == 1, f"{bad.name} should be named on one line:\n{p.stderr}"
    assert len(lines) <= 3, p.stderr


@pytest.mark.parametrize("where", ["proc", "under_file"])
def test_mask_output_dir_cannot_be_created(
    where: str, tmp_path: Path, capsys, shared_data: Path
) -> None:
    if where == "proc":
        masks = Path("/proc/segcam-test-masks")
    else:
        plain = tmp_path / "plain.txt"
        plain.write_text("x")
        masks = plain / "masks"
    argv = ["mask", str(GOOD_IMAGES[0]), "--out-dir", str(masks)]
    assert_fails(run_cli(argv, capsys), str(masks))
    assert not masks.exists()


# -- usage errors -------------------------------------------------------------------------------


def test_unknown_record_option(clip: Path, outdir: Path, capsys) -> None:
    argv = record(clip, outdir / "out.mp4", "--bogus-option")
    assert_fails(run_cli(argv, capsys), "--bogus-option")
    assert_empty(outdir)


def test_unknown_mask_option(tmp_path: Path, capsys) -> None:
    argv = ["mask", str(GOOD_IMAGES[0]), "--out-dir", str(tmp_path / "m"), "--bogus-option"]
    assert_fails(run_cli(argv, capsys), "--bogus-option")
    assert not (tmp_path / "m").exists()


def test_unknown_subcommand(capsys) -> None:
    assert_fails(run_cli(["frobnicate"], capsys), "frobnicate")


def test_mask_without_out_dir(capsys) -> None:
    assert_fails(run_cli(["mask", str(GOOD_IMAGES[0])], capsys), "--out-dir")


def test_unknown_option_subprocess(tmp_path: Path) -> None:
    p = run_segcam(["record", "--bogus-option"], cwd=tmp_path)
    assert_fails(proc_result(p), "--bogus-option")
    assert_empty(tmp_path)


def test_mask_with_no_readable_input_did_nothing_and_exits_2(tmp_path, capsys):
    bad = [tmp_path / "a.png", tmp_path / "b.jpg"]
    for p in bad:
        p.write_bytes(b"not an image at all")
    code, _, err = run_cli(["mask", *map(str, bad), "--out-dir", str(tmp_path / "m")], capsys)
    assert code == 2, err  # nothing done: like any bad input (README's exit-code table)
    assert "2 of 2 inputs could not be read" in err and "internal error" not in err
    assert not list((tmp_path / "m").glob("*.png"))
