"""Smoke-test a built bundle the way a user without Python would run it.

    python packaging/check_bundle.py [dist/segcam]

Runs ``segcam --version`` and ``segcam record --input demo --frames 30`` from the
bundle with an empty environment (no virtual environment, no PYTHONPATH), decodes
the recording with PyAV from the building environment, and checks what the bundle
must and must not contain. Prints what it saw; exits non-zero on the first failure.
``build_bundle.sh --check`` and the SEGCAM_BUILD_BUNDLE=1 test run it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FRAMES = 30
GUI_SECONDS = 10

# Where PyInstaller 6 puts everything but the executable.
_INTERNAL = "_internal"

# Present in every working bundle (relative to _internal).
MUST_HAVE = (
    "segcam/_models",
    "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite",
    "mediapipe/modules/selfie_segmentation/selfie_segmentation_landscape.tflite",
    "skimage/data/astronaut.png",
    "ai_edge_litert/libpywrap_litert_common.so",
)
# Never in the bundle: the parts of mediapipe and friends segcam does not use.
MUST_NOT_HAVE = (
    "jax",
    "jaxlib",
    "matplotlib",
    "scipy",
    "tensorflow",
    "torch",
    "mediapipe/python",
    "mediapipe/tasks",
    "PySide6/Qt/lib/libQt6WebEngineCore.so.6",
    "PySide6/Qt/lib/libQt6Quick.so.6",
)


class BundleCheckError(AssertionError):
    pass


def source_version() -> str:
    text = (REPO / "segcam" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"', text, re.M)
    if not match:
        raise BundleCheckError("no __version__ in segcam/__init__.py")
    return match.group(1)


def clean_env() -> dict[str, str]:
    """What ``env -i PATH=/usr/bin:/bin HOME=$HOME`` leaves: no venv, no PYTHONPATH."""
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")}
    for key in ("LANG", "TMPDIR"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def run_bundle(exe: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    cmd = [str(exe), *args]
    print("$", " ".join(cmd), flush=True)
    proc = subprocess.run(
        cmd, cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=600
    )
    for stream in (proc.stdout, proc.stderr):
        if stream.strip():
            print(stream.rstrip(), flush=True)
    if proc.returncode != 0:
        raise BundleCheckError(f"{' '.join(cmd)} exited with {proc.returncode}")
    return proc


def check_contents(bundle: Path) -> None:
    internal = bundle / _INTERNAL
    missing = [p for p in MUST_HAVE if not (internal / p).exists()]
    if missing:
        raise BundleCheckError(f"missing from the bundle: {', '.join(missing)}")
    unwanted = [p for p in MUST_NOT_HAVE if (internal / p).exists()]
    if unwanted:
        raise BundleCheckError(f"should not be in the bundle: {', '.join(unwanted)}")
    if (internal / "PySide6").is_dir():  # only once the GUI has landed
        plugins = internal / "PySide6" / "Qt" / "plugins"
        for plugin in ("platforms/libqxcb.so", "imageformats/libqsvg.so"):
            if not (plugins / plugin).exists():
                raise BundleCheckError(f"Qt plugin missing from the bundle: {plugin}")


def count_frames(path: Path) -> tuple[int, int, int, str]:
    """Decode every frame of ``path``: (frames, width, height, codec)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        n = 0
        for frame in container.decode(stream):
            frame.to_ndarray(format="bgr24")
            n += 1
        return n, stream.codec_context.width, stream.codec_context.height, stream.codec_context.name


def check_gui(exe: Path, tmpdir: Path) -> None:
    """Start ``segcam gui --input demo`` and see that it comes up and stays up.

    Under Xvfb (when xvfb-run is installed) this goes through the bundled xcb
    platform plugin, as on a real desktop; otherwise Qt's offscreen platform. The
    window is closed after GUI_SECONDS; it must not have exited or complained before.
    """
    if not (exe.parent / _INTERNAL / "PySide6").is_dir():
        print("no GUI in this bundle (segcam.gui not there at build time): GUI check skipped")
        return
    env = clean_env()
    env["HOME"] = str(tmpdir / "home")  # the window saves its settings there
    cmd = [str(exe), "gui", "--input", "demo"]
    xvfb = shutil.which("xvfb-run")
    if xvfb:
        cmd = [xvfb, "-a", "-s", "-screen 0 1280x800x24", *cmd]
        env["QT_QPA_PLATFORM"] = "xcb"
    else:
        env["QT_QPA_PLATFORM"] = "offscreen"
    print("$", f"QT_QPA_PLATFORM={env['QT_QPA_PLATFORM']}", " ".join(cmd), flush=True)
    proc = subprocess.Popen(
        cmd,
        env=env,
        cwd=tmpdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=GUI_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    else:
        raise BundleCheckError(f"segcam gui exited by itself with {proc.returncode}: {out}")
    if out.strip():
        print(out.rstrip())
    if "qt.qpa.plugin" in out or "error" in out.lower():
        raise BundleCheckError("segcam gui reported a problem (above)")
    print(f"segcam gui ran for {GUI_SECONDS} s on {env['QT_QPA_PLATFORM']} and was closed")


def check(bundle: Path) -> None:
    exe = bundle / "segcam"
    if not exe.is_file():
        raise BundleCheckError(f"no executable at {exe}")
    check_contents(bundle)
    with tempfile.TemporaryDirectory(prefix="segcam-bundle-") as tmp:
        tmpdir = Path(tmp)
        version = run_bundle(exe, "--version", cwd=tmpdir).stdout.strip()
        expected = f"segcam {source_version()}"
        if version != expected:
            raise BundleCheckError(f"--version printed {version!r}, expected {expected!r}")
        out = tmpdir / "x.mp4"
        run_bundle(
            exe,
            "record",
            "--input",
            "demo",
            "--frames",
            str(FRAMES),
            "--output",
            str(out),
            cwd=tmpdir,
        )
        frames, width, height, codec = count_frames(out)
        print(f"decoded {out.name}: {frames} frames, {width}x{height}, {codec}")
        if frames != FRAMES:
            raise BundleCheckError(f"the recording has {frames} frames, expected {FRAMES}")
        check_gui(exe, tmpdir)
    print(f"bundle OK: {bundle}")


def main(argv: list[str]) -> int:
    bundle = Path(argv[0] if argv else REPO / "dist" / "segcam").resolve()
    try:
        check(bundle)
    except (BundleCheckError, subprocess.TimeoutExpired) as e:
        print(f"check_bundle: FAILED: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
