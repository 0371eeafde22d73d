"""Where the project's own data folders are: ``models/`` (manifests) and ``assets/``.

In a source checkout or an editable install they are the top-level ``models/`` and
``assets/`` folders beside the ``segcam`` package. An installed wheel carries them
as the data packages ``segcam._models`` and ``segcam._assets``, and a PyInstaller
bundle puts them beside the frozen package; both are looked up first.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    spec = importlib.util.find_spec(f"segcam._{name}")
    if spec is not None and spec.submodule_search_locations:
        for root in spec.submodule_search_locations:
            if Path(root).is_dir():
                return Path(root)
    frozen_root = getattr(sys, "_MEIPASS", None)
    candidates = [_PACKAGE_DIR / f"_{name}", _PACKAGE_DIR.parent / name]
    if frozen_root:
        candidates.insert(0, Path(frozen_root) / "segcam" / f"_{name}")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return _PACKAGE_DIR.parent / name


def models_dir() -> Path:
    """The folder of built-in model manifests (may not exist in a broken install)."""
    return _data_dir("models")


def assets_dir() -> Path:
    """The folder of built-in backgrounds and icons (may not exist in a broken install)."""
    return _data_dir("assets")
