"""Finding data files inside installed packages without importing them.

Importing mediapipe takes seconds (it pulls in jax and matplotlib) and
scikit-image is only a data carrier for the demo photo, so we ask the import
system where a package lives and look for the file there.

Nothing here may ever run a package's code: a model manifest names a package
(``file = "package:NAME/path"``), and a manifest is untrusted input.
:func:`importlib.util.find_spec` on a *dotted* name imports the parent package
(``"this.x"`` imports :mod:`this`), so only plain top-level names are accepted,
and on those ``find_spec`` locates the package without executing it. The
relative path may not climb out of the package (``..``) or be absolute.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path, PurePosixPath


def is_package_name(name: str) -> bool:
    """A plain top-level package name (``mediapipe``, ``skimage``): no dots, no paths."""
    return name.isidentifier()


def safe_relative(relative: str) -> bool:
    """Whether ``relative`` stays inside the folder it is relative to."""
    if not relative or "\\" in relative or "\x00" in relative:
        return False
    p = PurePosixPath(relative)
    return not p.is_absolute() and ".." not in p.parts


def _package_roots(package: str) -> list[Path]:
    if not is_package_name(package):
        return []
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.submodule_search_locations:
        return []
    return [Path(root) for root in spec.submodule_search_locations]


def find_package_file(package: str, relative: str) -> Path | None:
    """``<package folder>/<relative>`` if the package is installed and has it, else None.

    ``package`` must be a top-level name and ``relative`` must stay inside the
    package (:func:`safe_relative`); anything else is simply not found.
    """
    if not safe_relative(relative):
        return None
    for root in _package_roots(package):
        candidate = root / relative
        if candidate.exists():
            return candidate
    return None


def is_installed(package: str) -> bool:
    """Whether the top-level package ``package`` is installed (it is not imported)."""
    return bool(_package_roots(package))
