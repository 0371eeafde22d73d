"""Model manifests: a small TOML file that says how to call a segmentation model.

The format is documented, with examples, in ``models/README.md``. In short::

    name = "mnv3"                      # optional, default: the manifest's file name
    description = "..."                # optional
    file = "mnv3_seg_float.tflite"     # relative to the manifest's folder, or
                                       # "package:NAME/path" for a file inside the
                                       # installed Python package NAME, or
                                       # "builtin:selfie_segmentation.tflite" for a
                                       # MediaPipe selfie model (builtin_store)
    engine = "litert"                  # or "onnx"

    [input]
    size = [256, 256]                  # width, height (default: read from the model)
    layout = "NHWC"                    # or "NCHW"
    dtype = "float32"                  # or "float16" / "int8" / "uint8"; scale and zero point
                                       # come from the model file
    colour = "RGB"                     # or "BGR"
    normalise = "symmetric"            # a preset, or mean/std/scale (below)
    # mean = [127.5, 127.5, 127.5]     # y = (x - mean) / std * scale, x in 0..255,
    # std = [127.5, 127.5, 127.5]      # one value per channel, in the model's
    # scale = 1.0                      # channel order (the colour order)
    aspect = "stretch"                 # or "letterbox" / "centre-crop"
    prior = "none"                     # or "channel": the previous mask is the
                                       # channel after the colour channels

    [output]
    decode = "softmax"                 # "probability", "sigmoid" or "softmax"
    channel = 1                        # which channel is the person
    layout = "NHWC"                    # or "NCHW" / "flat" (default: from the rank)

    [[state]]                          # recurrent state fed back frame to frame
    input = "r1i"
    output = "r1o"

    [[constant]]                       # an input held at a fixed value
    input = "downsample_ratio"
    value = [0.25]

Loading is strict: an unknown key, a wrong type or an unknown value is a
:class:`~segcam.errors.ModelError` naming the manifest and the field. Whether the
manifest fits the model's real tensors is checked when the model is loaded
(:mod:`segcam.inference.segmenter`).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segcam.errors import ModelError
from segcam.packages import find_package_file, is_installed, is_package_name, safe_relative

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ENGINES = ("litert", "onnx")
INPUT_LAYOUTS = ("NHWC", "NCHW")
OUTPUT_LAYOUTS = ("NHWC", "NCHW", "flat")
INPUT_DTYPES = ("float32", "float16", "int8", "uint8")
COLOURS = ("RGB", "BGR")
ASPECTS = ("stretch", "letterbox", "centre-crop")
DECODES = ("probability", "sigmoid", "softmax")
PRIORS = ("none", "channel")

#: Normalisation presets: (mean, std, scale) in RGB order, for y = (x - mean) / std * scale.
NORMALISE_PRESETS: dict[str, tuple[tuple[float, ...], tuple[float, ...], float]] = {
    "unit": ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), 1.0 / 255.0),  # [0, 1]
    "symmetric": ((127.5, 127.5, 127.5), (127.5, 127.5, 127.5), 1.0),  # [-1, 1]
    "imagenet": ((123.675, 116.28, 103.53), (58.395, 57.12, 57.375), 1.0),
    "none": ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), 1.0),  # raw 0..255
}

_TOP_KEYS = {"name", "description", "file", "engine", "input", "output", "state", "constant"}
_INPUT_KEYS = {
    "tensor",
    "size",
    "layout",
    "dtype",
    "colour",
    "normalise",
    "mean",
    "std",
    "scale",
    "aspect",
    "pad",
    "prior",
    "prior_scale",
}
_OUTPUT_KEYS = {"tensor", "decode", "channel", "layout", "size"}
_STATE_KEYS = {"input", "output", "shape"}
_CONSTANT_KEYS = {"input", "value"}

PACKAGE_PREFIX = "package:"
BUILTIN_PREFIX = "builtin:"


@dataclass(frozen=True, slots=True)
class InputSpec:
    """How a BGR uint8 frame becomes the model's image input."""

    tensor: str | None = None
    size: tuple[int, int] | None = None
    """``(width, height)``; None: taken from the model's input tensor."""
    layout: str = "NHWC"
    dtype: str = "float32"
    colour: str = "RGB"
    normalise: str = "unit"
    """the preset's name, or ``custom`` when mean/std/scale were given."""
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    scale: float = 1.0 / 255.0
    aspect: str = "stretch"
    pad: int = 0
    """grey level (0..255) of the letterbox bars."""
    prior: str = "none"
    prior_scale: float = 1.0
    """the prior channel holds ``P(person) * prior_scale`` (before quantisation)."""

    @property
    def channels(self) -> int:
        return 3 + (self.prior == "channel")


