"""Still images as a stream: one image repeated, or a list/folder of images in name order."""

from __future__ import annotations

import os

from segcam.config import MIN_DIMENSION
from segcam.errors import InputError, midway
from segcam.frame import Frame
from segcam.imaging import cover_fit, is_image_path, load_image, natural_key


def expand_image_inputs(paths: list[str]) -> list[str]:
    """Expand folders into their image files (natural name order); check that files exist.

    Files named explicitly keep the user's order; a folder's images are sorted
    so that ``frame2.png`` comes before ``frame10.png``.
    """
    out: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            names = sorted((n for n in os.listdir(p) if is_image_path(n)), key=natural_key)
            if not names:
                raise InputError(f"folder {p} contains no images ({', '.join(_EXT_HINT)})")
            out.extend(os.path.join(p, n) for n in names)
        elif os.path.exists(p):
            out.append(p)
        else:
            raise InputError(f"input not found: {p}")
    return out


_EXT_HINT = (".jpg", ".png", ".bmp", ".webp", ".tif")


class ImageSource:
    """A sequence of still images, read one by one; with ``repeat`` it cycles forever.

    A single image with ``repeat=True`` is an endless, unchanging stream, handy for
    tests and for a virtual camera showing a still. Every frame has the size of
    ``resolution`` or, by default, of the first image; other sizes are cover-fitted.
    Without ``resolution`` the first image must be at least
    :data:`~segcam.config.MIN_DIMENSION` pixels on each side.
    """

    live = False

    def __init__(
        self,
        paths: list[str],
        *,
        fps: float = 30.0,
        repeat: bool = False,
        resolution: tuple[int, int] | None = None,
    ) -> None:
        if not paths:
            raise InputError("no input images")
        self.paths = paths
        self.fps = fps
        self.repeat = repeat
        self.media_path = None
        self.name = paths[0] if len(paths) == 1 else f"{len(paths)} images"
        self.frame_count = None if repeat else len(paths)
        self._first = load_image(paths[0])
        h, w = self._first.shape[:2]
        if resolution is None and min(w, h) < MIN_DIMENSION:
            # Encoders round sizes down to even numbers: a 1-pixel side would become 0.
            raise InputError(
                f"input image {paths[0]} is {w}x{h}: frames need at least {MIN_DIMENSION} "
                "pixels per side (give --resolution WxH to scale it up)"
            )
        self.size = resolution or (w, h)
        self._seq = 0

    def start(self) -> None:
        pass

    def read(self) -> Frame | None:
        n = len(self.paths)
        if self._seq >= n and not self.repeat:
            return None
        i = self._seq % n
        try:
            image = self._first if i == 0 else load_image(self.paths[i])
        except InputError as e:
            raise midway(e) from None  # earlier images were already delivered
        image = cover_fit(image, self.size)
        if image is self._first:  # cover_fit returns its input when no resize is needed
            image = image.copy()
        frame = Frame(self._seq, image, self._seq / self.fps)
        self._seq += 1
        return frame

    def stop(self) -> None:
        pass
