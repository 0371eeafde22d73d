"""Typed settings and the parsers for the option strings users type.

Every parser here raises :class:`~segcam.errors.ConfigError` with a one-line
message that names the bad value and says what is accepted; none of them
silently replaces a bad value with a default.

Settings objects are frozen dataclasses: a worker thread receives a complete,
immutable snapshot and swaps it in between frames.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from segcam.errors import ConfigError

if TYPE_CHECKING:
    from segcam.filters.base import FilterSpec

#: Upper bound for any frame dimension we accept (8K UHD is 7680 wide).
MAX_DIMENSION = 8192
#: Lower bound for any frame dimension: ``--resolution``, backgrounds, and the frames a
#: source gives without ``--resolution`` (encoders need even sizes of at least 2).
MIN_DIMENSION = 16

#: CSS colour names users are most likely to type, as (R, G, B).
COLOUR_NAMES: dict[str, tuple[int, int, int]] = {
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "gray": (128, 128, 128),
    "grey": (128, 128, 128),
    "lightgray": (211, 211, 211),
    "lightgrey": (211, 211, 211),
    "darkgray": (169, 169, 169),
    "darkgrey": (169, 169, 169),
    "silver": (192, 192, 192),
    "red": (255, 0, 0),
    "darkred": (139, 0, 0),
    "green": (0, 128, 0),
    "lime": (0, 255, 0),
    "darkgreen": (0, 100, 0),
    "blue": (0, 0, 255),
    "navy": (0, 0, 128),
    "darkblue": (0, 0, 139),
    "skyblue": (135, 206, 235),
    "steelblue": (70, 130, 180),
    "teal": (0, 128, 128),
    "cyan": (0, 255, 255),
    "aqua": (0, 255, 255),
    "magenta": (255, 0, 255),
    "fuchsia": (255, 0, 255),
    "purple": (128, 0, 128),
    "indigo": (75, 0, 130),
    "yellow": (255, 255, 0),
    "gold": (255, 215, 0),
    "orange": (255, 165, 0),
    "coral": (255, 127, 80),
    "pink": (255, 192, 203),
    "brown": (165, 42, 42),
    "beige": (245, 245, 220),
    "olive": (128, 128, 0),
    "maroon": (128, 0, 0),
    "chocolate": (210, 105, 30),
    "tan": (210, 180, 140),
    "ivory": (255, 255, 240),
    "lavender": (230, 230, 250),
}

_HEX_RE = re.compile(r"^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")
_RES_RE = re.compile(r"^\s*(\d{1,9})\s*[xX×]\s*(\d{1,9})\s*$")  # 9 digits: int() stays cheap


def parse_resolution(text: str) -> tuple[int, int]:
    """Parse ``"WxH"`` (e.g. ``"1280x720"``) into ``(width, height)``."""
    m = _RES_RE.match(text or "")
    if not m:
        raise ConfigError(f"invalid resolution {text!r}: expected WIDTHxHEIGHT, e.g. 1280x720")
    w, h = int(m.group(1)), int(m.group(2))
    if not (MIN_DIMENSION <= w <= MAX_DIMENSION and MIN_DIMENSION <= h <= MAX_DIMENSION):
        raise ConfigError(
            f"invalid resolution {text!r}: width and height must be between {MIN_DIMENSION} "
            f"and {MAX_DIMENSION}"
        )
    return w, h


def parse_fps(value: float | str) -> float:
    """Parse a frame rate; accepts 1..240."""
    try:
        fps = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"invalid frame rate {value!r}: expected a number, e.g. 30") from None
    if not (1.0 <= fps <= 240.0):
        raise ConfigError(f"invalid frame rate {value!r}: must be between 1 and 240")
    return fps


def parse_colour(text: str) -> tuple[int, int, int]:
    """Parse ``#RRGGBB``, ``#RGB`` or a colour name into ``(B, G, R)`` (OpenCV order)."""
    t = text.strip().lower()
    if t in COLOUR_NAMES:
        r, g, b = COLOUR_NAMES[t]
        return b, g, r
    m = _HEX_RE.match(t)
    if m and (t.startswith("#") or len(t) == 6):
        h = m.group(1)
        if len(h) == 3:
            h = "".join(c * 2 for c in h)
        r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
        return b, g, r
    raise ConfigError(
        f"unknown colour {text!r}: use #RRGGBB or a name such as "
        + ", ".join(sorted(COLOUR_NAMES)[:8])
        + ", ..."
    )


BackgroundKind = Literal["image", "video", "blur", "colour", "none", "mask"]

#: Values of ``--accelerator`` (:mod:`segcam.inference.engine` implements them).
ACCELERATORS = ("cpu", "gpu", "auto")

_VIDEO_EXTENSIONS = {".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v", ".gif"}


