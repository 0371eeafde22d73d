"""A PipeWire camera node: the virtual camera that browsers and sandboxed apps can see.

Registered as pyvirtualcam's ``pipewire`` backend, so :class:`~segcam.sinks.vcam.
VirtualCameraSink` drives it like v4l2loopback: its thread paces the frames, repeats
the last one when the pipeline stalls and sends the neutral card while paused; this
backend only has to deliver each frame it is given.

**The route: a ``gst-launch-1.0`` child fed raw frames over a pipe.** ::

    fdsrc fd=0 ! rawvideoparse (BGR, W x H, fps) ! videoconvert ! video/x-raw,format=YUY2
      ! identity drop-allocation=true ! pipewiresink mode=provide sync=false

Why a child and not GStreamer in-process through PyGObject:

* **Failure modes.** Debian 12's pipewiresink (0.3.65) segfaults when the element
  before it allocates from its buffer pool (``videoconvert ! pipewiresink`` crashed on
  the first consumer in our tests), and gst-launch's own fault handler then *spins*
  instead of exiting. In-process that takes segcam down; as a child, it is a process we
  kill (``-f`` turns the spinning handler off) and start again.
* **Packaging.** The child needs only the distribution's ``gstreamer1.0-tools`` and
  ``gstreamer1.0-pipewire``; PyGObject from pip needs a compiler and the GObject
  introspection headers, and the distribution's ``python3-gi`` is not importable from a
  virtual environment, pyenv or the PyInstaller bundle.
* **Latency and CPU.** The pipe costs one copy of each frame (about 1 ms at 720p BGR on
  this project's machine); the colour conversion runs in the child, on another core,
  instead of on segcam's sending thread. See the README for the measured numbers.

**The one-consumer trap.** A plain ``... ! pipewiresink mode=provide`` serves only its
first consumer: when the upstream element allocates from the sink's pool, the pool's
buffers go with the first consumer and the next one never gets a frame. With
``identity drop-allocation=true`` upstream allocates its own buffers and the sink copies
each into PipeWire's (one memcpy), which serves consumer after consumer from one running
node. Two consumers *at the same time* are not served (PipeWire 0.3.65 fails the second
link); the second gets the camera once the first has closed it.

**Formats.** The node offers one raw format: YUY2 by default (what Chromium and Firefox
take through the camera portal), or NV12 / I420 (``pixel_format``). Colour is BT.601
limited range, like the v4l2loopback backend.

**Staying up.** :meth:`PipeWireCamera.send` notices a child that exited (a crash), a
child that stopped reading (wedged: a frame not taken within :data:`WRITE_TIMEOUT_S`)
and a PipeWire daemon that restarted (its socket changed), and starts the child again;
more than :data:`MAX_RESTARTS` restarts within :data:`RESTART_WINDOW_S` raise, which the
sink reports as a lost camera. A PipeWire socket that vanished raises at once.

**Stopping.** :meth:`close` closes the pipe (the child sees end-of-stream and exits),
then terminates and finally kills the child's process group. The child runs in its own
session, so a terminal's Ctrl+C reaches segcam only and segcam decides when the camera
goes away; if segcam itself is killed, the pipe closes and the child exits on its own.

Threads: the constructor and :meth:`close` run on the controlling thread, :meth:`send`
on the sink's sending thread; a lock guards the child so a ``close`` from another thread
never races a restart.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import logging
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from fractions import Fraction
from typing import Any

import numpy as np

from segcam import pipewire_env

log = logging.getLogger(__name__)

BACKEND = "pipewire"
DEFAULT_NODE = "segcam"
DESCRIPTION = "segcam virtual camera"
FORMATS = ("YUY2", "NV12", "I420")
"""Formats the node can offer (one at a time); the first is the default."""

START_TIMEOUT_S = 10.0
"""How long the child may take to publish its node."""
WRITE_TIMEOUT_S = 2.0
"""A child that takes no frame for this long is wedged and is started again."""
MAX_RESTARTS = 5
RESTART_WINDOW_S = 60.0
_SESSION_CHECK_S = 1.0

# pyvirtualcam's input FourCCs -> rawvideoparse formats.
_INPUTS = {
    "24BG": "bgr",
    "raw ": "rgb",
    "ABGR": "rgba",
    "J400": "gray8",
    "I420": "i420",
    "NV12": "nv12",
    "YUY2": "yuy2",
    "UYVY": "uyvy",
}
_BYTES_PER_PIXEL = {
    "bgr": 3.0,
    "rgb": 3.0,
    "rgba": 4.0,
    "gray8": 1.0,
    "i420": 1.5,
    "nv12": 1.5,
    "yuy2": 2.0,
    "uyvy": 2.0,
}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}")
_F_SETPIPE_SZ = 1031  # fcntl.F_SETPIPE_SZ, missing from Python < 3.10 on some builds


class PipeWireUnavailable(RuntimeError):
    """The node could not be published (no session, a missing part, the child failed)."""


def child_argv(
    *,
    width: int,
    height: int,
    fps: float,
    input_format: str,
    output_format: str,
    node: str,
    description: str,
) -> list[str]:
    """The ``gst-launch-1.0`` command line of the child (see the module's docs).

    gst-launch joins its arguments with spaces and parses the result again, so the
    property structure is quoted for that parser, not for a shell.
    """
    rate = Fraction(fps).limit_denominator(1001)
    props = (
        f"properties,media.class=Video/Source,media.role=Camera,node.name={node},"
        f'node.description=\\"{description}\\"'
    )
    launch = pipewire_env.which(pipewire_env.GST_LAUNCH) or pipewire_env.GST_LAUNCH
    return [
        launch,
        "-q",
        "-f",  # no fault handler: a crash ends the child instead of spinning forever
        "fdsrc",
        "fd=0",
        f"blocksize={int(width * height * _BYTES_PER_PIXEL[input_format])}",
        "!",
        "rawvideoparse",
        f"format={input_format}",
        f"width={width}",
        f"height={height}",
        f"framerate={rate.numerator}/{rate.denominator}",
        "!",
        "videoconvert",
        "!",
        f"video/x-raw,format={output_format},colorimetry=bt601",
        "!",
        # Upstream must not allocate from pipewiresink's pool: that path serves one
        # consumer only, and crashes with videoconvert (see the module's docs).
        "identity",
        "drop-allocation=true",
        "!",
        "pipewiresink",
        "mode=provide",
        "sync=false",  # frames come paced by segcam; waiting on their pts adds latency
        f"client-name={node}",
        f'stream-properties="{props}"',
    ]


class PipeWireCamera:
    """pyvirtualcam backend that publishes a PipeWire ``Video/Source`` camera node.

    Args (keyword-only, as pyvirtualcam passes them):
        width, height, fps: the frames :meth:`send` gets; the node offers exactly this
            size and rate.
        fourcc: pyvirtualcam's input pixel format (BGR from segcam's sink).
        device: the node's ``node.name`` (default ``segcam``); letters, digits, space,
            ``._-``.
        pixel_format: what the node offers: ``YUY2`` (default), ``NV12`` or ``I420``.
        env: the environment of the child (default: this process's), which decides the
            PipeWire session it joins.

    Raises:
        PipeWireUnavailable: no PipeWire session, a missing GStreamer part, or the child
            failed to publish the node (one line; pyvirtualcam collects it).
    """

    def __init__(
        self,
        *,
        width: int,
        height: int,
        fps: float,
        fourcc: int,
        device: str | None,
        pixel_format: str = FORMATS[0],
        env: dict[str, str] | None = None,
        **kw: Any,
    ) -> None:
        from pyvirtualcam.util import decode_fourcc

        if kw:
            raise PipeWireUnavailable(f"unknown options {', '.join(sorted(kw))}")
        code = decode_fourcc(fourcc)
        if code not in _INPUTS:
            raise PipeWireUnavailable(f"unsupported input pixel format {code!r}")
        if pixel_format.upper() not in FORMATS:
            raise PipeWireUnavailable(
                f"unsupported format {pixel_format!r} (one of {', '.join(FORMATS)})"
            )
        node = device or DEFAULT_NODE
        if not _NAME.fullmatch(node):
            raise PipeWireUnavailable(
                f"invalid camera name {node!r}: use letters, digits, spaces and ._-"
            )
        if width % 2 or height % 2:
            raise PipeWireUnavailable(f"the size must be even, got {width}x{height}")
        self._env = dict(os.environ if env is None else env)
        self._check_parts()
        self.width, self.height, self.fps = width, height, float(fps)
        self.node = node
        self.pixel_format = pixel_format.upper()
        self._input = _INPUTS[code]
        self._frame_bytes = int(width * height * _BYTES_PER_PIXEL[self._input])
        self._argv = child_argv(
            width=width,
            height=height,
            fps=self.fps,
            input_format=self._input,
            output_format=self.pixel_format,
            node=node,
            description=DESCRIPTION if node == DEFAULT_NODE else node,
        )
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._stderr: collections.deque[str] = collections.deque(maxlen=20)
        self._reader: threading.Thread | None = None
        self._closed = False
        self._restarts: collections.deque[float] = collections.deque()
        self._socket = pipewire_env.socket_identity(self._env)
        self._checked_at = time.monotonic()
        self.restarts = 0
        """Times the child was started again (crashed, wedged, or PipeWire restarted)."""
        self.node_id: int | None = None
        """The node's id in the graph (when pw-dump could tell)."""
        with self._lock:
            self._start_child()

    # -- pyvirtualcam's Backend interface ------------------------------------------------

    def device(self) -> str:
        return self.node

    def native_fourcc(self) -> int | None:
        from pyvirtualcam.util import encode_fourcc

        return encode_fourcc(self.pixel_format)

    def send(self, frame: np.ndarray) -> None:
        """Write one frame to the child (sending thread). Blocks at most
        :data:`WRITE_TIMEOUT_S`; a frame the child did not take is lost, and the child is
        started again. ``frame`` is only read, and not kept after this returns."""
        with self._lock:
            if self._closed:
                return
            self._check_session()
            proc = self._proc
            if proc is None or proc.poll() is not None:
                self._restart("it exited" + self._last_error(": "))
                proc = self._proc
            assert proc is not None and proc.stdin is not None
            data = memoryview(np.ascontiguousarray(frame)).cast("B")
            if len(data) != self._frame_bytes:
                raise ValueError(f"frame of {len(data)} bytes, expected {self._frame_bytes}")
            problem = _write_all(proc.stdin.fileno(), data, WRITE_TIMEOUT_S)
            if problem is not None:
                self._restart(problem)

    def close(self) -> None:
        """End the child and wait for it (bounded); idempotent, any thread."""
        with self._lock:
            self._closed = True
            self._stop_child()

    # -- the child -----------------------------------------------------------------------

    def _check_parts(self) -> None:
        if not pipewire_env.session_alive(self._env):
            where = pipewire_env.socket_path(self._env) or "no XDG_RUNTIME_DIR"
            raise PipeWireUnavailable(f"no PipeWire session is running ({where})")
        if pipewire_env.which(pipewire_env.GST_LAUNCH, self._env) is None:
            raise PipeWireUnavailable("gst-launch-1.0 is not installed (GStreamer's tools)")

    def _start_child(self) -> None:
        """Start the child, give it a first frame and wait until its node is published.
        Caller holds the lock."""
        proc = subprocess.Popen(
            self._argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=self._env,
            start_new_session=True,  # Ctrl+C in the terminal is segcam's to handle
        )
        self._proc = proc
        assert proc.stdin is not None and proc.stderr is not None
        _grow_pipe(proc.stdin.fileno(), self._frame_bytes)
        self._stderr.clear()
        self._reader = threading.Thread(
            target=_read_lines,
            args=(proc.stderr, self._stderr),
            name="segcam-pipewire-log",
            daemon=True,
        )
        self._reader.start()
        # The node appears once caps are negotiated, that is, after the first frame.
        first = np.zeros(self._frame_bytes, np.uint8)
        problem = _write_all(proc.stdin.fileno(), memoryview(first), START_TIMEOUT_S)
        deadline = time.monotonic() + START_TIMEOUT_S
        node = None
        while problem is None and time.monotonic() < deadline:
            if proc.poll() is not None:
                problem = "it exited"
                break
            node = self._find_node(proc.pid)
            if node is not False:
                break
            time.sleep(0.05)
        else:
            if problem is None:
                problem = f"its node did not appear within {START_TIMEOUT_S:g} s"
        if problem is not None:
            self._stop_child()
            raise PipeWireUnavailable(
                f"the PipeWire camera did not start: {problem}{self._last_error(': ')}"
            )
        self.node_id = node if isinstance(node, int) else None
        self._socket = pipewire_env.socket_identity(self._env)
        log.debug("PipeWire camera node %s (id %s), child %d", self.node, self.node_id, proc.pid)

    def _find_node(self, pid: int) -> int | bool | None:
        """The node id the child published; False while it is not there yet; None when
        pw-dump is missing (then a child that is still alive after a moment counts)."""
        objects = pipewire_env.dump(self._env)
        if objects is None:
            time.sleep(0.5)
            return None if self._proc is not None and self._proc.poll() is None else False
        for n in pipewire_env.nodes(objects):
            if n.pid == pid and n.name == self.node:
                return n.id
        return False

    def _restart(self, why: str) -> None:
        """Start the child again (caller holds the lock); raise past the restart budget."""
        now = time.monotonic()
        while self._restarts and now - self._restarts[0] > RESTART_WINDOW_S:
            self._restarts.popleft()
        if len(self._restarts) >= MAX_RESTARTS:
            raise PipeWireUnavailable(
                f"the PipeWire camera failed {len(self._restarts) + 1} times in "
                f"{RESTART_WINDOW_S:g} s; last: {why}"
            )
        self._restarts.append(now)
        self.restarts += 1
        log.warning("PipeWire camera: %s; starting it again", why)
        self._stop_child()
        self._check_parts()
        self._start_child()

    def _check_session(self) -> None:
        """Once a second: a PipeWire that went away raises; one that restarted (a new
        socket) gets a new child, as the old one lost its connection."""
        now = time.monotonic()
        if now - self._checked_at < _SESSION_CHECK_S:
            return
        self._checked_at = now
        ident = pipewire_env.socket_identity(self._env)
        if ident is None:
            raise PipeWireUnavailable("the PipeWire session ended (its socket is gone)")
        if ident != self._socket:
            self._restart("PipeWire restarted")

    def _stop_child(self) -> None:
        """Close the pipe, then terminate and kill the child's group if it lingers."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()  # end of stream: gst-launch stops and exits
        except OSError:
            pass
        for sig, wait in ((None, 2.0), (signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
            if sig is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, sig)
            try:
                proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.join(2.0)  # the child is gone, so its stderr ends
        # Closing under a reader still blocked in readline (interpreter shutdown freezes
        # daemon threads) would deadlock on the file's lock; the OS closes it then.
        if proc.stderr is not None and (reader is None or not reader.is_alive()):
            proc.stderr.close()

    def _last_error(self, prefix: str) -> str:
        """The child's last meaningful stderr line, for a one-line message."""
        for line in reversed(self._stderr):
            text = line.strip()
            if text and not text.startswith(("Setting pipeline", "Freeing", "Execution")):
                return prefix + text.removeprefix("ERROR: ").rstrip(".")
        return ""


class PipeWireReaderWatch:
    """Whether any application reads the PipeWire camera node, with a grace period.

    The PipeWire counterpart of :class:`segcam.sinks.vcam.ReaderWatch` (which looks
    for processes holding a loopback device open): a reader here is a link from the
    node in the graph (``pw-dump``). The graph is read at most every ``interval``
    seconds, since ``pw-dump`` is a process of its own. Called from the command's
    main thread only.
    """

    def __init__(self, node_name: str, *, grace: float = 2.0, interval: float = 1.0) -> None:
        self.node_name = node_name
        self.grace = grace
        self.interval = interval
        self._last_seen: float | None = None
        self._checked = -float("inf")
        self._reading = False

    def active(self) -> bool:
        now = time.monotonic()
        if now - self._checked >= self.interval:
            self._checked = now
            objects = pipewire_env.dump()
            # A graph that cannot be read counts as read: never pause on a blind guess.
            self._reading = objects is None or pipewire_env.readers(objects, self.node_name) > 0
        if self._reading:
            self._last_seen = now
            return True
        return self._last_seen is not None and now - self._last_seen < self.grace


def _write_all(fd: int, data: memoryview, timeout: float) -> str | None:
    """Write all of ``data`` to the pipe ``fd`` within ``timeout``; None, or what went
    wrong. The pipe is non-blocking so a wedged reader cannot hold the caller."""
    os.set_blocking(fd, False)
    deadline = time.monotonic() + timeout
    view, done = data, 0
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    while done < len(view):
        left = deadline - time.monotonic()
        if left <= 0:
            return f"it took no frame for {timeout:g} s"
        if not poller.poll(int(left * 1000) + 1):
            continue
        try:
            done += os.write(fd, view[done:])
        except BlockingIOError:
            continue
        except (BrokenPipeError, OSError):
            return "it closed its input"
    return None


def _grow_pipe(fd: int, frame_bytes: int) -> None:
    """Make the pipe hold a whole frame where the system allows, so a write usually
    returns without waiting for the child to be scheduled."""
    try:
        with open("/proc/sys/fs/pipe-max-size", encoding="ascii") as f:
            limit = int(f.read())
    except (OSError, ValueError):
        limit = 1 << 20
    size = min(frame_bytes, limit)
    for attempt in (max(size, 1 << 16), 1 << 20):
        try:
            fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", _F_SETPIPE_SZ), attempt)
            return
        except OSError:
            continue


def _read_lines(stream, sink: collections.deque[str]) -> None:
    """Keep the child's last stderr lines (its own thread; ends at end of file)."""
    try:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip()
            sink.append(line)
            log.debug("gst-launch: %s", line)
    except (OSError, ValueError):
        pass


def register() -> None:
    """Register the backend with pyvirtualcam (Linux only; idempotent)."""
    if not sys.platform.startswith("linux"):
        return
    from pyvirtualcam.camera import BACKENDS, register_backend

    if BACKENDS.get(BACKEND) is not PipeWireCamera:
        register_backend(BACKEND, PipeWireCamera)
