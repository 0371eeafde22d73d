"""The TOML config file shared by the CLI and the desktop app.

Location: ``$SEGCAM_CONFIG`` if set, else ``config.toml`` in the platform's user
config folder (``~/.config/segcam/`` on Linux), or ``--config PATH``. Keys::

    model = "landscape"          # or "general", or a .tflite path
    threads = 1
    background = "blur:12"       # same forms as --background
    filters = "default"          # same syntax as --filters
    accelerator = "cpu"          # cpu, gpu or auto (same as --accelerator)

The desktop app also keeps its own state here (the CLI ignores these keys)::

    source = "auto"              # last input: a camera index or device, demo, a file
    mirror = true                # mirror the preview
    threshold = 0.6              # mask threshold slider (centre of the smoothstep)
    lowlight_strength = 1.0      # the low-light control: lowlight's strength, 0..1
    focal_far = 24.0             # the focal-blur control: focal's far, 2..100
    framing_size = 0.0           # the auto-framing control: framing's size (0: its default)
    blur_strength = 12.0         # the gallery's blur entry, 1..100
    background_colour = "#00b140"  # the gallery's solid colour entry
    backgrounds = ["/home/me/beach.jpg"]  # images and videos added to the gallery
    window = "1280x800+40+30"    # window geometry, WxH+X+Y (", maximized" may follow)

Options given on the command line win over the file. Loading is strict: an
unknown key or an invalid value is a :class:`~segcam.errors.ConfigError` that
names the file and the key, never a silently ignored setting. The desktop app
writes the file with :func:`update` (atomically: a temporary file, then a
rename) and, when it finds the file corrupt, keeps a copy and starts from the
defaults (:func:`load_or_reset`).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from segcam.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

#: key -> (type, built-in default)
KEYS: dict[str, tuple[type, Any]] = {
    "model": (str, "landscape"),
    "threads": (int, 1),
    "background": (str, "blur"),
    "filters": (str, "default"),
    "accelerator": (str, "cpu"),
    # The desktop app's state (see the module docstring).
    "source": (str, "auto"),
    "mirror": (bool, True),
    "threshold": (float, 0.6),
    "lowlight_strength": (float, 1.0),
    "focal_far": (float, 24.0),
    "framing_size": (float, 0.0),
    "blur_strength": (float, 12.0),
    "background_colour": (str, "#00b140"),
    "backgrounds": (list, []),
    "window": (str, ""),
}

_EXPECTED = {
    int: "an integer",
    str: "a string",
    bool: "true or false",
    float: "a number",
    list: "a list of strings",
}


def default_path() -> Path:
    env = os.environ.get("SEGCAM_CONFIG")
    if env:
        return Path(env)
    from platformdirs import user_config_dir

    return Path(user_config_dir("segcam")) / "config.toml"


@dataclass(frozen=True, slots=True)
class FileSettings:
    """Values from the config file, already type-checked (None where the file is silent)."""

    path: Path | None
    values: dict[str, Any]

    def get(self, key: str, cli_value: Any) -> Any:
        """The command line's value if given, else the file's, else the built-in default."""
        if cli_value is not None:
            return cli_value
        if key in self.values:
            return self.values[key]
        return KEYS[key][1]


def load(path: str | Path | None = None) -> FileSettings:
    """Read the config file. A missing default file is fine; a missing ``--config`` is not."""
    explicit = path is not None
    p = Path(path) if explicit else default_path()
    if not p.exists():
        if explicit:
            raise ConfigError(f"config file not found: {p}")
        return FileSettings(None, {})
    if not p.is_file():
        # A folder, a device or a FIFO (which would block the read forever).
        raise ConfigError(f"config file {p} is not a regular file")
    try:
        with p.open("rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as e:
        raise ConfigError(f"cannot read config file {p}: {e.strerror}") from None
    data = _parse(raw, p)
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in KEYS:
            raise ConfigError(
                f"unknown setting {key!r} in {p}: valid settings are {', '.join(KEYS)}"
            )
        if not _type_ok(KEYS[key][0], value):
            raise ConfigError(
                f"invalid {key} = {value!r} in {p}: expected {_EXPECTED[KEYS[key][0]]}"
            )
        values[key] = float(value) if KEYS[key][0] is float else value
    return FileSettings(p, values)


#: A settings file is a few hundred bytes; anything this large is not one, and
#: reading it whole would make a mistyped ``--config`` cost memory and time.
MAX_CONFIG_BYTES = 1 << 20


def _parse(raw: bytes, p: Path) -> dict[str, Any]:
    """The TOML document in ``raw``, or a :class:`ConfigError` naming ``p`` and the problem."""
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config file {p} is larger than {MAX_CONFIG_BYTES >> 20} MiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"config file {p} is not UTF-8 text (byte {e.start}); save it as UTF-8"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {p} is not valid TOML: {e}") from None
    except RecursionError:
        # tomllib parses nested arrays and tables recursively; no setting nests.
        raise ConfigError(f"config file {p} nests arrays or tables too deeply") from None


def _type_ok(kind: type, value: Any) -> bool:
    if isinstance(value, bool):
        return kind is bool
    if kind is float:
        return isinstance(value, (int, float)) and math.isfinite(value)
    if kind is list:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return isinstance(value, kind)


def _toml_value(value: Any) -> str:
    """One value in TOML syntax (the types of :data:`KEYS` only)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        return text if any(c in text for c in ".en") else text + ".0"
    if isinstance(value, str):
        # JSON's escapes (\", \\, \n, \uXXXX ...) are all valid in a TOML basic string.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to the config file")


