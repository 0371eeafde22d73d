"""The TOML config file shared by the CLI (and, later, the desktop app).

Location: ``$SEGCAM_CONFIG`` if set, else ``config.toml`` in the platform's user
config folder (``~/.config/segcam/`` on Linux), or ``--config PATH``. Keys::

    model = "landscape"          # or "general", or a .tflite path
    threads = 1
    background = "blur:12"       # same forms as --background
    filters = "default"          # same syntax as --filters

Options given on the command line win over the file. Loading is strict: an
unknown key or an invalid value is a :class:`~segcam.errors.ConfigError` that
names the file and the key, never a silently ignored setting.
"""

from __future__ import annotations

import os
import sys
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
    try:
        with p.open("rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {p} is not valid TOML: {e}") from None
    except OSError as e:
        raise ConfigError(f"cannot read config file {p}: {e.strerror}") from None
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in KEYS:
            raise ConfigError(
                f"unknown setting {key!r} in {p}: valid settings are {', '.join(KEYS)}"
            )
        kind = KEYS[key][0]
        if not isinstance(value, kind) or isinstance(value, bool) != (kind is bool):
            expected = "an integer" if kind is int else "a string"
            raise ConfigError(f"invalid {key} = {value!r} in {p}: expected {expected}")
        values[key] = value
    return FileSettings(p, values)


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
        )
    except ConfigError as e:
        from_file = [k for k in chosen if k in fs.values and getattr(args, k, None) is None]
        if from_file and fs.path is not None:
            raise ConfigError(f"{e} (set in {fs.path})") from None
        raise
