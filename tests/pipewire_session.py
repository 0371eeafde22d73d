"""A private PipeWire session for tests: its own runtime folder, D-Bus, PipeWire, WirePlumber.

Nothing here touches the user's session: every process gets an environment whose
``XDG_RUNTIME_DIR``, ``XDG_STATE_HOME``, ``XDG_CONFIG_HOME`` and D-Bus address point into
a temporary folder (so WirePlumber's remembered links start empty too). Every process
runs in its own process group, and :meth:`PipeWireSession.close` ends each group
(SIGTERM, then SIGKILL), so a test that fails half-way leaves nothing running.

Waits are bounded: a part that does not come up within its timeout raises
:class:`SessionError` with the tail of its log.

Also: :func:`missing_packages` (what to install for these tests, in Debian names),
:func:`skip_or_fail` (skip with one line, or fail under ``CI=true``), :class:`Proc` (a
child in its own group, ended for sure), and :func:`consume` (read frames from a
node with ``pipewiresrc``).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from segcam import pipewire_env

# binary or GStreamer element -> Debian package
_BINARIES = {
    "dbus-daemon": "dbus-daemon",
    "pipewire": "pipewire",
    "wireplumber": "wireplumber",
    "gst-launch-1.0": "gstreamer1.0-tools",
    "gst-inspect-1.0": "gstreamer1.0-tools",
    "pw-dump": "pipewire-bin",
}
_ELEMENTS = {
    "pipewiresink": "gstreamer1.0-pipewire",
    "pipewiresrc": "gstreamer1.0-pipewire",
    "videoconvert": "gstreamer1.0-plugins-base",
    "rawvideoparse": "gstreamer1.0-plugins-base",
}


def missing_packages() -> list[str]:
    """Debian packages these tests need that are not installed (empty: all there)."""
    missing = [pkg for tool, pkg in _BINARIES.items() if shutil.which(tool) is None]
    if shutil.which("gst-inspect-1.0"):
        for element, pkg in _ELEMENTS.items():
            r = subprocess.run(
                ["gst-inspect-1.0", element],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=60,
                check=False,
            )
            if r.returncode != 0:
                missing.append(pkg)
    return list(dict.fromkeys(missing))


def skip_or_fail(reason: str) -> None:
    """Skip with ``reason``; under CI (``CI=true``) these tests must run, so fail."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (CI must run this test)")
    pytest.skip(reason)


class SessionError(RuntimeError):
    pass


class Proc:
    """A child process in its own process group, with its output in a log file."""

    def __init__(self, argv: Sequence[str], env: dict[str, str], log: Path, **kw) -> None:
        self.argv = list(argv)
        self.log_path = log
        self._log = open(log, "wb")  # noqa: SIM115 (closed in stop)
        self.popen = subprocess.Popen(
            self.argv,
            env=env,
            stdin=kw.pop("stdin", subprocess.DEVNULL),
            stdout=kw.pop("stdout", self._log),
            stderr=kw.pop("stderr", self._log),
            start_new_session=True,
            **kw,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)

    def stop(self, grace: float = 5.0) -> int | None:
        """End the whole group: SIGTERM, then SIGKILL; returns the exit code."""
        if self.popen.poll() is None:
            self.signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(grace)
        # Whatever the leader left in its group goes too.
        self.signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(5)
        self._log.close()
        return self.popen.returncode


def wait_for(predicate, timeout: float, what: str, step: float = 0.05):
    """Poll ``predicate`` until it returns something truthy; raise after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SessionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(step)


def group_alive(pgid: int) -> bool:
    """True while any process of the group ``pgid`` exists (zombies included)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@dataclass
class PipeWireSession:
    """A running private session; :attr:`env` is what its clients must run with."""

    root: Path
    env: dict[str, str]
    procs: list[Proc]

    def dump(self) -> list[dict]:
        return pipewire_env.dump(self.env) or []

    def nodes(self) -> list[pipewire_env.Node]:
        return pipewire_env.nodes(self.dump())

    def node(self, name: str) -> pipewire_env.Node | None:
        for n in self.nodes():
            if n.name == name and n.media_class == "Video/Source":
                return n
        return None

    def close(self) -> None:
        for p in reversed(self.procs):
            p.stop()
        self.procs.clear()
        shutil.rmtree(self.root, ignore_errors=True)


