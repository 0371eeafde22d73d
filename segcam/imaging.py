"""Reading still images and fitting them to a frame size.

Every image segcam reads goes through :func:`load_image`: input images and
folders, image backgrounds, ``segcam mask``, ``segcam eval``, the GUI gallery and
the demo photo. So every path gives the same one-line errors and applies the same
size limit, checked on the file's header before anything is decoded
(:mod:`segcam.image_header`): a 1 MB PNG can state 20000x20000 pixels, which
decode to 1.2 GB and cost several times that downstream.
"""

from __future__ import annotations

import os
import re

import cv2
import numpy as np

from segcam.errors import InputError
from segcam.image_header import HeaderError, image_size, unsafe_format

# No JPEG 2000 (.jp2): see image_header.UNSAFE_SIGNATURES.
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
)


#: The most pixels segcam decodes from one image file: 16384 x 8192, about 134
#: megapixels, which admits a 108 MP phone photo. Decoded, that is 400 MB of BGR;
#: ``segcam mask`` needs about 6 times as much again. Larger images are refused,
#: on every path, from their header alone.
MAX_IMAGE_PIXELS = 16384 * 8192

_FORMATS = "PNG, JPEG, WebP, BMP, TIFF, PNM"


def is_image_path(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS


def check_image_size(data: bytes, path: str, what: str = "image") -> tuple[int, int]:
    """The ``(width, height)`` that ``data`` (a whole image file) states in its header.

    Raises :class:`InputError` (one line) when the header is corrupt, the format is
    not one segcam reads, or the image has more than :data:`MAX_IMAGE_PIXELS`.
    Decodes nothing: its cost is the header's length.
    """
    unsafe = unsafe_format(data)
    if unsafe:
        raise InputError(
            f"cannot read {what} {path}: {unsafe} is not supported (its decoder can crash "
            "on a damaged file); convert it to PNG or JPEG"
        )
    try:
        size = image_size(data)
    except HeaderError as e:
        raise InputError(f"cannot read {what} {path}: corrupt image header ({e})") from None
    if size is None:
        # Without a header we know, the size cannot be bounded before decoding.
        raise InputError(
            f"cannot read {what} {path}: not an image, or not in a format segcam reads ({_FORMATS})"
        )
    w, h = size
    if w * h > MAX_IMAGE_PIXELS:
        raise InputError(
            f"{what} {path} is too large ({w}x{h}, {w * h / 1e6:.0f} megapixels): segcam "
            f"reads images of up to {MAX_IMAGE_PIXELS / 1e6:.0f} megapixels; scale it down"
        )
    return w, h


def load_image(path: str, what: str = "image", *, grey: bool = False) -> np.ndarray:
    """Read an image file as BGR uint8 ``(H, W, 3)`` (``(H, W)`` with ``grey``).

    Raises :class:`InputError` with one line for a missing, unreadable, corrupt,
    unknown or too large (:func:`check_image_size`) file. The size is checked on
    the header before decoding, so memory stays bounded whatever the file says.
    """
    if not os.path.exists(path):
        raise InputError(f"{what} not found: {path}")
    if not os.path.isfile(path):
        raise InputError(f"{what} is not a file: {path}")
    try:
        # open + imdecode also handles non-ASCII paths, which imread does not on Windows.
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise InputError(f"cannot read {what} {path}: {e.strerror}") from None
    if not data:
        raise InputError(f"cannot read {what} {path}: the file is empty")
    check_image_size(data, path, what)
    flags = cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_COLOR
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error:  # OpenCV's own limits, or a decoder that gives up loudly
        image = None
    if image is None or image.size == 0:
        raise InputError(f"cannot read {what} {path}: not an image, or corrupt")
    return image


def cover_fit(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Scale ``image`` to cover ``size`` = (width, height) and centre-crop: no bars, no stretch.

    Returns ``image`` itself when it already has that size, else a new array.
    """
    w, h = size
    ih, iw = image.shape[:2]
    if (iw, ih) == (w, h):
        return image
    scale = max(w / iw, h / ih)
    sw, sh = max(w, round(iw * scale)), max(h, round(ih * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    if sw * sh > 4 * w * h:
        # An image of extreme shape, scaled whole, would be huge before the crop: a
        # 640x1 image covering 1280x720 becomes 460800x720 (1 GB). Crop first, in
        # source pixels, and scale only what shows (the crop may land a fraction of
        # a pixel away from the scale-then-crop below, which is exact).
        cw, ch = min(iw, max(1, round(w / scale))), min(ih, max(1, round(h / scale)))
        x0, y0 = (iw - cw) // 2, (ih - ch) // 2
        return cv2.resize(image[y0 : y0 + ch, x0 : x0 + cw], (w, h), interpolation=interp)
    scaled = cv2.resize(image, (sw, sh), interpolation=interp)
    x0, y0 = (sw - w) // 2, (sh - h) // 2
    return np.ascontiguousarray(scaled[y0 : y0 + h, x0 : x0 + w])


def natural_key(name: str) -> list[object]:
    """Sort key that orders ``frame2`` before ``frame10``."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]
