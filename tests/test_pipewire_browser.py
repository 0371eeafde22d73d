"""Chromium, then Firefox, see segcam's PipeWire camera and get the processed picture.

One ``segcam vcam --backend pipewire --input demo -b "#00ff00"`` runs on a private
PipeWire session with xdg-desktop-portal (gtk backend, camera preset for host apps).
Each browser runs under Xvfb, opens a page on a 127.0.0.1 server, calls
getUserMedia, and posts back the camera's label, the device list and how green the
picture's edges and middle are. Both browsers read the same running segcam, one
after the other: the second one getting frames is what a plain ``pipewiresink
mode=provide`` failed to do.

Skips with one line naming the missing packages (fails under ``CI=true``).

Opt-in with ``SEGCAM_BROWSER_TEST=1``: on this project's machine (Debian 12, PipeWire
0.3.65) Chromium 150 finds "segcam virtual camera" through the portal (YUY2 640x360
@ 30) and its video capture service then crashes; Firefox ESR 140 aborts in
libwebrtc's video_capture_pipewire.cc (a race-checker failure) or posts nothing. Both
happen with the issue's own ``videotestsrc ! pipewiresink`` provider too, so the
crash is in the browsers' PipeWire capture, not in segcam's node. A known crash is
reported as xfail; anything else fails.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.browser_camera import (
    ResultServer,
    chromium_argv,
    firefox_argv,
    missing_browser_packages,
    portal_env,
)
from tests.pipewire_session import (
    Proc,
    SessionError,
    group_alive,
    missing_packages,
    pid_alive,
    skip_or_fail,
    start_session,
)
from tests.test_pipewire import camera_child, start_vcam

BROWSER_S = 90.0  # start-up and first frames of a browser on 2 busy cores; a hang guard


def start_xvfb(tmp_path: Path, env: dict[str, str]) -> tuple[Proc, str]:
    """Xvfb on a free display (it writes the number it took to a pipe)."""
    read, write = os.pipe()
    try:
        xvfb = Proc(
            ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
            env,
            tmp_path / "xvfb.log",
            pass_fds=(write,),
        )
    finally:
        os.close(write)
    with os.fdopen(read) as f:
        number = f.readline().strip()  # EOF (empty) if Xvfb died
    if not number:
        xvfb.stop()
        raise SessionError(f"Xvfb did not start: {xvfb.log()[-300:]}")
    return xvfb, f":{number}"


@pytest.fixture
def desktop(tmp_path):
    if os.environ.get("SEGCAM_BROWSER_TEST") != "1":
        pytest.skip(
            "opt-in (SEGCAM_BROWSER_TEST=1): here Chromium 150 and Firefox ESR 140 crash or "
            "stall in libwebrtc's PipeWire capture, also with a plain videotestsrc provider"
        )
    missing = missing_packages() + missing_browser_packages()
    if missing:
        skip_or_fail(f"the browser camera test needs: apt install {' '.join(missing)}")
    procs: list[Proc] = []
    session = None
    try:
        xvfb, display = start_xvfb(tmp_path, dict(os.environ))
        procs.append(xvfb)
        # D-Bus starts the portals with its own environment: it must name the display
        # (xdg-desktop-portal-gtk exits without one) and the desktop.
        session = start_session({"DISPLAY": display, "XDG_CURRENT_DESKTOP": "GNOME"})
        yield session, portal_env(session.env), procs
    except SessionError as e:
        skip_or_fail(f"the browser test's desktop did not start: {e}")
    finally:
        for p in reversed(procs):
            p.stop()
        if session is not None:
            session.close()  # ends D-Bus, and with it the portal it started


# What each browser prints when libwebrtc's PipeWire capture code crashes on the first
# frames (see the module's docs); seen here with Chromium 150 and Firefox ESR 140 on
# PipeWire 0.3.65, also with the issue's own videotestsrc ! pipewiresink provider.
KNOWN_CRASH = {
    "chromium": "Detected crash of video capture service",
    "firefox": "video_capture_pipewire.cc",
}
FOUND_CAMERA = "Found Camera: segcam virtual camera"


def browse(name: str, argv: list[str], env, server: ResultServer, tmp_path, procs) -> dict:
    """Run a browser on the page; return what the page posted, or ``{"crash": line}``
    when the browser's camera code crashed (then it would never post)."""
    browser = Proc(argv, env, tmp_path / f"{name}.log")
    procs.append(browser)
    deadline = time.monotonic() + BROWSER_S
    try:
        while time.monotonic() < deadline:
            result = server.result(name, 0.5)
            if result is not None:
                return result
            log = browser.log()
            if KNOWN_CRASH[name] in log:
                line = next(x for x in log.splitlines() if KNOWN_CRASH[name] in x)
                return {"crash": line.strip(), "log": log}
    finally:
        browser.stop()
    raise AssertionError(f"{name} posted nothing: {browser.log()[-3000:]}")


def check_picture(name: str, result: dict) -> None:
    assert "error" not in result, f"{name}: {result}"
    assert "segcam" in result["label"].lower(), result
    assert any("segcam" in d.lower() for d in result["devices"]), result
    assert result["size"][0] > 0 and result["size"][1] > 0, result
    assert result["edges"] > 0.9, f"{name}: the background is not green: {result}"
    assert result["centre"] < 0.2, f"{name}: no person in the middle: {result}"


def test_chromium_then_firefox_get_the_processed_picture(desktop, tmp_path):
    session, env, procs = desktop
    vcam = start_vcam(session, tmp_path, "--backend", "pipewire")
    procs.append(vcam)
    server = ResultServer()
    results: dict[str, dict] = {}
    try:
        child = camera_child(session, vcam)
        # Chromium logs what its PipeWire camera code finds through the portal.
        verbose = ["--enable-logging=stderr", "--vmodule=pipewire_session=1"]
        argv = chromium_argv(server.url("chromium"), tmp_path / "chromium-profile")
        results["chromium"] = browse(
            "chromium", argv[:1] + verbose + argv[1:], env, server, tmp_path, procs
        )
        argv = firefox_argv(server.url("firefox"), tmp_path / "firefox-profile")
        # Without its crash reporter, Firefox prints libwebrtc's fatal error line.
        ff_env = {**env, "MOZ_CRASHREPORTER_DISABLE": "1"}
        results["firefox"] = browse("firefox", argv, ff_env, server, tmp_path, procs)
        assert vcam.popen.poll() is None, vcam.log()
        assert camera_child(session, vcam) == child  # one node served both browsers
        vcam.signal(signal.SIGINT)
        code = vcam.popen.wait(30)
    finally:
        server.close()
    assert code == 0, vcam.log()
    assert not pid_alive(child) and not group_alive(child)
    crashed = {name: r for name, r in results.items() if "crash" in r}
    for name, result in results.items():
        if name not in crashed:
            check_picture(name, result)
    if "chromium" in crashed:
        # Even when its capture crashes, Chromium must have found our camera through
        # the portal, with the size and rate segcam offers.
        assert FOUND_CAMERA in crashed["chromium"]["log"], crashed["chromium"]["log"][-3000:]
    if crashed:
        pytest.xfail(
            "libwebrtc's PipeWire capture crashed in "
            + ", ".join(f"{n} ({r['crash'][-120:]})" for n, r in crashed.items())
        )
