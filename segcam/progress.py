"""A one-line progress display on a terminal.

Finite inputs show a bar with percentage and ETA; live and endless inputs show
the running frame count, elapsed time, FPS and dropped frames. Nothing is drawn
when the stream is not a terminal (logs, pipes, tests), so output stays clean.

What the bar counts depends on what the job's ``total`` is:

* *written* frames (``counts_dropped=False``, the default): ``record --frames N``
  stops after N written frames however many a live source dropped, and a file job
  drops nothing;
* *input* frames (``counts_dropped=True``): ``record --duration 3`` on a 30 fps
  camera consumes 90 input frames, each either done (processed and written) or
  dropped (a stale frame the worker never took). So it ends at ``90/90 (58 done,
  32 dropped)`` instead of stalling at ``58/90``.
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
    """Redraws at most ``rate`` times a second; call :meth:`update` as often as you like.

    Args:
        total: input frames the job will consume (None: endless or unknown).
        stream: where to draw (default: stderr).
        enabled: draw at all (default: only when ``stream`` is a terminal).
        rate: redraws per second, at most.
        counts_dropped: ``total`` counts input frames, so dropped ones use it up too
            (see the module docstring).
        unit: what one item is called (``frames``, or e.g. ``images``: then the rate
            reads ``/s`` instead of ``fps``).
    """

    def __init__(
        self,
        total: int | None,
        *,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        rate: float = 4.0,
        counts_dropped: bool = False,
        unit: str = "frames",
    ) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.interval = 1.0 / rate
        self.counts_dropped = counts_dropped
        self.unit = unit
        self.start = time.monotonic()
        self._last = 0.0
        self._width = 0

    def line(self, done: int, dropped: int = 0) -> str:
        """The text for ``done`` items finished and ``dropped`` items skipped so far."""
        elapsed = time.monotonic() - self.start
        fps = done / elapsed if elapsed > 0 else 0.0
        rate = f"{fps:5.1f} fps" if self.unit == "frames" else f"{fps:5.1f}/s"
        if self.total:
            consumed = done + dropped if self.counts_dropped else done
            consumed = min(consumed, self.total)
            frac = consumed / self.total
            bar = "#" * int(frac * 24)
            speed = consumed / elapsed if elapsed > 0 else 0.0
            eta = (self.total - consumed) / speed if speed > 0 else 0.0
            text = f"[{bar:<24}] {frac * 100:5.1f}%  {consumed}/{self.total}"
            if dropped and self.counts_dropped:
                text += f" ({done} done, {dropped} dropped)"
            text += f"  {rate}  ETA {_clock(eta)}"
            if dropped and not self.counts_dropped:
                text += f"  dropped {dropped}"
            return text
        text = f"● {done} {self.unit}  {_clock(elapsed)}  {rate}"
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


class StepBar:
    """A ``step(done, total)`` callback that draws a :class:`Progress` bar per job.

    A job starts when ``total`` changes or ``done`` goes back; its line is ended
    (newline) once ``done`` reaches ``total``, so messages printed between jobs
    start on a line of their own. Like :class:`Progress`, it draws only on a terminal.
    """

    def __init__(
        self, unit: str = "images", *, stream: TextIO | None = None, enabled: bool | None = None
    ) -> None:
        self.unit = unit
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self._bar: Progress | None = None
        self._done = 0

    def __call__(self, done: int, total: int) -> None:
        bar = self._bar
        if bar is None or bar.total != total or done < self._done:
            if bar is not None:
                bar.close()
            bar = self._bar = Progress(
                total, stream=self.stream, enabled=self.enabled, unit=self.unit
            )
        self._done = done
        bar.update(done, force=done >= total)
        if done >= total:
            bar.close()
            self._bar = None