@dataclass(frozen=True, slots=True)
class OutputSpec:
    """How the model's output becomes P(person)."""

    tensor: str | None = None
    decode: str = "probability"
    channel: int | None = None
    layout: str | None = None
    """None: from the tensor's rank (2: flat, 3: [1, H, W], 4: the input's layout)."""
    size: tuple[int, int] | None = None
    """``(width, height)`` of a flat output; default: the input size."""


@dataclass(frozen=True, slots=True)
class StateSpec:
    """A recurrent state: ``output`` of one frame is fed to ``input`` on the next."""

    input: str
    output: str
    shape: tuple[int, ...] | None = None
    """the zero state's shape; default: the input tensor's shape, dynamic dims as 1."""


@dataclass(frozen=True, slots=True)
class ConstantSpec:
    input: str
    value: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class ModelManifest:
    """A parsed, type-checked manifest. ``path`` is the model file, ``source`` the TOML."""

    name: str
    file: str
    path: Path | None
    engine: str = "litert"
    description: str = ""
    input: InputSpec = field(default_factory=InputSpec)
    output: OutputSpec = field(default_factory=OutputSpec)
    states: tuple[StateSpec, ...] = ()
    constants: tuple[ConstantSpec, ...] = ()
    source: Path | None = None
    origin: str = "user"
    """``builtin``, ``user`` (user data folder), ``path`` (given on the command line)
    or ``bare`` (a .tflite file without a manifest)."""

    @property
    def input_size(self) -> tuple[int, int]:
        """``(width, height)``, or ``(0, 0)`` when the model file decides."""
        return self.input.size or (0, 0)

    def to_toml(self) -> str:
        """The manifest as TOML (resolved: presets expanded, defaults filled in)."""
        i, o = self.input, self.output
        lines = [f"name = {_q(self.name)}"]
        if self.description:
            lines.append(f"description = {_q(self.description)}")
        lines += [f"file = {_q(self.file)}", f"engine = {_q(self.engine)}", "", "[input]"]
        if i.tensor:
            lines.append(f"tensor = {_q(i.tensor)}")
        if i.size:
            lines.append(f"size = [{i.size[0]}, {i.size[1]}]")
        lines += [
            f"layout = {_q(i.layout)}",
            f"dtype = {_q(i.dtype)}",
            f"colour = {_q(i.colour)}",
        ]
        if i.normalise == "custom":
            lines += [
                f"mean = [{', '.join(f'{v:.9g}' for v in i.mean)}]",
                f"std = [{', '.join(f'{v:.9g}' for v in i.std)}]",
                f"scale = {i.scale:.9g}",
            ]
        else:
            lines.append(f"normalise = {_q(i.normalise)}")
        lines.append(f"aspect = {_q(i.aspect)}")
        if i.aspect == "letterbox":
            lines.append(f"pad = {i.pad}")
        lines.append(f"prior = {_q(i.prior)}")
        if i.prior != "none":
            lines.append(f"prior_scale = {i.prior_scale:g}")
        lines += ["", "[output]"]
        if o.tensor:
            lines.append(f"tensor = {_q(o.tensor)}")
        lines.append(f"decode = {_q(o.decode)}")
        if o.channel is not None:
            lines.append(f"channel = {o.channel}")
        if o.layout:
            lines.append(f"layout = {_q(o.layout)}")
        if o.size:
            lines.append(f"size = [{o.size[0]}, {o.size[1]}]")
        for s in self.states:
            lines += ["", "[[state]]", f"input = {_q(s.input)}", f"output = {_q(s.output)}"]
            if s.shape:
                lines.append(f"shape = [{', '.join(map(str, s.shape))}]")
        for c in self.constants:
            values = ", ".join(f"{v:g}" for v in c.value)
            lines += ["", "[[constant]]", f"input = {_q(c.input)}", f"value = [{values}]"]
        return "\n".join(lines) + "\n"


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# -- parsing ----------------------------------------------------------------------------


