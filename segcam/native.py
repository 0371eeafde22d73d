"""Keeping native libraries' console chatter away from the user.

LiteRT prints "INFO: Created TensorFlow Lite XNNPACK delegate" and libpng prints
"iCCP: known incorrect sRGB profile" straight to file descriptor 2 from C code.
segcam promises one clear line per problem, so the few calls known to chatter
run inside :func:`quiet_native_stderr`.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator

_lock = threading.Lock()


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Send what native code writes on fd 2 inside the block to /dev/null.

    Python's own ``sys.stderr`` buffer is flushed first, so nothing written
    before the block is lost. Use it only around short, known-noisy calls: other
    threads' native stderr output during the block is discarded too.
    """
    with _lock:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError, AttributeError):
            yield
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
