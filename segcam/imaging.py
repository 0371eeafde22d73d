"""Reading still images and fitting them to a frame size.

Shared by the image sources and the image background, so both give the same
one-line errors and the same cover-fit geometry.
"""

from __future__ import annotations

import os
import re

import cv2
import numpy as np

from segcam.errors import InputError

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".jp2"}
)


def is_image_path(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS


def load_image(path: str, what: str = "image") -> np.ndarray:
    """Read an image file as BGR uint8 ``(H, W, 3)``; raise :class:`InputError` with one line."""
    if not os.path.exists(path):
        raise InputError(f"{what} not found: {path}")
    if not os.path.isfile(path):
        raise InputError(f"{what} is not a file: {path}")
    try:
        # fromfile + imdecode also handles non-ASCII paths, which imread does not on Windows.
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        raise InputError(f"cannot read {what} {path}: {e.strerror}") from None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise InputError(f"cannot read {what} {path}: not an image, or corrupt")
    return image


def cover_fit(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Scale ``image`` to cover ``size`` = (width, height) and centre-crop: no bars, no stretch."""
    w, h = size
    ih, iw = image.shape[:2]
    if (iw, ih) == (w, h):
        return image
    scale = max(w / iw, h / ih)
    sw, sh = max(w, round(iw * scale)), max(h, round(ih * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    scaled = cv2.resize(image, (sw, sh), interpolation=interp)
    x0, y0 = (sw - w) // 2, (sh - h) // 2
    return np.ascontiguousarray(scaled[y0 : y0 + h, x0 : x0 + w])


def natural_key(name: str) -> list[object]:
    """Sort key that orders ``frame2`` before ``frame10``."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]
