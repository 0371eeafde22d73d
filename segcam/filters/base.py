"""Filter registry, parameters and the ``--filters`` chain syntax.

Two kinds of filters share one registry:

* **mask filters** refine the person mask. Their ``stage`` says where they run:
  ``"mask"`` filters take and return the float32 probability mask at *model*
  resolution (cheap: 256x144 is 37k pixels); the one ``"upsample"`` filter turns it
  into the full-resolution uint8 alpha (bilinear by default, ``refine`` for the
  edge-aware version); ``"alpha"`` filters work on that uint8 alpha.
* **frame filters** change how the person meets the background. ``"foreground"``
  filters adjust the person's pixels before the blend (colour transfer,
  harmonize); a ``"blend"`` filter replaces the alpha blend (seamless clone);
  ``"post"`` filters work on the composite (light wrap).

Syntax of a chain (``--filters`` and the config file)::

    temporal:strength=0.6,smoothstep:lo=0.3:hi=0.7,refine,feather:sigma=1.5

Filters are separated by commas and parameters follow the filter name after
colons. A parameter may also follow as its own comma-separated item
(``smoothstep:lo=0.3,hi=0.7``). ``none`` is the empty chain and ``default``
the default chain. ``-name`` drops a filter from the chain so far: ``live,-skip``
is the live chain without inference skipping. Unknown names, unknown parameters
and out-of-range values raise :class:`~segcam.errors.ConfigError` listing what is valid.

Threading: a filter instance belongs to one worker thread and may keep state
between frames (``reset()`` forgets it). Filters own their scratch buffers;
arrays they return are valid until their next call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from segcam.errors import ConfigError

Stage = Literal["mask", "upsample", "alpha", "foreground", "blend", "post"]
MASK_STAGES: tuple[Stage, ...] = ("mask", "upsample", "alpha")
FRAME_STAGES: tuple[Stage, ...] = ("foreground", "blend", "post")


@dataclass(frozen=True, slots=True)
class Param:
    """One named, validated filter parameter."""

    name: str
    default: float | int | bool | str
    lo: float | None = None
    hi: float | None = None
    help: str = ""
    choices: tuple[str, ...] = ()

    def parse(self, filter_name: str, text: str | float | int | bool) -> Any:
        kind = type(self.default)
        where = f"{filter_name}:{self.name}"
        if kind is bool:
            if isinstance(text, bool):
                return text
            low = str(text).strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ConfigError(f"invalid value {text!r} for {where}: expected true or false")
        if kind is str:
            value = str(text).strip()
            if self.choices and value not in self.choices:
                raise ConfigError(
                    f"invalid value {text!r} for {where}: choose one of {', '.join(self.choices)}"
                )
            return value
        try:
            value = kind(float(text)) if kind is int and float(text).is_integer() else kind(text)
        except (TypeError, ValueError):
            raise ConfigError(
                f"invalid value {text!r} for {where}: "
                f"expected {'an integer' if kind is int else 'a number'}"
            ) from None
        if value != value:  # NaN
            raise ConfigError(f"invalid value {text!r} for {where}: not a number")
        if (self.lo is not None and value < self.lo) or (self.hi is not None and value > self.hi):
            raise ConfigError(
                f"{where}={text} is out of range: must be between {self.lo:g} and {self.hi:g}"
            )
        return value


@dataclass(frozen=True, slots=True)
class FilterInfo:
    """A registered filter: its name, stage, parameters and factory."""

    name: str
    stage: Stage
    factory: Callable[..., Any]
    params: tuple[Param, ...] = ()
    help: str = ""
    hotkey: str | None = None

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        valid = ", ".join(p.name for p in self.params) or "none"
        raise ConfigError(f"unknown parameter {name!r} for filter {self.name}: valid: {valid}")

    def describe(self) -> str:
        ps = ", ".join(f"{p.name}={p.default}" for p in self.params)
        return f"{self.name} [{self.stage}] {self.help}" + (f" ({ps})" if ps else "")


REGISTRY: dict[str, FilterInfo] = {}


def register(
    name: str,
    stage: Stage,
    params: tuple[Param, ...] = (),
    help: str = "",
    hotkey: str | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Class decorator: make a filter available to ``--filters`` under ``name``."""

    def deco(factory: Callable[..., Any]) -> Callable[..., Any]:
        REGISTRY[name] = FilterInfo(name, stage, factory, params, help, hotkey)
        return factory

    return deco


