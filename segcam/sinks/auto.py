"""``--backend auto``: pick the virtual camera the running desktop can show, and say why.

On Linux there are two: a v4l2loopback device and a PipeWire camera node. A loopback
device is preferred when one is loaded and writable: the user set it up on purpose,
and every app reads V4L2 (Zoom's native client and Chrome without flags read nothing
else). Otherwise a running PipeWire session with GStreamer's PipeWire plugin gets a
PipeWire camera, which Firefox, Chrome with its PipeWire camera flag, OBS and
Flatpak/Snap apps (through the camera portal) list. Elsewhere pyvirtualcam tries its
backends (OBS Virtual Camera).

Reads the system only; called on the controlling thread before the sink starts.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from segcam import pipewire_env
from segcam.errors import ConfigError

AUTO = "auto"
DOCTOR = "run `segcam doctor` to see what is missing and how to fix it"


def loopback_devices(sys_root: str = "/sys", dev: str = "/dev") -> list[str]:
    """Writable v4l2loopback devices (``/dev/videoN``), by number."""
    from segcam.doctor import Roots
    from segcam.doctor.video import _is_loopback, _nodes

    found = []
    for number, node in _nodes(Roots(sys=sys_root)):
        path = os.path.join(dev, f"video{number}")
        if _is_loopback(node) and os.access(path, os.W_OK):
            found.append(path)
    return found


def pipewire_ready(env: Mapping[str, str] | None = None) -> str | None:
    """None if a PipeWire camera can be published here, else why not (a few words)."""
    if not pipewire_env.session_alive(env):
        return "no PipeWire session is running"
    if pipewire_env.which(pipewire_env.GST_LAUNCH, env) is None:
        return "GStreamer's gst-launch-1.0 is not installed"
    missing = pipewire_env.missing_elements(env)
    if missing:
        return f"GStreamer elements {', '.join(missing)} are missing"
    return None


def choose_backend(
    requested: str | None,
    *,
    platform: str | None = None,
    sys_root: str = "/sys",
    dev: str = "/dev",
    env: Mapping[str, str] | None = None,
) -> tuple[str | None, str | None]:
    """``(backend, sentence)``: the backend to open (None lets pyvirtualcam try each) and,
    for ``auto``, one sentence saying what was picked and why.

    Raises:
        ConfigError: ``auto`` on Linux found neither a loopback device nor a PipeWire
            session (one line pointing to ``segcam doctor``).
    """
    if requested != AUTO:
        return requested, None
    plat = platform or sys.platform
    if not plat.startswith("linux"):
        return None, "--backend auto: trying the OBS Virtual Camera"
    devices = loopback_devices(sys_root, dev)
    pw_problem = pipewire_ready(env)
    if devices:
        also = (
            "; a PipeWire session runs too: --backend pipewire publishes a PipeWire camera instead"
            if pw_problem is None
            else ""
        )
        return "v4l2loopback", (
            f"--backend auto picked v4l2loopback: the loopback device {devices[0]} is loaded" + also
        )
    if pw_problem is None:
        return "pipewire", (
            "--backend auto picked pipewire: a PipeWire session is running and no "
            "v4l2loopback device is loaded"
        )
    raise ConfigError(
        f"--backend auto found no virtual camera: no writable v4l2loopback device, and "
        f"{pw_problem}; {DOCTOR}"
    )
