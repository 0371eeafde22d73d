"""Which models exist, and what ``--model`` means.

``--model`` takes, in this order of lookup:

1. a built-in name: the manifests in the project's ``models/`` folder
   (:func:`segcam.resources.models_dir`). ``landscape`` and ``general`` are
   MediaPipe's two selfie-segmentation models, ``file = "builtin:..."``: the files
   come from the ``mediapipe==0.10.21`` wheel (later releases dropped them), and
   :mod:`segcam.inference.builtin_store` keeps just those two files in the user
   data folder, fetching them on first use; mediapipe is never installed whole
   for them, nor imported;
2. the name of a user manifest in ``<user data folder>/models/*.toml``
   (:func:`user_models_dir`; ``~/.local/share/segcam/models`` on Linux);
3. a path: a manifest (``.toml``), or a bare ``.tflite`` file with the built-in
   models' contract (float32 RGB in [0, 1] in, one probability per pixel out).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from segcam.errors import ModelError
from segcam.inference import builtin_store
from segcam.inference.manifest import (
    ModelManifest,
    bare_tflite_manifest,
    builtin_file_name,
    load_manifest,
)

log = logging.getLogger(__name__)

DEFAULT_MODEL = "landscape"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A model and how to call it.

    ``input_size`` is ``(width, height)`` of the model input, ``(0, 0)`` when only
    the model file knows it. ``manifest`` has everything else.
    """

    name: str
    path: Path
    input_size: tuple[int, int]
    description: str = ""
    manifest: ModelManifest | None = None


@functools.lru_cache(maxsize=1)
def builtin_manifests() -> dict[str, ModelManifest]:
    """The project's own manifests (``models/*.toml``), by lower-case name."""
    from segcam.resources import models_dir

    out: dict[str, ModelManifest] = {}
    folder = models_dir()
    if folder.is_dir():
        for p in sorted(folder.glob("*.toml")):
            m = load_manifest(p, kind="builtin")
            out[m.name.lower()] = m
    # The default model first, then by name.
    return dict(sorted(out.items(), key=lambda kv: (kv[0] != DEFAULT_MODEL, kv[0])))


class _BuiltinNames(Mapping[str, ModelManifest]):
    """``BUILTIN_MODELS``: the built-in manifests by name, read on first use."""

    def __getitem__(self, key: str) -> ModelManifest:
        return builtin_manifests()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(builtin_manifests())

    def __len__(self) -> int:
        return len(builtin_manifests())


BUILTIN_MODELS: Mapping[str, ModelManifest] = _BuiltinNames()


def user_models_dir() -> Path:
    """Where users put their own manifests: ``<user data folder>/models``."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("segcam")) / "models"


def user_manifests() -> tuple[dict[str, ModelManifest], dict[Path, ModelError]]:
    """The user folder's manifests by lower-case name, and the ones that failed to load."""
    found: dict[str, ModelManifest] = {}
    broken: dict[Path, ModelError] = {}
    folder = user_models_dir()
    if not folder.is_dir():
        return found, broken
    for p in sorted(folder.glob("*.toml")):
        try:
            m = load_manifest(p, kind="user")
        except ModelError as e:
            broken[p] = e
            continue
        found.setdefault(m.name.lower(), m)
    return found, broken


def current_path(m: ModelManifest) -> Path | None:
    """Where ``m``'s model file is now (None: a built-in file not installed yet).

    Built-in files are looked up afresh, not taken from when the (cached) manifest
    was read; nothing is fetched.
    """
    builtin_name = builtin_file_name(m.file)
    if builtin_name is None:
        return m.path
    found = builtin_store.find(builtin_name)
    return found.path if found is not None else None


def info_from_manifest(m: ModelManifest) -> ModelInfo:
    """A :class:`ModelInfo` for ``m``, once its model file is known to exist.

    A built-in model file that is not on this machine yet is fetched here, once
    (:func:`segcam.inference.builtin_store.ensure`).
    """
    builtin_name = builtin_file_name(m.file)
    if builtin_name is not None:
        # Looked up now, not when the manifest was read (the manifests are cached for
        # the process, and the files may have been installed since).
        m = dataclasses.replace(m, path=builtin_store.ensure(builtin_name))
    if m.path is None:
        package = m.file.split(":", 1)[1].split("/", 1)[0]
        raise ModelError(
            f"model {m.name!r} is inside the Python package {package!r}, which is not "
            f"installed: pip install {package}"
        )
    if not m.path.exists():
        where = f" (file in {m.source})" if m.source else ""
        raise ModelError(f"model file not found: {m.path}{where}")
    if not m.path.is_file():
        raise ModelError(f"model path is not a file: {m.path}")
    return ModelInfo(m.name, m.path, m.input_size, m.description, m)


def resolve_model(name_or_path: str) -> ModelInfo:
    """Turn ``--model`` (a name, a manifest or a model file) into a :class:`ModelInfo`."""
    text = name_or_path.strip()
    key = text.lower()
    if not key:
        raise ModelError("empty model name: use one of " + ", ".join(BUILTIN_MODELS))
    builtin = builtin_manifests()
    if key in builtin:
        return info_from_manifest(builtin[key])
    looks_like_path = (
        os.sep in text
        or "/" in text
        or Path(text).suffix.lower() in (".toml", ".tflite", ".onnx")
        or Path(os.path.expanduser(text)).exists()
    )
    if not looks_like_path:
        users, broken = user_manifests()
        if key in users:
            return info_from_manifest(users[key])
        for p, err in broken.items():
            if p.stem.lower() == key:
                raise err
    if looks_like_path:
        return _resolve_path(text)
    if key.split(":", 1)[0] == "bgsub":
        raise ModelError(
            f"{name_or_path!r} is background subtraction, not a model file: "
            "it works as --model bgsub only"
        )
    users, _ = user_manifests()
    names = list(builtin) + [n for n in users if n not in builtin]
    raise ModelError(
        f"unknown model {name_or_path!r}: use one of {', '.join(names)}, "
        "bgsub (static background subtraction, no model), a manifest (.toml) or a .tflite file "
        "('segcam models list' shows them)"
    )


def _resolve_path(text: str) -> ModelInfo:
    from segcam.resources import models_dir

    path = Path(os.path.expanduser(text))
    suffix = path.suffix.lower()
    if suffix == ".toml":
        return info_from_manifest(load_manifest(path))
    if not path.exists():
        raise ModelError(f"model file not found: {text}")
    if not path.is_file():
        raise ModelError(f"model path is not a file: {text}")
    if suffix == ".onnx":
        raise ModelError(
            f'{text}: an ONNX model needs a manifest (engine = "onnx") that says how to '
            f"call it; the format, with examples, is in {models_dir() / 'README.md'}"
        )
    return info_from_manifest(bare_tflite_manifest(path))