class _Fields:
    """Type-checked access to one TOML table; every error names ``where.key``."""

    def __init__(self, data: dict, where: str, allowed: set[str], origin: str) -> None:
        self.data, self.where, self.origin = data, where, origin
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise self.error(
                unknown[0], f"is not a manifest field (valid: {', '.join(sorted(allowed))})"
            )

    def key(self, k: str) -> str:
        return f"{self.where}.{k}" if self.where else k

    def error(self, k: str, message: str) -> ModelError:
        return ModelError(f"{self.origin}: {self.key(k)} {message}")

    def string(self, k: str, default: str | None = None, choices=None) -> str | None:
        v = self.data.get(k, default)
        if v is None:
            return None
        if not isinstance(v, str):
            raise self.error(k, f"must be a string, not {v!r}")
        if choices is not None:
            match = {c.lower(): c for c in choices}.get(v.strip().lower())
            if match is None:
                raise self.error(k, f"= {v!r} is unknown: use one of {', '.join(choices)}")
            return match
        return v

    def number(self, k: str, default: float | None = None) -> float | None:
        v = self.data.get(k, default)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise self.error(k, f"must be a number, not {v!r}")
        return float(v)

    def integer(self, k: str, default: int | None = None, lo: int = 0, hi: int = 1 << 30):
        v = self.data.get(k, default)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.error(k, f"must be an integer, not {v!r}")
        if not lo <= v <= hi:
            raise self.error(k, f"= {v} is out of range ({lo}..{hi})")
        return v

    def numbers(self, k: str, n: int | None = None) -> tuple[float, ...] | None:
        v = self.data.get(k)
        if v is None:
            return None
        if isinstance(v, int | float) and not isinstance(v, bool):
            v = [v]
        if not isinstance(v, list) or not v:
            raise self.error(k, f"must be a number or a list of numbers, not {v!r}")
        if any(isinstance(x, bool) or not isinstance(x, int | float) for x in v):
            raise self.error(k, f"must contain only numbers, not {v!r}")
        if n is not None:
            if len(v) == 1:
                v = v * n
            if len(v) != n:
                raise self.error(k, f"needs 1 or {n} values, not {len(v)}")
        return tuple(float(x) for x in v)

    def size(self, k: str) -> tuple[int, int] | None:
        v = self.data.get(k)
        if v is None:
            return None
        if (
            not isinstance(v, list)
            or len(v) != 2
            or any(isinstance(x, bool) or not isinstance(x, int) or not 1 <= x <= 8192 for x in v)
        ):
            raise self.error(k, f"must be [width, height] in pixels (1..8192), not {v!r}")
        return int(v[0]), int(v[1])

    def shape(self, k: str) -> tuple[int, ...] | None:
        v = self.data.get(k)
        if v is None:
            return None
        if (
            not isinstance(v, list)
            or not v
            or any(isinstance(x, bool) or not isinstance(x, int) or x < 1 for x in v)
        ):
            raise self.error(k, f"must be a list of positive integers, not {v!r}")
        return tuple(int(x) for x in v)

    def table(self, k: str) -> dict:
        v = self.data.get(k, {})
        if not isinstance(v, dict):
            raise self.error(k, "must be a table ([" + self.key(k) + "])")
        return v

    def tables(self, k: str) -> list[dict]:
        v = self.data.get(k, [])
        if isinstance(v, dict):
            v = [v]
        if not isinstance(v, list) or any(not isinstance(x, dict) for x in v):
            raise self.error(k, "must be an array of tables ([[" + self.key(k) + "]])")
        return v


