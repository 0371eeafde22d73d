"""Webcams through OpenCV's VideoCapture.

Negotiation order matters: many UVC webcams fall back to uncompressed YUYV,
which cannot carry 720p at 30 fps over USB 2, unless MJPG is requested *before*
the size and the frame rate. We then log the mode the camera actually gave,
which may differ from the request; the pipeline uses the real size.

A camera that stops delivering frames (unplugged, taken by another app) is
reopened for up to ``reconnect_s`` seconds; after that ``read()`` raises
:class:`~segcam.errors.SourceLost`, which the pipeline reports as one line.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator

import cv2

from segcam.errors import InputError, SourceLost
from segcam.frame import Frame

log = logging.getLogger(__name__)


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """OpenCV logs a WARN line for every camera index it fails to open; we report our own."""
    old = cv2.getLogLevel()
    cv2.setLogLevel(0)  # 0 = silent
    try:
        yield
    finally:
        cv2.setLogLevel(old)


def camera_device(spec: str | int) -> str | int:
    """``"0"`` -> 0, ``"/dev/video2"`` stays a path."""
    if isinstance(spec, int):
        return spec
    return int(spec) if spec.isdigit() else spec


def _describe(device: str | int) -> str:
    if isinstance(device, int) and sys.platform.startswith("linux"):
        return f"camera {device} (/dev/video{device})"
    return f"camera {device}"


class CameraSource:
    """A live camera, opened by index or device path."""

    live = True
    media_path = None
    frame_count = None

    def __init__(
        self,
        device: str | int,
        *,
        resolution: tuple[int, int] | None = (1280, 720),
        fps: float | None = 30.0,
        reconnect_s: float = 5.0,
    ) -> None:
        self.device = camera_device(device)
        self.name = _describe(self.device)
        self.requested = (resolution, fps)
        self.reconnect_s = reconnect_s
        self._cap = self._open()
        self._seq = 0
        self._t0: float | None = None

    def _open(self) -> cv2.VideoCapture:
        dev = self.device
        if sys.platform.startswith("linux"):
            node = f"/dev/video{dev}" if isinstance(dev, int) else dev
            if not os.path.exists(node):
                raise InputError(f"{self.name} not found: no device {node}")
        with _quiet_opencv():
            cap = cv2.VideoCapture(dev)
            if not cap.isOpened():
                cap.release()
                raise InputError(
                    f"cannot open {self.name}: it does not exist, "
                    "or another application is using it"
                )
            resolution, fps = self.requested
            # MJPG first: setting the size first makes many cameras pick raw YUYV.
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
            if resolution:
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, resolution[0])
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, resolution[1])
            if fps:
                cap.set(cv2.CAP_PROP_FPS, fps)
            ok, probe = cap.read()
        if not ok or probe is None:
            cap.release()
            raise InputError(
                f"{self.name} opened but delivers no frames (busy or unsupported mode)"
            )
        h, w = probe.shape[:2]
        self.size = (w, h)
        got_fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(got_fps) if got_fps and got_fps > 0 else float(fps or 30.0)
        fourcc = int(cap.get(cv2.CAP_PROP_FOURCC))
        fcc = "".join(chr((fourcc >> (8 * i)) & 0xFF) for i in range(4)).strip("\0") or "?"
        log.info(
            "%s: %dx%d @ %.1f fps, %s (requested %s @ %s)",
            self.name,
            w,
            h,
            self.fps,
            fcc,
            "x".join(map(str, resolution)) if resolution else "default",
            fps or "default",
        )
        return cap

    def start(self) -> None:
        self._t0 = time.monotonic()

    def read(self) -> Frame | None:
        ok, image = self._cap.read()
        if not ok or image is None:
            self._reconnect()
            ok, image = self._cap.read()
            if not ok or image is None:
                raise SourceLost(f"{self.name} stopped delivering frames")
        now = time.monotonic()
        if self._t0 is None:
            self._t0 = now
        frame = Frame(self._seq, image, now - self._t0, t_capture=now)
        self._seq += 1
        return frame

    def _reconnect(self) -> None:
        log.warning("%s stopped delivering frames; trying to reopen it", self.name)
        self._cap.release()
        deadline = time.monotonic() + self.reconnect_s
        delay = 0.2
        while True:
            try:
                self._cap = self._open()
                log.warning("%s reopened", self.name)
                return
            except InputError:
                if time.monotonic() + delay > deadline:
                    raise SourceLost(
                        f"{self.name} was lost (unplugged or taken by another application) "
                        f"and did not come back within {self.reconnect_s:g} s"
                    ) from None
                time.sleep(delay)
                delay = min(1.0, delay * 2)

    def stop(self) -> None:
        self._cap.release()
