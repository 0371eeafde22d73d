"""Finding data files inside installed packages without importing them.

Importing mediapipe takes seconds (it pulls in jax and matplotlib) and
scikit-image is only a data carrier for the demo photo, so we ask the import
system where a package lives (:func:`importlib.util.find_spec` on a top-level
name does not execute the package) and look for the file there.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path


def find_package_file(package: str, relative: str) -> Path | None:
    """``<package folder>/<relative>`` if the package is installed and has it, else None."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        candidate = Path(root) / relative
        if candidate.exists():
            return candidate
    return None


def is_installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None