def parse_manifest(
    data: dict[str, Any], *, origin: str, base: Path | None, source: Path | None, kind: str
) -> ModelManifest:
    """Build a :class:`ModelManifest` from parsed TOML; ``origin`` names it in errors."""
    top = _Fields(data, "", _TOP_KEYS, origin)
    file = top.string("file")
    if not file or not file.strip():
        raise top.error("file", "is missing: give the model file (relative to the manifest)")
    name = top.string("name") or (source.stem if source else Path(file).stem)
    if not name.strip() or any(c in name for c in "/\\:") or name.strip() != name:
        raise top.error("name", f"= {name!r} is not a usable model name")
    engine = top.string("engine", "litert", ENGINES)
    path = resolve_file(file, base, origin)

    inp = _Fields(top.table("input"), "input", _INPUT_KEYS, origin)
    colour = inp.string("colour", "RGB", COLOURS)
    preset = inp.string("normalise")
    explicit = {k: inp.data[k] for k in ("mean", "std", "scale") if k in inp.data}
    if preset is not None and explicit:
        raise inp.error(
            "normalise", f"and {', '.join(explicit)} conflict: give a preset or mean/std/scale"
        )
    if explicit:
        mean = inp.numbers("mean", 3) or (0.0, 0.0, 0.0)
        std = inp.numbers("std", 3) or (1.0, 1.0, 1.0)
        scale = inp.number("scale", 1.0)
        norm_name = "custom"
        if any(s == 0 for s in std):
            raise inp.error("std", "must not contain 0")
        if scale == 0:
            raise inp.error("scale", "must not be 0")
    else:
        key = (preset or "unit").strip().lower()
        if key not in NORMALISE_PRESETS:
            raise inp.error(
                "normalise",
                f"= {preset!r} is unknown: use one of {', '.join(NORMALISE_PRESETS)} "
                "or give mean/std/scale",
            )
        mean, std, scale = NORMALISE_PRESETS[key]
        if colour == "BGR":  # presets are in RGB order
            mean, std = mean[::-1], std[::-1]
        norm_name = key
    aspect_text = inp.string("aspect")
    if aspect_text is not None and aspect_text.strip().lower() == "center-crop":
        aspect_text = "centre-crop"
    aspect = _Fields({"aspect": aspect_text or "stretch"}, "input", {"aspect"}, origin).string(
        "aspect", choices=ASPECTS
    )
    input_spec = InputSpec(
        tensor=inp.string("tensor"),
        size=inp.size("size"),
        layout=inp.string("layout", "NHWC", INPUT_LAYOUTS),
        dtype=inp.string("dtype", "float32", INPUT_DTYPES),
        colour=colour,
        normalise=norm_name,
        mean=tuple(mean),
        std=tuple(std),
        scale=float(scale),
        aspect=aspect,
        pad=inp.integer("pad", 0, 0, 255),
        prior=inp.string("prior", "none", PRIORS),
        prior_scale=inp.number("prior_scale", 1.0),
    )

    out = _Fields(top.table("output"), "output", _OUTPUT_KEYS, origin)
    output_spec = OutputSpec(
        tensor=out.string("tensor"),
        decode=out.string("decode", "probability", DECODES),
        channel=out.integer("channel", None, 0, 1 << 16),
        layout=out.string("layout", None, OUTPUT_LAYOUTS),
        size=out.size("size"),
    )
    if output_spec.size is not None and output_spec.layout != "flat":
        raise out.error("size", 'applies only to layout = "flat" (other layouts carry their size)')

    states = []
    for i, t in enumerate(top.tables("state")):
        f = _Fields(t, f"state[{i}]", _STATE_KEYS, origin)
        sin, sout = f.string("input"), f.string("output")
        if not sin or not sout:
            raise f.error("input" if not sin else "output", "is missing (a tensor name)")
        states.append(StateSpec(sin, sout, f.shape("shape")))
    constants = []
    for i, t in enumerate(top.tables("constant")):
        f = _Fields(t, f"constant[{i}]", _CONSTANT_KEYS, origin)
        cin = f.string("input")
        if not cin:
            raise f.error("input", "is missing (a tensor name)")
        value = f.numbers("value")
        if value is None:
            raise f.error("value", "is missing")
        constants.append(ConstantSpec(cin, value))
    extra = [s.input for s in states] + [c.input for c in constants]
    if len(set(extra)) != len(extra):
        raise top.error("state", "and constant entries name the same input twice")
    if input_spec.tensor and input_spec.tensor in extra:
        raise inp.error("tensor", f"= {input_spec.tensor!r} is also a state or constant input")

    return ModelManifest(
        name=name,
        file=file,
        path=path,
        engine=engine,
        description=top.string("description", "") or "",
        input=input_spec,
        output=output_spec,
        states=tuple(states),
        constants=tuple(constants),
        source=source,
        origin=kind,
    )