@dataclass(frozen=True, slots=True)
class FilterSpec:
    """One filter in a chain: a name and its fully validated parameters."""

    name: str
    params: tuple[tuple[str, Any], ...] = field(default=())

    @property
    def info(self) -> FilterInfo:
        return REGISTRY[self.name]

    def kwargs(self) -> dict[str, Any]:
        return dict(self.params)

    def build(self) -> Any:
        return self.info.factory(**self.kwargs())

    def text(self) -> str:
        info = self.info
        changed = [(k, v) for k, v in self.params if info.param(k).default != v]
        return self.name + "".join(f":{k}={_fmt(v)}" for k, v in changed)


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _ensure_loaded() -> None:
    # Importing the filter modules registers them.
    from segcam.filters import clean_plate, frame_filters, mask_filters  # noqa: F401


def known_filters() -> dict[str, FilterInfo]:
    _ensure_loaded()
    return REGISTRY


def make_spec(name: str, given: dict[str, Any] | None = None) -> FilterSpec:
    """Validate ``given`` parameters for filter ``name`` and fill in the defaults."""
    filters = known_filters()
    if name not in filters:
        raise ConfigError(
            f"unknown filter {name!r}: valid filters are {', '.join(sorted(filters))}"
        )
    info = filters[name]
    values = {p.name: p.default for p in info.params}
    for key, raw in (given or {}).items():
        values[key] = info.param(key).parse(name, raw)
    _check_cross_params(info, values)
    return FilterSpec(name, tuple(values.items()))


def _check_cross_params(info: FilterInfo, values: dict[str, Any]) -> None:
    if "lo" in values and "hi" in values and not values["lo"] < values["hi"]:
        raise ConfigError(f"{info.name}: lo ({values['lo']:g}) must be below hi ({values['hi']:g})")


def parse_chain(text: str) -> tuple[FilterSpec, ...]:
    """Parse a ``--filters`` string (see the module docstring) into validated specs."""
    from segcam.filters.chain import NAMED_CHAINS

    t = (text or "").strip()
    if t.lower() in ("", "none"):
        return ()
    # "default" and "live" may also stand inside a longer chain: "live,colour".
    t = ",".join(NAMED_CHAINS.get(x.strip().lower(), x) for x in t.split(","))
    items: list[tuple[str, dict[str, str]]] = []
    for raw in t.split(","):
        token = raw.strip()
        if not token:
            continue
        if token.startswith("-"):  # "live,-skip": the chain so far, less that filter
            drop = token[1:].strip().lower()
            if drop not in known_filters():
                raise ConfigError(
                    f"unknown filter {drop!r} in {token!r}: valid filters are "
                    f"{', '.join(sorted(known_filters()))}"
                )
            items = [item for item in items if item[0] != drop]
            continue
        head = token.split(":", 1)[0]
        if "=" in head:  # "hi=0.7" continues the previous filter
            if not items:
                raise ConfigError(f"parameter {token!r} in --filters comes before any filter name")
            key, _, value = token.partition("=")
            items[-1][1][key.strip()] = value.strip()
            continue
        name, *params = token.split(":")
        given: dict[str, str] = {}
        for p in params:
            key, eq, value = p.partition("=")
            if not eq:
                raise ConfigError(f"invalid parameter {p!r} for {name}: expected name=value")
            given[key.strip()] = value.strip()
        items.append((name.strip().lower(), given))
    specs = tuple(make_spec(name, given) for name, given in items)
    seen: set[str] = set()
    for s in specs:
        if s.name in seen:
            raise ConfigError(f"filter {s.name} appears twice in the chain")
        seen.add(s.name)
    upsamplers = [s.name for s in specs if s.info.stage == "upsample"]
    blends = [s.name for s in specs if s.info.stage == "blend"]
    if len(upsamplers) > 1:
        raise ConfigError(f"only one upsampling filter may be used, got {', '.join(upsamplers)}")
    if len(blends) > 1:
        raise ConfigError(f"only one blend filter may be used, got {', '.join(blends)}")
    return specs


def chain_text(specs: tuple[FilterSpec, ...]) -> str:
    """The canonical ``--filters`` string for ``specs`` (``none`` when empty)."""
    return ",".join(s.text() for s in specs) or "none"
