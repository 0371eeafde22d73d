"""The sinks attached to a live session: a registry that changes while frames flow.

The worker reads :attr:`AttachedSinks.current`, an immutable tuple, once per
frame; :meth:`AttachedSinks.add` and :meth:`AttachedSinks.remove` (any thread)
replace that tuple under a lock. So attaching or detaching never blocks the
worker or the other sinks, costs the worker nothing per frame, and a sink is
either given a whole frame or none of it. The session starts a sink before it
is added and stops it after it is removed (after the frame being delivered has
gone out: :meth:`remove` waits for the worker to leave the frame it was on).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from segcam.sinks.base import Sink


@dataclass(eq=False)
class Attached:
    """One attached sink, its name in stats and messages, and what it was given.

    ``submitted`` and ``failed`` are written by the worker only; read them anywhere.
    ``fatal``: an error of this sink ends the run (a command's only output); otherwise
    the sink is skipped from then on and the session is told (a window's recorder
    failing must not stop the preview).
    """

    sink: Sink
    name: str
    fatal: bool = False
    submitted: int = 0
    failed: bool = False
    key: str = field(init=False)
    """``sink:<name>``: its key in the run's stats (made once, not per frame)."""

    def __post_init__(self) -> None:
        self.key = f"sink:{self.name}"


class AttachedSinks:
    """Thread-safe registry of attached sinks (see the module docs)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._delivering = threading.Condition(self._lock)
        self._busy = False
        self.current: tuple[Attached, ...] = ()

    def add(self, entry: Attached) -> None:
        with self._lock:
            if any(e.name == entry.name for e in self.current):
                raise ValueError(f"a sink named {entry.name!r} is already attached")
            self.current = (*self.current, entry)

    def remove(self, name: str, timeout: float = 5.0) -> Attached | None:
        """Detach ``name``; returns its entry once no frame is being delivered to it."""
        with self._lock:
            found = next((e for e in self.current if e.name == name), None)
            if found is None:
                return None
            self.current = tuple(e for e in self.current if e is not found)
            # The worker may be inside submit() of this very sink with the old tuple.
            self._delivering.wait_for(lambda: not self._busy, timeout)
        return found

    def get(self, name: str) -> Attached | None:
        return next((e for e in self.current if e.name == name), None)

    def names(self) -> list[str]:
        return [e.name for e in self.current]

    # -- worker side -----------------------------------------------------------------

    def begin(self) -> tuple[Attached, ...]:
        """The worker is about to deliver a frame to the returned sinks."""
        with self._lock:
            self._busy = True
            return self.current

    def end(self) -> None:
        """The worker has delivered the frame to every sink :meth:`begin` returned."""
        with self._lock:
            self._busy = False
            self._delivering.notify_all()
