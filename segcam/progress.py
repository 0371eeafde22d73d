"""A one-line progress display on a terminal.

Finite inputs show a bar with percentage and ETA; live and endless inputs show
the running frame count, elapsed time, FPS and dropped frames. Nothing is drawn
when the stream is not a terminal (logs, pipes, tests), so output stays clean.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """Redraws at most ``rate`` times a second; call :meth:`update` as often as you like."""

    def __init__(
        self,
        total: int | None,
        *,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        rate: float = 4.0,
    ) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.interval = 1.0 / rate
        self.start = time.monotonic()
        self._last = 0.0
        self._width = 0

    def line(self, done: int, dropped: int = 0) -> str:
        elapsed = time.monotonic() - self.start
        fps = done / elapsed if elapsed > 0 else 0.0
        if self.total:
            frac = min(1.0, done / self.total)
            bar = "#" * int(frac * 24)
            eta = (self.total - done) / fps if fps > 0 else 0.0
            text = (
                f"[{bar:<24}] {frac * 100:5.1f}%  {done}/{self.total}  "
                f"{fps:5.1f} fps  ETA {_clock(eta)}"
            )
        else:
            text = f"● {done} frames  {_clock(elapsed)}  {fps:5.1f} fps"
        if dropped:
            text += f"  dropped {dropped}"
        return text

    def update(self, done: int, dropped: int = 0, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        text = self.line(done, dropped)
        pad = max(0, self._width - len(text))
        self._width = len(text)
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._width:
            self.stream.write("\n")
            self.stream.flush()