def _connectable(path: Path) -> bool:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        s.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        s.close()


def start_session(extra_env: dict[str, str] | None = None, timeout: float = 20.0):
    """Start D-Bus, PipeWire and WirePlumber in a fresh folder; returns the session.

    The folder is short (under /tmp): AF_UNIX socket paths are limited to 107 bytes.
    """
    root = Path(tempfile.mkdtemp(prefix="segcam-pw-", dir="/tmp"))
    run = root / "run"
    for sub in ("run", "state", "config", "cache", "home"):
        (root / sub).mkdir(mode=0o700)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIPEWIRE_", "DBUS_", "XDG_", "WAYLAND_", "DISPLAY"))
    }
    env.update(
        XDG_RUNTIME_DIR=str(run),
        XDG_STATE_HOME=str(root / "state"),
        XDG_CONFIG_HOME=str(root / "config"),
        DBUS_SESSION_BUS_ADDRESS=f"unix:path={run}/bus",
    )
    env.update(extra_env or {})
    session = PipeWireSession(root, env, [])
    try:
        session.procs.append(
            Proc(
                ["dbus-daemon", "--session", f"--address=unix:path={run}/bus", "--nofork"],
                env,
                root / "dbus.log",
            )
        )
        wait_for(lambda: _connectable(run / "bus"), timeout, "the D-Bus session bus")
        session.procs.append(Proc(["pipewire"], env, root / "pipewire.log"))
        wait_for(lambda: _connectable(run / "pipewire-0"), timeout, "PipeWire's socket")
        session.procs.append(Proc(["wireplumber"], env, root / "wireplumber.log"))
        wait_for(
            lambda: pipewire_env.session_manager(pipewire_env.dump(env)),
            timeout,
            "WirePlumber to join PipeWire",
            step=0.1,
        )
    except BaseException as e:
        logs = "; ".join(f"{p.argv[0]}: {p.log()[-300:]!r}" for p in session.procs)
        session.close()
        if isinstance(e, SessionError):
            raise SessionError(f"{e} ({logs})") from None
        raise
    return session


_CAPS = re.compile(r"pipewiresrc0\.GstPad:src: caps = (video/x-raw[^\n]*)")


@dataclass
class Consumed:
    frames: np.ndarray
    """``(n, h, w, 3)`` RGB frames as the consumer got them."""
    caps: str
    """The caps pipewiresrc negotiated with the node (format, size, rate)."""
    returncode: int | None
    log: str


def consume(
    env: dict[str, str],
    target: str,
    count: int,
    out: Path,
    *,
    timeout: float = 30.0,
    caps_filter: str = "",
) -> Consumed:
    """Read ``count`` frames from the node ``target`` with ``pipewiresrc``, as RGB.

    ``gst-launch-1.0 -v`` prints the negotiated caps, which give the size; the raw RGB
    file is then cut into frames of that size. ``timeout`` only guards against a hang.
    """
    raw = out.with_suffix(".rgb")
    argv = [
        "gst-launch-1.0",
        "-v",
        "pipewiresrc",
        f"target-object={target}",
        'stream-properties="props,media.type=Video,media.category=Capture,media.role=Camera"',
        f"num-buffers={count}",
        "!",
        *([caps_filter, "!"] if caps_filter else []),
        "videoconvert",
        "!",
        "video/x-raw,format=RGB",
        "!",
        "filesink",
        f"location={raw}",
    ]
    proc = Proc(argv, env, out.with_suffix(".log"))
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.popen.wait(timeout)
    code = proc.stop()
    log = proc.log()
    m = _CAPS.search(log)
    caps = m.group(1) if m else ""
    size = re.search(r"width=\(int\)(\d+), height=\(int\)(\d+)", caps)
    data = np.fromfile(raw, np.uint8) if raw.exists() else np.zeros(0, np.uint8)
    if size:
        w, h = int(size.group(1)), int(size.group(2))
        frames = data[: data.size - data.size % (w * h * 3)].reshape(-1, h, w, 3)
    else:
        frames = np.zeros((0, 0, 0, 3), np.uint8)
    return Consumed(frames, caps, code, log)
