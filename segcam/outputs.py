"""Output-path safety: segcam never writes where it reads, and never clobbers by surprise.

The contracts, shared by ``record`` and ``mask``:

* **An output is never one of the inputs.** Files are compared by identity (device
  and inode, after following symlinks), so a symlink, a hardlink or another spelling
  of an input's path is refused as well; this holds even with ``--overwrite``.
* **An existing output is refused unless ``--overwrite``** (ffmpeg's ``-n``/``-y``).
* **Nothing is written under the final name until it holds something.** Files are
  written under a temporary name in the same folder, ``NAME.XXXXXXXX.segcam-partial``,
  and renamed onto the final name (atomically) once they hold data. A temporary
  name never ends in the real extension, so ``*.png`` or ``*.mp4`` never picks one
  up. A failed run removes only the temporary file it created itself.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Iterable

from segcam.errors import OutputError

PARTIAL_SUFFIX = ".segcam-partial"


def overwrite_hint(path: str) -> str:
    return f"{path} already exists; use --overwrite to replace it"


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)  # follows symlinks: a link to an input is that input
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def input_files(specs: Iterable[str | None]) -> list[str]:
    """The files behind ``specs`` (paths of inputs): files as given, folders' files.

    Anything that is not an existing file or folder (``demo``, a camera index, a
    colour) is skipped: it cannot be overwritten.
    """
    out: list[str] = []
    for spec in specs:
        if not spec:
            continue
        if os.path.isdir(spec):
            with contextlib.suppress(OSError):
                out.extend(
                    os.path.join(spec, n)
                    for n in sorted(os.listdir(spec))
                    if os.path.isfile(os.path.join(spec, n))
                )
        elif os.path.isfile(spec):
            out.append(spec)
    return out


def which_input(path: str, inputs: Iterable[str]) -> str | None:
    """The input that ``path`` is the same file as (by device and inode), or None."""
    me = _identity(path)
    if me is None:
        return None
    for p in inputs:
        if _identity(p) == me:
            return p
    return None


def check_not_an_input(path: str, inputs: Iterable[str], *, flag: str = "--output") -> None:
    """Raise :class:`OutputError` if writing ``path`` would replace one of ``inputs``."""
    hit = which_input(path, inputs)
    if hit is not None:
        same = "" if os.path.abspath(hit) == os.path.abspath(path) else f" ({hit})"
        raise OutputError(
            f"output {path} is one of the inputs{same}; segcam never writes over its "
            f"inputs: choose another {flag}"
        )


def check_overwrite(path: str, overwrite: bool) -> None:
    """Refuse an existing ``path`` (a file, or a symlink even if dangling) unless ``overwrite``."""
    if not overwrite and os.path.lexists(path):
        raise OutputError(overwrite_hint(path))


def partial_path(final: str, *, shown: str | None = None) -> str:
    """Create (exclusively) and return a fresh temporary file next to ``final``.

    ``clip.mp4`` gives ``clip.mp4.k2x9q0ab.segcam-partial``: visible, in the same
    folder (so the final rename is atomic), unique, and never ending in ``.mp4``.
    """
    folder, name = os.path.split(os.path.abspath(final))
    for _ in range(100):
        tmp = os.path.join(folder, f"{name}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}")
        try:
            # Not mkstemp: its 0600 mode would stick to the published file; 0666 less
            # the umask gives the mode any new file of the user's gets.
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        except OSError as e:
            raise OutputError(f"cannot write output {shown or final}: {e.strerror}") from None
        os.close(fd)
        return tmp
    raise OutputError(f"cannot write output {shown or final}: no free temporary name")


def publish(tmp: str, final: str, *, overwrite: bool) -> None:
    """Rename ``tmp`` onto ``final``; without ``overwrite`` never replace an existing file.

    The no-replace rename is a hardlink then an unlink (``link`` fails if the name
    exists), so a file that appeared at ``final`` meanwhile is never lost; on a
    filesystem without hardlinks it falls back to a checked rename. Raises
    :class:`OutputError` (``tmp`` kept) if ``final`` exists, ``OSError`` otherwise.
    """
    if overwrite:
        os.replace(tmp, final)
        return
    appeared = f"{final} appeared while segcam was writing; kept the new file as {tmp}"
    try:
        os.link(tmp, final)
    except FileExistsError:
        raise OutputError(appeared) from None
    except OSError:  # no hardlinks here (FAT, some network filesystems)
        if os.path.lexists(final):
            raise OutputError(appeared) from None
        os.rename(tmp, final)
        return
    os.unlink(tmp)


def discard(tmp: str | None) -> None:
    """Remove a temporary file segcam created (and only that)."""
    if tmp:
        with contextlib.suppress(OSError):
            os.remove(tmp)


def write_file(path: str, data: bytes, *, overwrite: bool) -> None:
    """Write ``data`` to ``path`` atomically: a crash or a full disk never leaves a
    truncated file under ``path``, and the temporary file is removed on failure."""
    tmp = partial_path(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        publish(tmp, path, overwrite=overwrite)
    except OutputError:
        raise  # publish kept the file under its temporary name, and said so
    except OSError as e:
        discard(tmp)
        raise OutputError(f"cannot write {path}: {e.strerror}") from None
    except BaseException:
        discard(tmp)
        raise


def sequence_regex(pattern: str) -> re.Pattern[str]:
    """A regex for the file names a ``printf``-style pattern (``out_%05d.png``) yields."""
    name = os.path.basename(pattern)
    parts = re.split(r"%0?\d*d", name)
    return re.compile(r"\d+".join(re.escape(p.replace("%%", "%")) for p in parts) + r"\Z")


def sequence_files(pattern: str) -> list[str]:
    """Existing files in the pattern's folder whose names the pattern could produce."""
    folder = os.path.dirname(pattern) or "."
    rx = sequence_regex(pattern)
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    return [os.path.join(folder, n) for n in names if rx.match(n)]
