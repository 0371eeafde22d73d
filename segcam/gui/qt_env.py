"""Getting Qt to start, or saying in one line why it cannot.

Two known traps (DESIGN.md §6), handled before the ``QApplication`` exists:

* The non-headless OpenCV wheel (``opencv-contrib-python``, which mediapipe needs)
  sets ``QT_QPA_PLATFORM_PLUGIN_PATH`` and ``QT_QPA_FONTDIR`` to its own Qt 5
  folders when ``cv2`` is imported. Qt 6 must not load plugins from there, so
  :func:`clean_cv2_qt_variables` removes them (only when they point into cv2's
  folder: a value the user set on purpose is kept).
* Qt's ``xcb`` platform plugin (X11) needs system libraries that minimal systems
  lack; without them Qt aborts the process with "no Qt platform plugin could be
  initialized". :func:`check_platform` finds the missing libraries first and
  names the Debian packages to install, and :func:`install_message_handler` turns
  any remaining fatal Qt message into one line instead of an abort.

This module imports no Qt at import time; it is called by ``segcam gui`` before
anything imports PySide6.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import sys
from pathlib import Path

from segcam.errors import SegcamError

log = logging.getLogger(__name__)

#: Shared libraries the xcb platform plugin of PySide6 6.x loads, and the Debian
#: package that provides each (DESIGN.md §6).
XCB_LIBRARIES: dict[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
}

#: Every Debian package the desktop app needs on X11, for messages and the README.
XCB_PACKAGES = " ".join(dict.fromkeys(XCB_LIBRARIES.values()))

_CV2_VARIABLES = ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR")


class QtUnavailable(SegcamError):
    """Qt cannot start here (PySide6 missing, a system library missing, no display)."""


def clean_cv2_qt_variables() -> list[str]:
    """Import cv2, then drop the Qt variables it set to its own folder; return their names."""
    import cv2

    cv2_dir = Path(cv2.__file__).resolve().parent
    removed = []
    for name in _CV2_VARIABLES:
        value = os.environ.get(name)
        if not value:
            continue
        try:
            inside = Path(value).resolve().is_relative_to(cv2_dir)
        except (OSError, ValueError):
            inside = False
        if inside:
            del os.environ[name]
            removed.append(name)
    if removed:
        log.debug("removed %s (set by OpenCV for its own Qt 5)", ", ".join(removed))
    return removed


def _platform_name() -> str:
    """The platform plugin Qt will try first (what QGuiApplication does on its own)."""
    explicit = os.environ.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    if explicit:
        return explicit
    if sys.platform.startswith("linux"):
        wayland = os.environ.get("WAYLAND_DISPLAY") or (
            os.environ.get("XDG_SESSION_TYPE", "").lower() == "wayland"
        )
        return "wayland" if wayland else "xcb"
    return {"darwin": "cocoa", "win32": "windows"}.get(sys.platform, "")


def missing_xcb_packages() -> list[str]:
    """Debian packages whose libraries the xcb plugin needs and the dynamic loader cannot find."""
    missing = []
    for lib, package in XCB_LIBRARIES.items():
        try:
            ctypes.CDLL(lib)
        except OSError:
            missing.append(package)
    return missing


def check_platform() -> str:
    """Raise :class:`QtUnavailable` with one line when Qt cannot show a window; return the
    platform name."""
    platform = _platform_name()
    if platform == "xcb":
        missing = missing_xcb_packages()
        if missing:
            raise QtUnavailable(
                "the desktop window cannot start: Qt's X11 (xcb) platform needs system "
                f"libraries that are missing; install them with: sudo apt-get install "
                f"{' '.join(missing)} (Debian/Ubuntu package names)"
            )
        if not os.environ.get("DISPLAY"):
            raise QtUnavailable(
                "the desktop window needs a display and DISPLAY is not set; on a machine "
                "without one, use segcam record or segcam vcam"
            )
    return platform


def import_qt() -> None:
    """Import PySide6's widgets, turning a missing wheel or library into one line."""
    try:
        import PySide6.QtWidgets  # noqa: F401
    except ImportError as e:
        text = str(e)
        m = re.search(r"(lib[\w.+-]+\.so[\w.]*)", text)
        if m:
            lib = m.group(1)
            package = XCB_LIBRARIES.get(lib)
            hint = (
                f"sudo apt-get install {package}"
                if package
                else f"install the system package that provides {lib}"
            )
            raise QtUnavailable(
                f"the desktop window cannot start: Qt needs {lib}, which is missing ({hint}; "
                f"all of Qt's X11 needs: {XCB_PACKAGES})"
            ) from None
        raise QtUnavailable(
            "the desktop window needs PySide6: pip install 'PySide6-Essentials>=6.5' "
            f"({text.splitlines()[0] if text else 'not installed'})"
        ) from None


def install_message_handler() -> None:
    """Route Qt's messages to our log; a fatal one becomes one line and exit code 2.

    Qt aborts the process on a fatal message (e.g. no usable platform plugin), so
    this is the last point where the user can get a readable message.
    """
    from PySide6.QtCore import QtMsgType, qInstallMessageHandler

    recent: list[str] = []  # the warnings before a fatal message say what went wrong

    def handler(kind, context, message: str) -> None:
        if kind == QtMsgType.QtFatalMsg:
            sys.stderr.write(f"segcam: error: {fatal_line(message, recent)}\n")
            sys.stderr.flush()
            os._exit(2)
        if kind == QtMsgType.QtWarningMsg:
            recent[:] = [*recent[-9:], message]
        level = {
            QtMsgType.QtDebugMsg: logging.DEBUG,
            QtMsgType.QtInfoMsg: logging.DEBUG,
            QtMsgType.QtWarningMsg: logging.DEBUG,
            QtMsgType.QtCriticalMsg: logging.WARNING,
        }.get(kind, logging.DEBUG)
        log.log(level, "Qt: %s", message)

    qInstallMessageHandler(handler)


def fatal_line(message: str, warnings: list[str]) -> str:
    """One line for a fatal Qt message, using the warnings that came just before it."""
    text = "\n".join([*warnings, message])
    m = re.search(r"could not connect to display\s*(\S*)", text)
    if m:
        display = m.group(1) or os.environ.get("DISPLAY", "")
        return (
            f"the desktop window cannot connect to the X display {display}: is an X server "
            "running there, and may this user use it? (check DISPLAY and xhost)"
        )
    m = re.search(r'Could not find the Qt platform plugin "([^"]+)"', text)
    if m:
        return (
            f'Qt has no platform plugin "{m.group(1)}": set QT_QPA_PLATFORM to xcb (X11), '
            "wayland or offscreen"
        )
    m = re.search(r'Could not load the Qt platform plugin "([^"]+)"', text)
    if (m and m.group(1) == "xcb") or ("xcb" in text and "platform plugin" in text):
        return (
            "Qt's X11 (xcb) platform plugin did not load; on Debian/Ubuntu install: "
            f"sudo apt-get install {XCB_PACKAGES}"
        )
    first = next((line for line in message.splitlines() if line.strip()), message)
    return f"Qt cannot start: {first.strip()}"
