"""Shared fixtures: paths to ../shared, the CLI in-process and as a subprocess, test clips.

Test clips are made by the tests themselves with PyAV from the real talking-head
video in ../shared/data, so they contain a real person, plus a real audio track
(a sine tone encoded as AAC) where a test needs one.
"""

from __future__ import annotations

import atexit
import inspect
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import types
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SEGCAM_SHARED", REPO.parent / "shared"))
DATA = SHARED / "data"
SEED = SHARED / "models" / "seed"
# Manifests for the seed project's research models; their ``file`` is relative, and
# :func:`seed_manifest` puts them beside the models of ../shared/models/seed.
MANIFESTS = REPO / "tests" / "model_manifests"
TALKING_HEAD = DATA / "videos" / "talking_head.mp4"
EG_PORTRAITS = DATA / "portraits" / "eg_portrait_shen2016"


# Under CI the evaluation data must be there: a missing folder is an error, not a skip.
IN_CI = os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def _hypothesis_profile() -> None:
    """Under CI the property suite draws the same examples every run, so a landing
    never hangs on a lucky draw; developers' runs keep exploring new ones."""
    try:
        from hypothesis import settings
    except ImportError:
        return
    settings.register_profile("ci", derandomize=True, database=None)
    if IN_CI:
        settings.load_profile("ci")


def pytest_configure(config: pytest.Config) -> None:
    _hypothesis_profile()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    # The developer's own config file must not change what the tests see, and a test
    # that saves settings (a window closing) must not write into the checkout.
    config_dir = Path(tempfile.mkdtemp(prefix="segcam-test-config-"))
    atexit.register(shutil.rmtree, config_dir, True)
    os.environ["SEGCAM_CONFIG"] = str(config_dir / "no-such-config.toml")
    _prepare_builtin_models()
    config.addinivalue_line(
        "markers",
        "shared: needs the evaluation data in ../shared (SEGCAM_SHARED); skips without it, "
        "fails under CI=true",
    )


def _prepare_builtin_models() -> None:
    """Fetch the built-in model files once, before any test runs, and pin their folder.

    Tests that move the user data folder (XDG_DATA_HOME) still find them, and no
    test's output holds the one-off "fetching the built-in models" line. A failure
    here is left to the tests that need the models, which then fail with its message.
    """
    from segcam.inference import builtin_store

    os.environ.setdefault(builtin_store.DIR_ENV, str(builtin_store.store_dir()))
    try:
        for name in builtin_store.FILES:
            builtin_store.ensure(name)
    except Exception as e:
        print(f"conftest: the built-in models are not available: {e}", file=sys.stderr)
    # Compile the kernels into the user cache now, for the same reason.
    from segcam import kernels

    kernels.warm_up()


def missing_shared(path: Path) -> None:
    """Skip (or, under CI, fail) the running test because ``path`` of ../shared is missing."""
    what = path.relative_to(SHARED) if path.is_relative_to(SHARED) else path
    message = (
        f"needs shared/{what} (the evaluation data, see README 'Test data'): not found under "
        f"{SHARED}; put the shared folder beside the checkout or set SEGCAM_SHARED"
    )
    if IN_CI:
        pytest.fail(f"CI=true: {message}", pytrace=False)
    pytest.skip(message)


