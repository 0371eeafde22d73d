"""Parsing of the option strings users type (segcam.config).

Covers --resolution, --fps, colours and --background: the accepted forms give the
right values, and every bad value raises ConfigError with a single-line message
that names the value (no silent fallback to a default).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from segcam.config import (
    COLOUR_NAMES,
    DEFAULT_BLUR,
    BackgroundSpec,
    parse_background,
    parse_colour,
    parse_fps,
    parse_resolution,
)
from segcam.errors import ConfigError
from tests.conftest import EG_PORTRAITS, TALKING_HEAD

PORTRAIT = EG_PORTRAITS / "images" / "eg_00002.jpg"


def config_error(func, value, *needles: str) -> str:
    """Call ``func(value)``; it must raise ConfigError with one line naming ``needles``."""
    with pytest.raises(ConfigError) as info:
        func(value)
    msg = str(info.value)
    assert msg, "empty error message"
    assert "\n" not in msg and "\r" not in msg, f"multi-line message: {msg!r}"
    assert msg == msg.strip()
    for needle in needles:
        assert needle in msg, f"{needle!r} not in {msg!r}"
    return msg


# -- resolution ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1280x720", (1280, 720)),
        ("640X480", (640, 480)),
        ("1920×1080", (1920, 1080)),
        (" 320 x 240 ", (320, 240)),
        ("16x16", (16, 16)),
        ("8192x8192", (8192, 8192)),
    ],
)
def test_parse_resolution_valid(text: str, expected: tuple[int, int]) -> None:
    assert parse_resolution(text) == expected


@pytest.mark.parametrize(
    "text", ["abc", "0x0", "1280", "-5x3", "99999x10", "10x720", "1280x", "x720", "12.5x10", ""]
)
def test_parse_resolution_invalid(text: str) -> None:
    config_error(parse_resolution, text, repr(text))


# -- frame rate ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"), [("30", 30.0), ("29.97", 29.97), (60, 60.0), ("1", 1.0), ("240", 240.0)]
)
def test_parse_fps_valid(value, expected: float) -> None:
    assert parse_fps(value) == pytest.approx(expected)


@pytest.mark.parametrize("value", ["abc", "0", "-30", "241", "1000", "", "nan"])
def test_parse_fps_invalid(value: str) -> None:
    config_error(parse_fps, value, repr(value))


def test_parse_fps_none_is_an_error() -> None:
    config_error(parse_fps, None, "None")


# -- colours ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "bgr"),
    [
        ("#00ff00", (0, 255, 0)),
        ("#ff0000", (0, 0, 255)),
        ("#0000FF", (255, 0, 0)),
        ("#123456", (0x56, 0x34, 0x12)),
        ("#0f0", (0, 255, 0)),
        ("#f00", (0, 0, 255)),
        ("00ff00", (0, 255, 0)),
        ("green", (0, 128, 0)),
        ("Navy", (128, 0, 0)),
        ("  WHITE ", (255, 255, 255)),
        ("orange", (0, 165, 255)),
    ],
)
def test_parse_colour_valid(text: str, bgr: tuple[int, int, int]) -> None:
    assert parse_colour(text) == bgr


def test_every_colour_name_parses_to_bgr() -> None:
    for name, (r, g, b) in COLOUR_NAMES.items():
        assert parse_colour(name) == (b, g, r), name


@pytest.mark.parametrize("text", ["notacolour", "#12345", "#ggg", "#1234567", "gren", ""])
def test_parse_colour_invalid(text: str) -> None:
    config_error(parse_colour, text, repr(text))


def test_unknown_colour_lists_names() -> None:
    msg = config_error(parse_colour, "chartreuse-ish", "'chartreuse-ish'", "#RRGGBB")
    listed = [name for name in COLOUR_NAMES if name in msg]
    assert len(listed) >= 3, f"the error should list some colour names: {msg!r}"


# -- background ---------------------------------------------------------------------------------


def test_background_blur_default_strength() -> None:
    spec = parse_background("blur")
    assert spec == BackgroundSpec("blur", blur=DEFAULT_BLUR)
    assert spec.blur == 12.0
    assert not spec.transparent


@pytest.mark.parametrize(
    ("text", "strength"), [("blur:5", 5.0), ("BLUR:1", 1.0), ("blur:100", 100.0), ("blur:2.5", 2.5)]
)
def test_background_blur_strength(text: str, strength: float) -> None:
    spec = parse_background(text)
    assert spec.kind == "blur"
    assert spec.blur == strength


@pytest.mark.parametrize("text", ["blur:0", "blur:abc", "blur:500", "blur:-3", "blur:", "blur:0.5"])
def test_background_blur_invalid(text: str) -> None:
    config_error(parse_background, text, repr(text))


def test_background_none_is_transparent() -> None:
    spec = parse_background("none")
    assert spec.kind == "none"
    assert spec.transparent
    assert parse_background("None").transparent


def test_background_mask() -> None:
    spec = parse_background("mask")
    assert spec.kind == "mask"
    assert not spec.transparent


@pytest.mark.parametrize(
    ("text", "bgr"),
    [
        ("green", (0, 128, 0)),
        ("Navy", (128, 0, 0)),
        ("#00ff00", (0, 255, 0)),
        ("#0f0", (0, 255, 0)),
        ("#FF8000", (0, 128, 255)),
    ],
)
def test_background_colour(text: str, bgr: tuple[int, int, int]) -> None:
    spec = parse_background(text)
    assert spec.kind == "colour"
    assert spec.colour == bgr
    assert not spec.transparent


def test_background_bad_hex_colour() -> None:
    config_error(parse_background, "#12345", "'#12345'")


def test_background_existing_image(shared_data: Path) -> None:
    assert PORTRAIT.is_file()
    spec = parse_background(str(PORTRAIT))
    assert spec.kind == "image"
    assert spec.path == str(PORTRAIT)
    assert not spec.transparent


def test_background_missing_path_names_the_value(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-beach.jpg")
    config_error(parse_background, missing, missing)


def test_background_misspelt_word_is_an_error() -> None:
    config_error(parse_background, "blurr", "'blurr'")


def test_background_folder_is_an_error(tmp_path: Path) -> None:
    config_error(parse_background, str(tmp_path), str(tmp_path), "folder")


def test_background_video_file_is_a_video_background(shared_data: Path) -> None:
    spec = parse_background(str(TALKING_HEAD))
    assert (spec.kind, spec.path) == ("video", str(TALKING_HEAD))


@pytest.mark.parametrize("text", ["", "   "])
def test_background_empty_is_an_error(text: str) -> None:
    config_error(parse_background, text, "--background")
