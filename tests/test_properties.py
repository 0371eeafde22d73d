"""Property-based checks (hypothesis): whatever the user gives, segcam behaves.

The invariant, for every generated case: a correct result, or a clean error
(a :class:`~segcam.errors.SegcamError` in-process; one ``segcam...: error:``
line and an exit code of the README's table from the CLI). Never an internal
error or a traceback, never a change to an input file (hashed before and after),
and always an end in bounded time (subprocess cases run under a timeout).

Generated over: CLI arguments, background and filter specs, config files,
model manifests (including ``package:`` and ``..`` paths, which must never
import Python code), and image and video files with garbled or cut headers.
Sized to run in well under a minute on two cores.
"""

from __future__ import annotations

import hashlib
import io
import math
import sys
import uuid
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from segcam.errors import SegcamError
from segcam.imaging import MAX_IMAGE_PIXELS, load_image
from tests.conftest import EG_PORTRAITS, make_clip, run_cli, run_segcam
from tests.hostile_media import write_flat_png

EXIT_CODES = {0, 1, 2, 130}

FAST = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SLOW = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text a user could type: printable, with the characters that matter to parsers, no NUL
# (an argv or a path cannot hold one).
_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
user_text = st.text(_chars, max_size=24)


def digest(paths: list[Path]) -> dict[str, str]:
    """sha256 of every file under ``paths`` (the inputs must never change)."""
    out = {}
    for p in paths:
        files = sorted(p.rglob("*")) if p.is_dir() else [p]
        for f in files:
            if f.is_file():
                out[str(f)] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def assert_clean(code: int, out: str, err: str) -> None:
    assert code in EXIT_CODES, (code, err)
    assert "internal error" not in err, err
    assert "Traceback" not in err and "Traceback" not in out, err
    if code not in (0, 130):
        errors = [line for line in err.splitlines() if ": error: " in line]
        assert errors, f"exit {code} without an error line: {err!r}"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("inputs")
    photo = root / "photo.jpg"
    photo.write_bytes(sorted(EG_PORTRAITS.glob("images/*.jpg"))[0].read_bytes())
    small = root / "small.png"
    cv2.imwrite(str(small), cv2.resize(cv2.imread(str(photo)), (96, 64)))
    clip = make_clip(root / "clip.mp4", frames=4, fps=15, size=(96, 64), audio=False)
    return {"root": root, "photo": photo, "small": small, "clip": clip}


# -- background and filter specs ----------------------------------------------------

spec_words = st.sampled_from(
    ["blur", "blur:", "blur:0", "blur:1", "blur:100", "blur:101", "blur:nan", "blur:inf",
     "blur:1e999", "none", "mask", "#00ff00", "#0f0", "#GGGGGG", "green", "nosuch.jpg",
     "dir/nosuch.png", "~/nosuch.mp4", "", " ", ":", "::", "blur::3"]
)  # fmt: skip
filter_words = st.sampled_from(
    ["temporal", "smoothstep", "morphology", "refine", "feather", "colour", "clone",
     "harmonize", "lightwrap", "ensemble", "default", "live", "none", "bogus"]
)  # fmt: skip
params = st.sampled_from(
    ["strength", "lo", "hi", "radius", "x", "", "lo=", "=1", "strength=nan", "lo=inf"]
)
values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**30), 10**30).map(str),
    user_text,
)


@st.composite
def filter_specs(draw) -> str:
    items = []
    for _ in range(draw(st.integers(0, 4))):
        item = draw(filter_words)
        for _ in range(draw(st.integers(0, 2))):
            item += f":{draw(params)}={draw(values)}"
        items.append(item)
    sep = draw(st.sampled_from([",", ", ", ",,"]))
    return sep.join(items) if items else draw(user_text)


@FAST
@given(text=st.one_of(spec_words, user_text, spec_words.map(lambda w: w + "x")))
def test_background_specs_parse_or_say_why(text: str) -> None:
    from segcam.config import parse_background

    try:
        spec = parse_background(text)
    except SegcamError as e:
        assert "\n" not in str(e)
        return
    assert spec.kind in ("image", "video", "blur", "colour", "none", "mask")
    if spec.kind == "blur":
        assert 1.0 <= spec.blur <= 100.0