_HEADER = (
    "# segcam settings, shared by the command line and the desktop app.\n"
    "# The desktop app rewrites this file when it closes: edit it while segcam is not running.\n"
)


def dumps(values: dict[str, Any]) -> str:
    """The config file text for ``values`` (known keys only, in :data:`KEYS` order)."""
    lines = [_HEADER]
    for key in KEYS:
        if key in values:
            value = values[key]
            if not _type_ok(KEYS[key][0], value):
                raise ConfigError(
                    f"cannot save {key} = {value!r}: expected {_EXPECTED[KEYS[key][0]]}"
                )
            lines.append(f"{key} = {_toml_value(value)}\n")
    unknown = sorted(set(values) - set(KEYS))
    if unknown:
        raise ConfigError(f"cannot save unknown setting(s) {', '.join(unknown)}")
    return "".join(lines)


def write(values: dict[str, Any], path: str | Path | None = None) -> Path:
    """Replace the config file with ``values``, atomically (a reader never sees half a file)."""
    p = Path(path) if path is not None else default_path()
    text = dumps(values)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, p)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise
    except OSError as e:
        raise ConfigError(f"cannot save settings to {p}: {e.strerror or e}") from None
    return p


def update(changes: dict[str, Any], path: str | Path | None = None) -> Path:
    """Merge ``changes`` into the config file and write it; keys it does not name are kept.

    A value of None removes the key (back to the built-in default). The existing
    file is read strictly: a corrupt file raises :class:`ConfigError` (the desktop
    app calls :func:`load_or_reset` first, which repairs it).
    """
    p = Path(path) if path is not None else default_path()
    values = dict(load(p).values) if p.exists() else {}
    for key, value in changes.items():
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value
    return write(values, p)


def load_or_reset(path: str | Path | None = None) -> tuple[FileSettings, str | None]:
    """:func:`load`, but a corrupt file is set aside and replaced with the defaults.

    Returns the settings and, when the file was reset, a one-line message saying
    what was wrong and where the old file went (``config.toml.bak-YYYYmmdd-HHMMSS``).
    A missing ``--config`` file is still an error, as for the CLI.
    """
    try:
        return load(path), None
    except ConfigError as e:
        p = Path(path) if path is not None else default_path()
        if not p.exists():
            raise
        return FileSettings(p, {}), reset(p, str(e))


def reset(path: str | Path, reason: str) -> str:
    """Move a bad config file aside, write a fresh one with the defaults; return a message."""
    p = Path(path)
    backup = p.with_name(f"{p.name}.bak-{time.strftime('%Y%m%d-%H%M%S')}")
    n = 1
    while backup.exists():
        n += 1
        backup = p.with_name(f"{p.name}.bak-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
    try:
        os.replace(p, backup)
    except OSError as e:
        raise ConfigError(f"{reason}; and it cannot be moved aside: {e.strerror or e}") from None
    write({}, p)
    return f"{reason}. It was saved as {backup.name} and segcam started from the default settings."


def pipeline_settings(args: Any, *, background: str | None = None):
    """The :class:`~segcam.config.PipelineSettings` for a command's ``args``.

    Reads the config file (``args.config`` or the default one); options given on
    the command line win. ``background`` forces a background (``mask`` for
    ``segcam mask``). Values from the file are validated like options, and an
    error names the file.
    """
    from segcam.config import PipelineSettings, parse_background
    from segcam.filters.base import parse_chain

    fs = load(getattr(args, "config", None))
    chosen = {
        "model": fs.get("model", args.model),
        "threads": fs.get("threads", args.threads),
        "background": background or fs.get("background", getattr(args, "background", None)),
        "filters": fs.get("filters", args.filters),
        "accelerator": fs.get("accelerator", getattr(args, "accelerator", None)),
    }
    try:
        filters = parse_chain(chosen["filters"])
        if chosen["filters"].strip().lower() == "default" and chosen["model"].lower().startswith(
            "bgsub"
        ):
            # The default chain's ensemble would average a neural model into the
            # model-free mask; bgsub users chose bgsub to avoid exactly that.
            filters = tuple(f for f in filters if f.name != "ensemble")
        return PipelineSettings(
            model=chosen["model"],
            threads=chosen["threads"],
            background=parse_background(chosen["background"]),
            filters=filters,
            accelerator=chosen["accelerator"],
        )
    except ConfigError as e:
        from_file = [k for k in chosen if k in fs.values and getattr(args, k, None) is None]
        if from_file and fs.path is not None:
            raise ConfigError(f"{e} (set in {fs.path})") from None
        raise
