"""The virtual webcam: processed frames out through pyvirtualcam.

Video apps (Zoom, Meet, Teams, OBS, a browser) read a virtual camera at a steady
rate and freeze, or drop the camera, when frames stop. So the sink sends on its
own clock, not the pipeline's:

* **Its own thread, paced by** ``Camera.sleep_until_next_frame()`` at the
  device's fps. Each tick sends the newest frame the pipeline handed over; when
  none came since the last tick (the pipeline stalled, a camera hiccup) it sends
  the previous frame again (counted in :attr:`repeats`). Before the first frame
  and while :attr:`paused`, it sends a neutral card (dim grey, counted in :attr:`cards`).
* **submit() never blocks the worker.** It copies (or, with ``mirror``, flips)
  ``frame.output`` into a buffer from a small pool and puts it in a latest-wins
  slot; a frame replaced before the thread took it is counted in :attr:`dropped`.
  The copy is needed anyway: ``frame.output`` is the compositor's buffer and is
  overwritten by the next frame, and it is shared with the other sinks, so the
  per-sink mirror never touches it in place.
* **Pixel format: BGR.** pyvirtualcam converts BGR to the device's native
  format in C (libyuv; I420 for v4l2loopback). Measured on this project's
  2-core machine (medians, through the real ``Camera.send`` into a backend that
  does the v4l2loopback backend's work, libyuv ``RGB24ToI420`` for BGR input):
  sending BGR costs 0.3-0.5 ms at 720p and 0.8-1.0 ms at 1080p, against
  0.7-1.0 ms and 1.6-2.2 ms for our own ``cv2.cvtColor(..., COLOR_BGR2YUV_I420)``
  plus an I420 send. Both give BT.601 limited-range YUV, within 4 levels of
  each other. So we send BGR and convert nothing ourselves.
* **Output geometry.** A BGRA output (``--background none``) is composited onto
  the neutral grey, since cameras carry no alpha; a frame whose size differs from
  the device's is cover-fitted (scaled and centre-cropped, no bars, no stretch).
  Both happen on the sink's thread, into buffers it keeps.

Accounting (every counter final once :meth:`stop` returned; :func:`summary` words them):

* ``frames_sent == frames_new + repeats + cards``: what the device got.
* ``received == frames_new + dropped + discarded``: what the pipeline handed over;
  ``discarded`` are frames that came while paused, after a stop, or after an error.

Errors: a device that cannot be opened raises :class:`VirtualCameraError` from
:meth:`start` with one line that points to ``segcam doctor``; a backend that
fails while sending (the device vanished) ends the thread and sets
:attr:`error` to a :class:`VirtualCameraLost`, which the pipeline reports.

Threads: ``start``/``stop`` run on the controlling thread, ``submit`` on the
pipeline's worker, sending on ``segcam-vcam``. :attr:`paused` may be set from
any thread.
"""

from __future__ import annotations

import collections
import logging
import os
import re
import threading
import time
from collections.abc import Iterable

import cv2
import numpy as np

from segcam.errors import ConfigError, OutputError, one_line
from segcam.frame import Frame
from segcam.kernels import blend, warm_up
from segcam.scratch import Scratch
from segcam.sinks.base import StreamInfo

log = logging.getLogger(__name__)

DOCTOR_HINT = "run `segcam doctor` to see what is missing and how to fix it"
NEUTRAL_GREY = 48
"""Grey level of the card sent before the first frame and while paused (dim, not black,
so a user can tell "segcam is there but paused" from "the camera is broken")."""
_POOL = 3  # pending + being prepared + held as the frame to repeat


class VirtualCameraError(OutputError):
    """The virtual camera could not be opened (no device, no permission, unknown backend)."""


class VirtualCameraLost(OutputError):
    """The virtual camera failed while streaming (the device vanished)."""

    exit_code = 1


def available_backends() -> list[str]:
    """Names of the pyvirtualcam backends registered in this process."""
    from pyvirtualcam.camera import BACKENDS

    from segcam.sinks.pipewire import register

    register()  # segcam's own PipeWire camera (Linux)
    return sorted(BACKENDS)


