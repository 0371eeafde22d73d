"""The demo source after a stall: like a camera, it skips frames instead of bursting.

A burst after a stall (a busy machine, a model loading) made the window's status
bar read "in 36–45 fps" on the 30 fps demo. The clock here is fake, so nothing
depends on how fast this machine is.
"""

from __future__ import annotations

import segcam.capture.demo as demo_module
from segcam.capture.demo import DemoSource


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)


def test_after_a_stall_the_demo_skips_frames_instead_of_bursting(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(demo_module, "time", clock)
    src = DemoSource(resolution=(64, 36), fps=30)
    src.start()
    for _ in range(3):
        src.read()
    clock.t += 1.0  # the process stalled for a second
    stalled_at = clock.t
    frames = [src.read() for _ in range(10)]
    # Ten frames after the stall come at 30 fps, not in a burst (the first one may be
    # up to a frame late, so eight full intervals at least; the old demo took none).
    assert clock.t - stalled_at >= 8 / 30 - 1e-6
    # And the picture is the one of now, not of a second ago.
    assert frames[0].pts >= stalled_at - 100.0 - 1 / 30
    assert [f.seq for f in frames] == list(range(frames[0].seq, frames[0].seq + 10))
