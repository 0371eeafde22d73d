"""The camera source, driven through OpenCV's VideoCapture with a file standing in for the device.

This machine has no webcam. OpenCV opens a video file through the same
VideoCapture API as a camera, so a file is a faithful stand-in at the device
boundary: "unplugging" is deleting the file, "replugging" is leaving it there.
"""

from __future__ import annotations

import shutil

import pytest

from segcam.capture.camera import CameraSource
from segcam.errors import InputError, SourceLost
from tests.conftest import make_clip


@pytest.fixture()
def device(tmp_path):
    return make_clip(tmp_path / "cam.mp4", frames=8, size=(320, 180), audio=False)


def test_camera_reports_the_mode_it_got(device):
    cam = CameraSource(str(device), resolution=(1280, 720), fps=30)
    try:
        assert cam.live
        assert cam.size == (320, 180)  # what the "device" actually gives, not the request
        cam.start()
        f0, f1 = cam.read(), cam.read()
        assert (f0.seq, f1.seq) == (0, 1)
        assert f0.image.shape == (180, 320, 3)
        assert f1.pts >= f0.pts
    finally:
        cam.stop()


def test_camera_unplugged_mid_stream_raises_source_lost(device, tmp_path):
    cam = CameraSource(str(device), reconnect_s=0.3)
    cam.start()
    device.unlink()  # the camera disappears
    with pytest.raises(SourceLost) as err:
        for _ in range(100):
            cam.read()
    cam.stop()
    msg = str(err.value)
    assert "lost" in msg and "\n" not in msg


def test_camera_that_comes_back_is_reopened(device):
    cam = CameraSource(str(device), reconnect_s=2.0)
    cam.start()
    frames = [cam.read() for _ in range(20)]  # more frames than the "device" holds at once
    cam.stop()
    assert [f.seq for f in frames] == list(range(20))


def test_missing_camera_index_is_one_clear_line():
    with pytest.raises(InputError) as err:
        CameraSource(9)
    assert "camera 9" in str(err.value) and "\n" not in str(err.value)


def test_camera_path_that_is_not_a_camera(tmp_path):
    bogus = tmp_path / "notacam"
    shutil.copy(__file__, bogus)
    with pytest.raises(InputError):
        CameraSource(str(bogus))