@FAST
@given(text=filter_specs())
def test_filter_specs_parse_or_say_why(text: str) -> None:
    from segcam.filters.base import parse_chain

    try:
        chain = parse_chain(text)
    except SegcamError as e:
        assert "\n" not in str(e)
        return
    for spec in chain:
        for v in spec.kwargs().values():
            assert not (isinstance(v, float) and not math.isfinite(v)), (text, spec)


# -- CLI arguments --------------------------------------------------------------------

option_values = {
    "--resolution": st.one_of(
        st.sampled_from(["64x48", "16x16", "15x15", "0x0", "8193x100", "9" * 40 + "x9"]),
        user_text,
    ),
    "--fps": st.one_of(st.sampled_from(["1", "240", "0", "nan", "inf", "-5", "1e999"]), user_text),
    "--duration": st.one_of(st.sampled_from(["0.1", "inf", "nan", "-1", "1e308", "0"]), user_text),
    "--frames": st.one_of(st.integers(-5, 3).map(str), user_text),
    "--threads": st.one_of(st.sampled_from(["1", "0", "65", "-1", "9" * 30]), user_text),
    "--background": st.one_of(spec_words, user_text),
    "--filters": filter_specs(),
    "--model": st.one_of(
        st.sampled_from(["landscape", "nosuch", "bgsub", "bgsub:learn=x", "x.tflite", "x.toml"]),
        user_text,
    ),
}


@SLOW
@given(
    opts=st.lists(st.sampled_from(sorted(option_values)), max_size=3, unique=True),
    data=st.data(),
)
def test_record_arguments_end_cleanly(inputs, tmp_path, capsys, opts, data) -> None:
    before = digest([inputs["root"]])
    out = tmp_path / f"{uuid.uuid4().hex}.mkv"
    argv = ["record", "-i", str(inputs["small"]), "-o", str(out)]
    for opt in opts:
        argv += [f"{opt}={data.draw(option_values[opt], label=opt)}"]
    if "--frames" not in opts and "--duration" not in opts:
        argv += ["--frames", "2"]  # a still is an endless stream
    else:
        argv += ["--frames", "3"]
    code, stdout, err = run_cli(argv, capsys)
    assert_clean(code, stdout, err)
    assert digest([inputs["root"]]) == before


@FAST
@given(argv=st.lists(st.one_of(user_text, st.sampled_from(sorted(option_values))), max_size=5))
def test_any_words_after_each_command_end_cleanly(capsys, argv) -> None:
    # Commands that cannot start long work from random words (record would need a
    # bound, and a bare ``segcam`` opens the window; record is covered above).
    for command in (["mask"], ["eval"], ["models", "info"], ["filters"]):
        code, out, err = run_cli([*command, *argv], capsys)
        assert_clean(code, out, err)


# -- config files -------------------------------------------------------------------

config_keys = st.sampled_from(
    ["model", "threads", "background", "filters", "accelerator", "source", "mirror",
     "threshold", "blur_strength", "background_colour", "backgrounds", "window", "bogus"]
)  # fmt: skip
toml_values = st.one_of(
    st.sampled_from(['"landscape"', "1", "0", "true", "nan", "inf", "-inf", "1e999", "[]",
                     '["a", 1]', '"blur:12"', '"#00ff00"', "[[[[]]]]", '"""x"""', "{}"]),
    st.floats().map(lambda f: repr(f).replace("nan", "nan").replace("inf", "inf")),
    st.integers().map(str),
    user_text.map(lambda t: '"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"'),
)  # fmt: skip


@st.composite
def config_texts(draw) -> bytes:
    lines = [f"{draw(config_keys)} = {draw(toml_values)}" for _ in range(draw(st.integers(0, 5)))]
    text = "\n".join(lines).encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        # Garble: cut it, or splice in bytes that are not UTF-8 or deep nesting.
        cut = draw(st.integers(0, len(text)))
        tail = draw(st.sampled_from([b"", b"\xff\xfe", b"\xe9", b"x = " + b"[" * 5000]))
        text = text[:cut] + tail
    return text


