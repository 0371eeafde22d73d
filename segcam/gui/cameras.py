"""The camera list lives in :mod:`segcam.capture.cameras` (it has no Qt); kept here for
imports that predate the move."""

from segcam.capture.cameras import CameraInfo, list_cameras, list_linux_cameras, probe_cameras

__all__ = ["CameraInfo", "list_cameras", "list_linux_cameras", "probe_cameras"]
