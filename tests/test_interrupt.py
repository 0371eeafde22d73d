"""Stopping a recording with a signal leaves a playable file.

``segcam record --input demo`` runs in a subprocess, recording to .mp4
(fragmented MP4) and .mkv (Matroska). Once the file holds some frames, a copy of
it is taken and its decodable frames counted, then the process is signalled:

* SIGINT / SIGTERM: segcam must stop cleanly (exit 0 or 130, no traceback) and
  finalise the file, which must decode fully with PyAV and hold at least the
  frames that were already in the copy (and at least 15), as many as it reported.
* SIGKILL: no chance to finalise, yet the file must still decode with PyAV and
  hold every frame that was decodable just before the kill.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import cv2
import pytest

from tests.conftest import read_video

MIN_BYTES = 50_000
START_DEADLINE_S = 60.0
EXIT_DEADLINE_S = 30.0


def count_decodable(path: Path) -> int:
    """Frames PyAV decodes from ``path`` before the first error (a copy may end mid-write)."""
    n = 0
    try:
        with av.open(str(path)) as c:
            for _ in c.decode(video=0):
                n += 1
    except (av.error.FFmpegError, OSError, EOFError, ValueError):
        pass
    return n


def start_recording(out: Path, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "segcam",
            "record",
            "--input",
            "demo",
            "--output",
            str(out),
            "--frames",
            "100000",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
    )


def wait_for_frames(proc: subprocess.Popen[str], out: Path) -> None:
    """Poll until the output has passed MIN_BYTES (some complete fragments/clusters)."""
    deadline = time.monotonic() + START_DEADLINE_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"segcam exited early with code {proc.returncode}:\n{err}")
        if out.exists() and out.stat().st_size > MIN_BYTES:
            return
        time.sleep(0.05)
    pytest.fail(f"{out.name} did not reach {MIN_BYTES} bytes within {START_DEADLINE_S:g} s")


def record_and_signal(tmp_path: Path, ext: str, sig: int) -> tuple[int, str, str, Path, int]:
    """Record the demo, snapshot the file, send ``sig``; return (code, out, err, path, before)."""
    out = tmp_path / f"rec{ext}"
    snapshot = tmp_path / f"snapshot{ext}"
    proc = start_recording(out, tmp_path)
    try:
        wait_for_frames(proc, out)
        shutil.copyfile(out, snapshot)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=EXIT_DEADLINE_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    before = count_decodable(snapshot)
    assert before > 0, f"the snapshot of {out.name} taken before the signal held no frames"
    return proc.returncode, stdout, stderr, out, before


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
def test_stop_signal_finalises_the_file(tmp_path: Path, ext: str, sig: int) -> None:
    code, stdout, stderr, out, before = record_and_signal(tmp_path, ext, sig)

    assert code in (0, 130), f"exit code {code}:\n{stderr}"
    assert "Traceback" not in stderr, stderr
    assert "error" not in stderr.lower(), stderr

    frames, info = read_video(out)  # decodes every frame; raises if the file is broken
    assert len(frames) >= before, f"{len(frames)} frames now, {before} before the signal"
    assert len(frames) >= 15
    assert info["size"] == (1280, 720)
    m = re.search(r"wrote (\d+) frames", stdout)
    assert m, f"no summary on stdout: {stdout!r}"
    assert len(frames) == int(m.group(1)), "the file does not hold the frames segcam reported"


@pytest.mark.parametrize("ext", [".mp4", ".mkv", ".webm"])
def test_sigkill_leaves_a_playable_file(tmp_path: Path, ext: str) -> None:
    code, _, stderr, out, before = record_and_signal(tmp_path, ext, signal.SIGKILL)

    assert code == -signal.SIGKILL
    assert "Traceback" not in stderr, stderr
    assert out.is_file()
    frames, info = read_video(out)
    assert len(frames) >= 1
    assert len(frames) >= before, f"{len(frames)} frames now, {before} before the kill"
    assert info["size"] == (1280, 720)


def test_sigkill_of_a_png_sequence_leaves_only_whole_pngs(tmp_path: Path) -> None:
    """Frames are written under a temporary name that does not end in .png, so a
    ``*.png`` glob after a kill finds only complete frames."""
    out = tmp_path / "seq"
    out.mkdir()  # an existing folder is a PNG-sequence output
    proc = start_recording(out, tmp_path)
    try:
        deadline = time.monotonic() + START_DEADLINE_S
        while len(list(out.glob("*.png"))) < 5:
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "no frames were written"
            time.sleep(0.01)
        proc.kill()
        proc.communicate(timeout=EXIT_DEADLINE_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) >= 5
    for f in pngs:
        image = cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
        assert image is not None and image.shape == (720, 1280, 3), f.name
    others = [p.name for p in out.iterdir() if p.suffix != ".png"]
    assert all(n.endswith(".segcam-partial") for n in others), others