@FAST
@given(text=config_texts())
def test_config_files_load_or_say_why(tmp_path, text: bytes) -> None:
    import argparse

    from segcam import settings_file

    cfg = tmp_path / "config.toml"
    cfg.write_bytes(text)
    args = argparse.Namespace(
        config=str(cfg), model=None, threads=None, background=None, filters=None, accelerator=None
    )
    try:
        settings_file.load(cfg)
        settings = settings_file.pipeline_settings(args)
    except SegcamError as e:
        assert "\n" not in str(e).strip()
    else:
        assert 1 <= settings.threads <= 64
    assert cfg.read_bytes() == text  # loading never rewrites the file


# -- manifests -----------------------------------------------------------------------

manifest_files = st.sampled_from(
    ["package:this.x/model.tflite", "package:this/model.tflite", "package:this/../x.tflite",
     "package:mediapipe/../../etc/passwd", "package:antigravity.x/m.tflite",
     "../model.tflite", "../../../../etc/passwd", "/etc/passwd", "model.tflite", "",
     "package:", "package:/x.tflite", "package:..", "package:this.x"]
)  # fmt: skip
manifest_extra = st.sampled_from(
    ["", "[input]\nsize = [128, 128]\n", "[input]\nsize = [0, -1]\n",
     "[input]\nsize = [128, 128]\ncolour = \"XYZ\"\n[output]\ndecode = \"nope\"\n",
     "[output]\nlayout = \"flat\"\ndecode = \"probability\"\n", "description = 1\n"]
)  # fmt: skip


@FAST
@given(file=manifest_files, extra=manifest_extra)
def test_manifests_load_or_say_why_and_never_import_code(tmp_path, capsys, file, extra) -> None:
    sys.modules.pop("this", None)
    sys.modules.pop("antigravity", None)
    path = tmp_path / f"m{uuid.uuid4().hex[:8]}.toml"
    path.write_text(f"file = {file!r}\n".replace("'", '"') + extra)
    before = digest([path])
    for argv in (["models", "check", str(path)], ["models", "info", str(path)]):
        code, out, err = run_cli(argv, capsys)
        assert_clean(code, out, err)
        assert "this" not in sys.modules and "antigravity" not in sys.modules, argv
        assert "Beautiful is better than ugly" not in out + err
    assert digest([path]) == before


# -- image headers ---------------------------------------------------------------------


@st.composite
def garbled_images(draw, sources: dict[str, bytes]) -> bytes:
    data = bytearray(sources[draw(st.sampled_from(sorted(sources)))])
    how = draw(st.sampled_from(["cut", "flip", "size", "both"]))
    if how in ("cut", "both"):
        data = data[: draw(st.integers(0, min(len(data), 600)))]
    if how in ("flip", "both") and data:
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, min(len(data), 200) - 1))
            data[i] = draw(st.integers(0, 255))
    if how == "size" and len(data) > 30:
        # Overwrite a 4-byte window near the start with a big number: a size field
        # of one of the formats sits there.
        i = draw(st.integers(4, 28))
        big = [b"\x00\x00\x4e\x20", b"\xff\xff\xff\xff", b"\x4e\x20\x4e\x20", bytes(4)]
        data[i : i + 4] = draw(st.sampled_from(big))
    return bytes(data)


def _image_sources() -> dict[str, bytes]:
    # A drawn picture, not one of the shared portraits: the strategy is built when
    # the module is imported, also where ../shared is absent.
    img = np.zeros((48, 64, 3), np.uint8)
    img[:, :, 0] = np.arange(64, dtype=np.uint8)[None, :] * 4
    img[:, :, 1] = np.arange(48, dtype=np.uint8)[:, None] * 5
    cv2.circle(img, (32, 24), 14, (40, 200, 250), -1)
    out = {}
    # .jp2 too: segcam refuses it (its decoder crashed on a file this test garbled).
    for ext in (".png", ".jpg", ".webp", ".bmp", ".tiff", ".ppm", ".jp2"):
        out[ext] = cv2.imencode(ext, img)[1].tobytes()
    return out


