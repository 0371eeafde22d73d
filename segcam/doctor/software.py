"""Software checks: Python, package versions, the built-in models, Qt's system libraries.

Versions come from the installed distributions' metadata
(:mod:`importlib.metadata`), so nothing heavy is imported. The built-in
models are checked where segcam keeps them (:mod:`segcam.inference.builtin_store`);
the doctor never fetches them itself.
"""

from __future__ import annotations

import ctypes.util
import importlib.metadata as metadata
import re
import shutil
import subprocess
import sys
from pathlib import Path

from segcam.doctor import Check, fixes

SOFTWARE = "Software"
MODELS = "Models"
QT = "Desktop window (Qt)"

# (distributions that provide it, requirement to install, needed for vcam, version test)
_OPENCV = (
    "opencv-contrib-python",
    "opencv-python",
    "opencv-python-headless",
    "opencv-contrib-python-headless",
)
_PACKAGES: list[tuple[str, tuple[str, ...], str, bool]] = [
    ("ai-edge-litert", ("ai-edge-litert",), "ai-edge-litert>=2.0", True),
    ("numpy", ("numpy",), "numpy>=1.24,<2", True),
    ("OpenCV", _OPENCV, "opencv-contrib-python>=4.8", True),
    ("PyAV", ("av",), "av>=12", True),
    ("PySide6", ("PySide6-Essentials", "PySide6"), "PySide6-Essentials>=6.5", False),
    ("pyvirtualcam", ("pyvirtualcam",), "pyvirtualcam>=0.11", True),
]


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _numbers(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version)[:3])


def _version_problem(label: str, version: str) -> str | None:
    """Why an installed version will not work, or None."""
    v = _numbers(version)
    if label == "numpy" and v and v[0] >= 2:
        return "segcam is built and tested on numpy 1.x"
    if label == "pyvirtualcam" and v < (0, 11):
        return "segcam needs pyvirtualcam 0.11 or later"
    return None


def python_and_packages() -> list[Check]:
    import segcam

    checks: list[Check] = []
    py = sys.version_info
    ok = (3, 10) <= py[:2] <= (3, 12)
    checks.append(
        Check(
            SOFTWARE,
            ok,
            f"Python {py.major}.{py.minor}.{py.micro}"
            + ("" if ok else " (segcam needs 3.10, 3.11 or 3.12: numpy 1.x's range)"),
            () if ok else ("install Python 3.12 and segcam in a virtual environment with it",),
        )
    )
    checks.append(Check(SOFTWARE, True, f"segcam {segcam.__version__}"))
    for label, dists, requirement, required in _PACKAGES:
        found = [(d, v) for d in dists if (v := _version(d)) is not None]
        if not found:
            checks.append(
                Check(
                    SOFTWARE,
                    False,
                    f"{label} is not installed",
                    fixes.pip_install(requirement),
                    required,
                )
            )
            continue
        dist, version = found[0]
        shown = label if dist.lower() == label.lower() else f"{label} ({dist})"
        problem = _version_problem(label, version)
        if label == "OpenCV" and len(found) > 1:
            extra = " ".join(d for d, _ in found if d != "opencv-contrib-python")
            checks.append(
                Check(
                    SOFTWARE,
                    False,
                    f"{len(found)} OpenCV packages installed ({', '.join(d for d, _ in found)}); "
                    "they share the cv2 module and break each other",
                    (
                        f"pip uninstall -y {extra} && pip install --force-reinstall "
                        "'opencv-contrib-python>=4.8'",
                    ),
                    required,
                )
            )
            continue
        checks.append(
            Check(
                SOFTWARE,
                problem is None,
                f"{shown} {version}" + (f": {problem}" if problem else ""),
                fixes.pip_install(requirement) if problem else (),
                required,
            )
        )
    return checks


def models() -> list[Check]:
    """Every built-in model resolves to a file, loads and runs once (the segmenter's warm-up)."""
    from segcam.errors import SegcamError
    from segcam.inference import make_segmenter
    from segcam.inference.models import BUILTIN_MODELS, resolve_model

    names = list(BUILTIN_MODELS)
    if not names:
        return [
            Check(
                MODELS,
                False,
                "no built-in models found (the install lacks segcam's model manifests)",
                ("pip install --force-reinstall segcam",),
            )
        ]
    from segcam.inference import builtin_store

    if not builtin_store.is_installed():
        return [
            Check(
                MODELS,
                False,
                "the built-in models' files are not installed yet (segcam fetches them on "
                "first use; that needs pip to reach your package index): "
                f"{builtin_store.store_dir()}",
                (
                    "segcam models install",
                    "offline: segcam models install --from mediapipe-0.10.21-<platform>.whl",
                ),
            )
        ]
    checks = []
    for name in names:
        try:
            info = resolve_model(name)
            make_segmenter(name, threads=1)
        except SegcamError as e:
            checks.append(
                Check(MODELS, False, f"{name} model: {e}", ("segcam models install --force",))
            )
            continue
        engine = getattr(info.manifest, "engine", "litert")
        runtime = {"litert": "LiteRT", "onnx": "ONNX Runtime"}.get(engine, engine)
        checks.append(Check(MODELS, True, f"{name} model loads in {runtime}: {info.path}"))
    return checks


def _qxcb_plugin() -> Path | None:
    from segcam.packages import find_package_file

    return find_package_file("PySide6", "Qt/plugins/platforms/libqxcb.so")


def missing_libraries(plugin: Path | None) -> list[str] | None:
    """Shared libraries Qt's xcb plugin cannot find; None when it cannot be told.

    ``ldd`` on the plugin resolves its whole dependency tree in a few milliseconds;
    without ``ldd``, each library of DESIGN §6's list is looked up with
    :func:`ctypes.util.find_library`.
    """
    ldd = shutil.which("ldd")
    if plugin is not None and ldd:
        try:
            result = subprocess.run(
                [ldd, str(plugin)], capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.SubprocessError):
            result = None
        if result is not None and result.returncode == 0:
            return [
                line.split("=>")[0].strip()
                for line in result.stdout.splitlines()
                if "not found" in line
            ]
    missing = []
    for soname in fixes.QT_XCB_LIBRARIES:
        stem = soname[3:].split(".so")[0]
        if ctypes.util.find_library(stem) is None:
            missing.append(soname)
    return missing


def qt_xcb(plugin: Path | bool | None = True) -> list[Check]:
    """Whether Qt's X11 platform plugin will load (the desktop window on X11 and XWayland)."""
    path = _qxcb_plugin() if plugin is True else (plugin or None)
    if path is None:
        return []  # PySide6 missing is reported with the packages
    missing = missing_libraries(path)
    if not missing:
        return [
            Check(QT, True, "Qt's X11 (xcb) plugin finds all its system libraries", required=False)
        ]
    return [
        Check(
            QT,
            False,
            "Qt's X11 (xcb) plugin cannot load: missing " + ", ".join(missing),
            fixes.install_qt_libraries(missing),
            required=False,
        )
    ]