def shared_path(*parts: str) -> Path:
    """``SHARED/parts...``, skipping (failing under CI) the calling test when it is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        missing_shared(path)
    return path


def eg_portraits() -> Path:
    """The EG portraits folder (``images/``, ``masks/``); skips without it (fails under CI)."""
    return shared_path("data", "portraits", "eg_portrait_shen2016")


def _under_shared(value: object) -> bool:
    return isinstance(value, Path) and value.is_relative_to(SHARED)


def _code_uses_shared(code: types.CodeType, namespace: dict, seen: set[int]) -> bool:
    """Whether ``code`` (or a function of its module that it calls) names a path in SHARED."""
    for name in code.co_names:
        value = namespace.get(name)
        if _under_shared(value):
            return True
        if (
            inspect.isfunction(value)
            and value.__module__ == namespace.get("__name__")
            and id(value) not in seen
        ):
            seen.add(id(value))
            if _code_uses_shared(value.__code__, value.__globals__, seen):
                return True
    return any(
        isinstance(c, types.CodeType) and _code_uses_shared(c, namespace, seen)
        for c in code.co_consts
    )


def _needs_shared(item: pytest.Item) -> bool:
    """Marked ``shared``, or the test or one of its fixtures names a path in SHARED.

    Test modules keep module-level paths such as ``TALKING_HEAD`` or
    ``EG_PORTRAITS / "images"``; a test that uses one needs the shared data, so it
    is found by the names its code (and its fixtures' and helpers' code) refers to.
    """
    if item.get_closest_marker("shared") is not None:
        return True
    functions = [getattr(item, "function", None)]
    info = getattr(item, "_fixtureinfo", None)
    for name in getattr(item, "fixturenames", ()):
        defs = info.name2fixturedefs.get(name) if info is not None else None
        if defs:
            functions.append(defs[-1].func)
    seen: set[int] = set()
    for fn in functions:
        fn = inspect.unwrap(fn) if fn is not None else None
        if inspect.isfunction(fn) and _code_uses_shared(fn.__code__, fn.__globals__, seen):
            return True
    return False


def pytest_runtest_setup(item: pytest.Item) -> None:
    if not DATA.is_dir() and _needs_shared(item):
        missing_shared(DATA)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return shared_path("data")


_seed_copies: Path | None = None


def seed_manifest(name: str) -> Path:
    """``tests/model_manifests/NAME.toml`` in a folder beside links to the seed models.

    The manifests name their model files relative to themselves, as a user's would;
    the folder this returns holds a copy of each manifest and a link to each model
    of ``SHARED/models/seed``, wherever SEGCAM_SHARED puts it. Skips (fails under
    CI) without the seed models.
    """
    global _seed_copies
    seed = shared_path("models", "seed")
    if _seed_copies is None:
        folder = Path(tempfile.mkdtemp(prefix="segcam-seed-models-"))
        atexit.register(shutil.rmtree, folder, True)
        for model in seed.iterdir():
            (folder / model.name).symlink_to(model.resolve())
        for manifest in MANIFESTS.glob("*.toml"):
            shutil.copyfile(manifest, folder / manifest.name)
        _seed_copies = folder
    return _seed_copies / f"{name}.toml"


def wait_until(cond, what: str, deadline: float = 60.0) -> None:
    """Poll ``cond`` until it holds; fail naming ``what`` after ``deadline`` seconds.

    The deadline is a hang guard for a loaded 2-core machine, never a timing check.
    """
    end = time.monotonic() + deadline
    while not cond():
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run ``segcam.cli.main`` in-process; return (exit code, stdout, stderr)."""
    from segcam.cli import main

    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def run_segcam(args: list[str], timeout: float = 120, **kw) -> subprocess.CompletedProcess[str]:
    """Run ``python -m segcam ARGS`` in a subprocess (for signals and real exit codes)."""
    return subprocess.run(
        [sys.executable, "-m", "segcam", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=kw.pop("cwd", None),
        **kw,
    )


def make_clip(
    path: Path,
    *,
    frames: int = 30,
    fps: int = 15,
    size: tuple[int, int] | None = None,
    audio: bool = True,
    source: Path = TALKING_HEAD,
) -> Path:
    """H.264 MP4 of the first ``frames`` frames of ``source``, plus an AAC tone if ``audio``."""
    if not Path(source).exists():
        missing_shared(Path(source))
    src = av.open(str(source))
    out = av.open(str(path), "w")
    vs = out.add_stream("libx264", rate=fps)
    vs.pix_fmt = "yuv420p"
    first = None
    a_stream = None
    if audio:
        a_stream = out.add_stream("aac", rate=44100)
        a_stream.layout = "mono"
    for written, vf in enumerate(src.decode(video=0), start=1):
        img = vf.to_ndarray(format="bgr24")
        if size is not None:
            import cv2

            img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
        if first is None:
            first = img
            vs.width, vs.height = img.shape[1], img.shape[0]
        frame = av.VideoFrame.from_ndarray(img, format="bgr24")
        frame.pts = written - 1
        frame.time_base = Fraction(1, fps)
        for p in vs.encode(frame):
            out.mux(p)
        if written >= frames:
            break
    for p in vs.encode(None):
        out.mux(p)
    if a_stream is not None:
        rate, total = 44100, int(44100 * frames / fps)
        t = np.arange(total, dtype=np.float32) / rate
        tone = (0.2 * np.sin(2 * math.pi * 440.0 * t)).astype(np.float32)
        pos = 0
        while pos < total:
            chunk = tone[pos : pos + 1024]
            af = av.AudioFrame.from_ndarray(chunk[None, :], format="flt", layout="mono")
            af.sample_rate = rate
            af.pts = pos
            af.time_base = Fraction(1, rate)
            for p in a_stream.encode(af):
                out.mux(p)
            pos += len(chunk)
        for p in a_stream.encode(None):
            out.mux(p)
    out.close()
    src.close()
    return path


@pytest.fixture(scope="session")
def clip_with_audio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 frames (2 s at 15 fps) of the real talking head at 512x288, with an AAC audio track."""
    return make_clip(
        tmp_path_factory.mktemp("clips") / "talk_audio.mp4", frames=30, size=(512, 288)
    )


def read_video(path: Path) -> tuple[list[np.ndarray], dict]:
    """Decode every video frame (BGR) and describe the streams: {'audio': bool, 'size': (w, h)}."""
    c = av.open(str(path))
    info = {"audio": bool(c.streams.audio), "size": None}
    frames = [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]
    if frames:
        info["size"] = (frames[0].shape[1], frames[0].shape[0])
    c.close()
    return frames, info