class VirtualCameraSink:
    """A :class:`~segcam.sinks.base.Sink` that feeds a pyvirtualcam camera (see module docs).

    Args:
        device: the device to open (``/dev/video10``, ``OBS Virtual Camera``); None lets
            the backend pick the first free one.
        backend: a pyvirtualcam backend name (``v4l2loopback``, ``obs``, or one a user
            registered with ``pyvirtualcam.register_backend``); None tries them all.
        size: the device's ``(width, height)``; default: the stream's size. Odd sizes are
            rounded down to even (4:2:0 formats need even sizes).
        fps: the device's frame rate; default: the stream's.
        mirror: flip the outgoing image left-right (off by default: the people in a call
            should see you as you are; the preview mirrors on its own).
    """

    def __init__(
        self,
        *,
        device: str | None = None,
        backend: str | None = None,
        size: tuple[int, int] | None = None,
        fps: float | None = None,
        mirror: bool = False,
    ) -> None:
        self.requested_device = device
        self.requested_backend = backend
        self.requested_size = size
        self.requested_fps = fps
        self.mirror = mirror
        self.error: BaseException | None = None
        self.dropped = 0
        self.frames_sent = 0
        """Frames sent to the device: ``frames_new + repeats + cards``."""
        self.frames_new = 0
        """Distinct pipeline frames sent."""
        self.repeats = 0
        """Ticks that sent the previous frame again because no new one had come."""
        self.cards = 0
        """Ticks that sent the neutral card (before the first frame, while paused)."""
        self.received = 0
        """Frames handed to :meth:`submit`: ``frames_new + dropped + discarded``."""
        self.discarded = 0
        """Frames handed over that were never sent: paused, stopping, or after an error
        (``dropped`` counts those a newer frame replaced before the next tick)."""
        self.device: str | None = None
        self.backend: str | None = None
        self.size: tuple[int, int] | None = None
        self.fps: float | None = None
        self.busy: collections.deque[float] = collections.deque(maxlen=300)
        """Seconds the sending thread spent per tick (prepare + send), for benchmarks."""
        self._paused = False
        self._camera = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._stopped = False
        self._pending: np.ndarray | None = None
        self._free: list[np.ndarray] = []
        self._held: np.ndarray | None = None  # pool buffer currently kept as the last frame
        self._scratch = Scratch()
        self._neutral: np.ndarray | None = None
        self._grey: np.ndarray | None = None  # background for BGRA outputs

    # -- control (controlling thread) ----------------------------------------------

    @property
    def paused(self) -> bool:
        """While True the device gets the neutral card and submitted frames are discarded."""
        return self._paused

    @paused.setter
    def paused(self, value: bool) -> None:
        self._paused = bool(value)

    def start(self, info: StreamInfo) -> None:
        """Open the device and start sending (the neutral card until the first frame)."""
        if self._camera is not None or self._stopped:
            raise RuntimeError("a VirtualCameraSink starts once")
        import pyvirtualcam
        from pyvirtualcam.camera import BACKENDS

        from segcam.sinks.pipewire import register

        register()  # the 'pipewire' backend (Linux): a PipeWire camera node
        w, h = self.requested_size or info.size
        w, h = w - w % 2, h - h % 2
        if w < 2 or h < 2:
            raise ConfigError(f"invalid virtual camera size {w}x{h}")
        fps = float(self.requested_fps or info.fps or 30.0)
        if self.requested_backend and self.requested_backend not in BACKENDS:
            known = ", ".join(sorted(BACKENDS)) or "none on this system"
            raise ConfigError(
                f"unknown virtual camera backend {self.requested_backend!r} (available: {known})"
            )
        where = f" {self.requested_device}" if self.requested_device else ""
        try:
            camera = pyvirtualcam.Camera(
                w,
                h,
                fps,
                fmt=pyvirtualcam.PixelFormat.BGR,
                device=self.requested_device,
                backend=self.requested_backend,
            )
        except Exception as e:
            log.debug("opening the virtual camera failed", exc_info=True)
            reason = _reason(e)
            if len(str(e).strip().splitlines()) == 1:
                # One backend was tried: pyvirtualcam's "'name' backend: " says nothing
                # more. Its own advice after the first sentence gives way to the doctor.
                reason = re.sub(r"^'[^']*' backend: ", "", reason)
                reason = re.split(r"(?<=[.?!])\s", reason)[0].rstrip(".")
            raise VirtualCameraError(
                f"cannot open the virtual camera{where}: {reason}; {DOCTOR_HINT}"
            ) from None
        self._camera = camera
        self.device = camera.device
        self.backend = camera.backend
        self.size = (w, h)
        self.fps = fps
        self._neutral = np.full((h, w, 3), NEUTRAL_GREY, np.uint8)
        if info.transparent:
            warm_up()  # compile the blend for BGRA outputs here, not in the paced thread
        log.info(
            "virtual camera %s (%s): %dx%d @ %g fps, BGR", self.device, self.backend, w, h, fps
        )
        self._thread = threading.Thread(target=self._run, name="segcam-vcam", daemon=True)
        self._thread.start()

    def submit(self, frame: Frame) -> None:
        """Hand ``frame.output`` to the sending thread (copied; never blocks)."""
        self.received += 1  # the pipeline's worker is the only caller
        if self.error is not None or self._camera is None or self._stop.is_set() or self._paused:
            with self._lock:
                self.discarded += 1
            return
        src = frame.output
        assert src is not None
        buf = self._take(src.shape)
        if self.mirror:
            cv2.flip(src, 1, dst=buf)
        else:
            np.copyto(buf, src)
        with self._lock:
            stale, self._pending = self._pending, buf
            if stale is not None:
                self._free.append(stale)
                self.dropped += 1

    def stop(self) -> None:
        """Send a frame still waiting, then close the device. Idempotent; any thread."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        with self._lock:
            # A frame the thread never took (it ended on an error, or never started).
            left, self._pending = self._pending, None
            if left is not None:
                self.discarded += 1
        camera, self._camera = self._camera, None
        if camera is not None:
            try:
                camera.close()
            except Exception as e:
                log.debug("closing the virtual camera failed", exc_info=True)
                if self.error is None:
                    self.error = VirtualCameraLost(
                        f"closing the virtual camera {self.device} failed: {one_line(e)}"
                    )

    # -- buffers ---------------------------------------------------------------------

    def _take(self, shape: tuple[int, ...]) -> np.ndarray:
        with self._lock:
            while self._free:
                buf = self._free.pop()
                if buf.shape == shape:
                    return buf
        return np.empty(shape, np.uint8)

    def _release(self, buf: np.ndarray | None) -> None:
        if buf is None:
            return
        with self._lock:
            if len(self._free) < _POOL:
                self._free.append(buf)

    # -- sending thread ----------------------------------------------------------------

    def _run(self) -> None:
        camera = self._camera
        assert camera is not None and self._neutral is not None
        last: np.ndarray | None = None
        min_gap = 0.5 / (self.fps or 30.0)
        try:
            while True:
                stopping = self._stop.is_set()
                t0 = time.perf_counter()
                with self._lock:
                    item, self._pending = self._pending, None
                if self._paused:
                    # Forget the old picture too: after a pause, show the card until a
                    # fresh frame comes rather than a stale one.
                    if item is not None:
                        with self._lock:
                            self.discarded += 1
                    self._release(item)
                    self._release(self._held)
                    self._held = None
                    last = None
                elif item is not None:
                    last = self._prepare(item)
                    self.frames_new += 1
                elif stopping:
                    break
                elif last is not None:
                    self.repeats += 1
                if stopping and item is None:
                    break
                camera.send(self._neutral if last is None else last)
                sent_at = time.perf_counter()
                self.frames_sent += 1
                if last is None:
                    self.cards += 1
                self.busy.append(sent_at - t0)
                if stopping:
                    break
                camera.sleep_until_next_frame()
                # pyvirtualcam's adaptive sleep over-corrects after a long stall of this
                # thread (it stops sleeping until its average catches up, a burst of
                # frames); never send faster than twice the frame rate.
                gap = time.perf_counter() - sent_at
                if gap < min_gap:
                    time.sleep(min_gap - gap)
        except BaseException as e:  # surfaced through .error; the pipeline reports it
            log.debug("virtual camera failed", exc_info=True)
            self.error = VirtualCameraLost(
                f"the virtual camera {self.device} stopped working: {_reason(e)}; {DOCTOR_HINT}"
            )

    def _prepare(self, buf: np.ndarray) -> np.ndarray:
        """Make ``buf`` a BGR image of the device's size; returns what to send and repeat."""
        assert self.size is not None
        out = buf
        if out.ndim == 3 and out.shape[2] == 4:
            out = self._flatten(out)
        w, h = self.size
        if out.shape[:2] != (h, w):
            out = self._fit(out, (w, h))
        if out is buf:
            # The pool buffer itself is kept for repeats; the one kept before goes back.
            self._release(self._held)
            self._held = buf
        else:
            self._release(buf)
        return out

    def _flatten(self, bgra: np.ndarray) -> np.ndarray:
        """Composite a BGRA output onto the neutral grey (a camera has no alpha)."""
        h, w = bgra.shape[:2]
        s = self._scratch
        fg = s("fg", (h, w, 3))
        alpha = s("alpha", (h, w))
        cv2.cvtColor(bgra, cv2.COLOR_BGRA2BGR, dst=fg)
        cv2.extractChannel(bgra, 3, dst=alpha)
        if self._grey is None or self._grey.shape != fg.shape:
            self._grey = np.full(fg.shape, NEUTRAL_GREY, np.uint8)
        return blend(fg, self._grey, alpha, fg)

    def _fit(self, image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """Scale to cover ``size`` and centre-crop, into a kept buffer."""
        w, h = size
        ih, iw = image.shape[:2]
        scale = max(w / iw, h / ih)
        cw, ch = min(iw, round(w / scale)), min(ih, round(h / scale))
        x0, y0 = (iw - cw) // 2, (ih - ch) // 2
        dst = self._scratch("fit", (h, w, 3))
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        cv2.resize(image[y0 : y0 + ch, x0 : x0 + cw], (w, h), dst=dst, interpolation=interp)
        return dst

    def median_busy_ms(self) -> float | None:
        """Median milliseconds per tick on the sending thread (prepare + send)."""
        values = sorted(self.busy)
        return 1000.0 * values[len(values) // 2] if values else None


def summary(sink: VirtualCameraSink, elapsed: float) -> list[str]:
    """Two lines for a person: what the device got, and what became of the frames
    the pipeline processed (see the module's "Accounting"); both add up exactly."""
    sent = sink.frames_sent
    first = (
        f"sent {sent} frames to {sink.device} in {elapsed:.1f} s "
        f"({sent / max(elapsed, 1e-9):.1f} fps): {sink.frames_new} new, "
        f"{sink.repeats} repeated (no new frame was ready at the device's tick), "
        f"{sink.cards} placeholder cards (before the first frame or while paused)"
    )
    second = (
        f"processed {sink.received} frames: {sink.frames_new} sent, "
        f"{sink.dropped} skipped (a newer frame replaced them before the device's next tick)"
    )
    if sink.discarded:
        second += f", {sink.discarded} not sent (they came while paused or stopping)"
    return [first, second]


def _reason(err: BaseException) -> str:
    """pyvirtualcam joins every backend's error with newlines; keep the first, without the
    trailing full stop so it reads inside our sentence."""
    return one_line(err).rstrip(".")


def device_readers(
    device: str, *, proc_root: str = "/proc", exclude: Iterable[int] | None = None
) -> list[int]:
    """Process ids that have ``device`` open, found through ``<proc_root>/<pid>/fd`` links.

    Our own process is left out (it holds the device open to write to it), as is
    every pid in ``exclude``. Processes of other users whose fds we may not read
    are skipped: video apps run as the same user. Linux only.
    """
    skip = {os.getpid(), *(exclude or ())}
    targets = {device, os.path.realpath(device)}
    found: list[int] = []
    try:
        entries = list(os.scandir(proc_root))
    except OSError:
        return found
    for entry in entries:
        if not entry.name.isdigit() or int(entry.name) in skip:
            continue
        try:
            with os.scandir(os.path.join(entry.path, "fd")) as fds:
                for fd in fds:
                    try:
                        if os.readlink(fd.path) in targets:
                            found.append(int(entry.name))
                            break
                    except OSError:
                        continue
        except OSError:
            continue
    return found


class ReaderWatch:
    """Whether any application reads the loopback device, with a grace period.

    Browsers and call apps open the device briefly just to list cameras, and a
    call app may reopen it when a call starts; so "no reader" holds only after
    ``grace`` seconds without one, while a new reader counts at once.
    """

    def __init__(self, device: str, *, proc_root: str = "/proc", grace: float = 2.0) -> None:
        self.device = device
        self.proc_root = proc_root
        self.grace = grace
        self._last_seen: float | None = None

    def active(self) -> bool:
        now = time.perf_counter()
        if device_readers(self.device, proc_root=self.proc_root):
            self._last_seen = now
            return True
        return self._last_seen is not None and now - self._last_seen < self.grace