_SOURCES = _image_sources()


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=garbled_images(_SOURCES))
def test_garbled_images_decode_or_say_why(tmp_path, data: bytes) -> None:
    path = tmp_path / "img.png"
    path.write_bytes(data)
    try:
        image = load_image(str(path))
    except SegcamError as e:
        assert "\n" not in str(e)
    else:
        assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8
        assert image.shape[0] * image.shape[1] <= MAX_IMAGE_PIXELS
    assert path.read_bytes() == data


def test_garbled_images_through_the_cli_in_a_subprocess(inputs, tmp_path) -> None:
    """A few garbled files end in bounded time through ``segcam mask`` (real process)."""
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(7)
    for k, (ext, data) in enumerate(sorted(_SOURCES.items())):
        b = bytearray(data[: max(8, len(data) // (k + 2))])
        b[rng.integers(0, len(b))] ^= 0xFF
        (folder / f"bad{k}{ext}").write_bytes(bytes(b))
    write_flat_png(folder / "huge.png", 30000, 30000)
    (folder / "good.png").write_bytes(inputs["small"].read_bytes())
    before = digest([folder])
    r = run_segcam(["mask", str(folder), "-o", str(tmp_path / "out")], timeout=120)
    assert_clean(r.returncode, r.stdout, r.stderr)
    assert r.returncode == 1  # the bad ones skipped, the good one written
    assert (tmp_path / "out" / "good.png").exists()
    assert "too large" in r.stderr
    assert digest([folder]) == before


# -- video headers ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def clip_bytes(inputs) -> bytes:
    return inputs["clip"].read_bytes()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    cut=st.one_of(st.none(), st.integers(0, 4000)),
    flips=st.lists(st.tuples(st.integers(0, 3999), st.integers(0, 255)), max_size=6),
)
# Found by this suite in CI: a byte in the sample description that leaves the stream
# with no decoder (codec_context None) was an internal error.
@example(cut=None, flips=[(2551, 2)])
def test_garbled_videos_open_or_say_why(tmp_path, clip_bytes, cut, flips) -> None:
    from segcam.capture.video import VideoFileSource

    data = bytearray(clip_bytes if cut is None else clip_bytes[:cut])
    for i, v in flips:
        if i < len(data):
            data[i] = v
    assume(bytes(data) != clip_bytes)
    path = tmp_path / "v.mp4"
    path.write_bytes(bytes(data))
    try:
        src = VideoFileSource(str(path))
    except SegcamError as e:
        assert "\n" not in str(e)
        return
    try:
        n = 0
        while n < 50:
            frame = src.read()
            if frame is None:
                break
            assert frame.image.shape[1::-1] == src.size
            n += 1
    except SegcamError as e:
        assert "\n" not in str(e)
    finally:
        src.stop()
    assert path.read_bytes() == bytes(data)


def test_garbled_video_through_the_cli_in_a_subprocess(inputs, tmp_path, clip_bytes) -> None:
    for k, data in enumerate([clip_bytes[:700], clip_bytes[:40] + b"\x00" * 64, b"\x00" * 16]):
        path = tmp_path / f"bad{k}.mp4"
        path.write_bytes(data)
        r = run_segcam(
            ["record", "-i", str(path), "-o", str(tmp_path / f"o{k}.mkv"), "--frames", "2"],
            timeout=60,
        )
        assert_clean(r.returncode, r.stdout, r.stderr)
        assert r.returncode != 0 or (tmp_path / f"o{k}.mkv").exists()
        assert path.read_bytes() == data


def test_inputs_are_untouched_by_the_whole_module(inputs) -> None:
    # The fixture's files are still what they were made as (photo == the shared copy).
    shared = sorted(EG_PORTRAITS.glob("images/*.jpg"))[0].read_bytes()
    assert inputs["photo"].read_bytes() == shared
    assert io.BytesIO(inputs["small"].read_bytes()).getbuffer().nbytes > 0
