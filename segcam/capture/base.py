"""The Source protocol every frame producer implements.

Contract (the same for cameras, files, images and the demo):

* The constructor validates and opens the input; a problem raises
  :class:`~segcam.errors.InputError` with one line, before any thread starts.
* ``start()`` prepares streaming; ``read()`` blocks until the next frame and
  returns it, or None at the end of a finite stream; ``stop()`` releases the
  device or file and is idempotent.
* ``read()`` and ``stop()`` are called from the capture thread only, except that
  ``stop()`` may also be called after that thread has ended.
* Each returned :class:`~segcam.frame.Frame` owns a fresh ``image`` array that the
  source never touches again.

``live`` sources (cameras, the demo) produce frames in real time whether or
not anyone is ready for them, so the pipeline puts them in a latest-wins slot
and drops stale frames. Other sources are read as fast as the pipeline
consumes them, and no frame is ever dropped.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from segcam.frame import Frame


@runtime_checkable
class Source(Protocol):
    name: str
    """Human-readable description, e.g. ``camera 0 (/dev/video0)`` or a file name."""
    live: bool
    """True when frames arrive in real time and stale ones may be dropped."""
    fps: float
    """Nominal frame rate."""
    size: tuple[int, int]
    """``(width, height)`` of the frames ``read()`` returns."""
    frame_count: int | None
    """Number of frames for a finite input, None when endless or unknown."""
    media_path: str | None
    """Path of the underlying media file when it may carry audio to pass through."""

    def start(self) -> None: ...

    def read(self) -> Frame | None: ...

    def stop(self) -> None: ...