@dataclass(frozen=True, slots=True)
class BackgroundSpec:
    """What replaces the background.

    kind:
        ``image``: ``path`` is an image, cover-fitted to the frame.
        ``video``: ``path`` is a video clip, cover-fitted to the frame and looped.
        ``blur``: the frame itself with the person masked out, blurred with strength
        ``blur`` (a Gaussian sigma in pixels at 720p, scaled with the frame height).
        ``colour``: a solid ``colour`` (B, G, R).
        ``none``: transparent; the output keeps the alpha channel (BGRA).
        ``mask``: the alpha mask itself, shown as grey levels.
    """

    kind: BackgroundKind
    path: str | None = None
    blur: float = 0.0
    colour: tuple[int, int, int] = (0, 0, 0)

    @property
    def transparent(self) -> bool:
        return self.kind == "none"

    def describe(self) -> str:
        if self.kind in ("image", "video"):
            return f"{self.kind} {self.path}"
        if self.kind == "blur":
            return f"blur:{self.blur:g}"
        if self.kind == "colour":
            b, g, r = self.colour
            return f"colour #{r:02x}{g:02x}{b:02x}"
        return self.kind


DEFAULT_BLUR = 12.0


def parse_background(text: str) -> BackgroundSpec:
    """Parse a ``--background`` value.

    Accepted forms: ``blur``, ``blur:N`` (N = strength, 1..100), ``none``, ``mask``,
    ``#RRGGBB`` or a colour name, or a path to an image file or a video file (by its
    extension: .mp4, .mkv, .webm, .mov, .avi, .m4v, .gif), which loops. Only the
    path is checked here; the file is opened and decoded when the background is
    built (:func:`segcam.filters.backgrounds.make_background`).
    """
    t = (text or "").strip()
    low = t.lower()
    if not t:
        raise ConfigError("empty --background: use an image path, blur[:N], a colour, none or mask")
    if low == "none":
        return BackgroundSpec("none")
    if low == "mask":
        return BackgroundSpec("mask")
    if low == "blur" or low.startswith("blur:"):
        strength = DEFAULT_BLUR
        if ":" in low:
            arg = low.split(":", 1)[1]
            try:
                strength = float(arg)
            except ValueError:
                raise ConfigError(
                    f"invalid blur strength {arg!r} in {text!r}: expected blur:N with N a number"
                ) from None
            if not (1.0 <= strength <= 100.0):
                raise ConfigError(f"invalid blur strength in {text!r}: N must be between 1 and 100")
        return BackgroundSpec("blur", blur=strength)
    if low.startswith("#") or low in COLOUR_NAMES:
        return BackgroundSpec("colour", colour=parse_colour(t))
    # Anything else is a file path; it must exist now, so the user hears about a typo
    # before a camera is opened.
    path = os.path.expanduser(t)
    if not os.path.exists(path):
        if _HEX_RE.match(low):
            return BackgroundSpec("colour", colour=parse_colour(t))
        if _looks_like_path(t):
            raise ConfigError(f"background file not found: {t}")
        raise ConfigError(
            f"background {text!r} is not a file that exists, a colour, blur[:N], none or mask"
        )
    if os.path.isdir(path):
        raise ConfigError(f"background {text!r} is a folder; give an image or video file")
    ext = os.path.splitext(path)[1].lower()
    if ext in _VIDEO_EXTENSIONS:
        return BackgroundSpec("video", path=path)
    return BackgroundSpec("image", path=path)


def _looks_like_path(text: str) -> bool:
    """True when ``text`` was meant as a file: it has a folder part or a media extension."""
    from segcam.imaging import IMAGE_EXTENSIONS

    ext = os.path.splitext(text)[1].lower()
    return "/" in text or os.sep in text or ext in IMAGE_EXTENSIONS or ext in _VIDEO_EXTENSIONS


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    """Everything the worker needs to turn a captured frame into an output frame.

    A new snapshot replaces the old one between frames; the worker never sees a
    half-updated settings object. Mirroring is not here: it is a property of each
    sink (users want the preview mirrored and the outgoing video not).
    """

    model: str = "landscape"
    threads: int = 1
    background: BackgroundSpec = BackgroundSpec("blur", blur=DEFAULT_BLUR)
    filters: tuple[FilterSpec, ...] = field(default_factory=lambda: default_filters())
    accelerator: str = "cpu"
    """where the model runs: ``cpu``, ``gpu`` (fails without one) or ``auto``."""

    def __post_init__(self) -> None:
        if not (1 <= self.threads <= 64):
            raise ConfigError(f"invalid thread count {self.threads}: must be between 1 and 64")
        if self.accelerator not in ACCELERATORS:
            raise ConfigError(
                f"invalid accelerator {self.accelerator!r}: use one of {', '.join(ACCELERATORS)}"
            )


def default_filters() -> tuple[FilterSpec, ...]:
    """The default mask and frame filter chain (see :mod:`segcam.filters.chain`)."""
    from segcam.filters.base import parse_chain

    return parse_chain("default")
