"""Frame sources: cameras, video files, images and folders, and the demo.

:func:`open_source` turns what the user typed after ``--input`` into a
:class:`Source`. ``auto`` means the same everywhere (the window, ``record``,
``vcam``): the first real webcam the system lists (:func:`auto_camera`; a virtual
one only when there is no real one, and never segcam's own output), or the demo
when there is none.
"""

from __future__ import annotations

import logging
import os

from segcam.capture.base import Source
from segcam.capture.camera import CameraSource
from segcam.capture.demo import DemoSource
from segcam.capture.images import ImageSource, expand_image_inputs
from segcam.capture.video import VideoFileSource
from segcam.errors import InputError
from segcam.imaging import is_image_path

log = logging.getLogger(__name__)

__all__ = [
    "CameraSource",
    "DemoSource",
    "ImageSource",
    "Source",
    "VideoFileSource",
    "auto_camera",
    "is_auto",
    "open_source",
]


def auto_camera() -> str | None:
    """What ``auto`` opens: the first real camera listed, else the first virtual one
    (not segcam's own output: :mod:`segcam.capture.cameras` leaves it out), else None."""
    from segcam.capture import cameras

    found = cameras.list_cameras()
    real = [c for c in found if not c.virtual] or found
    return real[0].spec if real else None


def is_auto(spec: str | list[str]) -> bool:
    return isinstance(spec, str) and spec.strip().lower() == "auto"


#: The built-in synthetic sources, by the name ``--input`` takes.
DEMO_SOURCES = ("demo", "demo:desk")


def is_demo(spec: str) -> bool:
    """Whether ``spec`` names one of the built-in demo sources (any case)."""
    return spec.strip().lower() in DEMO_SOURCES


def open_source(
    inputs: str | list[str],
    *,
    resolution: tuple[int, int] | None = None,
    fps: float | None = None,
    loop: bool = False,
) -> Source:
    """Open the source named by ``inputs``.

    One value may be ``demo``, ``demo:desk`` (a still camera at a desk, for the
    clean-plate mode), ``auto``, a camera index (``0``) or device path
    (``/dev/video2``), a video file, an image (repeated as a stream), or a folder
    of images. Several values are a list of images, read in the given order.
    """
    items = [inputs] if isinstance(inputs, str) else list(inputs)
    if not items:
        raise InputError("no input given")
    if len(items) > 1:
        return ImageSource(
            expand_image_inputs(items), fps=fps or 30.0, repeat=loop, resolution=resolution
        )
    spec = items[0].strip()
    low = spec.lower()
    if low == "demo":
        return DemoSource(resolution=resolution, fps=fps)
    if low == "demo:desk":
        from segcam.capture.desk import DeskDemoSource  # loads a model: only when asked

        return DeskDemoSource(resolution=resolution, fps=fps)
    if low == "auto":
        camera = auto_camera()
        if camera is None:
            log.warning("no camera found; using the demo source instead")
            return DemoSource(resolution=resolution, fps=fps)
        try:
            return CameraSource(camera, resolution=resolution or (1280, 720), fps=fps or 30.0)
        except InputError as e:
            log.warning("%s; using the demo source instead", e)
            return DemoSource(resolution=resolution, fps=fps)
    if spec.isdigit() or (spec.startswith("/dev/") and not os.path.isfile(spec)):
        return CameraSource(spec, resolution=resolution or (1280, 720), fps=fps or 30.0)
    path = os.path.expanduser(spec)
    if os.path.isdir(path):
        return ImageSource(
            expand_image_inputs([path]), fps=fps or 30.0, repeat=loop, resolution=resolution
        )
    if not os.path.exists(path) and "://" not in path:
        raise InputError(f"input not found: {spec}")
    if is_image_path(path):
        # A single still is an endless stream; the caller bounds it with --frames/--duration.
        return ImageSource([path], fps=fps or 30.0, repeat=True, resolution=resolution)
    return VideoFileSource(path, loop=loop, resolution=resolution)
