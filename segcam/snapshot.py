"""Saving one output frame as a PNG: the desktop app's snapshot (Ctrl+S).

The file is written atomically (encoded in memory, written to a hidden temporary
file in the target folder, then renamed), so a crash never leaves half a PNG
under the final name and a file browser never shows one. Names are
``segcam-YYYYmmdd-HHMMSS.png`` (``-2``, ``-3`` ... when several land in the same
second); an existing file is never overwritten.

No Qt here: the caller passes the frame's pixels (BGR or BGRA uint8, as
``Frame.output`` holds them) and gets the path back, or an
:class:`~segcam.errors.OutputError` with one line.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from segcam.errors import OutputError


def pictures_dir() -> Path:
    """The user's pictures folder (``~/Pictures`` on most Linux desktops)."""
    from platformdirs import user_pictures_dir

    return Path(user_pictures_dir())


def snapshot_path(folder: str | Path, when: float | None = None) -> Path:
    """A free ``segcam-<date>-<time>.png`` name in ``folder``."""
    stem = time.strftime("segcam-%Y%m%d-%H%M%S", time.localtime(when))
    folder = Path(folder)
    path = folder / f"{stem}.png"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{stem}-{n}.png"
    return path


def save_snapshot(image: np.ndarray, folder: str | Path | None = None) -> Path:
    """Write ``image`` (BGR or BGRA uint8) as a PNG in ``folder`` (default: :func:`pictures_dir`).

    The folder is created if needed. Returns the path of the new file. BGRA
    (transparent background) keeps its alpha channel in the PNG.
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (3, 4):
        raise OutputError(f"cannot save a snapshot of a {image.dtype} image of shape {image.shape}")
    target_dir = Path(folder) if folder is not None else pictures_dir()
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create the snapshot folder {target_dir}: {e.strerror}") from None
    # Fast zlib level: a 720p frame encodes in tens of milliseconds instead of hundreds.
    ok, data = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise OutputError("cannot encode the snapshot as PNG")
    path = snapshot_path(target_dir)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".segcam-snapshot-", suffix=".png", dir=target_dir)
        with os.fdopen(fd, "wb") as f:
            f.write(data.tobytes())
            f.flush()
            os.fsync(f.fileno())
        # link() fails if the name was taken meanwhile, where rename() would overwrite.
        while True:
            try:
                os.link(tmp, path)
                break
            except FileExistsError:
                path = snapshot_path(target_dir)
            except OSError:  # no hard links (some network or FAT filesystems)
                os.replace(tmp, path)
                tmp = None
                break
    except OSError as e:
        raise OutputError(f"cannot write snapshot {path}: {e.strerror or e}") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.remove(tmp)
    return path
