"""The background gallery: what it lists, in which order, and small previews (no Qt here).

Order (what N / P and the arrow keys step through): blur, solid colour, the
built-in backgrounds from ``assets/backgrounds/`` (made by
``assets/make_backgrounds.py``), the user's own images and videos (remembered in
the config file), then the mask view. A background set on the command line or in
the file that is none of these (``none``, a file not added to the gallery) gets
an entry of its own at the end, so it shows as selected.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from segcam.config import parse_background
from segcam.imaging import IMAGE_EXTENSIONS, cover_fit, load_image
from segcam.resources import assets_dir

#: File types the "add image or video" dialog offers.
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v", ".gif")


@dataclass(frozen=True, slots=True)
class GalleryItem:
    """One gallery entry. ``kind``: blur, colour, image, video, mask or none."""

    key: str
    label: str
    kind: str
    path: str | None = None
    builtin: bool = True

    def spec_text(self, blur: float, colour: str) -> str:
        """The ``--background`` string this entry stands for."""
        if self.kind == "blur":
            return f"blur:{blur:g}"
        if self.kind == "colour":
            return colour
        if self.kind in ("image", "video"):
            return str(self.path)
        return self.kind


def builtin_backgrounds() -> list[Path]:
    folder = assets_dir() / "backgrounds"
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
    )


def _label(path: str | Path) -> str:
    stem = Path(path).stem
    # Built-ins are named "NN-some-name"; the number only fixes their order.
    parts = stem.split("-", 1)
    if len(parts) == 2 and parts[0].isdigit():
        stem = parts[1]
    return stem.replace("-", " ").replace("_", " ").strip().capitalize() or Path(path).name


def _kind(path: str) -> str:
    return "video" if os.path.splitext(path)[1].lower() in VIDEO_EXTENSIONS else "image"


def build_items(user_paths: list[str], current: str | None = None) -> list[GalleryItem]:
    """The gallery for ``user_paths``, plus an entry for ``current`` if no other matches."""
    items = [
        GalleryItem("blur", "Blur", "blur"),
        GalleryItem("colour", "Colour", "colour"),
    ]
    for p in builtin_backgrounds():
        items.append(GalleryItem(f"asset:{p.name}", _label(p), "image", str(p)))
    for p in user_paths:
        items.append(GalleryItem(f"user:{p}", _label(p), _kind(p), p, builtin=False))
    items.append(GalleryItem("mask", "Mask view", "mask"))
    if current is not None and find(items, current) is None:
        spec = parse_background(current)
        if spec.kind == "none":
            items.append(GalleryItem("none", "Transparent", "none"))
        elif spec.kind in ("image", "video"):
            items.append(
                GalleryItem(
                    f"other:{spec.path}",
                    _label(str(spec.path)),
                    spec.kind,
                    spec.path,
                    builtin=False,
                )
            )
    return items


def find(items: list[GalleryItem], background: str) -> int | None:
    """Index of the entry showing ``background`` (a ``--background`` string), or None."""
    try:
        spec = parse_background(background)
    except Exception:
        return None
    for i, item in enumerate(items):
        if item.kind != spec.kind:
            continue
        if item.kind in ("image", "video"):
            if spec.path and item.path and os.path.abspath(spec.path) == os.path.abspath(item.path):
                return i
        else:
            return i
    return None


def thumbnail(item: GalleryItem, size: tuple[int, int]) -> np.ndarray | None:
    """A BGR preview of an image or video entry, cover-fitted to ``size``; None for the
    others (the widget draws those) or when the file cannot be read."""
    try:
        if item.kind == "image" and item.path:
            return cover_fit(_shrink(load_image(item.path, "background image"), size), size)
        if item.kind == "video" and item.path:
            import av

            with av.open(item.path) as container:
                for vf in container.decode(video=0):
                    return cover_fit(_shrink(vf.to_ndarray(format="bgr24"), size), size)
    except Exception:
        return None
    return None


def _shrink(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    # One area-averaging step to about twice the thumbnail size keeps cover_fit cheap.
    h, w = image.shape[:2]
    f = max(1, min(w // (2 * size[0]), h // (2 * size[1])))
    if f > 1:
        image = cv2.resize(image, (w // f, h // f), interpolation=cv2.INTER_AREA)
    return image
