"""The ``demo`` source: an endless, webcam-like stream built from a real portrait.

It is what segcam runs on a machine with no webcam. The photo is the
public-domain NASA portrait of astronaut Eileen Collins that scikit-image ships
as ``skimage/data/astronaut.png`` (installed by the ``demo`` extra). We find
the file without importing scikit-image.

The still is made to behave like a camera: it is placed on a 16:9 canvas
(the sides are a blurred extension of the photo, as a wide lens would see more
of the same room), and each frame applies a slow pan and zoom, a slight
exposure wobble and sensor noise. Frames are paced in real time at ``fps``
(:class:`PacedSynthetic`, shared with the still-camera ``demo:desk`` source of
:mod:`segcam.capture.desk`).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import cv2
import numpy as np

from segcam.errors import InputError
from segcam.frame import Frame
from segcam.imaging import cover_fit, load_image
from segcam.native import quiet_native_stderr
from segcam.packages import find_package_file

_NOISE_PLANES = 6
_NOISE_LEVEL = 3  # grey levels, roughly a webcam's sensor noise in good light


def demo_photo_path() -> Path:
    """Path of the astronaut portrait inside the installed scikit-image."""
    path = find_package_file("skimage", "data/astronaut.png")
    if path is not None and path.is_file():
        return path
    raise InputError(
        "the demo source needs the astronaut photo from scikit-image: pip install 'segcam[demo]'"
    )


def _canvas(photo: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Put the photo, at full frame height, on a canvas of ``size`` filled with its blurred self."""
    w, h = size
    canvas = cover_fit(photo, (w, h))
    canvas = cv2.GaussianBlur(canvas, (0, 0), max(2.0, h / 40))
    ph, pw = photo.shape[:2]
    scale = h / ph
    sw = min(w, round(pw * scale))
    fitted = cv2.resize(
        photo, (sw, h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    )
    x0 = (w - sw) // 2
    # Blend the seam over a few percent of the width so the photo's edge does not show.
    ramp = max(1, sw // 25)
    weight = np.ones(sw, np.float32)
    weight[:ramp] = np.linspace(0, 1, ramp, dtype=np.float32)
    weight[-ramp:] = np.linspace(1, 0, ramp, dtype=np.float32)
    region = canvas[:, x0 : x0 + sw].astype(np.float32)
    wgt = weight[None, :, None]
    canvas[:, x0 : x0 + sw] = (fitted * wgt + region * (1 - wgt)).astype(np.uint8)
    return canvas


class PacedSynthetic:
    """A drawn, endless source paced in real time like a camera, with sensor noise.

    Subclasses draw frame ``seq`` in :meth:`render` (deterministic, no pacing) and
    finish it with :meth:`_sensor`; :meth:`read` paces the frames at ``fps`` and,
    after a stall, skips ahead as a camera's sensor would.
    """

    live = True
    media_path = None
    frame_count = None
    name = "synthetic"

    def __init__(self, size: tuple[int, int], fps: float, seed: int = 0) -> None:
        self.size = size
        self.fps = fps
        w, h = size
        rng = np.random.default_rng(seed)
        self._noise_pos = []
        self._noise_neg = []
        for _ in range(_NOISE_PLANES):
            n = rng.integers(-_NOISE_LEVEL, _NOISE_LEVEL + 1, size=(h, w, 3), dtype=np.int16)
            self._noise_pos.append(np.clip(n, 0, None).astype(np.uint8))
            self._noise_neg.append(np.clip(-n, 0, None).astype(np.uint8))
        self._seq = 0
        self._t0: float | None = None

    def _sensor(self, image: np.ndarray, seq: int) -> None:
        """A slight exposure wobble and sensor noise, in place on the uint8 frame."""
        t = seq / self.fps
        gain = 1.0 + 0.02 * math.sin(2 * math.pi * t / 5.0)
        cv2.convertScaleAbs(image, dst=image, alpha=gain)
        k = seq % _NOISE_PLANES
        cv2.add(image, self._noise_pos[k], dst=image)
        cv2.subtract(image, self._noise_neg[k], dst=image)

    def render(self, seq: int) -> np.ndarray:
        """The frame for index ``seq`` (deterministic; no pacing)."""
        raise NotImplementedError

    def start(self) -> None:
        self._t0 = time.monotonic()

    def read(self) -> Frame | None:
        if self._t0 is None:
            self.start()
        assert self._t0 is not None
        due = self._t0 + self._seq / self.fps
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        elif delay < -1.0 / self.fps:
            # More than a frame late (the process stalled): skip what a camera's sensor
            # showed meanwhile, as a camera does, instead of catching up in a burst.
            self._seq = int((time.monotonic() - self._t0) * self.fps)
        image = self.render(self._seq)
        frame = Frame(self._seq, image, self._seq / self.fps)
        self._seq += 1
        return frame

    def stop(self) -> None:
        pass


class DemoSource(PacedSynthetic):
    """An animated portrait, paced like a camera."""

    def __init__(
        self, *, resolution: tuple[int, int] | None = None, fps: float | None = None, seed: int = 0
    ) -> None:
        super().__init__(resolution or (1280, 720), fps or 30.0, seed)
        self.name = "demo (astronaut portrait)"
        with quiet_native_stderr():  # the PNG's colour profile makes libpng warn
            photo = load_image(str(demo_photo_path()), "demo photo")
        self._base = _canvas(photo, self.size)

    def render(self, seq: int) -> np.ndarray:
        """The frame for index ``seq`` (deterministic; no pacing)."""
        w, h = self.size
        t = seq / self.fps
        zoom = 1.04 + 0.03 * math.sin(2 * math.pi * t / 17.0)
        dx = 0.015 * w * math.sin(2 * math.pi * t / 11.0)
        dy = 0.008 * h * math.sin(2 * math.pi * t / 7.0 + 1.0)
        m = cv2.getRotationMatrix2D((w / 2, h / 2), 0.0, zoom)
        m[0, 2] += dx
        m[1, 2] += dy
        image = cv2.warpAffine(
            self._base, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        self._sensor(image, seq)
        return image
