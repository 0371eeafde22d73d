"""Where numba keeps segcam's compiled kernels: the user cache folder, never the package.

numba's ``cache=True`` writes ``__pycache__/*.nbi`` and ``*.nbc`` beside the module
by default, that is, into the installed package. pip does not record those files,
so they survive ``pip uninstall``; after a later ``pip install -e`` the leftover
``site-packages/segcam/__pycache__`` folder turns ``segcam`` into an empty namespace
package that shadows the editable install (DESIGN.md section 6). segcam never
writes into its installed package, so the kernels' cache lives in
``<user cache folder>/numba`` instead (``~/.cache/segcam/numba`` on Linux), or in
``$NUMBA_CACHE_DIR`` when the user set one.

numba picks a cache folder for a function when the function is decorated, from
``numba.config.CACHE_DIR``. :func:`njit` (through :func:`kernel_cache`) points that
setting at our folder only while :mod:`segcam.kernels` decorates a kernel, and puts
it back afterwards, so other numba users in the same process keep their own
behaviour.

If no folder is writable, the kernels are compiled in memory on every run (about
5 s at start-up) rather than cached anywhere else.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

ENV_VAR = "NUMBA_CACHE_DIR"


def cache_folder() -> Path | None:
    """The folder for compiled kernels, created if needed; None when none is writable."""
    chosen = os.environ.get(ENV_VAR)
    if chosen:
        folder = Path(chosen)
    else:
        from platformdirs import user_cache_dir

        folder = Path(user_cache_dir("segcam")) / "numba"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # A folder can exist and still refuse writes (read-only home, a sandbox).
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
            pass
    except OSError as e:
        log.info("no writable cache for compiled kernels (%s): compiling in memory", e)
        return None
    return folder


@contextlib.contextmanager
def kernel_cache(folder: Path | None) -> Iterator[None]:
    """Inside the block, numba functions decorated with ``cache=True`` cache in ``folder``.

    With ``folder`` None nothing changes (the caller then decorates with
    ``cache=False``). Not thread-safe: use it at import time only.
    """
    if folder is None:
        yield
        return
    from numba.core import config

    saved = config.CACHE_DIR
    config.CACHE_DIR = str(folder)
    try:
        yield
    finally:
        config.CACHE_DIR = saved


def njit(folder: Path | None, **options):
    """``numba.njit(**options)`` that caches in ``folder`` (or nowhere when it is None)."""
    import numba

    def decorate(fn):
        with kernel_cache(folder):
            return numba.njit(cache=folder is not None, **options)(fn)

    return decorate


def _stamp(folder: Path, source: Path) -> Path:
    """The marker that says the kernels of ``source`` (this exact text) are compiled."""
    import numba

    # numba's cache is per source path too: an editable and a regular install of
    # the same text compile separately.
    h = hashlib.sha256(str(source.resolve()).encode())
    h.update(source.read_bytes())
    digest = h.hexdigest()[:16]
    return folder / f"segcam-kernels-{digest}-numba{numba.__version__}.ready"


def is_compiled(folder: Path | None, source: Path) -> bool:
    """Whether the kernels of ``source`` were compiled into ``folder`` before."""
    try:
        return folder is not None and _stamp(folder, source).exists()
    except OSError:
        return False


def mark_compiled(folder: Path | None, source: Path) -> None:
    """Record that the kernels of ``source`` are now in ``folder``'s cache."""
    if folder is None:
        return
    try:
        _stamp(folder, source).touch()
    except OSError as e:
        log.debug("could not mark the kernel cache as ready: %s", e)
