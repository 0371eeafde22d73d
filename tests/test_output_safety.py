"""segcam never writes where it reads, never clobbers without --overwrite, loses nothing.

Every case checks outcomes: the exit code, one ``segcam: error:`` line, and that
the input's bytes are unchanged (by hash), or that a recording decodes with PyAV.
Disk-full cases use a small tmpfs (skipped where it cannot be mounted).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from segcam.outputs import PARTIAL_SUFFIX, sequence_regex
from segcam.sinks.recorder import count_video_frames
from tests.conftest import EG_PORTRAITS, make_clip, read_video, run_cli, run_segcam
from tests.test_interrupt import count_decodable


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_error(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.startswith("segcam: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("safety") / "clip.mp4", frames=8, size=(256, 144))


@pytest.fixture
def same(clip: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "same.mp4"
    shutil.copyfile(clip, dst)
    return dst


# -- 1. the output is one of the inputs ------------------------------------------------


def _spellings(same: Path) -> dict[str, str]:
    d = same.parent
    (d / "link.mp4").symlink_to(same.name)
    os.link(same, d / "hard.mp4")
    (d / "sub").mkdir()
    return {
        "same name": str(same),
        "other spelling": str(d / "sub" / ".." / "." / same.name),
        "symlink": str(d / "link.mp4"),
        "hardlink": str(d / "hard.mp4"),
    }


@pytest.mark.parametrize("overwrite", [False, True], ids=["plain", "--overwrite"])
def test_output_that_is_the_input_is_refused(same: Path, overwrite: bool, capsys) -> None:
    before = digest(same)
    for how, out in _spellings(same).items():
        argv = ["record", "--input", str(same), "--output", out, "-b", "green"]
        code, _, err = run_cli(argv + (["--overwrite"] if overwrite else []), capsys)
        assert code == 2, how
        assert "is one of the inputs" in one_error(err), how
        assert digest(same) == before, how
    assert not list(same.parent.glob(f"*{PARTIAL_SUFFIX}"))


def test_output_that_is_the_background_video_is_refused(clip: Path, same: Path, capsys) -> None:
    before = digest(same)
    code, _, err = run_cli(
        ["record", "--input", str(clip), "-b", str(same), "--output", str(same), "--overwrite"],
        capsys,
    )
    assert code == 2
    assert "is one of the inputs" in one_error(err)
    assert digest(same) == before


def test_png_sequence_that_would_overwrite_input_frames_is_refused(tmp_path: Path, capsys):
    frames = tmp_path / "frames"
    frames.mkdir()
    src = sorted((EG_PORTRAITS / "images").iterdir())[:2]
    for i, f in enumerate(src):
        cv2.imwrite(str(frames / f"frame_{i:06d}.png"), cv2.imread(str(f)))
    before = {p.name: digest(p) for p in frames.iterdir()}
    for out in (str(frames), str(frames / "frame_%06d.png"), str(frames / "frame_%d.png")):
        code, _, err = run_cli(
            ["record", "--input", str(frames), "--output", out, "--overwrite", "-b", "green"],
            capsys,
        )
        assert code == 2, out
        assert "would write over the input" in one_error(err), out
        assert {p.name: digest(p) for p in frames.iterdir()} == before


# -- 2. segcam mask into the photos' own folder ----------------------------------------


@pytest.mark.parametrize("overwrite", [False, True], ids=["plain", "--overwrite"])
def test_mask_never_replaces_its_input_photos(tmp_path: Path, overwrite: bool, capsys) -> None:
    d = tmp_path / "d"
    d.mkdir()
    for f in sorted((EG_PORTRAITS / "images").iterdir())[:2]:
        cv2.imwrite(str(d / (f.stem + ".png")), cv2.imread(str(f)))
    before = {p.name: digest(p) for p in d.iterdir()}
    argv = ["mask", str(d), "--out-dir", str(d)] + (["--overwrite"] if overwrite else [])
    code, _, err = run_cli(argv, capsys)
    assert code == 2
    assert "never writes over its inputs" in one_error(err)
    assert {p.name: digest(p) for p in d.iterdir()} == before


# -- overwrite policy -------------------------------------------------------------------


def test_existing_output_is_refused_without_overwrite(clip: Path, tmp_path: Path, capsys):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"my only copy")
    code, _, err = run_cli(["record", "--input", str(clip), "--output", str(out)], capsys)
    assert code == 2
    assert "--overwrite" in one_error(err)
    assert out.read_bytes() == b"my only copy"

    code, _, err = run_cli(
        ["record", "--input", str(clip), "--output", str(out), "--overwrite"], capsys
    )
    assert code == 0, err
    frames, _ = read_video(out)
    assert len(frames) == 8


def test_existing_png_sequence_is_refused_without_overwrite(clip: Path, tmp_path: Path, capsys):
    seq = tmp_path / "seq"
    seq.mkdir()
    (seq / "frame_000003.png").write_bytes(b"keep")
    code, _, err = run_cli(["record", "--input", str(clip), "--output", str(seq)], capsys)
    assert code == 2
    assert "--overwrite" in one_error(err)
    assert (seq / "frame_000003.png").read_bytes() == b"keep"


def test_existing_masks_are_refused_without_overwrite(tmp_path: Path, capsys) -> None:
    photo = sorted((EG_PORTRAITS / "images").iterdir())[0]
    out = tmp_path / "masks"
    out.mkdir()
    (out / (photo.stem + ".png")).write_bytes(b"keep")
    code, _, err = run_cli(["mask", str(photo), "--out-dir", str(out)], capsys)
    assert code == 2
    assert "--overwrite" in one_error(err)
    assert (out / (photo.stem + ".png")).read_bytes() == b"keep"
    code, _, err = run_cli(["mask", str(photo), "--out-dir", str(out), "--overwrite"], capsys)
    assert code == 0, err
    assert cv2.imread(str(out / (photo.stem + ".png")), cv2.IMREAD_UNCHANGED).ndim == 2


# -- 3./5. failures never destroy an existing file; temp names; disk full ---------------


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A 400 KiB tmpfs (root only; skipped elsewhere)."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_failed_run_keeps_the_existing_output(clip: Path, tiny_disk: Path, capsys) -> None:
    # An existing recording fills most of the disk; a new run with --overwrite then
    # fails for lack of space. The old file must be intact (it used to be truncated
    # on open, then deleted because no frame was written).
    out = tiny_disk / "exist.mp4"
    out.write_bytes(os.urandom(392 * 1024))  # 8 KiB left: not one frame fits
    before = digest(out)
    code, _, err = run_cli(
        ["record", "--input", "demo", "--frames", "60", "--output", str(out), "--overwrite"],
        capsys,
    )
    assert code != 0
    one_error(err)
    assert digest(out) == before
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["exist.mp4"]


def test_disk_full_mp4_reports_the_frames_really_saved(tiny_disk: Path) -> None:
    out = tiny_disk / "full.mp4"
    r = run_segcam(["record", "--input", "demo", "--frames", "600", "--output", str(out)])
    assert r.returncode != 0
    one_error(r.stderr)
    # The last fragment may be cut short by the full disk: count what decodes before it.
    saved = count_decodable(out)
    assert saved > 0
    claim = [line for line in r.stderr.splitlines() if "frames were saved" in line]
    assert claim == [f"segcam: {saved} frames were saved to {out} before the error"]
    assert not [p for p in tiny_disk.iterdir() if p.name != "full.mp4"]


def test_disk_full_mask_batch_leaves_no_temporary_file(tiny_disk: Path, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    src = sorted((EG_PORTRAITS / "images").iterdir())[0]
    big = cv2.resize(cv2.imread(str(src)), (1200, 1600))
    noise = np.random.default_rng(0).integers(0, 255, big.shape, np.uint8)
    for i in range(40):
        cv2.imwrite(str(photos / f"img{i:02d}.png"), cv2.addWeighted(big, 0.5, noise, 0.5, i))
    r = run_segcam(["mask", str(photos), "--out-dir", str(tiny_disk)], timeout=300)
    assert r.returncode == 1, r.stderr  # part-way: the masks written before are kept
    one_error(r.stderr)
    names = [p.name for p in tiny_disk.iterdir()]
    assert names, "the disk held no mask at all: the test did not fill it"
    assert all(n.endswith(".png") for n in names), names
    for n in names:  # every mask under a real name is complete
        assert cv2.imread(str(tiny_disk / n), cv2.IMREAD_UNCHANGED) is not None, n


def test_temporary_names_never_end_in_the_real_extension(tmp_path: Path) -> None:
    from segcam.outputs import partial_path

    d = Path(partial_path(str(tmp_path / "frame_000025.png"))).name
    assert d.startswith("frame_000025.png.") and d.endswith(PARTIAL_SUFFIX)
    assert not d.endswith(".png")


def test_sequence_regex_matches_what_the_pattern_writes() -> None:
    rx = sequence_regex("out/frame_%06d.png")
    assert rx.match("frame_000001.png") and rx.match("frame_1234567.png")
    assert not rx.match("frame_000001.png" + PARTIAL_SUFFIX)
    assert not rx.match("other_000001.png")
    assert sequence_regex("x/%d.png").match("17.png")


def test_short_recording_is_complete_and_leaves_no_partial(clip: Path, tmp_path: Path, capsys):
    out = tmp_path / "short.mkv"
    code, _, err = run_cli(
        ["record", "--input", str(clip), "--frames", "3", "--output", str(out)], capsys
    )
    assert code == 0, err
    assert count_video_frames(str(out)) == 3
    assert [p.name for p in tmp_path.iterdir()] == ["short.mkv"]


def test_recording_gets_the_usual_file_mode(clip: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "mode.mp4"
    code, _, err = run_cli(["record", "--input", str(clip), "--output", str(out)], capsys)
    assert code == 0, err
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask
