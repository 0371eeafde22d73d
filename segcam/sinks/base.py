"""The Sink protocol and the two trivial sinks.

Contract:

* ``start(info)`` is called once, before the first frame, from the thread that
  starts the pipeline. It opens files or devices; a problem raises a
  :class:`~segcam.errors.SegcamError` with one line.
* ``submit(frame)`` is called from the pipeline's worker thread, once per output
  frame, in order. ``frame.output`` and ``frame.alpha`` are views of buffers the
  compositor reuses for the next frame: a sink that needs them after
  ``submit`` returns must copy them inside ``submit``. ``submit`` must return
  quickly; a slow sink (an encoder, a paced device) hands the copy to its own
  thread behind a small queue.
* ``stop()`` flushes and closes. It is idempotent and may be called from any
  thread, including after a failed ``start``.
* ``error`` is None, or the exception that stopped the sink's own thread; the
  pipeline checks it after every frame and stops cleanly.
* ``dropped`` counts frames the sink discarded (a live stream faster than the sink).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from segcam.frame import Frame


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """What a sink needs to know before the first frame."""

    size: tuple[int, int]
    """Output ``(width, height)``."""
    fps: float
    live: bool
    """Live stream: drop frames rather than block the pipeline."""
    transparent: bool = False
    """Outputs are BGRA with a meaningful alpha channel."""
    media_path: str | None = None
    """Input media file whose audio a recorder may carry over."""


@runtime_checkable
class Sink(Protocol):
    error: BaseException | None
    dropped: int

    def start(self, info: StreamInfo) -> None: ...

    def submit(self, frame: Frame) -> None: ...

    def stop(self) -> None: ...


class NullSink:
    """Discards frames (benchmarks, dry runs)."""

    error: BaseException | None = None
    dropped = 0

    def __init__(self) -> None:
        self.count = 0

    def start(self, info: StreamInfo) -> None:
        pass

    def submit(self, frame: Frame) -> None:
        self.count += 1

    def stop(self) -> None:
        pass


class MemorySink:
    """Keeps copies of every output (and optionally alpha) in memory: for tests and ``mask``.

    ``frames`` holds ``(seq, mask_seq, output_copy, alpha_copy)`` tuples.
    """

    error: BaseException | None = None
    dropped = 0

    def __init__(self, keep_output: bool = True) -> None:
        self.keep_output = keep_output
        self.frames: list[tuple[int, int | None, np.ndarray | None, np.ndarray | None]] = []
        self.info: StreamInfo | None = None
        self.stopped = False

    def start(self, info: StreamInfo) -> None:
        self.info = info

    def submit(self, frame: Frame) -> None:
        out = frame.output.copy() if (self.keep_output and frame.output is not None) else None
        alpha = frame.alpha.copy() if frame.alpha is not None else None
        self.frames.append((frame.seq, frame.mask_seq, out, alpha))

    def stop(self) -> None:
        self.stopped = True
