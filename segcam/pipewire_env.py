"""What this machine's PipeWire session looks like: socket, session manager, GStreamer parts.

Shared by the PipeWire virtual camera (:mod:`segcam.sinks.pipewire`), ``--backend
auto`` and ``segcam doctor``. Everything here reads the system and changes nothing;
every external command runs with a short timeout, so a wedged daemon cannot hang a
caller.

The session is found the way libpipewire finds it: the socket
``$PIPEWIRE_REMOTE`` (default ``pipewire-0``) in ``$PIPEWIRE_RUNTIME_DIR``, else
``$XDG_RUNTIME_DIR``. A socket file alone proves nothing (a daemon that crashed
leaves it behind), so :func:`session_alive` connects to it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

GST_LAUNCH = "gst-launch-1.0"
GST_INSPECT = "gst-inspect-1.0"
PW_DUMP = "pw-dump"

# Elements the camera's child pipeline uses, and the package that ships each.
ELEMENTS = ("fdsrc", "rawvideoparse", "videoconvert", "identity", "pipewiresink")

_TIMEOUT_S = 5.0


def socket_path(env: Mapping[str, str] | None = None) -> str | None:
    """Where the PipeWire socket of this session is (whether or not it exists); None if no
    runtime folder is set at all."""
    env = os.environ if env is None else env
    remote = env.get("PIPEWIRE_REMOTE") or "pipewire-0"
    if os.path.isabs(remote):
        return remote
    folder = env.get("PIPEWIRE_RUNTIME_DIR") or env.get("XDG_RUNTIME_DIR")
    return os.path.join(folder, remote) if folder else None


def session_alive(env: Mapping[str, str] | None = None) -> bool:
    """True if a PipeWire daemon accepts connections on this session's socket."""
    path = socket_path(env)
    if path is None:
        return False
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        s.connect(path)
    except OSError:
        return False
    finally:
        s.close()
    return True


def socket_identity(env: Mapping[str, str] | None = None) -> tuple[int, int] | None:
    """``(device, inode)`` of the socket file, None if it is gone: a restarted daemon makes
    a new socket, so a changed identity means the clients of the old one lost it."""
    path = socket_path(env)
    try:
        st = os.stat(path) if path else None
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if st else None


def which(tool: str, env: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if env is None else env
    return shutil.which(tool, path=env.get("PATH"))


def missing_elements(env: Mapping[str, str] | None = None) -> list[str] | None:
    """GStreamer elements of :data:`ELEMENTS` that are not installed; None if
    ``gst-inspect-1.0`` itself is missing (then nothing can be told)."""
    inspect = which(GST_INSPECT, env)
    if inspect is None:
        return None
    missing = []
    for element in ELEMENTS:
        try:
            r = subprocess.run(
                # Not --exists: it also demands GStreamer's own version of the plugin,
                # and the PipeWire plugin carries PipeWire's (0.3.65 < 1.22).
                [inspect, element],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=None if env is None else dict(env),
                timeout=30,  # the first run after an install scans every plugin
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            missing.append(element)
            continue
        if r.returncode != 0:
            missing.append(element)
    return missing


def dump(env: Mapping[str, str] | None = None) -> list[dict] | None:
    """The session's objects as ``pw-dump`` lists them; None if pw-dump is missing or fails."""
    tool = which(PW_DUMP, env)
    if tool is None:
        return None
    try:
        r = subprocess.run(
            [tool],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=None if env is None else dict(env),
            timeout=_TIMEOUT_S,
            check=False,
        )
        objects = json.loads(r.stdout) if r.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None
    return objects if isinstance(objects, list) else None


def _props(obj: dict) -> dict:
    info = obj.get("info") or {}
    props = info.get("props") if isinstance(info, dict) else None
    return props if isinstance(props, dict) else {}


@dataclass(frozen=True, slots=True)
class Node:
    """A node of the graph, as far as segcam cares."""

    id: int
    name: str
    description: str
    media_class: str
    role: str
    pid: int | None
    """Process id of the client that made it."""


def nodes(objects: list[dict]) -> list[Node]:
    """Nodes in a :func:`dump`, with the pid of their client."""
    pids: dict[int, int] = {}
    for o in objects:
        if str(o.get("type", "")).endswith(":Client"):
            pid = _props(o).get("application.process.id") or _props(o).get("pipewire.sec.pid")
            with contextlib.suppress(KeyError, TypeError, ValueError):
                pids[int(o["id"])] = int(pid)
    found = []
    for o in objects:
        if not str(o.get("type", "")).endswith(":Node"):
            continue
        p = _props(o)
        try:
            client = int(p.get("client.id", -1))
        except (TypeError, ValueError):
            client = -1
        found.append(
            Node(
                id=int(o.get("id", -1)),
                name=str(p.get("node.name", "")),
                description=str(p.get("node.description", "")),
                media_class=str(p.get("media.class", "")),
                role=str(p.get("media.role", "")),
                pid=pids.get(client),
            )
        )
    return found


def readers(objects: list[dict], node_name: str) -> int:
    """How many links in a :func:`dump` take the output of the node named ``node_name``
    (each is an application reading the camera); links in an error state don't count."""
    ids = {n.id for n in nodes(objects) if n.name == node_name}
    count = 0
    for o in objects:
        if not str(o.get("type", "")).endswith(":Link"):
            continue
        info = o.get("info") or {}
        if not isinstance(info, dict):
            continue
        if info.get("output-node-id") in ids and str(info.get("state", "")) != "error":
            count += 1
    return count


def session_manager(objects: list[dict] | None) -> str | None:
    """Name of the session manager connected to this PipeWire (WirePlumber or the older
    pipewire-media-session), from a :func:`dump`; None if none is connected."""
    for o in objects or []:
        if str(o.get("type", "")).endswith(":Client"):
            name = str(_props(o).get("application.name", ""))
            binary = str(_props(o).get("application.process.binary", ""))
            for known in ("wireplumber", "pipewire-media-session"):
                if known in (name.lower(), binary):
                    return "WirePlumber" if known == "wireplumber" else known
    return None


def session_manager_running(proc: str = "/proc") -> str | None:
    """A running session manager of this user, found by process name (when pw-dump is
    missing): ``wireplumber`` or ``pipewire-media-session``."""
    uid = os.getuid()
    try:
        entries = os.listdir(proc)
    except OSError:
        return None
    for name in entries:
        if not name.isdigit():
            continue
        try:
            if os.stat(os.path.join(proc, name)).st_uid != uid:
                continue
            with open(os.path.join(proc, name, "comm"), encoding="utf-8") as f:
                comm = f.read().strip()
        except OSError:
            continue
        if comm == "wireplumber":
            return "WirePlumber"
        if comm.startswith("pipewire-media"):  # comm is cut at 15 characters
            return "pipewire-media-session"
    return None
