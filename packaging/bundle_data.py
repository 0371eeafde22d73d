"""What the PyInstaller bundle carries besides the code PyInstaller finds itself.

``packaging/segcam.spec`` and ``tests/test_packaging.py`` both import this module, so
the test checks exactly the entries the spec uses. It imports neither PyInstaller nor
the packages it collects from (mediapipe and scikit-image are located with
:func:`importlib.util.find_spec`, which does not run them), and it works from globs,
so new model manifests and assets are picked up at build time without an edit here.

Each entry is PyInstaller's ``(source file, destination folder in the bundle)``.
The destinations mirror where segcam looks at run time:

* ``segcam/_models`` and ``segcam/_assets``: the same data packages an installed wheel
  has (see :mod:`segcam.resources`).
* ``mediapipe/modules/selfie_segmentation``: only the two selfie ``.tflite`` files,
  taken from segcam's model store (or an installed mediapipe). The folder in the
  bundle is an importable namespace, so the store's fallback lookup
  (:mod:`segcam.inference.builtin_store`, ``find_spec("mediapipe")``) finds the files
  there without the frozen app ever fetching them.
* ``skimage/data``: only the astronaut portrait for the ``demo`` source, found the
  same way by :func:`segcam.capture.demo.demo_photo_path`; the rest of
  scikit-image (and scipy, which it needs) stays out.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Top-level data folders -> the data package the wheel ships them as, and the glob
# patterns of what goes in (keep in step with [tool.setuptools.package-data]).
PROJECT_DATA: dict[str, tuple[str, tuple[str, ...]]] = {
    "models": ("segcam/_models", ("**/*.toml", "README.md")),
    "assets": ("segcam/_assets", ("**/*",)),
}

# Never shipped from our own folders: third-party model files, whatever lands there by
# mistake, and scripts (assets/make_backgrounds.py makes the assets; the app only
# reads them). The wheel leaves the same out (setup.py, [tool.setuptools.*]).
_NEVER = (".tflite", ".onnx", ".py", ".pyc", ".pyo")

MEDIAPIPE_MODELS = "modules/selfie_segmentation"
DEMO_PHOTO = "data/astronaut.png"

# Importable things segcam never uses that other installed packages would drag in
# (mediapipe pulls jax, matplotlib and more; scikit-image pulls scipy). Excluding a
# module PyInstaller would not find anyway costs nothing.
EXCLUDES: tuple[str, ...] = (
    "mediapipe",
    "jax",
    "jaxlib",
    "tensorflow",
    "tf_keras",
    "keras",
    "torch",
    "torchvision",
    "matplotlib",
    "scipy",
    "skimage",
    "pandas",
    "sympy",
    "IPython",
    "tkinter",
    "_tkinter",
    "sounddevice",
    "PyQt5",
    "PyQt6",
    "PySide2",
    # numba's test suite, its AOT compiler and its optional cffi support, and what only
    # they pull in (Pillow via pygments, setuptools); segcam's njit kernels need none.
    "numba.tests",
    "numba.testing",
    "numba.pycc",
    "cffi",
    "pycparser",
    "pygments",
    "PIL",
    "setuptools",
    "pkg_resources",
    # segcam's GUI is Qt Widgets: no web engine, QML/Quick, 3D or PDF.
    "PySide6.QtWebEngineCore",
    "PySide6.QtWebEngineWidgets",
    "PySide6.QtWebEngineQuick",
    "PySide6.QtWebChannel",
    "PySide6.QtQml",
    "PySide6.QtQuick",
    "PySide6.QtQuickWidgets",
    "PySide6.QtQuickControls2",
    "PySide6.Qt3DCore",
    "PySide6.QtPdf",
    "PySide6.QtPdfWidgets",
    "PySide6.QtDesigner",
)

# LiteRT's vendor *compiler* plugins only serve ahead-of-time compilation for NPUs.
_LITERT_SKIP = "compiler"


class BundleInputError(RuntimeError):
    """A file the bundle needs is missing from the build environment."""


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        if Path(root).is_dir():
            return Path(root)
    return None


def project_datas(repo: Path = REPO) -> list[tuple[str, str]]:
    """Our manifests and assets, each file under its data-package folder."""
    entries: list[tuple[str, str]] = []
    for folder, (dest, patterns) in PROJECT_DATA.items():
        root = repo / folder
        files: set[Path] = set()
        for pattern in patterns:
            files.update(p for p in root.glob(pattern) if p.is_file())
        for path in sorted(files):
            rel = path.relative_to(root)
            if path.suffix.lower() in _NEVER or "__pycache__" in rel.parts:
                continue
            if any(part.startswith(".") for part in rel.parts):
                continue
            entries.append((str(path), str(Path(dest, *rel.parts[:-1]))))
    return entries


def mediapipe_model_datas() -> list[tuple[str, str]]:
    """MediaPipe's two selfie-segmentation ``.tflite`` files, from wherever segcam keeps them.

    That is segcam's own store of the two files, or an installed mediapipe 0.10.21
    (:mod:`segcam.inference.builtin_store`); nothing is fetched here.
    """
    from segcam.inference import builtin_store

    entries = []
    for name in builtin_store.FILES:
        found = builtin_store.find(name)
        if found is None:
            raise BundleInputError(
                "the bundle needs the built-in models in the build environment: "
                "segcam models install"
            )
        entries.append((str(found.path), f"mediapipe/{MEDIAPIPE_MODELS}"))
    return entries


def demo_photo_datas() -> list[tuple[str, str]]:
    """scikit-image's astronaut portrait, which the ``demo`` source animates."""
    root = _package_dir("skimage")
    photo = root / DEMO_PHOTO if root else None
    if photo is None or not photo.is_file():
        raise BundleInputError(
            "the bundle needs scikit-image's astronaut photo for the demo source: "
            "pip install 'segcam[demo]'"
        )
    return [(str(photo), str(Path("skimage", DEMO_PHOTO).parent))]


def litert_binaries() -> list[tuple[str, str]]:
    """LiteRT's native libraries, including the ones it loads by name at run time.

    PyInstaller follows the extension modules' direct links, but ``libLiteRt.so``,
    the GPU accelerator and the NPU dispatch libraries are opened with ``dlopen``.
    """
    root = _package_dir("ai_edge_litert")
    if root is None:
        raise BundleInputError("the bundle needs LiteRT: pip install ai-edge-litert")
    entries = []
    for path in sorted(root.rglob("*.so*")):
        rel = path.relative_to(root)
        if _LITERT_SKIP in rel.parts or not path.is_file():
            continue
        entries.append((str(path), str(Path("ai_edge_litert", *rel.parts[:-1]))))
    return entries


def all_datas(repo: Path = REPO) -> list[tuple[str, str]]:
    """Every data entry of the spec."""
    return [*project_datas(repo), *mediapipe_model_datas(), *demo_photo_datas()]
