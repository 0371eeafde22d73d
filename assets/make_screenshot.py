"""Screenshot of the real desktop window, as the X server shows it: assets/screenshot.png.

    python assets/make_screenshot.py [OUTPUT.png]

Starts a private X server (Xvfb, 1280x800) unless DISPLAY is set and --use-display
is given, runs ``segcam gui --input demo`` on it with Qt's ``xcb`` platform and a
throw-away config (window filling the screen, the "Dusk" background), waits until
the preview shows moving video, and saves the X server's own picture of the
screen (``xwd``, decoded here). Needs the Debian packages ``xvfb`` and
``x11-apps`` and Qt's X11 libraries (README, "Desktop app").

The functions are also used by tests/test_gui_xvfb.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
SCREEN = (1280, 800)
#: Inside the video area of a 1280x800 window (left of the sidebar, between the
#: menu bar and the control bar), whatever the frame's letterboxing.
PREVIEW_BOX = (120, 170, 820, 600)  # x0, y0, x1, y1


def tools_missing() -> list[str]:
    return [t for t in ("Xvfb", "xwd") if shutil.which(t) is None]


def start_xvfb(size: tuple[int, int] = SCREEN) -> tuple[subprocess.Popen, str]:
    """A new Xvfb on a free display number; returns the process and ``":N"``."""
    for n in range(90, 200):
        if os.path.exists(f"/tmp/.X11-unix/X{n}") or os.path.exists(f"/tmp/.X{n}-lock"):
            continue
        proc = subprocess.Popen(
            ["Xvfb", f":{n}", "-screen", "0", f"{size[0]}x{size[1]}x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if os.path.exists(f"/tmp/.X11-unix/X{n}"):
                return proc, f":{n}"
            if proc.poll() is not None:
                break  # the number was taken after all: try the next one
            time.sleep(0.05)
        with contextlib.suppress(Exception):
            proc.kill()
    raise RuntimeError("could not start Xvfb")


def read_xwd(data: bytes) -> np.ndarray:
    """Decode an XWD dump of a 24/32-bit TrueColor screen into BGR uint8."""
    fields = struct.unpack(">25I", data[:100])
    header_size, version = fields[0], fields[1]
    width, height, byte_order = fields[4], fields[5], fields[7]
    bits_per_pixel, bytes_per_line, ncolors = fields[11], fields[12], fields[19]
    if version != 7 or bits_per_pixel != 32:
        raise ValueError(f"unsupported XWD (version {version}, {bits_per_pixel} bits per pixel)")
    offset = header_size + 12 * ncolors
    rows = np.frombuffer(data, np.uint8, count=height * bytes_per_line, offset=offset)
    pixels = rows.reshape(height, bytes_per_line)[:, : 4 * width].reshape(height, width, 4)
    # LSBFirst: B, G, R, X in memory; MSBFirst: X, R, G, B.
    return np.ascontiguousarray(pixels[:, :, :3] if byte_order == 0 else pixels[:, :, 3:0:-1])


def grab(display: str) -> np.ndarray:
    """The whole screen of ``display`` as the X server has it, BGR."""
    out = subprocess.run(
        ["xwd", "-root", "-silent", "-display", display], capture_output=True, timeout=30
    )
    if out.returncode != 0:
        raise RuntimeError(f"xwd failed: {out.stderr.decode(errors='replace').strip()}")
    return read_xwd(out.stdout)


def start_app(
    display: str, config_dir: Path, config: str = "", args: tuple[str, ...] = ()
) -> subprocess.Popen:
    """``segcam -v gui --input demo`` on ``display`` with the xcb platform and its own config."""
    config_dir.mkdir(parents=True, exist_ok=True)
    path = config_dir / "config.toml"
    path.write_text(f'window = "{SCREEN[0]}x{SCREEN[1]}+0+0"\n' + config)
    env = dict(os.environ)
    env.update(
        DISPLAY=display,
        QT_QPA_PLATFORM="xcb",
        SEGCAM_CONFIG=str(path),
        XDG_RUNTIME_DIR=str(config_dir),
    )
    env.pop("WAYLAND_DISPLAY", None)
    return subprocess.Popen(
        [sys.executable, "-m", "segcam", "-v", "gui", "--input", "demo", *args],
        cwd=str(REPO),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def preview(image: np.ndarray) -> np.ndarray:
    x0, y0, x1, y1 = PREVIEW_BOX
    return image[y0:y1, x0:x1]


def wait_for_video(
    display: str, app: subprocess.Popen, timeout: float = 90.0
) -> tuple[np.ndarray, np.ndarray]:
    """Two screenshots, taken until the preview shows a picture that moves between them."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if app.poll() is not None:
            err = app.stderr.read() if app.stderr else ""
            raise RuntimeError(f"segcam exited early with code {app.returncode}: {err.strip()}")
        shot = grab(display)
        if last is not None:
            a, b = preview(last).astype(np.int16), preview(shot).astype(np.int16)
            if min(a.std(), b.std()) > 20 and np.abs(a - b).mean() > 0.5:
                return last, shot
        last = shot
        time.sleep(0.5)
    raise TimeoutError("the preview did not show moving video in time")


def stop_app(app: subprocess.Popen, timeout: float = 15.0) -> tuple[int, str]:
    """SIGTERM (the window closes normally); returns the exit code and stderr."""
    app.terminate()
    try:
        _, err = app.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        app.kill()
        _, err = app.communicate()
    return app.returncode, err


def main(argv: list[str]) -> int:
    output = Path(argv[0]) if argv else REPO / "assets" / "screenshot.png"
    missing = tools_missing()
    if missing:
        print(f"needs {', '.join(missing)}: apt-get install xvfb x11-apps", file=sys.stderr)
        return 2
    dusk = REPO / "assets" / "backgrounds" / "01-dusk.jpg"
    xvfb, display = start_xvfb()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            # Not mirrored, so the text on the suit reads the right way round.
            app = start_app(display, Path(tmp), f'background = "{dusk}"\nmirror = false\n')
            try:
                wait_for_video(display, app)
                time.sleep(4.0)  # let the status bar's rates settle
                shot = grab(display)
            finally:
                code, err = stop_app(app)
    finally:
        xvfb.terminate()
        xvfb.wait()
    cv2.imwrite(str(output), shot, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {output} ({output.stat().st_size // 1024} KiB); segcam exited with {code}")
    if code != 0:
        print(err, file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
