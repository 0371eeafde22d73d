"""Hand-off points between pipeline threads.

Two policies, one interface (``put`` / ``get`` / ``close`` and a ``dropped`` count):

* :class:`LatestSlot` (live sources): a slot of size one. ``put`` never waits; a
  frame nobody has taken yet is replaced by the newer one and counted as
  dropped. Latency stays near one frame plus processing, however slow the
  consumer is.
* :class:`BoundedQueue` (file jobs): a small FIFO. ``put`` blocks while it is
  full, so a slow consumer slows the producer down and nothing is dropped.

``close()`` marks the end of the stream: ``get`` then returns :data:`END` once
everything put before it has been taken.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class _End:
    def __repr__(self) -> str:
        return "END"


END = _End()
"""Returned by ``get()`` after ``close()`` once the channel is drained."""


class Closed(Exception):
    """``put`` on a channel that was closed (the consumer has gone)."""


class _Channel(Generic[T]):
    def __init__(self, capacity: int) -> None:
        self._items: collections.deque[T] = collections.deque()
        self._capacity = capacity
        self._cond = threading.Condition()
        self._closed = False
        self.dropped = 0
        self.passed = 0

    def get(self, timeout: float | None = None) -> T | _End | None:
        """The next item; :data:`END` once closed and drained; None on timeout."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._items or self._closed, timeout):
                return None
            if self._items:
                item = self._items.popleft()
                self._cond.notify_all()
                return item
            return END

    def close(self) -> None:
        """End the stream; wakes every waiting producer and consumer. Idempotent."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def discard(self) -> list[T]:
        """Close and return whatever was still queued (used when aborting)."""
        with self._cond:
            self._closed = True
            items = list(self._items)
            self._items.clear()
            self._cond.notify_all()
            return items

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        return len(self._items)


class LatestSlot(_Channel[T]):
    """Size-one slot where the newest item wins (see module docstring)."""

    def __init__(self) -> None:
        super().__init__(1)

    def put(self, item: T) -> T | None:
        """Store ``item``; return the stale item it replaced (already counted as dropped)."""
        with self._cond:
            if self._closed:
                raise Closed
            stale = self._items.popleft() if self._items else None
            if stale is not None:
                self.dropped += 1
            self._items.append(item)
            self.passed += 1
            self._cond.notify_all()
            return stale


class BoundedQueue(_Channel[T]):
    """Blocking FIFO of ``capacity`` items (see module docstring)."""

    def __init__(self, capacity: int = 4) -> None:
        super().__init__(capacity)

    def put(self, item: T, timeout: float | None = None) -> bool:
        """Append ``item``, waiting while full. False on timeout; raises Closed if closed."""
        with self._cond:
            ok = self._cond.wait_for(
                lambda: self._closed or len(self._items) < self._capacity, timeout
            )
            if self._closed:
                raise Closed
            if not ok:
                return False
            self._items.append(item)
            self.passed += 1
            self._cond.notify_all()
            return True

    def hand_over(self, item: T, *, live: bool, failed: Callable[[], bool]) -> bool:
        """A sink's hand-over to its own thread: False when ``item`` was dropped.

        A live job never waits (a full queue drops the item and counts it); a file
        job never drops, and waits in bounded steps that end early once ``failed()``
        says the consumer gave up. A closed queue takes nothing, silently.
        """
        try:
            if live:
                return self.offer(item)
            while not self.put(item, timeout=0.5):
                if failed():
                    return True
            return True
        except Closed:
            return True

    def offer(self, item: T) -> bool:
        """Append without waiting; when full, count a drop and return False."""
        with self._cond:
            if self._closed:
                raise Closed
            if len(self._items) >= self._capacity:
                self.dropped += 1
                return False
            self._items.append(item)
            self.passed += 1
            self._cond.notify_all()
            return True
