"""What the desktop app's controls say, and how that becomes pipeline settings (no Qt here).

:class:`GuiState` is the single source of truth for the window: every control
edits it, and :meth:`GuiState.pipeline_settings` turns it into the immutable
:class:`~segcam.config.PipelineSettings` snapshot the worker swaps in between
frames. It also reads and writes the config-file values (see
:mod:`segcam.settings_file`). GUI thread only.

Filter toggles edit the ``--filters`` chain: switching a filter on inserts it at
its place in the chain (mask filters before the upsampler, colour before the
blend, ...), with the parameters it had when it was switched off, if it was.
The threshold slider is the centre of the smoothstep filter's ``[lo, hi]``
ramp; moving it keeps the ramp's width.

Each effect with a control (:data:`EFFECT_CONTROLS`: low light's strength, focal
blur's ``far``, auto-framing's ``size``) edits one parameter of its filter. The
value is kept here whether the effect is on or off, is saved under its own key in
the config file (as the threshold is), and is the parameter the filter gets when it
is switched on; while it is on, a change replaces only that filter's spec, so the
worker rebuilds that filter alone.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from typing import Any

from segcam.config import DEFAULT_BLUR, BackgroundSpec, PipelineSettings, parse_background
from segcam.errors import ConfigError
from segcam.filters.base import FilterSpec, chain_text, known_filters, make_spec, parse_chain

#: The filters the sidebar has a switch for: (filter name, label, hotkey).
TOGGLES: tuple[tuple[str, str, str | None], ...] = (
    ("skip", "Skip unchanged frames", None),
    ("temporal", "Temporal smoothing", None),
    ("refine", "Edge refinement", None),
    ("smoothstep", "Smooth step", "M"),
    ("colour", "Colour transfer", "C"),
    ("clone", "Seamless clone", "S"),
    ("harmonize", "Harmonize", "H"),
    ("lightwrap", "Light wrap", None),
    ("lowlight", "Low light", "L"),
    ("focal", "Focal blur", "F"),
    ("framing", "Auto-framing", "A"),
)

_STAGE_ORDER = ("mask", "upsample", "alpha", "foreground", "blend", "post")
# Within a stage, the order a chain built from scratch would have (the default
# chain's order for the mask filters). Low light goes first among the foreground
# filters (the others then match the brightened person); framing crops the finished
# picture, so it is the last post filter.
# The skip rule goes before every model pass (it decides whether they run), and the
# model passes before the filters that smooth their mask.
_NAME_ORDER = (
    "skip",
    "ensemble",
    "crop",
    "temporal",
    "smoothstep",
    "morphology",
    "lowlight",
    "colour",
    "harmonize",
    "lightwrap",
    "framing",
)


@dataclass(frozen=True, slots=True)
class EffectControl:
    """The sidebar control of one effect: which filter parameter it sets, and how.

    The slider moves in ``step`` units over ``[lo, hi]`` (a sub-range of the
    parameter's own range); the value is ``position * step``, so every slider value
    is the exact float that the config file and the ``--filters`` text write back.
    """

    filter: str  # the filter's registry name
    param: str  # the parameter the control sets
    key: str  # the config-file key that keeps the value while the effect is off
    label: str  # the control's label in the sidebar
    lo: float
    hi: float
    step: float
    decimals: int  # how the value is shown
    tip: str

    def position(self, value: float) -> int:
        """The slider position that shows ``value`` (clamped to the slider's range)."""
        return round(min(max(value, self.lo), self.hi) / self.step)

    def value(self, position: int) -> float:
        """The parameter value at slider ``position``: ``position * step`` as the float
        a decimal literal of it would parse to (``57 * 0.01`` is not ``0.57``)."""
        return float(f"{position * self.step:.{self.decimals}f}")


#: One control per effect, in the order the sidebar shows them.
EFFECT_CONTROLS: tuple[EffectControl, ...] = (
    EffectControl(
        "lowlight",
        "strength",
        "lowlight_strength",
        "Strength",
        0.0,
        1.0,
        0.01,
        2,
        "How much of the low-light correction is applied (0 to 1)",
    ),
    EffectControl(
        "focal",
        "far",
        "focal_far",
        "Far blur",
        2.0,
        100.0,
        1.0,
        0,
        "How strong the blur gets far from you: extra blur (sigma, pixels of a 720p frame)",
    ),
    EffectControl(
        "framing",
        "size",
        "framing_size",
        "Size",
        0.1,
        1.0,
        0.01,
        2,
        "How much of the picture's height your head (or the whole person, target=box) fills",
    ),
)
EFFECTS: dict[str, EffectControl] = {c.filter: c for c in EFFECT_CONTROLS}

THRESHOLD_RANGE = (0.05, 0.95)
DEFAULT_HALF_WIDTH = 0.2


def _rank(spec_name: str) -> tuple[int, int]:
    info = known_filters()[spec_name]
    within = _NAME_ORDER.index(spec_name) if spec_name in _NAME_ORDER else len(_NAME_ORDER)
    return _STAGE_ORDER.index(info.stage), within


def has_filter(filters: tuple[FilterSpec, ...], name: str) -> bool:
    return any(f.name == name for f in filters)


def set_filter(
    filters: tuple[FilterSpec, ...], spec: FilterSpec | None, name: str
) -> tuple[FilterSpec, ...]:
    """``filters`` with filter ``name`` removed (``spec`` None) or put in (``spec``).

    An upsampler replaces the chain's other upsampler and a blend filter its
    other blend filter (a chain has at most one of each).
    """
    kept = [f for f in filters if f.name != name]
    if spec is None:
        return tuple(kept)
    stage = spec.info.stage
    if stage in ("upsample", "blend"):
        kept = [f for f in kept if f.info.stage != stage]
    rank = _rank(spec.name)
    at = next((i for i, f in enumerate(kept) if _rank(f.name) > rank), len(kept))
    kept.insert(at, spec)
    return tuple(kept)


def smoothstep_centre(filters: tuple[FilterSpec, ...]) -> tuple[float, float] | None:
    """``(centre, half width)`` of the chain's smoothstep ramp, or None without one."""
    for f in filters:
        if f.name == "smoothstep":
            p = f.kwargs()
            return (p["lo"] + p["hi"]) / 2.0, (p["hi"] - p["lo"]) / 2.0
    return None


def ramp_threshold(
    filters: tuple[FilterSpec, ...], saved: float | None
) -> tuple[float, float] | None:
    """``(threshold, half width)`` for the chain's smoothstep ramp, or None without one.

    Near 0 or 1 the ramp is clipped (a threshold of 0.95 with half width 0.2 is
    ``[0.75, 1.0]``), so its centre is not the threshold the user set. When the
    ``saved`` threshold (the config file's) gives exactly this ramp with some half
    width, it is the answer: the slider comes back where it was left. Otherwise
    (the chain was edited by hand) the ramp's centre is.
    """
    ramp = smoothstep_centre(filters)
    if ramp is None or saved is None:
        return ramp
    centre, half = ramp
    lo, hi = centre - half, centre + half
    for h in (half, saved - lo, hi - saved):
        if h <= 0:
            continue
        p = threshold_spec(saved, h).kwargs()
        if abs(p["lo"] - lo) < 1e-6 and abs(p["hi"] - hi) < 1e-6:
            return saved, h
    return ramp


def threshold_spec(centre: float, half_width: float = DEFAULT_HALF_WIDTH) -> FilterSpec:
    """A smoothstep spec whose ramp is centred on ``centre`` (clamped to [0, 1])."""
    half = max(0.01, min(0.5, half_width))
    lo = round(max(0.0, centre - half), 3)
    hi = round(min(1.0, centre + half), 3)
    if hi - lo < 0.01:
        lo, hi = (hi - 0.01, hi) if hi >= 0.01 else (0.0, 0.01)
    return make_spec("smoothstep", {"lo": lo, "hi": hi})


def with_param(spec: FilterSpec, name: str, value: Any) -> FilterSpec:
    """``spec`` with parameter ``name`` set to ``value`` (validated: :class:`ConfigError`
    when out of range); its other parameters are kept."""
    return make_spec(spec.name, {**spec.kwargs(), name: value})


def _param_default(control: EffectControl) -> float:
    return float(known_filters()[control.filter].param(control.param).default)


def _effect_value(
    control: EffectControl, filters: tuple[FilterSpec, ...], values: dict[str, Any]
) -> float:
    """The starting value of ``control``: the chain's parameter when the chain has its
    filter (the command line or the file's ``filters`` named it: that is what runs),
    else the config file's value, else the parameter's default.

    Raises :class:`ConfigError` when the file's value is outside the parameter's range.
    """
    spec = next((f for f in filters if f.name == control.filter), None)
    if spec is not None:
        return float(spec.kwargs()[control.param])
    if control.key not in values:
        return _param_default(control)
    value = float(values[control.key])
    try:
        with_param(make_spec(control.filter), control.param, value)
    except ConfigError:
        p = known_filters()[control.filter].param(control.param)
        raise ConfigError(
            f"invalid {control.key} = {value:g}: must be between {p.lo:g} and {p.hi:g}"
        ) from None
    return value


def background_text(spec: BackgroundSpec) -> str:
    """The ``--background`` string for ``spec`` (what the config file stores)."""
    if spec.kind in ("image", "video"):
        return str(spec.path)
    if spec.kind == "blur":
        return f"blur:{spec.blur:g}"
    if spec.kind == "colour":
        b, g, r = spec.colour
        return f"#{r:02x}{g:02x}{b:02x}"
    return spec.kind


_WINDOW_RE = re.compile(r"^\s*(\d+)x(\d+)([+-]\d+)([+-]\d+)\s*(,\s*maximized)?\s*$")


def parse_window(text: str) -> tuple[int, int, int, int, bool] | None:
    """``"WxH+X+Y[, maximized]"`` -> ``(w, h, x, y, maximized)``; None if empty or malformed."""
    m = _WINDOW_RE.match(text or "")
    if not m:
        return None
    w, h, x, y = (int(m.group(i)) for i in range(1, 5))
    if w < 200 or h < 150:
        return None
    return w, h, x, y, bool(m.group(5))


def format_window(w: int, h: int, x: int, y: int, maximized: bool) -> str:
    return f"{w}x{h}{x:+d}{y:+d}" + (", maximized" if maximized else "")


@dataclass
class GuiState:
    """The window's settings. Mutable; owned by the GUI thread."""

    source: str = "auto"
    model: str = "landscape"
    threads: int = 1
    filters: tuple[FilterSpec, ...] = field(default_factory=lambda: parse_chain("default"))
    background: str = f"blur:{DEFAULT_BLUR:g}"
    threshold: float = 0.6
    half_width: float = DEFAULT_HALF_WIDTH
    blur_strength: float = DEFAULT_BLUR
    colour: str = "#00b140"
    user_backgrounds: list[str] = field(default_factory=list)
    mirror: bool = True
    window: str = ""
    #: The chain was named (command line, config file) or edited here: save it. Otherwise
    #: the file stays silent, so each command keeps choosing its own default chain.
    filters_named: bool = True
    #: Filters switched off in this session, with their parameters, to restore them.
    parked: dict[str, FilterSpec] = field(default_factory=dict)
    #: Each effect control's value (filter name -> its parameter), on or off. Framing's
    #: ``size`` may be 0: the filter's own default for its target (head 0.4, box 0.7).
    effects: dict[str, float] = field(
        default_factory=lambda: {c.filter: _param_default(c) for c in EFFECT_CONTROLS}
    )
    #: The startup settings: what the window has no control for (threads, accelerator,
    #: ...) is carried over from here into every snapshot.
    base: PipelineSettings | None = None

    # -- building -----------------------------------------------------------------

    @classmethod
    def from_settings(
        cls, settings: PipelineSettings, values: dict[str, Any], source: str | None = None
    ) -> GuiState:
        """The state for the effective pipeline ``settings`` (command line > file > defaults)
        plus the desktop app's own ``values`` from the config file.

        Raises :class:`ConfigError` for an invalid app value (the caller treats the
        file as corrupt).
        """
        state = cls(
            source=source or values.get("source", "auto"),
            model=settings.model,
            threads=settings.threads,
            filters=settings.filters,
            background=background_text(settings.background),
            mirror=bool(values.get("mirror", True)),
            window=str(values.get("window", "")),
            base=settings,
        )
        threshold = float(values.get("threshold", 0.6))
        if not THRESHOLD_RANGE[0] <= threshold <= THRESHOLD_RANGE[1]:
            raise ConfigError(
                f"invalid threshold = {threshold:g}: must be between "
                f"{THRESHOLD_RANGE[0]:g} and {THRESHOLD_RANGE[1]:g}"
            )
        ramp = ramp_threshold(settings.filters, threshold if "threshold" in values else None)
        if ramp is not None:
            threshold, state.half_width = ramp
        state.threshold = min(max(threshold, THRESHOLD_RANGE[0]), THRESHOLD_RANGE[1])
        blur = float(values.get("blur_strength", DEFAULT_BLUR))
        if not 1.0 <= blur <= 100.0:
            raise ConfigError(f"invalid blur_strength = {blur:g}: must be between 1 and 100")
        if settings.background.kind == "blur":
            blur = settings.background.blur
        state.blur_strength = blur
        colour = str(values.get("background_colour", state.colour))
        spec = parse_background(colour)
        if spec.kind != "colour":
            raise ConfigError(f"invalid background_colour = {colour!r}: expected #RRGGBB")
        if settings.background.kind == "colour":
            spec = settings.background
        state.colour = background_text(spec)
        for control in EFFECT_CONTROLS:
            state.effects[control.filter] = _effect_value(control, settings.filters, values)
        # Added backgrounds that have since been deleted are dropped, not an error.
        state.user_backgrounds = [
            p for p in dict.fromkeys(values.get("backgrounds", [])) if os.path.isfile(p)
        ]
        return state

    # -- edits ----------------------------------------------------------------------

    def filter_on(self, name: str) -> bool:
        return has_filter(self.filters, name)

    def set_filter_on(self, name: str, on: bool) -> None:
        """Switch filter ``name`` on (at its place, with its last parameters) or off."""
        if on == self.filter_on(name):
            return
        self.filters_named = True
        if on:
            spec = self.parked.pop(name, None) or make_spec(name)
            if name == "smoothstep":
                spec = threshold_spec(self.threshold, self.half_width)
            if name in EFFECTS:
                # The control's value, which may have moved while the effect was off.
                spec = with_param(spec, EFFECTS[name].param, self.effects[name])
            self.filters = set_filter(self.filters, spec, name)
        else:
            current = next(f for f in self.filters if f.name == name)
            self.parked[name] = current
            self.filters = set_filter(self.filters, None, name)

    def set_threshold(self, centre: float) -> None:
        """Move the mask threshold; the smoothstep filter follows when it is on."""
        self.threshold = min(max(centre, THRESHOLD_RANGE[0]), THRESHOLD_RANGE[1])
        if self.filter_on("smoothstep"):
            self.filters_named = True
            self.filters = set_filter(
                self.filters, threshold_spec(self.threshold, self.half_width), "smoothstep"
            )

    def set_effect(self, name: str, value: float) -> None:
        """Set effect ``name``'s control to ``value``; its filter follows when it is on.

        Only that filter's spec changes (in place in the chain), so the worker rebuilds
        that filter alone. Raises :class:`ConfigError` for a value outside the
        parameter's range (the state is then unchanged).
        """
        control = EFFECTS[name]
        with_param(make_spec(name), control.param, value)  # validates: raises if out of range
        self.effects[name] = value
        if name in self.parked:
            self.parked[name] = with_param(self.parked[name], control.param, value)
        if self.filter_on(name):
            self.filters_named = True
            self.filters = tuple(
                with_param(f, control.param, value) if f.name == name else f for f in self.filters
            )

    def effect_shown(self, name: str) -> float:
        """The value effect ``name``'s control shows: its parameter, or for framing's
        ``size = 0`` the size the filter then uses (0.4 for the head, 0.7 for a box)."""
        value = self.effects[name]
        if name == "framing" and value <= 0.0:
            spec = next((f for f in self.filters if f.name == name), None) or self.parked.get(name)
            target = spec.kwargs()["target"] if spec is not None else "head"
            return 0.4 if target == "head" else 0.7
        return value

    # -- outputs ----------------------------------------------------------------------

    def background_spec(self) -> BackgroundSpec:
        return parse_background(self.background)

    def effective_filters(self) -> tuple[FilterSpec, ...]:
        """The chain the pipeline runs: as shown, less the ensemble for ``bgsub``
        (averaging a neural mask into a model-free one defeats choosing bgsub)."""
        if self.model.lower().startswith("bgsub"):
            return tuple(f for f in self.filters if f.name != "ensemble")
        return self.filters

    def pipeline_settings(self) -> PipelineSettings:
        changes = {
            "model": self.model,
            "threads": self.threads,
            "background": self.background_spec(),
            "filters": self.effective_filters(),
        }
        if self.base is None:
            return PipelineSettings(**changes)
        return dataclasses.replace(self.base, **changes)

    @property
    def accelerator(self) -> str:
        return getattr(self.base, "accelerator", "cpu")

    def file_values(self) -> dict[str, Any]:
        """What the config file keeps of this state (``threads`` is left as the file has it;
        ``filters`` is None, meaning "leave it out", unless the chain was chosen)."""
        return {
            "model": self.model,
            "background": self.background,
            "filters": self.filters_text() if self.filters_named else None,
            "source": self.source,
            "mirror": self.mirror,
            "threshold": round(self.threshold, 3),
            # Not rounded: the value the filter runs with comes back after a restart.
            **{c.key: float(self.effects[c.filter]) for c in EFFECT_CONTROLS},
            "blur_strength": float(self.blur_strength),
            "background_colour": self.colour,
            "backgrounds": list(self.user_backgrounds),
            "window": self.window,
        }

    def filters_text(self) -> str:
        """The chain as ``--filters`` text; a named chain stays symbolic (``default``,
        ``live``), so a better chain in a later release applies to it."""
        for name in ("live", "default"):
            try:
                if self.filters == parse_chain(name):
                    return name
            except ConfigError:  # a release without that name
                continue
        return chain_text(self.filters)
