"""Which cameras are there, with the names users know them by (no Qt here).

On Linux every V4L2 device is listed in ``/sys/class/video4linux/videoN`` with a
``name`` (the product name, e.g. "Integrated Camera: Integrated C") and an
``index``: a UVC webcam registers two nodes, the picture (index 0) and a
metadata node (index 1), and only index 0 delivers frames. v4l2loopback devices
(virtual cameras) live under ``/sys/devices/virtual``; ours, named "segcam", is
never offered as an input, since reading our own output would feed back.

Elsewhere there is no cheap way to get names without a multimedia framework, so
the first few indices are probed with OpenCV (which opens each device: call
it off the GUI thread).
"""

from __future__ import annotations

import contextlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

SYSFS = Path("/sys/class/video4linux")


@dataclass(frozen=True, slots=True)
class CameraInfo:
    """One camera: ``spec`` is what ``--input`` takes (``"0"`` or ``"/dev/video2"``)."""

    spec: str
    name: str
    device: str = ""
    virtual: bool = False

    def label(self) -> str:
        where = f" ({self.device})" if self.device else ""
        kind = " [virtual]" if self.virtual else ""
        return f"{self.name}{kind}{where}"


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def _tidy(name: str) -> str:
    # UVC names often repeat themselves: "HD Webcam: HD Webcam" -> "HD Webcam".
    head, sep, tail = name.partition(":")
    if sep and tail.strip() and head.strip().startswith(tail.strip()):
        return head.strip()
    return name.strip()


def list_linux_cameras(sysfs: Path = SYSFS) -> list[CameraInfo]:
    """Capture devices from sysfs, in device-number order."""
    if not sysfs.is_dir():
        return []
    found = []
    for entry in sysfs.iterdir():
        m = re.fullmatch(r"video(\d+)", entry.name)
        if not m:
            continue
        index = _read(entry / "index")
        if index not in ("", "0"):
            continue  # a metadata node of a camera listed under its index-0 node
        name = _tidy(_read(entry / "name")) or f"Camera {m.group(1)}"
        try:  # v4l2loopback devices have no parent bus device
            virtual = "/devices/virtual/" in str(entry.resolve())
        except OSError:
            virtual = False
        if virtual and "segcam" in name.lower():
            continue
        number = int(m.group(1))
        found.append(
            (number, CameraInfo(str(number), name, f"/dev/video{number}", virtual=virtual))
        )
    found.sort(key=lambda item: (item[1].virtual, item[0]))
    return [info for _, info in found]


def probe_cameras(limit: int = 4) -> list[CameraInfo]:
    """Cameras OpenCV can open among the first ``limit`` indices (slow: opens each one)."""
    import cv2

    found = []
    old = cv2.getLogLevel()
    cv2.setLogLevel(0)
    try:
        for i in range(limit):
            cap = cv2.VideoCapture(i)
            with contextlib.suppress(Exception):
                if cap.isOpened():
                    found.append(CameraInfo(str(i), f"Camera {i}"))
            cap.release()
    finally:
        cv2.setLogLevel(old)
    return found


def list_cameras() -> list[CameraInfo]:
    """The cameras of this machine, real ones first."""
    if sys.platform.startswith("linux"):
        return list_linux_cameras()
    return probe_cameras()
