"""Starting the desktop app: settings, the Qt environment, the window, the event loop.

Order matters: every option is validated (one-line error, exit 2) before Qt is
touched; cv2 is imported and its Qt variables removed before PySide6 is imported
(:mod:`segcam.gui.qt_env`); a missing system library is reported before Qt can
abort the process.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass

from segcam.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass
class Startup:
    """Everything the window needs, worked out before Qt starts."""

    state: object  # GuiState
    config_path: str | None
    messages: list[str]
    source: str | list[str] | None
    resolution: tuple[int, int] | None
    fps: float | None
    vcam: str | None = None
    """``--vcam``: start with the virtual camera on (a device, ``pipewire``, ``auto``)."""


def _pipeline_settings(args: argparse.Namespace):
    """The effective settings; live sources get the live chain unless a chain is named."""
    try:
        from segcam.commands.settings import settings_for
    except ImportError:  # pragma: no cover - older tree without the live chain
        from segcam.settings_file import pipeline_settings

        return pipeline_settings(args)
    return settings_for(args, live=True)


def prepare(args: argparse.Namespace) -> Startup:
    """Validate options and read the config file (repairing a corrupt one). No Qt."""
    from segcam.config import parse_fps, parse_resolution
    from segcam.gui.state import GuiState
    from segcam.settings_file import load_or_reset, reset

    resolution = parse_resolution(args.resolution) if getattr(args, "resolution", None) else None
    fps = parse_fps(args.fps) if getattr(args, "fps", None) is not None else None
    config = getattr(args, "config", None)
    messages: list[str] = []
    fs, message = load_or_reset(config)
    if message:
        messages.append(message)
    stored = fs.values.get("background")
    if stored is not None and getattr(args, "background", None) is None:
        from segcam.config import parse_background

        try:
            parse_background(stored)
        except ConfigError as e:
            # Typically a background image deleted since: not a reason to reset the file.
            messages.append(f"The saved background cannot be used ({e}); using blur instead.")
            args = argparse.Namespace(**{**vars(args), "background": "blur"})
    try:
        settings = _pipeline_settings(args)
    except ConfigError as e:
        # A bad value from the file (the message names it) resets the file; a bad
        # option on the command line is the user's to fix: one line, exit 2.
        if fs.path is None or str(fs.path) not in str(e):
            raise
        messages.append(reset(fs.path, str(e)))
        fs = type(fs)(fs.path, {})
        settings = _pipeline_settings(args)
    inputs = getattr(args, "input", None)
    source: str | list[str] | None = None
    if inputs:
        source = inputs[0] if len(inputs) == 1 else list(inputs)
    try:
        state = GuiState.from_settings(
            settings, fs.values, source if isinstance(source, str) else None
        )
    except ConfigError as e:
        if fs.path is None:
            raise
        messages.append(reset(fs.path, f"{e} in {fs.path}"))
        state = GuiState.from_settings(
            _pipeline_settings(args), {}, source if isinstance(source, str) else None
        )
    named = getattr(args, "filters", None) is not None or "filters" in fs.values
    state.filters_named = named
    return Startup(
        state, config, messages, source, resolution, fps, vcam=getattr(args, "vcam", None)
    )


def build_window(startup: Startup):
    """The main window for ``startup`` (a QApplication must exist)."""
    from segcam.gui.main_window import MainWindow
    from segcam.gui.refcount_guard import guard

    guard()

    return MainWindow(
        startup.state,  # type: ignore[arg-type]
        config_path=startup.config_path,
        messages=startup.messages,
        source=startup.source,
        resolution=startup.resolution,
        fps=startup.fps,
        vcam=startup.vcam,
    )


def run_app(args: argparse.Namespace) -> int:
    """``segcam gui``: open the window and run until it closes; return the exit code."""
    from segcam.gui import qt_env

    startup = prepare(args)
    qt_env.clean_cv2_qt_variables()
    platform = qt_env.check_platform()
    qt_env.import_qt()
    qt_env.install_message_handler()
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QIcon
    from PySide6.QtWidgets import QApplication

    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
        Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
    )
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "segcam"])
    app.setApplicationName("segcam")
    app.setApplicationDisplayName("segcam")
    app.setDesktopFileName("segcam")
    apply_theme(app)
    from segcam.resources import assets_dir

    icon = assets_dir() / "icons" / "segcam.png"
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
    log.info("Qt platform: %s", app.platformName() or platform)
    window = build_window(startup)
    window.show()
    window.start()
    _close_on_signals(window)
    return int(app.exec())


def apply_theme(app) -> None:
    """Fusion with a dark palette: video looks best on a dark frame, as in other
    camera and streaming apps, and it looks the same on every desktop."""
    from PySide6.QtGui import QColor, QPalette

    app.setStyle("Fusion")
    pal = QPalette()
    role = QPalette.ColorRole
    for r, c in (
        (role.Window, "#26282c"),
        (role.WindowText, "#e6e6e6"),
        (role.Base, "#32353b"),
        (role.AlternateBase, "#3a3d44"),
        (role.ToolTipBase, "#30333a"),
        (role.ToolTipText, "#f0f0f0"),
        (role.Text, "#e6e6e6"),
        (role.Button, "#34373d"),
        (role.ButtonText, "#ececec"),
        (role.BrightText, "#ff6b6b"),
        (role.Highlight, "#3d7bd9"),
        (role.HighlightedText, "#ffffff"),
        (role.Link, "#74a9ff"),
        (role.PlaceholderText, "#8a8d93"),
    ):
        pal.setColor(r, QColor(c))
    disabled = QPalette.ColorGroup.Disabled
    for r in (role.WindowText, role.Text, role.ButtonText):
        pal.setColor(disabled, r, QColor("#7a7d83"))
    # Fusion fills a slider's groove with the highlight colour: grey it out, so a slider
    # whose effect is off (or the threshold without the smooth step) looks inactive.
    pal.setColor(disabled, role.Highlight, QColor("#4e5259"))
    app.setPalette(pal)
    from segcam.resources import assets_dir

    check = (assets_dir() / "icons" / "check.svg").as_posix()
    # Fusion draws check boxes with outlines derived from the window colour, which
    # vanish on a dark window; these stay visible.
    app.setStyleSheet(
        "QCheckBox::indicator { width: 14px; height: 14px; border: 1px solid #8b9099; "
        "border-radius: 3px; background: #2b2e33; }"
        "QCheckBox::indicator:hover { border-color: #c2c7cf; }"
        "QCheckBox::indicator:checked { background: #3d7bd9; border-color: #3d7bd9; "
        f"image: url({check}); }}"
        "QCheckBox::indicator:disabled { border-color: #55585e; background: #2f3136; }"
    )


def _close_on_signals(window) -> None:
    """Ctrl+C in the terminal and SIGTERM close the window the normal way (settings
    saved, threads joined). Python runs signal handlers only between bytecodes, so a
    timer wakes the interpreter a few times a second while Qt's loop waits."""
    import signal

    from PySide6.QtCore import QTimer

    def handler(signum, _frame) -> None:
        log.info("signal %d: closing the window", signum)
        window.close()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)
    timer = QTimer(window)
    timer.timeout.connect(lambda: None)
    timer.start(200)
