"""Slow work off the GUI thread: opening cameras, loading models, stopping pipelines.

``Jobs.submit(fn, on_done, on_error, discard)`` runs ``fn()`` on a short-lived
daemon thread named ``segcam-gui-job``; its result (or exception) comes back to
the GUI thread through a queued Qt signal and is passed to ``on_done`` (or
``on_error``). The GUI thread never waits for a job, except in
:meth:`Jobs.shutdown` when the window closes, which waits a bounded time.

A result that arrives after :meth:`Jobs.shutdown` (or after :meth:`Job.cancel`)
is given to ``discard`` instead, so an opened camera or a started pipeline that
nobody wants any more is closed rather than leaked.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

log = logging.getLogger(__name__)


class Job:
    def __init__(self, name: str, on_done, on_error, discard) -> None:
        self.name = name
        self.on_done = on_done
        self.on_error = on_error
        self.discard = discard
        self.cancelled = False
        self.thread: threading.Thread | None = None

    def cancel(self) -> None:
        self.cancelled = True


class Jobs(QObject):
    """Runs callables on worker threads and delivers their results on the GUI thread."""

    _finished = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._closed = False
        self._running: set[Job] = set()
        # Results emitted to the GUI thread and not yet delivered (for shutdown).
        self._undelivered: dict[Job, tuple[bool, Any]] = {}
        self._finished.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def submit(
        self,
        name: str,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        discard: Callable[[Any], None] | None = None,
    ) -> Job:
        job = Job(name, on_done, on_error, discard)
        with self._lock:
            if self._closed:
                raise RuntimeError("jobs are shut down")
            self._running.add(job)
        job.thread = threading.Thread(
            target=self._run, args=(job, fn), name="segcam-gui-job", daemon=True
        )
        job.thread.start()
        return job

    def _run(self, job: Job, fn: Callable[[], Any]) -> None:
        try:
            result: tuple[bool, Any] = (True, fn())
        except BaseException as e:
            log.debug("job %s failed", job.name, exc_info=True)
            result = (False, e)
        with self._lock:
            self._running.discard(job)
            late = self._closed or job.cancelled
            if not late:
                self._undelivered[job] = result
        if late:
            self._drop(job, result)
        else:
            self._finished.emit(job)

    def _drop(self, job: Job, result: tuple[bool, Any]) -> None:
        ok, value = result
        if ok and job.discard is not None:
            try:
                job.discard(value)
            except Exception:
                log.debug("discarding the result of %s failed", job.name, exc_info=True)

    def _deliver(self, job: Job) -> None:
        with self._lock:
            result = self._undelivered.pop(job, None)
        if result is None:
            return
        if job.cancelled:
            self._drop(job, result)
            return
        ok, value = result
        try:
            if ok:
                if job.on_done is not None:
                    job.on_done(value)
            elif job.on_error is not None:
                job.on_error(value)
            else:
                log.warning("%s failed: %s", job.name, value)
        except Exception:
            log.exception("handling the result of %s failed", job.name)

    @property
    def busy(self) -> bool:
        with self._lock:
            return bool(self._running or self._undelivered)

    def shutdown(self, timeout: float = 1.0) -> None:
        """Refuse new jobs, wait up to ``timeout`` s for running ones, discard all results."""
        with self._lock:
            self._closed = True
            running = list(self._running)
            pending = list(self._undelivered.items())
            self._undelivered.clear()
        for job, result in pending:
            self._drop(job, result)
        deadline = time.monotonic() + timeout
        for job in running:
            if job.thread is not None:
                job.thread.join(max(0.0, deadline - time.monotonic()))
                if job.thread.is_alive():
                    log.warning("%s is still running as the window closes", job.name)
