"""The window's Virtual camera switch (offscreen): frames reach a fake pyvirtualcam
backend (registered with ``register_backend``; everything above it is real) while the
preview runs, a recording can run beside it, and errors go to the banner."""

# ruff: noqa: F811  (pytest fixtures imported from tests/test_gui.py)
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6.QtWidgets")
pytest.importorskip("pytestqt")

from pyvirtualcam.camera import BACKENDS

from segcam.cli import build_parser
from segcam.gui import session as gui_session
from segcam.sinks.vcam import NEUTRAL_GREY
from tests.conftest import read_video
from tests.test_gui import DEMO, WAIT, config, open_window  # noqa: F401  (fixtures)
from tests.test_vcam import register


@pytest.fixture
def fake_backend(monkeypatch):
    """A registered fake backend that the window's switch (and --vcam) pick."""
    name, cls = register()
    # `--vcam` names a device or pipewire; the test's backend has no device of its own.
    monkeypatch.setattr(gui_session, "vcam_target", lambda value: (None, name))
    yield name, cls
    BACKENDS.pop(name, None)


def real_frames(cls) -> int:
    """Frames the fake device got that are pictures, not segcam's grey card."""
    if not cls.opened:
        return 0
    return sum(1 for f in cls.opened[0].frames if not np.all(f == NEUTRAL_GREY))


def new_frames(w) -> int:
    """Distinct processed frames the virtual camera sent (repeats and cards not counted)."""
    sink = w.session.core.attached("vcam") if w.session.core is not None else None
    return sink.frames_new if sink is not None else 0


def test_the_switch_turns_the_virtual_camera_on_and_frames_arrive(qtbot, open_window, fake_backend):
    _, cls = fake_backend
    w = open_window(*DEMO)
    assert w.session.vcam_state == "off" and not w.sidebar.vcam.isChecked()
    painted = w.view.painted
    w.sidebar.vcam.click()
    qtbot.waitUntil(lambda: real_frames(cls) >= 10, timeout=WAIT)
    assert w.session.vcam_state == "on" and w.sidebar.vcam.isChecked()
    assert w.act_vcam.isChecked() and w.sidebar.vcam_state.text().startswith("On")
    assert w.view.painted > painted  # the preview goes on beside it
    device = cls.opened[0]
    assert (device.width, device.height) == (320, 180)
    w.sidebar.vcam.click()
    qtbot.waitUntil(lambda: device.closed == 1, timeout=WAIT)
    assert w.session.vcam_state == "off" and w.sidebar.vcam_state.text() == "Off"


def test_gui_vcam_option_starts_with_it_on_and_recording_runs_beside_it(
    qtbot, open_window, fake_backend, tmp_path
):
    _, cls = fake_backend
    w = open_window(*DEMO, "--vcam", "/dev/video10")
    qtbot.waitUntil(lambda: real_frames(cls) >= 5, timeout=WAIT)
    w.controls.record.click()
    qtbot.waitUntil(lambda: w.session.recording, timeout=WAIT)
    sent = new_frames(w)
    painted = w.view.painted
    qtbot.waitUntil(
        lambda: new_frames(w) >= sent + 20 and w.view.painted >= painted + 20, timeout=WAIT
    )
    path = Path(w.session.recording_path)
    w.controls.record.click()
    qtbot.waitUntil(lambda: not w.session.recording, timeout=WAIT)
    qtbot.waitUntil(lambda: path.exists() and len(read_video(path)[0]) >= 10, timeout=WAIT)
    assert w.session.vcam_state == "on" and len(cls.opened) == 1  # never reopened
    n = new_frames(w)
    qtbot.waitUntil(lambda: new_frames(w) >= n + 5, timeout=WAIT)  # still sending new frames


def test_the_state_says_waiting_for_an_app_then_in_use(
    qtbot, open_window, fake_backend, monkeypatch
):
    """Where readers can be seen (v4l2loopback on Linux), the switch's state follows them."""
    reading = {"now": False}
    monkeypatch.setattr(gui_session, "reader_probe", lambda sink: lambda: reading["now"])
    monkeypatch.setattr(gui_session, "VCAM_POLL_MS", 50)
    w = open_window(*DEMO, "--vcam")
    qtbot.waitUntil(lambda: w.session.vcam_state == "waiting", timeout=WAIT)
    assert w.sidebar.vcam_state.text() == "Waiting for an app (/dev/video10)"
    reading["now"] = True  # a call app opened the device
    qtbot.waitUntil(lambda: w.session.vcam_state == "in-use", timeout=WAIT)
    assert w.sidebar.vcam_state.text() == "In use (/dev/video10)"
    reading["now"] = False
    qtbot.waitUntil(lambda: w.session.vcam_state == "waiting", timeout=WAIT)


def test_a_virtual_camera_that_cannot_open_says_why_in_the_banner(qtbot, open_window, monkeypatch):
    name, _ = register(fail_open="no loopback device found")
    monkeypatch.setattr(gui_session, "vcam_target", lambda value: (None, name))
    monkeypatch.setattr(gui_session, "doctor_fix", lambda backend: "sudo modprobe v4l2loopback")
    try:
        w = open_window(*DEMO)
        w.sidebar.vcam.click()
        qtbot.waitUntil(lambda: "vcam" in w.banner.kinds(), timeout=WAIT)
        message = w.banner.message("vcam")
        assert "no loopback device found" in message and "segcam doctor" in message
        assert "sudo modprobe v4l2loopback" in message
        assert w.session.vcam_state == "off" and not w.sidebar.vcam.isChecked()
        qtbot.waitUntil(lambda: w.view.painted >= 5, timeout=WAIT)  # the preview goes on
    finally:
        BACKENDS.pop(name, None)


def test_gui_vcam_option_is_in_the_help():
    text = build_parser().parse_args(["gui", "--vcam"]).vcam
    assert text == "auto"
    assert build_parser().parse_args(["gui", "--vcam", "pipewire"]).vcam == "pipewire"
    assert gui_session.vcam_target("pipewire") == (None, "pipewire")
    assert gui_session.vcam_target("/dev/video10") == ("/dev/video10", None)
    assert gui_session.vcam_target("auto") == (None, None)