def resolve_file(file: str, base: Path | None, origin: str) -> Path | None:
    """The model file a manifest's ``file`` names (None: not on this machine yet).

    * ``builtin:NAME.tflite`` is one of MediaPipe's selfie models, kept by
      :mod:`segcam.inference.builtin_store` (None until it is installed; the model
      registry fetches it on first use);
    * ``package:NAME/relative/path`` is a file inside the installed Python package
      NAME, located without importing anything (:mod:`segcam.packages`): NAME is a
      top-level name (no dots) and the path may not leave the package (no ``..``).
      ``package:mediapipe/modules/selfie_segmentation/...`` files are the built-in
      ones, so they are taken from the store as well;
    * other values may use ``~`` and are relative to the manifest's folder.
    """
    from segcam.inference import builtin_store

    if file.startswith(BUILTIN_PREFIX):
        name = file[len(BUILTIN_PREFIX) :]
        if name not in builtin_store.FILES:
            raise ModelError(
                f"{origin}: file = {file!r}: the built-in files are "
                + ", ".join(f"builtin:{n}" for n in builtin_store.FILES)
            )
        found = builtin_store.find(name)
        return found.path if found is not None else None
    if file.startswith(PACKAGE_PREFIX):
        package, _, relative = file[len(PACKAGE_PREFIX) :].partition("/")
        if not package or not relative:
            raise ModelError(f"{origin}: file = {file!r} must be package:NAME/path/inside")
        if not is_package_name(package):
            raise ModelError(
                f"{origin}: file = {file!r}: {package!r} is not a top-level package name "
                "(no dots; segcam never imports a package to find a file)"
            )
        if not safe_relative(relative):
            raise ModelError(
                f"{origin}: file = {file!r}: the path must stay inside the package "
                "(no '..', not absolute)"
            )
        store_name = _builtin_name(package, relative)
        if store_name is not None:
            found = builtin_store.find(store_name)
            return found.path if found is not None else None
        if not is_installed(package):
            return None
        found_file = find_package_file(package, relative)
        return found_file if found_file is not None else Path(package) / relative
    path = Path(os.path.expanduser(file))
    if not path.is_absolute() and base is not None:
        path = Path(os.path.normpath(base / path))
    return path


def builtin_file_name(file: str) -> str | None:
    """The built-in store's file name a manifest's ``file`` refers to, if it is one."""
    from segcam.inference import builtin_store

    if file.startswith(BUILTIN_PREFIX):
        name = file[len(BUILTIN_PREFIX) :]
        return name if name in builtin_store.FILES else None
    if file.startswith(PACKAGE_PREFIX):
        package, _, relative = file[len(PACKAGE_PREFIX) :].partition("/")
        return _builtin_name(package, relative)
    return None


def _builtin_name(package: str, relative: str) -> str | None:
    from segcam.inference import builtin_store

    folder, _, name = relative.rpartition("/")
    if (
        package == builtin_store.SOURCE_PACKAGE
        and folder == builtin_store.PACKAGE_FOLDER
        and name in builtin_store.FILES
    ):
        return name
    return None


def load_manifest(path: str | Path, *, kind: str = "path") -> ModelManifest:
    """Read and check a manifest file (not yet against the model: see the segmenter)."""
    p = Path(os.path.expanduser(str(path)))
    if not p.exists():
        raise ModelError(f"model manifest not found: {path}")
    if not p.is_file():
        raise ModelError(f"model manifest is not a file: {path}")
    try:
        with p.open("rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ModelError(f"model manifest {p} is not valid TOML: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ModelError(f"cannot read model manifest {p}: {e}") from None
    return parse_manifest(data, origin=str(p), base=p.resolve().parent, source=p, kind=kind)


def bare_tflite_manifest(path: Path) -> ModelManifest:
    """The contract of a ``.tflite`` given without a manifest: MediaPipe's selfie models'.

    One float32 NHWC RGB input in [0, 1], stretched; one probability per pixel out.
    """
    return ModelManifest(
        name=path.stem,
        file=str(path),
        path=path,
        description=f"user model {path} (MediaPipe contract: RGB in [0, 1], probability out)",
        origin="bare",
    )
