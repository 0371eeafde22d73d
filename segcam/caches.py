"""The session's caches of loaded things: segmenters and background providers.

Each cache is keyed by the object's *own* settings (a segmenter by model, threads
and accelerator; a background provider by its :class:`~segcam.config.BackgroundSpec`),
so a change elsewhere in the settings never loads it again, and switching back to a
model or background used a moment ago finds it still loaded.

Every real load is counted in :attr:`Caches.loads` (``model``, ``background``,
``filter:<name>``): the counters the session's tests and benchmarks read to show
that a threshold change loads nothing.

Threading: :meth:`KeyedCache.get` and :meth:`KeyedCache.put` may be called from any
thread (the worker applying settings, a GUI job checking a choice before it is
posted). A load runs outside the lock, in the caller's thread; if two threads load
the same key at once, the first to finish wins and the other's object is dropped.
An object in the cache is used by one worker at a time: the cache hands it out, the
processor that took it is the only one running it.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from segcam.config import BackgroundSpec, PipelineSettings

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

ModelKey = tuple[str, int, str]
"""``(model, threads, accelerator)``: what makes two segmenters the same."""


def model_key(settings: PipelineSettings) -> ModelKey:
    return settings.model, settings.threads, settings.accelerator


class Loads(collections.Counter):
    """How many times each kind of thing was really loaded or built (thread-safe adds)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def add(self, what: str, n: int = 1) -> None:
        with self._lock:
            self[what] += n

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self)


class KeyedCache(Generic[K, V]):
    """Loaded objects by key, the ``keep`` most recently used (see module docs).

    Args:
        load: builds the object for a key (may raise; nothing is cached then).
        keep: how many objects stay cached; the least recently used one is dropped
            from the cache but not closed, since a processor may still be using it
            (a video background closes its file when it is garbage-collected).
        what: the counter :class:`Loads` adds to per load.
        loads: where loads are counted.
    """

    def __init__(self, load: Callable[[K], V], *, keep: int, what: str, loads: Loads) -> None:
        self._load = load
        self.keep = keep
        self.what = what
        self.loads = loads
        self._lock = threading.Lock()
        self._items: collections.OrderedDict[K, V] = collections.OrderedDict()

    def get(self, key: K) -> V:
        """The object for ``key``: cached, or loaded now in the caller's thread."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = self._load(key)
        self.loads.add(self.what)
        return self.put(key, value)

    def put(self, key: K, value: V) -> V:
        """Hand over an object loaded elsewhere (the window's check before a switch).

        Returns the cached object for ``key``: ``value``, or the one another thread
        put there first.
        """
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                if self._items[key] is not value:
                    _close(value)  # nobody has seen this second copy
                return self._items[key]
            self._items[key] = value
            while len(self._items) > self.keep:
                self._items.popitem(last=False)
        return value

    def peek(self, key: K) -> V | None:
        with self._lock:
            return self._items.get(key)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._items

    def clear(self) -> None:
        """Forget and close everything (the session is closing; no worker runs)."""
        with self._lock:
            items, self._items = list(self._items.values()), collections.OrderedDict()
        for v in items:
            _close(v)


def _close(obj: Any) -> None:
    close = getattr(obj, "close", None)
    if close is not None:
        try:
            close()
        except Exception:
            log.debug("closing a cached %s failed", type(obj).__name__, exc_info=True)


class Caches:
    """The segmenter and background caches of one session, and their load counters.

    A processor that is not part of a session gets its own (nothing is shared).
    """

    def __init__(self, *, models: int = 3, backgrounds: int = 4) -> None:
        from segcam.filters.backgrounds import make_background
        from segcam.inference import make_segmenter

        self.loads = Loads()
        self.segmenters: KeyedCache[ModelKey, Any] = KeyedCache(
            lambda k: make_segmenter(*k), keep=models, what="model", loads=self.loads
        )
        self.backgrounds: KeyedCache[BackgroundSpec, Any] = KeyedCache(
            make_background, keep=backgrounds, what="background", loads=self.loads
        )

    def segmenter(self, settings: PipelineSettings) -> Any:
        return self.segmenters.get(model_key(settings))

    def background(self, spec: BackgroundSpec) -> Any:
        return self.backgrounds.get(spec)

    def clear(self) -> None:
        """Forget and close every cached object (the owner is closing; no worker runs)."""
        self.segmenters.clear()
        self.backgrounds.clear()
