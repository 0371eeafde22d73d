"""Frame rates for the status bar, from running counts sampled now and then (no Qt).

The status bar samples two counters twice a second: frames the source delivered
(taken by the worker or replaced as stale) and frames painted. A rate over one
half-second step swings by a frame either way (±2 fps at 30 fps) and shows any
short burst as a high rate; over a few seconds it reads what the source really
delivers. So :class:`RateMeter` keeps the samples of the last ``window`` seconds
and reports the count's growth over their whole span.
"""

from __future__ import annotations

import collections


class RateMeter:
    """Growth per second of a running count, over a sliding window of samples.

    Args:
        window: seconds of samples kept (the oldest sample kept is the last one at
            least this old, so the span covers the window once enough time passed).
    """

    def __init__(self, window: float = 2.0) -> None:
        self.window = window
        self._samples: collections.deque[tuple[float, int]] = collections.deque()

    def clear(self) -> None:
        """Forget every sample (a new run: its counts start again at 0)."""
        self._samples.clear()

    def add(self, t: float, count: int) -> None:
        """Record that the count was ``count`` at time ``t`` (seconds, monotonic)."""
        samples = self._samples
        if samples and count < samples[-1][1]:
            samples.clear()  # the counter was reset: the old samples mean nothing now
        samples.append((t, count))
        while len(samples) > 2 and t - samples[1][0] >= self.window:
            samples.popleft()

    def rate(self) -> float | None:
        """Counts per second over the samples kept; None until two samples span time."""
        if len(self._samples) < 2:
            return None
        (t0, c0), (t1, c1) = self._samples[0], self._samples[-1]
        return (c1 - c0) / (t1 - t0) if t1 > t0 else None
