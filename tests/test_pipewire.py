"""The PipeWire virtual camera, end to end, on a private PipeWire session.

A real ``pipewire`` and ``wireplumber`` run in a temporary runtime folder
(tests/pipewire_session.py); ``segcam vcam --backend pipewire`` publishes its node
there and ``gst-launch-1.0 pipewiresrc`` consumes it, as a browser's camera stack
would. Nothing is mocked: if segcam's node, the child pipeline or PipeWire's linking
broke, the consumer gets no frames, the wrong size or the wrong picture, and the
test fails.

Without the system packages (pipewire, wireplumber, gstreamer1.0-pipewire,
gstreamer1.0-tools, ...) these tests skip with one line naming them; under
``CI=true`` they fail instead. Timeouts only guard against hangs.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from segcam import pipewire_env
from segcam.doctor import Roots, exit_code, render, run_checks
from segcam.frame import Frame
from segcam.sinks.auto import choose_backend, loopback_devices
from segcam.sinks.base import StreamInfo
from segcam.sinks.vcam import NEUTRAL_GREY, VirtualCameraSink
from tests.conftest import run_cli
from tests.pipewire_session import (
    Proc,
    SessionError,
    consume,
    group_alive,
    missing_packages,
    pid_alive,
    skip_or_fail,
    start_session,
    wait_for,
)

W, H, FPS = 640, 360, 30
READY_S = 120.0  # model load + first frame on a busy 2-core machine; a hang guard only
EXIT_S = 30.0


@pytest.fixture(scope="module")
def session():
    missing = missing_packages()
    if missing:
        skip_or_fail(f"PipeWire camera tests need: apt install {' '.join(missing)}")
    try:
        s = start_session()
    except SessionError as e:
        skip_or_fail(f"a private PipeWire session did not start: {e}")
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def session_env(session, monkeypatch):
    """This process joins the private session (for in-process sinks and the doctor)."""
    for key in list(os.environ):
        if key.startswith(("PIPEWIRE_", "DBUS_", "XDG_")):
            monkeypatch.delenv(key)
    for key, value in session.env.items():
        monkeypatch.setenv(key, value)
    return session.env


def start_vcam(session, tmp_path: Path, *args: str) -> Proc:
    argv = [sys.executable, "-m", "segcam", "vcam", "--input", "demo", "-b", "#00ff00"]
    argv += ["--resolution", f"{W}x{H}", "--fps", str(FPS), *args]
    vcam = Proc(argv, session.env, tmp_path / "vcam.log")
    try:
        wait_for(
            lambda: "press Ctrl+C" in vcam.log() or vcam.popen.poll() is not None,
            READY_S,
            "segcam vcam to start",
            step=0.1,
        )
    except SessionError:
        vcam.stop()
        raise
    assert vcam.popen.poll() is None, vcam.log()
    return vcam


def camera_child(session, vcam: Proc) -> int:
    """Pid of the process that publishes the segcam node (the gst-launch child)."""
    node = session.node("segcam")
    assert node is not None, [n.name for n in session.nodes()]
    assert node.pid is not None and node.pid != vcam.pid
    return node.pid


def assert_green_around_person(frame: np.ndarray) -> None:
    """The demo's astronaut stands in the middle; the background is replaced by #00ff00."""
    h, w = frame.shape[:2]
    rgb = frame.reshape(-1, 3).astype(int)
    green = (rgb[:, 1] > 200) & (rgb[:, 0] < 60) & (rgb[:, 2] < 60)
    green = green.reshape(h, w)
    band = w // 8
    edges = np.concatenate([green[: h // 2, :band].ravel(), green[: h // 2, -band:].ravel()])
    centre = green[h // 4 : 3 * h // 4, 3 * w // 8 : 5 * w // 8]
    assert edges.mean() > 0.9, f"background not green: {edges.mean():.2f} of the edges"
    assert centre.mean() < 0.2, f"no person in the middle: {centre.mean():.2f} green"


def test_vcam_serves_consumer_after_consumer_and_stops_on_ctrl_c(session, tmp_path):
    vcam = start_vcam(session, tmp_path, "--backend", "pipewire")
    try:
        node = session.node("segcam")
        assert node is not None
        assert (node.media_class, node.role) == ("Video/Source", "Camera")
        assert node.description == "segcam virtual camera"
        child = camera_child(session, vcam)

        # The first consumer, then a second one after it closed: the trap of a plain
        # pipewiresink (only the first consumer gets frames) must not come back.
        for n in (1, 2):
            got = consume(session.env, "segcam", 30, tmp_path / f"consumer{n}")
            assert got.returncode == 0, got.log[-2000:]
            assert got.frames.shape == (30, H, W, 3), (got.frames.shape, got.caps)
            assert "format=(string)YUY2" in got.caps and "framerate=(fraction)30/1" in got.caps
            assert_green_around_person(got.frames[-1])
        assert vcam.popen.poll() is None, "segcam exited while consumers came and went"
        assert session.node("segcam") is not None
        assert camera_child(session, vcam) == child, "the camera was restarted"

        vcam.signal(signal.SIGINT)  # what Ctrl+C sends to the terminal's foreground group
        code = vcam.popen.wait(EXIT_S)
    finally:
        vcam.stop()
    log = vcam.log()
    assert code == 0, log
    assert "Traceback" not in log
    assert "sent " in log and " frames to segcam" in log
    assert not pid_alive(child), "the gst-launch child outlived segcam"
    assert not group_alive(child)
    wait_for(lambda: session.node("segcam") is None, 10, "the node to leave the graph")


def test_sigterm_while_a_consumer_streams_leaves_nothing_behind(session, tmp_path):
    # --backend auto picks the PipeWire camera when no loopback device is loaded.
    auto = not loopback_devices()
    vcam = start_vcam(session, tmp_path, "--backend", "auto" if auto else "pipewire")
    consumer = None
    try:
        if auto:
            assert "--backend auto picked pipewire" in vcam.log()
        child = camera_child(session, vcam)
        raw = tmp_path / "long.rgb"
        consumer = Proc(
            [
                "gst-launch-1.0",
                "pipewiresrc",
                "target-object=segcam",
                'stream-properties="p,media.type=Video"',
                "!",
                "filesink",
                f"location={raw}",
            ],
            session.env,
            tmp_path / "long.log",
        )
        wait_for(lambda: raw.exists() and raw.stat().st_size > 0, 30, "frames to flow")
        vcam.signal(signal.SIGTERM)
        code = vcam.popen.wait(EXIT_S)
    finally:
        vcam.stop()
        if consumer is not None:
            consumer.stop()
    assert code == 0, vcam.log()
    assert "Traceback" not in vcam.log()
    assert not pid_alive(child) and not group_alive(child)


def output_frame(seq: int, bgr: tuple[int, int, int]) -> Frame:
    image = np.full((H, W, 3), bgr, np.uint8)
    frame = Frame(seq=seq, image=image, pts=seq / FPS)
    frame.output = image
    return frame


def test_sink_repeats_the_last_frame_then_shows_the_card_while_paused(session_env, tmp_path):
    sink = VirtualCameraSink(backend="pipewire", size=(W, H), fps=FPS)
    sink.start(StreamInfo(size=(W, H), fps=FPS, live=True))
    try:
        assert (sink.backend, sink.device) == ("pipewire", "segcam")
        sink.submit(output_frame(0, (255, 0, 255)))  # magenta, then the pipeline stalls
        got = consume(session_env, "segcam", 20, tmp_path / "stalled")
        assert got.frames.shape == (20, H, W, 3), got.log[-2000:]
        means = got.frames.reshape(20, -1, 3).mean(axis=1)
        assert np.all(np.abs(means - (255, 0, 255)) < 12), means
        assert sink.repeats >= 15 and sink.frames_new == 1

        sink.paused = True
        got = consume(session_env, "segcam", 10, tmp_path / "paused")
        assert got.frames.shape[0] == 10
        grey = got.frames[-1].reshape(-1, 3).mean(axis=0)
        assert np.all(np.abs(grey - NEUTRAL_GREY) < 8), grey
    finally:
        sink.stop()
    assert sink.error is None


def _feed(cam, stop: threading.Event, colour) -> None:
    frame = np.full((H, W, 3), colour, np.uint8)
    while not stop.is_set():
        cam.send(frame)
        cam.sleep_until_next_frame()


@pytest.mark.parametrize("fmt", ["NV12", "I420"])
def test_backend_offers_the_formats_browsers_take(session_env, tmp_path, fmt):
    import pyvirtualcam

    from segcam.sinks.pipewire import register

    register()
    cam = pyvirtualcam.Camera(
        W, H, FPS, fmt=pyvirtualcam.PixelFormat.BGR, backend="pipewire", pixel_format=fmt
    )
    stop = threading.Event()
    feeder = threading.Thread(target=_feed, args=(cam, stop, (0, 0, 255)), daemon=True)
    feeder.start()
    try:
        got = consume(session_env, "segcam", 10, tmp_path / fmt)
    finally:
        stop.set()
        feeder.join(10)
        cam.close()
    assert f"format=(string){fmt}" in got.caps, got.caps
    assert got.frames.shape == (10, H, W, 3)
    red = got.frames[-1].reshape(-1, 3).mean(axis=0)
    assert red[0] > 230 and red[1] < 20 and red[2] < 20, red


def test_a_crashed_child_is_started_again(session_env, session, tmp_path):
    import pyvirtualcam

    from segcam.sinks.pipewire import register

    register()
    cam = pyvirtualcam.Camera(W, H, FPS, fmt=pyvirtualcam.PixelFormat.BGR, backend="pipewire")
    backend = cam._backend
    stop = threading.Event()
    feeder = threading.Thread(target=_feed, args=(cam, stop, (255, 0, 0)), daemon=True)
    feeder.start()
    try:
        first = session.node("segcam")
        assert first is not None and first.pid is not None
        os.kill(first.pid, signal.SIGKILL)  # a crash, as the pipewiresink bugs would cause
        wait_for(
            lambda: (n := session.node("segcam")) is not None and n.pid != first.pid,
            20,
            "the camera node to come back",
            step=0.1,
        )
        got = consume(session_env, "segcam", 10, tmp_path / "after")
        assert got.frames.shape == (10, H, W, 3), got.log[-2000:]
        assert backend.restarts == 1
    finally:
        stop.set()
        feeder.join(10)
        second = session.node("segcam")
        cam.close()
    assert second is not None and not pid_alive(second.pid)


def test_doctor_finds_the_session_wireplumber_and_the_plugin(session):
    checks = run_checks(
        roots=Roots(env=session.env), platform="linux", camera_prober=lambda d: [], models=False
    )
    pw = {c.title: c for c in checks if c.group == "pipewire"}
    assert any(t.startswith("a PipeWire session is running") and c.ok for t, c in pw.items())
    assert pw["WirePlumber (the session manager) is running"].ok
    assert pw["GStreamer's PipeWire plugin (pipewiresink) is installed"].ok
    if not loopback_devices():
        assert exit_code(checks) == 0  # the PipeWire camera alone makes vcam ready


def test_doctor_without_pipewire_prints_install_commands(tmp_path):
    env = {"PATH": str(tmp_path / "empty-bin"), "XDG_RUNTIME_DIR": str(tmp_path)}
    checks = run_checks(
        roots=Roots(env=env, sys=str(tmp_path / "sys")),
        platform="linux",
        camera_prober=lambda d: [],
        models=False,
    )
    import io

    out = io.StringIO()
    render(checks, out, platform="linux")
    text = out.getvalue()
    assert exit_code(checks) == 1
    assert f"✗ no PipeWire session is running (nothing answers on {tmp_path}/pipewire-0)" in text
    assert "Debian/Ubuntu: sudo apt install pipewire wireplumber" in text
    assert "Fedora:        sudo dnf install pipewire wireplumber" in text
    assert "Arch:          sudo pacman -S pipewire wireplumber" in text
    assert "✗ WirePlumber is not installed" in text
    assert "sudo apt install gstreamer1.0-tools gstreamer1.0-pipewire" in text
    assert "sudo dnf install gstreamer1 pipewire-gstreamer" in text
    assert "sudo pacman -S gstreamer gst-plugin-pipewire" in text
    assert "systemctl --user enable --now pipewire.socket" in text


def test_auto_picks_pipewire_when_a_session_runs_and_no_loopback(session, tmp_path):
    backend, why = choose_backend("auto", platform="linux", sys_root=str(tmp_path), env=session.env)
    assert backend == "pipewire"
    assert why is not None and "picked pipewire" in why


@pytest.mark.parametrize("backend", ["pipewire", "auto"])
def test_no_pipewire_session_is_one_line_pointing_to_doctor(backend, tmp_path, monkeypatch, capsys):
    """Needs no system package: nothing answers on the socket of an empty runtime folder."""
    if backend == "auto" and loopback_devices():
        pytest.skip("a v4l2loopback device is loaded: auto would pick it")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.delenv("PIPEWIRE_RUNTIME_DIR", raising=False)
    monkeypatch.delenv("PIPEWIRE_REMOTE", raising=False)
    code, _out, err = run_cli(
        ["vcam", "--backend", backend, "--input", "demo", "--frames", "5"], capsys
    )
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "no PipeWire session is running" in lines[0]
    assert "segcam doctor" in lines[0]
    assert "Traceback" not in err


def test_pipewire_env_reads_the_socket_like_libpipewire(tmp_path):
    env = {"XDG_RUNTIME_DIR": str(tmp_path)}
    assert pipewire_env.socket_path(env) == str(tmp_path / "pipewire-0")
    env = {"XDG_RUNTIME_DIR": "/x", "PIPEWIRE_RUNTIME_DIR": "/y", "PIPEWIRE_REMOTE": "other"}
    assert pipewire_env.socket_path(env) == "/y/other"
    assert pipewire_env.socket_path({}) is None
    assert not pipewire_env.session_alive({"XDG_RUNTIME_DIR": str(tmp_path)})
    (tmp_path / "pipewire-0").write_bytes(b"")  # a stale file is not a session
    assert not pipewire_env.session_alive({"XDG_RUNTIME_DIR": str(tmp_path)})


def test_invalid_camera_name_is_refused(session_env, capsys):
    code, _, err = run_cli(
        ["vcam", "--backend", "pipewire", "--device", "a/b", "--input", "demo"], capsys
    )
    assert code == 2 and "invalid camera name" in err and len(err.strip().splitlines()) == 1


def test_on_demand_processes_only_while_an_app_reads_the_node(session, tmp_path):
    """--on-demand with the PipeWire camera: a link from the node is a reader."""
    vcam = start_vcam(session, tmp_path, "--backend", "pipewire", "--on-demand")
    try:
        wait_for(lambda: "paused" in vcam.log(), READY_S, "the idle camera to pause")
        got = consume(session.env, "segcam", 90, tmp_path / "reader")
        assert got.returncode == 0, got.log[-2000:]
        assert "resuming" in vcam.log()
        assert_green_around_person(got.frames[-1])  # processed frames, not the idle card
        # The reader left: after the grace period the input is released again.
        wait_for(lambda: vcam.log().count("paused") >= 2, READY_S, "the camera to pause again")
        vcam.signal(signal.SIGINT)
        code = vcam.popen.wait(EXIT_S)
    finally:
        vcam.stop()
    assert code == 0, vcam.log()


def test_the_window_sends_to_the_pipewire_camera(
    session_env, session, qtbot, tmp_path, monkeypatch
):
    """``segcam gui --vcam pipewire``: the node appears, says "waiting for an app",
    a consumer gets the window's processed picture, and the state says so."""
    pytest.importorskip("pytestqt")
    from segcam.cli import build_parser
    from segcam.gui.app import build_window, prepare

    monkeypatch.setenv("SEGCAM_CONFIG", str(tmp_path / "config.toml"))
    args = build_parser().parse_args(
        [
            "gui",
            "--input",
            "demo",
            "--resolution",
            f"{W}x{H}",
            "-b",
            "#00ff00",
            "--vcam",
            "pipewire",
        ]
    )
    w = build_window(prepare(args))
    qtbot.addWidget(w)
    w.show()
    w.start()
    try:
        qtbot.waitUntil(lambda: w.session.vcam_state == "waiting", timeout=20000)
        assert session.node("segcam") is not None
        got = consume(session.env, "segcam", 30, tmp_path / "window-reader")
        assert got.returncode == 0, got.log[-2000:]
        assert got.frames.shape[1:3] == (H, W)
        assert_green_around_person(got.frames[-1])
    finally:
        w.close()
    wait_for(lambda: session.node("segcam") is None, 10, "the node to leave the graph")
