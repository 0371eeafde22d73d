"""A guard against a reference-count bug of PySide6 6.12.0 on Python 3.10 and 3.11.

PySide6-Essentials 6.12.0 returns ``None`` from every void C++ method
(``update()``, ``setText()``, every ``QPainter`` call ...) and ``True`` from
``Signal.emit()`` without taking a reference. Python 3.12 made these objects
immortal, so nothing happens there; on 3.10 and 3.11 the preview loses about
eight references to ``None`` per frame and the interpreter aborts after a few
minutes ("Fatal Python error: none_dealloc"). 6.11.3 does not have the bug.

:func:`guard` measures whether the installed PySide6 leaks and, only then, does
what Python 3.12 does: it gives ``None``, ``True`` and ``False`` a reference
count so large (2**40) that the leak cannot bring it to zero in any realistic
run. These three objects are never freed anyway, so extra references cost
nothing. The right fix is a PySide6 without the bug; this keeps a user who has
6.12.0 installed from crashing.
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)

_EXTRA = 1 << 40
_done = False


def leaks() -> bool:
    """Whether void calls or ``emit()`` of this PySide6 drop references to None/True."""
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    none0, true0 = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(16):
        probe.setObjectName("probe")
        probe.ping.emit()
    return none0 - sys.getrefcount(None) >= 16 or true0 - sys.getrefcount(True) >= 16


def guard() -> bool:
    """Protect None/True/False if this PySide6 leaks them; True if it did. Idempotent."""
    global _done
    if _done:
        return True
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython" or not leaks():
        return False
    # ob_refcnt is the first field of every object in CPython 3.10/3.11 release builds.
    # The GIL is held here, so no other thread changes these counts meanwhile.
    for obj in (None, True, False):
        ctypes.c_ssize_t.from_address(id(obj)).value += _EXTRA
    _done = True
    log.debug("this PySide6 leaks references to None/True; they are now effectively immortal")
    return True
