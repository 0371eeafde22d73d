"""The real window on a real X server (Xvfb, Qt's xcb platform), seen through the X server's
own screenshots; and how ``segcam gui`` fails where Qt cannot start.

.ci/run installs Xvfb, xwd (x11-apps) and Qt's X11 libraries from Debian packages.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO, run_cli

_spec = importlib.util.spec_from_file_location(
    "make_screenshot", REPO / "assets" / "make_screenshot.py"
)
shots = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shots)  # type: ignore[union-attr]


@pytest.fixture
def xserver():
    missing = shots.tools_missing()
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install xvfb x11-apps)")
    from segcam.gui.qt_env import missing_xcb_packages

    packages = missing_xcb_packages()
    if packages:
        pytest.skip(f"Qt's X11 libraries are missing: apt-get install {' '.join(packages)}")
    proc, display = shots.start_xvfb()
    yield display
    proc.terminate()
    proc.wait(10)


def test_real_window_on_xvfb_shows_moving_video(xserver, tmp_path):
    app = shots.start_app(xserver, tmp_path / "cfg", args=("--resolution", "640x360"))
    try:
        first, second = shots.wait_for_video(xserver, app, timeout=120)
    finally:
        code, err = shots.stop_app(app)
    a = shots.preview(first).astype(np.int16)
    b = shots.preview(second).astype(np.int16)
    assert a.std() > 20 and b.std() > 20  # a picture, not an empty area
    assert np.abs(a - b).mean() > 0.5  # and it moves
    # The sidebar is drawn too (text and controls, not a flat area).
    assert second[40:700, 960:1270].astype(np.int16).std() > 10
    assert code == 0, err
    assert "Traceback" not in err
    assert "Qt platform: xcb" in err  # really the X11 platform, not offscreen
    assert "preview:" in err  # closed normally on SIGTERM and reported its figures


def _gui_error_line(env: dict[str, str]) -> str:
    """Run ``segcam gui`` in ``env``; it must exit 2 with exactly one stderr line."""
    out = subprocess.run(
        [sys.executable, "-m", "segcam", "gui", "--input", "demo"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=str(REPO),
    )
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    return lines[0]


def test_without_a_display_gui_fails_in_one_line(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="xcb", SEGCAM_CONFIG=str(tmp_path / "c.toml"))
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    assert "display" in _gui_error_line(env)


def test_an_unknown_qt_platform_fails_in_one_line(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="nosuch", SEGCAM_CONFIG=str(tmp_path / "c.toml"))
    assert 'no platform plugin "nosuch"' in _gui_error_line(env)


def test_bare_segcam_opens_the_window(capsys, monkeypatch):
    import segcam.gui.app

    seen = {}

    def fake_run_app(args):
        seen["command"] = args.command
        seen["input"] = args.input
        return 0

    monkeypatch.setattr(segcam.gui.app, "run_app", fake_run_app)
    code, _, err = run_cli([], capsys)
    assert code == 0, err
    assert seen == {"command": "gui", "input": None}  # None: the last source is used


def test_bad_gui_options_fail_before_any_window(capsys):
    code, _, err = run_cli(["gui", "--resolution", "big"], capsys)
    assert code == 2 and "invalid resolution" in err and err.count("\n") == 1


def test_screenshot_in_the_repo_is_the_real_window():
    shot = REPO / "assets" / "screenshot.png"
    assert shot.is_file(), "run: python assets/make_screenshot.py"
    import cv2

    image = cv2.imread(str(shot))
    assert image.shape[:2] == (shots.SCREEN[1], shots.SCREEN[0])
    assert shots.preview(image).astype(np.int16).std() > 20
    assert Path(shots.__file__).name == "make_screenshot.py"
