"""Where model files live, and which models are built in.

The built-in models are MediaPipe's two selfie-segmentation models. They ship in
the ``mediapipe==0.10.21`` wheel (later releases dropped them) under
``mediapipe/modules/selfie_segmentation/``. We locate that folder with
:func:`importlib.util.find_spec`, which reads the package's location without
executing ``mediapipe/__init__.py``: importing mediapipe takes seconds and
pulls in jax, matplotlib and protobuf graphs we never use.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from segcam.errors import ModelError
from segcam.packages import find_package_file, is_installed


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A model file and how to call it.

    ``input_size`` is ``(width, height)`` of the model input. The built-in models
    take RGB float32 in [0, 1] and return a one-channel person probability.
    """

    name: str
    path: Path
    input_size: tuple[int, int]
    description: str = ""


@dataclass(frozen=True, slots=True)
class _BuiltIn:
    filename: str
    input_size: tuple[int, int]
    description: str


BUILTIN_MODELS: dict[str, _BuiltIn] = {
    "landscape": _BuiltIn(
        "selfie_segmentation_landscape.tflite",
        (256, 144),
        "MediaPipe selfie segmentation, landscape 256x144 (default; fits 16:9 webcams)",
    ),
    "general": _BuiltIn(
        "selfie_segmentation.tflite",
        (256, 256),
        "MediaPipe selfie segmentation, general 256x256",
    ),
}

DEFAULT_MODEL = "landscape"


def mediapipe_model_dir() -> Path:
    """The ``selfie_segmentation`` folder inside the installed mediapipe package."""
    if not is_installed("mediapipe"):
        raise ModelError(
            "the built-in models come from the mediapipe package, which is not installed: "
            "pip install 'mediapipe==0.10.21'"
        )
    folder = find_package_file("mediapipe", "modules/selfie_segmentation")
    if folder is not None and folder.is_dir():
        return folder
    raise ModelError(
        "the installed mediapipe has no selfie_segmentation models (releases after 0.10.21 "
        "dropped them): pip install 'mediapipe==0.10.21'"
    )


def resolve_model(name_or_path: str) -> ModelInfo:
    """Turn ``--model`` (a built-in name or a ``.tflite`` path) into a :class:`ModelInfo`.

    For a path, ``input_size`` is ``(0, 0)``: the engine reads the real size from the file.
    """
    key = name_or_path.strip().lower()
    if key in BUILTIN_MODELS:
        b = BUILTIN_MODELS[key]
        path = mediapipe_model_dir() / b.filename
        if not path.is_file():
            raise ModelError(f"built-in model {key!r} is missing from mediapipe: {path}")
        return ModelInfo(key, path, b.input_size, b.description)
    path = Path(os.path.expanduser(name_or_path))
    if path.suffix.lower() == ".tflite" or path.exists() or os.sep in name_or_path:
        if not path.exists():
            raise ModelError(f"model file not found: {name_or_path}")
        if not path.is_file():
            raise ModelError(f"model path is not a file: {name_or_path}")
        return ModelInfo(path.stem, path, (0, 0), f"user model {path}")
    if key.split(":", 1)[0] == "bgsub":
        raise ModelError(
            f"{name_or_path!r} is background subtraction, not a model file: "
            "it works as --model bgsub only"
        )
    raise ModelError(
        f"unknown model {name_or_path!r}: use one of {', '.join(BUILTIN_MODELS)}, "
        "bgsub (static background subtraction, no model) or a path to a .tflite file"
    )
