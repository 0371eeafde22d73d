"""The main window: preview, sidebar, menus and hotkeys, status bar, persistence.

Every control edits the :class:`~segcam.gui.state.GuiState`; the window then
posts the new immutable settings snapshot to the pipeline
(:class:`~segcam.gui.session.Session`). Menu actions are the single place a
command lives: the hotkeys are their shortcuts and the sidebar's switches are
kept in step with them, so a filter switched with its key shows as switched in
the sidebar, the menu and an on-screen message.

Threading: everything here runs on the GUI thread. Frames arrive by signal from
the preview sink; slow work (opening sources, loading models and backgrounds,
writing snapshots, finalising recordings) runs as jobs (:mod:`segcam.gui.jobs`).
"""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path

from PySide6.QtCore import QRect, Qt, QTimer, QUrl
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QColor, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QColorDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from segcam import __version__
from segcam.capture import is_demo
from segcam.capture.cameras import CameraInfo, list_cameras
from segcam.config import parse_background
from segcam.errors import ConfigError, SegcamError, one_line
from segcam.gui import gallery
from segcam.gui.rates import RateMeter
from segcam.gui.session import Problem, Session, is_camera
from segcam.gui.sidebar import THUMB, ControlBar, Sidebar, bgr_icon, drawn_icon
from segcam.gui.state import TOGGLES, GuiState, format_window, parse_window
from segcam.gui.video_view import VideoView
from segcam.gui.widgets import BannerStack, HelpOverlay

log = logging.getLogger(__name__)

_FILTER_LABELS = {name: label for name, label, _ in TOGGLES}
#: Banner kinds about the running source: a new source or a fresh start clears them.
_SOURCE_PROBLEMS = ("camera", "input", "internal", "no-camera")
_OPEN_FILE = "\x00open"
_MEDIA_FILTER = (
    "Videos and images (*.mp4 *.mkv *.webm *.mov *.avi *.m4v *.gif *.jpg *.jpeg *.png "
    "*.bmp *.webp *.tif *.tiff);;All files (*)"
)

HOTKEYS: list[tuple[str, str]] = [
    ("C", "Colour transfer on / off"),
    ("S", "Seamless clone on / off"),
    ("M", "Smooth step on / off"),
    ("H", "Harmonize on / off"),
    ("L", "Low light on / off"),
    ("F", "Focal blur on / off"),
    ("A", "Auto-framing on / off"),
    ("B", "Blur background on / off"),
    ("N  or  →", "Next background"),
    ("P  or  ←", "Previous background"),
    ("1, 2, …", "Choose the model"),
    ("Space", "Pause / resume"),
    ("F11", "Full screen"),
    ("Ctrl+S", "Snapshot (PNG in Pictures)"),
    ("Ctrl+R", "Start / stop recording"),
    ("Ctrl+Shift+V", "Virtual camera on / off"),
    ("Ctrl+O", "Open a video or image"),
    ("? or F1", "This help"),
    ("Q or Esc", "Quit (Esc leaves full screen first)"),
]


def available_models(current: str) -> list[tuple[str, str]]:
    """``(name, description)`` of every model this installation can run, then bgsub.

    Asked of :mod:`segcam.inference` at run time, so models added as manifests
    appear without a change here. ``current`` (e.g. a path given with --model)
    is listed too.
    """
    from segcam.inference import models as registry

    found: dict[str, str] = {}
    names = list(getattr(registry, "BUILTIN_MODELS", {}))
    user = getattr(registry, "user_manifests", None)
    if callable(user):
        try:
            names += [n for n in user()[0] if n not in names]
        except Exception:
            log.debug("listing user models failed", exc_info=True)
    for name in names:
        try:
            info = registry.resolve_model(name)
        except Exception as e:  # listed but not runnable here (file or package missing)
            log.debug("model %s is not available: %s", name, one_line(e))
            continue
        found[name] = info.description or name
    found["bgsub"] = "Static background subtraction: no model; keep the camera still"
    if current and current.lower() not in {n.lower() for n in found}:
        found[current] = f"model given on the command line: {current}"
    return list(found.items())


def pictures_dir() -> Path:
    from segcam.snapshot import pictures_dir as default

    return default()


def videos_dir() -> Path:
    from platformdirs import user_videos_dir

    return Path(user_videos_dir())


class MainWindow(QMainWindow):
    """The desktop app's window. Call :meth:`start` after showing it."""

    def __init__(
        self,
        state: GuiState,
        *,
        config_path: str | Path | None = None,
        messages: list[str] | None = None,
        source: str | list[str] | None = None,
        resolution: tuple[int, int] | None = None,
        fps: float | None = None,
        vcam: str | None = None,
    ) -> None:
        """``vcam``: turn the virtual camera on at start (``--vcam``: a device,
        ``pipewire`` or ``auto``); None leaves it off."""
        super().__init__()
        self.state = state
        self.config_path = config_path
        self.source_override = source if isinstance(source, list) else None
        self.snapshot_dir: Path | None = None  # None: the user's pictures folder
        self.recordings_dir: Path | None = None  # None: the user's videos folder
        self.last_snapshot: Path | None = None
        self._startup_messages = [m for m in (messages or []) if m]
        self._before_blur: str | None = None
        self._frame_sink = None
        self._moves_shown = 0  # camera moves the clean plate saw, already told
        self._cameras: list[CameraInfo] = []
        self._closing = False
        self._in_rate = RateMeter()
        self._out_rate = RateMeter()

        self.setWindowTitle("segcam")
        self.session = Session(self)
        self.session.frame_ready.connect(self._on_frame)
        self.session.started.connect(self._on_started)
        self.session.problem.connect(self._on_problem)
        self.session.problem_cleared.connect(self._on_problem_cleared)
        self.session.recording_changed.connect(self._on_recording_changed)
        self.session.busy_changed.connect(self._on_busy)
        self.session.vcam_changed.connect(self._on_vcam_changed)
        self._vcam_at_start = vcam
        self.session.resolution, self.session.fps = resolution, fps

        self._models = available_models(state.model)
        self._build_ui()
        self._build_actions()
        self._build_menus()
        self._connect_sidebar()
        self._restore_geometry()
        self._sync_all()

        self._apply_timer = QTimer(self)
        self._apply_timer.setSingleShot(True)
        self._apply_timer.setInterval(80)  # slider drags: at most ~12 rebuilds a second
        self._apply_timer.timeout.connect(self._post_settings)
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(2000)
        self._save_timer.timeout.connect(self.save_settings)
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(500)
        self._status_timer.timeout.connect(self._update_status)
        self._status_timer.start()

    # -- construction -----------------------------------------------------------------

    def _build_ui(self) -> None:
        central = QWidget()
        row = QHBoxLayout(central)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        left = QWidget()
        col = QVBoxLayout(left)
        col.setContentsMargins(8, 8, 8, 8)
        col.setSpacing(6)
        self.banner = BannerStack()
        self.view = VideoView()
        self.view.mirror = self.state.mirror
        self.controls = ControlBar()
        col.addWidget(self.banner)
        col.addWidget(self.view, 1)
        col.addWidget(self.controls)
        row.addWidget(left, 1)
        self.sidebar = Sidebar(self._models)
        # 330 px, or wider where the fonts need it: the scroll area clips, never wraps.
        self.sidebar.setFixedWidth(max(330, self.sidebar.needed_width()))
        row.addWidget(self.sidebar)
        self.setCentralWidget(central)
        self.help = HelpOverlay(HOTKEYS, self.view)
        self.stats_label = QLabel()
        self.stats_label.setObjectName("stats")
        self.rec_label = QLabel()
        self.rec_label.setStyleSheet("color: #e5484d; font-weight: bold;")
        self.statusBar().addPermanentWidget(self.rec_label)
        self.statusBar().addPermanentWidget(self.stats_label)
        self._rebuild_gallery()
        self._fill_sources([])

    def _action(self, text: str, slot, keys=(), checkable: bool = False, tip: str = "") -> QAction:
        a = QAction(text, self)
        if keys:
            a.setShortcuts([QKeySequence(k) for k in keys])
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        a.setCheckable(checkable)
        if tip:
            a.setToolTip(tip)
            a.setStatusTip(tip)
        if checkable:
            a.toggled.connect(slot)
        else:
            a.triggered.connect(slot)
        self.addAction(a)  # shortcuts work with the menu bar hidden (full screen)
        return a

    def _build_actions(self) -> None:
        self.filter_actions: dict[str, QAction] = {}
        for name, label, key in TOGGLES:
            self.filter_actions[name] = self._action(
                label,
                lambda on, n=name: self.set_filter(n, on),
                keys=(key,) if key else (),
                checkable=True,
            )
        self.act_blur = self._action("Blur background", self.toggle_blur, keys=("B",))
        self.act_next = self._action(
            "Next background", lambda: self.step_background(1), keys=("N", "Right")
        )
        self.act_prev = self._action(
            "Previous background", lambda: self.step_background(-1), keys=("P", "Left")
        )
        self.act_add_bg = self._action("Add image or video…", self.add_background)
        self.model_group = QActionGroup(self)
        self.model_group.setExclusive(True)
        self.model_actions: list[QAction] = []
        for i, (name, description) in enumerate(self._models):
            keys = (str(i + 1),) if i < 9 else ()
            a = self._action(name, lambda checked=False, n=name: self.set_model(n), keys=keys)
            a.setCheckable(True)
            a.setToolTip(description)
            self.model_group.addAction(a)
            self.model_actions.append(a)
        self.act_pause = self._action(
            "Pause", self.set_paused, keys=("Space",), checkable=True, tip="Stop the camera"
        )
        self.act_mirror = self._action("Mirror preview", self.set_mirror, checkable=True)
        self.act_full = self._action(
            "Full screen", self.set_full_screen, keys=("F11",), checkable=True
        )
        self.act_snapshot = self._action("Snapshot", self.snapshot, keys=("Ctrl+S",))
        self.act_record = self._action(
            "Record", self.set_recording, keys=("Ctrl+R",), checkable=True
        )
        self.act_vcam = self._action(
            "Virtual camera",
            self.set_vcam,
            keys=("Ctrl+Shift+V",),
            checkable=True,
            tip="Send the video to a virtual webcam for Zoom, Meet, Teams or OBS",
        )
        self.act_open = self._action("Open video or image…", self.open_file, keys=("Ctrl+O",))
        self.act_demo = self._action("Use the demo source", self.use_demo)
        self.act_open_pictures = self._action("Open snapshots folder", self.open_snapshot_folder)
        self.act_help = self._action("Keyboard shortcuts", self.toggle_help, keys=("?", "F1"))
        self.act_about = self._action("About segcam", self.about)
        self.act_quit = self._action("Quit", self.close, keys=("Q", "Ctrl+Q"))
        self.act_escape = self._action("Leave full screen / quit", self.escape, keys=("Esc",))

    def _build_menus(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&File")
        for a in (
            self.act_open,
            self.act_demo,
            None,
            self.act_snapshot,
            self.act_record,
            self.act_vcam,
        ):
            m.addSeparator() if a is None else m.addAction(a)
        m.addAction(self.act_open_pictures)
        m.addSeparator()
        m.addAction(self.act_quit)
        m = mb.addMenu("&View")
        for a in (self.act_pause, self.act_mirror, self.act_full):
            m.addAction(a)
        m = mb.addMenu("&Background")
        for a in (self.act_next, self.act_prev, self.act_blur, None, self.act_add_bg):
            m.addSeparator() if a is None else m.addAction(a)
        m = mb.addMenu("F&ilters")
        for name, _, _ in TOGGLES:
            m.addAction(self.filter_actions[name])
        m = mb.addMenu("&Model")
        for a in self.model_actions:
            m.addAction(a)
        m = mb.addMenu("&Help")
        m.addAction(self.act_help)
        m.addAction(self.act_about)

    def _connect_sidebar(self) -> None:
        sb = self.sidebar
        sb.source.activated.connect(self._source_chosen)
        sb.rescan.clicked.connect(self.rescan_cameras)
        sb.vcam.toggled.connect(self.act_vcam.setChecked)
        sb.model.activated.connect(lambda i: self.set_model(sb.model.itemData(i)))
        sb.gallery.currentRowChanged.connect(self._gallery_row_changed)
        sb.add_background.clicked.connect(self.add_background)
        sb.remove_background.clicked.connect(self.remove_background)
        sb.blur.valueChanged.connect(self._blur_changed)
        sb.colour.clicked.connect(self.choose_colour)
        sb.threshold.valueChanged.connect(self._threshold_changed)
        for name, row in sb.effects.items():
            row.slider.valueChanged.connect(lambda v, n=name: self._effect_changed(n, v))
        for name, check in sb.toggles.items():
            check.toggled.connect(self.filter_actions[name].setChecked)
        cb = self.controls
        cb.mirror.toggled.connect(self.act_mirror.setChecked)
        cb.pause.clicked.connect(self.act_pause.toggle)
        cb.snapshot.clicked.connect(self.snapshot)
        self.sidebar.learn_bg.clicked.connect(self.learn_background)
        cb.record.toggled.connect(self.act_record.setChecked)
        cb.help.clicked.connect(self.toggle_help)

    def _restore_geometry(self) -> None:
        geo = parse_window(self.state.window)
        screen = self.screen().availableGeometry() if self.screen() else QRect(0, 0, 1280, 800)
        if geo is None:
            w = min(1280, screen.width())
            h = min(800, screen.height())
            self.resize(w, h)
            self.move(
                screen.x() + (screen.width() - w) // 2, screen.y() + (screen.height() - h) // 2
            )
            return
        w, h, x, y, maximized = geo
        w, h = min(w, screen.width()), min(h, screen.height())
        # Keep the window on a screen that still exists.
        x = min(max(x, screen.x()), screen.x() + screen.width() - w)
        y = min(max(y, screen.y()), screen.y() + screen.height() - h)
        self.setGeometry(x, y, w, h)
        if maximized:
            self.setWindowState(Qt.WindowState.WindowMaximized)

    # -- starting -----------------------------------------------------------------------

    def start(self) -> None:
        """Open the source and show the startup messages (after ``show()``)."""
        if self._startup_messages:
            # One banner for all of them, its own kind: a camera or settings problem
            # shown later stacks below it instead of replacing it.
            self.banner.show_message("\n".join(self._startup_messages), "warning", kind="startup")
        self.rescan_cameras()
        self.view.set_placeholder("Opening the video source…")
        self.session.open(self._source(), self.state.pipeline_settings())
        if self._vcam_at_start is not None:
            self.set_vcam(True, self._vcam_at_start)

    def _source(self) -> str | list[str]:
        return self.source_override or self.state.source

    # -- syncing the visible state -------------------------------------------------------

    def _sync_all(self) -> None:
        st, sb = self.state, self.sidebar
        for name, action in self.filter_actions.items():
            on = st.filter_on(name)
            action.blockSignals(True)
            action.setChecked(on)
            action.blockSignals(False)
            sb.toggles[name].blockSignals(True)
            sb.toggles[name].setChecked(on)
            sb.toggles[name].blockSignals(False)
        for w, value in (
            (sb.threshold, round(st.threshold * 100)),
            (sb.blur, round(st.blur_strength)),
        ):
            w.blockSignals(True)
            w.setValue(value)
            w.blockSignals(False)
        sb.threshold_value.setText(f"{st.threshold:.2f}")
        sb.threshold.setEnabled(st.filter_on("smoothstep"))
        for name, row in sb.effects.items():
            shown = st.effect_shown(name)
            # The state keeps the exact value (one from --filters may lie between two
            # slider steps); the slider only shows the nearest step.
            row.slider.blockSignals(True)
            row.slider.setValue(row.control.position(shown))
            row.slider.blockSignals(False)
            row.show_value(shown)
            row.set_enabled(st.filter_on(name))
        sb.blur_value.setText(f"{st.blur_strength:g}")
        sb.colour.setText(st.colour)
        sb.colour.setStyleSheet(
            f"QPushButton {{ background: {st.colour}; color: "
            f"{'#000' if QColor(st.colour).lightness() > 140 else '#fff'}; }}"
        )
        for w, on in ((self.act_mirror, st.mirror), (self.controls.mirror, st.mirror)):
            w.blockSignals(True)
            w.setChecked(on)
            w.blockSignals(False)
        self._sync_model()
        self._sync_gallery()

    def _sync_model(self) -> None:
        names = [n for n, _ in self._models]
        i = names.index(self.state.model) if self.state.model in names else -1
        self.sidebar.model.setCurrentIndex(i)
        for j, a in enumerate(self.model_actions):
            a.blockSignals(True)
            a.setChecked(j == i)
            a.blockSignals(False)

    def _sync_gallery(self) -> None:
        i = gallery.find(self._items, self.state.background)
        if i is None:
            self._rebuild_gallery()
            i = gallery.find(self._items, self.state.background)
        g = self.sidebar.gallery
        g.blockSignals(True)
        g.setCurrentRow(-1 if i is None else i)
        g.blockSignals(False)
        item = self._items[i] if i is not None else None
        self.sidebar.remove_background.setEnabled(item is not None and not item.builtin)

    # -- gallery ------------------------------------------------------------------------

    def _rebuild_gallery(self) -> None:
        self._items = gallery.build_items(self.state.user_backgrounds, self.state.background)
        g = self.sidebar.gallery
        g.blockSignals(True)
        g.clear()
        for item in self._items:
            w = QListWidgetItem(item.label)
            w.setToolTip(item.path or item.label)
            w.setTextAlignment(Qt.AlignmentFlag.AlignHCenter)
            if item.kind in ("image", "video"):
                w.setIcon(drawn_icon(gallery.GalleryItem("", "", "colour"), "#3a3d44"))
            else:
                w.setIcon(drawn_icon(item, self.state.colour))
            g.addItem(w)
        g.blockSignals(False)
        files = [(i, it) for i, it in enumerate(self._items) if it.kind in ("image", "video")]
        items = list(self._items)

        def work():
            size = (THUMB.width(), THUMB.height())
            return [(i, gallery.thumbnail(it, size)) for i, it in files]

        def done(thumbs) -> None:
            if items != self._items:
                return  # the gallery changed meanwhile
            for i, image in thumbs:
                if image is not None:
                    self.sidebar.gallery.item(i).setIcon(bgr_icon(image))

        if files:
            self.session.jobs.submit("gallery thumbnails", work, on_done=done)

    def _gallery_row_changed(self, row: int) -> None:
        if 0 <= row < len(self._items):
            item = self._items[row]
            self.set_background(item.spec_text(self.state.blur_strength, self.state.colour))

    def step_background(self, step: int) -> None:
        """Select the next (``step`` = 1) or previous (-1) gallery entry, wrapping around."""
        n = len(self._items)
        # The row shown, which runs ahead of the state while a file background loads.
        current = self.sidebar.gallery.currentRow()
        if current < 0:
            current = gallery.find(self._items, self.state.background)
        row = 0 if current is None else (current + step) % n
        self.sidebar.gallery.setCurrentRow(row)
        self.view.flash(f"Background: {self._items[row].label}")

    def toggle_blur(self) -> None:
        """B: blur the background, or go back to the background used before blurring."""
        if parse_background(self.state.background).kind == "blur":
            back = self._before_blur
            if back is None or gallery.find(self._items, back) is None:
                back = next(
                    (
                        it.spec_text(self.state.blur_strength, self.state.colour)
                        for it in self._items
                        if it.kind == "image"
                    ),
                    self.state.colour,
                )
            self.set_background(back)
            self.view.flash("Blur: off")
        else:
            self._before_blur = self.state.background
            self.set_background(f"blur:{self.state.blur_strength:g}")
            self.view.flash("Blur: on")

    def set_background(self, text: str) -> None:
        """Use background ``text`` (a --background string). Files are loaded in a job first;
        a file that fails leaves the current background and shows a banner."""
        try:
            spec = parse_background(text)
        except ConfigError as e:
            self._background_failed(text, e)
            return
        if spec.kind not in ("image", "video"):
            self._background_ok(text)
            return

        # Optimistic: the gallery already shows the choice; it goes back on failure.
        def check():
            # Loaded into the session's cache: the worker takes this very provider.
            self.session.load_background(spec)

        self.session.apply_checked(
            "background",
            check,
            on_ok=lambda: self._background_ok(text),
            on_fail=lambda e: self._background_failed(text, e),
        )
        self._select_in_gallery(text)

    def _select_in_gallery(self, text: str) -> None:
        i = gallery.find(self._items, text)
        if i is not None:
            g = self.sidebar.gallery
            g.blockSignals(True)
            g.setCurrentRow(i)
            g.blockSignals(False)

    def _background_ok(self, text: str) -> None:
        self.session.cancel_check("background")  # a file still loading was overtaken
        self.state.background = text
        spec = parse_background(text)
        if spec.kind == "blur":
            self.state.blur_strength = spec.blur
        self._sync_all()
        self._settings_changed(now=True)
        self.banner.dismiss("background")

    def _background_failed(self, text: str, err: BaseException) -> None:
        message = str(err) if isinstance(err, SegcamError) else one_line(err)
        self._sync_gallery()  # back to the background in use
        self.banner.show_message(
            f"This background cannot be used: {message}",
            "error",
            [("Choose another background", self.sidebar.gallery.setFocus)],
            kind="background",
        )

    def add_background(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Add a background image or video", str(Path.home()), _MEDIA_FILTER
        )
        if path:
            self.add_background_path(path)

    def add_background_path(self, path: str) -> None:
        """Add ``path`` to the gallery (remembered) once it loads, and use it."""
        path = os.path.abspath(path)

        def ok() -> None:
            if path not in self.state.user_backgrounds:
                self.state.user_backgrounds.append(path)
            self.state.background = path
            self._rebuild_gallery()
            self._background_ok(path)

        def check():
            self.session.load_background(parse_background(path))

        try:
            parse_background(path)
        except ConfigError as e:
            self._background_failed(path, e)
            return
        self.session.apply_checked(
            "background",
            check,
            ok,
            lambda e: self._background_failed(path, e),
        )

    def remove_background(self) -> None:
        row = self.sidebar.gallery.currentRow()
        if not 0 <= row < len(self._items) or self._items[row].builtin:
            return
        path = self._items[row].path
        self.state.user_backgrounds = [p for p in self.state.user_backgrounds if p != path]
        self.state.background = f"blur:{self.state.blur_strength:g}"
        self._rebuild_gallery()
        self._background_ok(self.state.background)

    def _blur_changed(self, value: int) -> None:
        self.state.blur_strength = float(value)
        self.sidebar.blur_value.setText(str(value))
        if parse_background(self.state.background).kind == "blur":
            self.state.background = f"blur:{value}"
            self._settings_changed()

    def choose_colour(self) -> None:
        colour = QColorDialog.getColor(QColor(self.state.colour), self, "Background colour")
        if colour.isValid():
            self.set_colour(colour.name())

    def set_colour(self, hex_colour: str) -> None:
        self.state.colour = hex_colour
        i = next(i for i, it in enumerate(self._items) if it.kind == "colour")
        self.sidebar.gallery.item(i).setIcon(drawn_icon(self._items[i], hex_colour))
        self._background_ok(hex_colour)

    # -- filters, threshold, model, mirror ------------------------------------------------

    def set_filter(self, name: str, on: bool) -> None:
        self.state.set_filter_on(name, on)
        self._sync_all()
        self._settings_changed(now=True)
        self.view.flash(f"{_FILTER_LABELS.get(name, name)}: {'on' if on else 'off'}")

    def _threshold_changed(self, value: int) -> None:
        self.state.set_threshold(value / 100.0)
        self.sidebar.threshold_value.setText(f"{self.state.threshold:.2f}")
        self._settings_changed()

    def _effect_changed(self, name: str, position: int) -> None:
        """An effect's slider moved: set its filter's parameter (throttled like the
        threshold: a drag posts at most one snapshot per 80 ms, each rebuilding only
        that filter)."""
        row = self.sidebar.effects[name]
        value = row.control.value(position)
        try:
            self.state.set_effect(name, value)
        except ConfigError as e:  # the slider's range lies inside the parameter's
            log.warning("%s", e)
            return
        row.show_value(value)
        self._settings_changed()

    def set_model(self, name: str) -> None:
        if not name or name == self.state.model:
            self._sync_model()
            return
        threads, accelerator = self.state.threads, self.state.accelerator
        previous = self.state.model
        self.state.model = name  # shown at once; reverted if it does not load
        self._sync_model()
        self.view.flash(f"Model: {name}")

        def ok() -> None:
            self._settings_changed(now=True)
            self.banner.dismiss("model")

        def failed(err: BaseException) -> None:
            if self.state.model == name:
                self.state.model = previous
                self._sync_model()
            message = str(err) if isinstance(err, SegcamError) else one_line(err)
            self.banner.show_message(
                f"Model {name} cannot be used: {message}",
                "error",
                [(f"Keep {previous}", lambda: self.banner.dismiss("model"))],
                kind="model",
            )

        self.session.apply_checked(
            "model", lambda: self.session.load_model(name, threads, accelerator), ok, failed
        )

    def set_mirror(self, on: bool) -> None:
        self.state.mirror = on
        self.view.mirror = on
        self.view.update()
        self._sync_all()
        self._save_timer.start()

    def _settings_changed(self, now: bool = False) -> None:
        """Post the new settings (now, or within 80 ms for slider drags) and save soon."""
        if now:
            self._apply_timer.stop()
            self._post_settings()
        else:
            self._apply_timer.start()
        self._save_timer.start()

    def _post_settings(self) -> None:
        try:
            settings = self.state.pipeline_settings()
        except ConfigError as e:
            self.banner.show_message(str(e), "error", kind="config")
            return
        self.session.apply(settings)

    # -- sources ----------------------------------------------------------------------------

    def rescan_cameras(self) -> None:
        self.session.jobs.submit("listing cameras", list_cameras, on_done=self._fill_sources)

    def _fill_sources(self, cameras: list[CameraInfo]) -> None:
        self._cameras = list(cameras)
        combo = self.sidebar.source
        combo.blockSignals(True)
        combo.clear()
        # The style's own icons, not emoji: fonts without emoji (a minimal Linux
        # install, Xvfb) draw those as empty boxes.
        style = self.style()
        camera_icon = style.standardIcon(QStyle.StandardPixmap.SP_ComputerIcon)
        file_icon = style.standardIcon(QStyle.StandardPixmap.SP_FileIcon)
        for cam in cameras:
            combo.addItem(camera_icon, cam.label(), cam.spec)
        if not cameras:
            combo.addItem("No camera found", None)
            combo.model().item(0).setEnabled(False)
        combo.addItem("Demo (astronaut portrait)", "demo")
        combo.addItem("Demo (desk, still camera)", "demo:desk")
        current = self.state.source
        if current != "auto" and not is_demo(current) and not is_camera(current):
            combo.addItem(file_icon, Path(current).name, current)
        combo.addItem("Open video or image…", _OPEN_FILE)
        combo.blockSignals(False)
        self._sync_source()

    def _sync_source(self) -> None:
        combo = self.sidebar.source
        want = self.state.source
        if want == "auto":
            name = self.session.source_name
            want = (
                "demo"
                if name.startswith("demo")
                else (self._cameras[0].spec if self._cameras else "demo")
            )
        for i in range(combo.count()):
            data = combo.itemData(i)
            if data == want or (
                is_camera(want)
                and isinstance(data, str)
                and is_camera(data)
                and _same_camera(data, want)
            ):
                combo.setCurrentIndex(i)
                return

    def _source_chosen(self, index: int) -> None:
        data = self.sidebar.source.itemData(index)
        if data == _OPEN_FILE:
            self.open_file()
            self._sync_source()
        elif data:
            self.set_source(data)

    def set_source(self, spec: str) -> None:
        """Switch the input (a camera index or device, ``demo``, or a file)."""
        self.source_override = None
        self.state.source = spec
        self.act_pause.setChecked(False)
        self.view.paused = False
        self.banner.dismiss(*_SOURCE_PROBLEMS)  # about the old source; notices stay
        self.view.set_placeholder(f"Opening {spec}…")
        self.session.open(spec, self.state.pipeline_settings())
        self._fill_sources(self._cameras)
        self._save_timer.start()

    def open_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a video or image", str(Path.home()), _MEDIA_FILTER
        )
        if path:
            self.set_source(path)

    def use_demo(self) -> None:
        self.set_source("demo")

    def choose_camera(self) -> None:
        self.sidebar.source.setFocus()
        self.sidebar.source.showPopup()

    # -- frames and status --------------------------------------------------------------------

    def _on_frame(self, payload) -> None:
        sink, frame = payload
        sink.taken()
        if sink is not self.session.sink or self.session.paused:
            sink.release(frame)  # from a pipeline that is being replaced
            return
        old = self.view.show_frame(frame)
        old_sink, self._frame_sink = self._frame_sink, sink
        if old is not None and old_sink is not None:
            old_sink.release(old)
        self._sync_learning()
        self._sync_camera_moved()

    def learn_background(self) -> None:
        """The "Learn background" button: the clean plate (``cleanplate``) learns the scene."""
        p = self.session.pipeline
        chain = getattr(getattr(p, "processor", None), "chain", None) if p is not None else None
        if chain is not None and chain.learn_background():
            text, level = "Learning the background: step out of the frame for 1 s", "info"
        else:
            text, level = "Learn background needs the cleanplate filter (a still camera)", "info"
        self.banner.show_message(text, level, kind="cleanplate")

    def _sync_camera_moved(self) -> None:
        """When the clean plate sees the camera move, say why the cut-out degrades.

        The plate no longer fits a moved camera and is learned again; without a word
        the user only sees a worse mask. Shown once per new move, as a warning.
        """
        p = self.session.pipeline
        chain = getattr(getattr(p, "processor", None), "chain", None) if p is not None else None
        moves = sum(int(getattr(f, "moves", 0) or 0) for f in getattr(chain, "instances", ()))
        if moves <= self._moves_shown:
            self._moves_shown = min(self._moves_shown, moves)  # a new plate starts at 0
            return
        from segcam.filters.clean_plate import camera_moved_hint

        self._moves_shown = moves
        self.banner.show_message(camera_moved_hint(moves), "warning", kind="camera-moved")

    def _sync_learning(self) -> None:
        """While background subtraction learns the empty scene, say so over the video.

        bgsub shows no person at all while it learns (the mask is empty), which looks
        like a bug unless the user is told to step out of the frame, and for how long.
        The banner follows the running segmenter frame by frame and goes once learned.
        """
        p = self.session.pipeline
        seg = getattr(p.processor, "segmenter", None) if p is not None else None
        if seg is None or not getattr(seg, "learning", False):
            self.banner.dismiss("learning")
            return
        need = int(getattr(seg, "learn", 0) or 0)
        seen = min(need, int(getattr(seg, "learned_frames", 0)))
        fps = p.source.fps if p is not None and p.source.fps else 30.0
        left = max(1, math.ceil((need - seen) / fps))
        self.banner.show_message(
            f"Learning the background: step out of the frame for {left} s",
            "info",
            kind="learning",
            sticky=True,
            progress=seen / need if need else None,
        )

    def _on_started(self, name: str) -> None:
        from segcam.pipeline import describe_run

        self.statusBar().showMessage(f"Showing {name}", 4000)
        # Ending with the application's name: Qt appends its display name ("segcam")
        # to a title that does not end with it, which made "segcam — demo — segcam".
        self.setWindowTitle(f"{name} — segcam")
        if self.session.settings is not None:
            log.info("showing %s: %s", name, describe_run(self.session.settings))
        self._in_rate.clear()
        self._out_rate.clear()
        self._sync_source()

    def _on_busy(self, busy: bool) -> None:
        if busy and self.view.frame is None:
            self.view.set_placeholder("Opening the video source…")

    def _update_status(self) -> None:
        p = self.session.pipeline
        parts = []
        if p is not None:
            now = time.monotonic()
            # Frames the source delivered: taken by the worker or replaced as stale.
            self._in_rate.add(now, p.stats.frames_in + p.channel.dropped)
            self._out_rate.add(now, self.view.painted)
            fps_in, fps_out = self._in_rate.rate(), self._out_rate.rate()
            if fps_in is not None and fps_out is not None:
                parts.append(f"in {fps_in:.1f} fps")
                parts.append(f"out {fps_out:.1f} fps")
            seg = p.stats.median_ms("model")
            if seg is not None:
                parts.append(f"inference {seg:.1f} ms")
            if p.stats.frames_out and self.state.filter_on("skip"):
                # Frames whose model run was skipped: their mask was proven still valid;
                # and frames where only the crop pass's model ran.
                share = 100 * p.stats.masks_reused / p.stats.frames_out
                parts.append(f"model skipped {share:.0f}%")
                if p.stats.crop_only:
                    crop = 100 * p.stats.crop_only / p.stats.frames_out
                    parts.append(f"crop only {crop:.0f}%")
            lat = sorted(self.view.latencies)
            if lat:
                parts.append(f"latency {1000 * lat[len(lat) // 2]:.0f} ms")
            parts.append(f"dropped {p.dropped}")
        elif self.session.paused:
            parts.append("paused")
        self.stats_label.setText("   ·   ".join(parts))
        if self.session.recording:
            s = int(self.session.recording_seconds())
            self.rec_label.setText(f"● REC {s // 60}:{s % 60:02d}")
        else:
            self.rec_label.setText("")

    def status_numbers(self) -> dict[str, float]:
        """Preview figures (rate over the whole run; times over the last 300 frames)."""
        v = self.view
        times = sorted(v.gui_times)
        lat = sorted(v.latencies)
        span = (v.last_paint - v.first_paint) if v.first_paint and v.last_paint else 0.0
        nan = float("nan")
        return {
            "painted": v.painted,
            "fps": (v.painted - 1) / span if span > 0 else nan,
            "gui_ms_median": 1000 * times[len(times) // 2] if times else nan,
            "gui_ms_p95": 1000 * times[int(len(times) * 0.95)] if times else nan,
            "latency_ms_median": 1000 * lat[len(lat) // 2] if lat else nan,
        }

    # -- problems -------------------------------------------------------------------------------

    def _on_problem(self, problem: Problem) -> None:
        kind, msg = problem.kind, problem.message
        if kind == "camera":
            if self.view.frame is None:
                self.view.set_placeholder("No picture from the camera")
            self.banner.show_message(
                f"{msg}. Retrying every few seconds…" if problem.retrying else msg,
                "error",
                [
                    ("Use demo source", self.use_demo),
                    ("Choose another camera", self.choose_camera),
                    ("Retry now", self.session.retry),
                ],
                kind=kind,
            )
        elif kind == "no-camera":
            self.banner.show_message(
                msg, "info", [("Look for cameras again", self._retry_auto)], kind=kind
            )
        elif kind == "input":
            self.view.set_placeholder("No picture")
            self.banner.show_message(
                msg,
                "error",
                [("Use demo source", self.use_demo), ("Open another file…", self.open_file)],
                kind=kind,
            )
        elif kind == "model":
            self.banner.show_message(
                msg,
                "error",
                [("Use the landscape model", lambda: self._reset_model("landscape"))],
                kind=kind,
            )
        elif kind == "vcam":
            self._sync_vcam()
            self.banner.show_message(
                msg,
                "error",
                [("Try again", lambda: self.set_vcam(True, self._vcam_at_start))],
                kind=kind,
            )
        elif kind == "record":
            self._sync_record()
            self.banner.show_message(msg, "error", kind=kind)
        else:
            self.banner.show_message(msg, "error", [("Restart", self.session.retry)], kind=kind)

    def _retry_auto(self) -> None:
        self.rescan_cameras()
        self.set_source("auto")

    def _reset_model(self, name: str) -> None:
        self.state.model = name
        self._sync_model()
        self.session.settings = self.state.pipeline_settings()
        self.session.retry()

    def _on_problem_cleared(self) -> None:
        self.banner.dismiss(*_SOURCE_PROBLEMS, "model")

    # -- pause, full screen, help, quit -------------------------------------------------------

    def set_paused(self, paused: bool) -> None:
        self.view.paused = paused
        self.controls.pause.setText("▶  Resume" if paused else "❚❚  Pause")
        if paused:
            self.session.pause()
        else:
            self.session.resume()
        self.view.update()

    def set_full_screen(self, on: bool) -> None:
        for w in (self.sidebar, self.controls, self.menuBar(), self.statusBar()):
            w.setVisible(not on)
        if on:
            self._was_maximized = self.isMaximized()
            self.showFullScreen()
        elif getattr(self, "_was_maximized", False):
            self.showMaximized()
        else:
            self.showNormal()

    def toggle_help(self) -> None:
        self.help.toggle()

    def escape(self) -> None:
        if self.help.isVisible():
            self.help.hide()
        elif self.act_full.isChecked():
            self.act_full.setChecked(False)
        else:
            self.close()

    def about(self) -> None:
        QMessageBox.about(
            self,
            "About segcam",
            f"<b>segcam {__version__}</b><p>Replaces or blurs the background of your webcam in "
            "real time, with LiteRT person segmentation.</p><p>Press ? for the keyboard "
            "shortcuts.</p>",
        )

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.help.isVisible():
            self.help.setGeometry(self.view.rect())

    # -- snapshot and recording ------------------------------------------------------------------

    def snapshot(self) -> None:
        """Ctrl+S: save the frame on screen (the output, not mirrored) as a PNG."""
        frame = self.view.frame
        if frame is None or frame.output is None:
            self.statusBar().showMessage("No picture to save yet", 4000)
            return
        image = frame.output.copy()  # the sink reuses the buffer once the next frame shows
        folder = self.snapshot_dir or pictures_dir()
        from segcam.snapshot import save_snapshot

        def done(path: Path) -> None:
            self.last_snapshot = path
            self.statusBar().showMessage(f"Snapshot saved to {path}", 8000)
            self.view.flash(f"Saved {path.name}")
            self.banner.show_message(
                f"Snapshot saved to {path}",
                "info",
                [("Open folder", self.open_snapshot_folder)],
                kind="snapshot",
            )

        def failed(err: BaseException) -> None:
            self.banner.show_message(str(err), "error", kind="snapshot")

        self.session.jobs.submit(
            "saving a snapshot", lambda: save_snapshot(image, folder), done, failed
        )

    def open_snapshot_folder(self) -> None:
        folder = (
            self.last_snapshot.parent
            if self.last_snapshot
            else (self.snapshot_dir or pictures_dir())
        )
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def set_recording(self, on: bool) -> None:
        if on == self.session.recording:
            self._sync_record()
            return
        if not on:
            self.session.stop_recording()
            self._sync_record()
            self.statusBar().showMessage("Finishing the recording…", 10000)
            return
        from segcam.sinks.recorder import default_output_path

        folder = self.recordings_dir or videos_dir()
        transparent = parse_background(self.state.background).transparent
        name = Path(default_output_path(".webm" if transparent else ".mp4")).name
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self.session.start_recording(str(folder / name))
        except (SegcamError, OSError) as e:
            self._sync_record()
            self.banner.show_message(f"Cannot record: {e}", "error", kind="record")

    # -- virtual camera ----------------------------------------------------------------------

    def set_vcam(self, on: bool, target: str | None = None) -> None:
        """Turn the virtual camera on or off; ``target`` as ``--vcam`` takes it (a device,
        ``pipewire``, ``auto``). The recording, the preview and the source go on."""
        from segcam.gui.session import vcam_target

        if on:
            device, backend = vcam_target(target if target is not None else self._vcam_at_start)
            self.session.set_vcam(True, device, backend)
        else:
            self.session.set_vcam(False)
            self.banner.dismiss("vcam")
        self._sync_vcam()

    def _sync_vcam(self) -> None:
        state = self.session.vcam_state
        on = state != "off"
        for w in (self.act_vcam, self.sidebar.vcam):
            w.blockSignals(True)
            w.setChecked(on)
            w.blockSignals(False)
        device = self.session.vcam_device
        words = {
            "off": "Off",
            "starting": "starting…",
            "waiting": f"waiting for an app ({device})",
            "in-use": f"in use ({device})",
            "on": f"on ({device})" if device else "on",
        }
        text = words.get(state, state)
        self.sidebar.vcam_state.setText(text[:1].upper() + text[1:])

    def _on_vcam_changed(self, state: str, device: str) -> None:
        self._sync_vcam()
        if state in ("waiting", "on"):
            self.banner.dismiss("vcam")
            self.statusBar().showMessage(f"Virtual camera: sending to {device}", 5000)

    def _sync_record(self) -> None:
        on = self.session.recording
        for w in (self.act_record, self.controls.record):
            w.blockSignals(True)
            w.setChecked(on)
            w.blockSignals(False)
        self.controls.record.setText("■  Stop" if on else "●  Record")

    def _on_recording_changed(self, on: bool, path: str) -> None:
        self._sync_record()
        if on:
            self.statusBar().showMessage(f"Recording to {path}", 5000)
            self.view.flash("Recording")
        else:
            self.statusBar().showMessage(f"Recording saved to {path}", 10000)

    # -- persistence and closing -------------------------------------------------------------------

    def _geometry_text(self) -> str:
        g = (
            self.normalGeometry()
            if (self.isMaximized() or self.isFullScreen())
            else self.geometry()
        )
        return format_window(g.width(), g.height(), g.x(), g.y(), self.isMaximized())

    def save_settings(self) -> None:
        from segcam.settings_file import update

        self.state.window = self._geometry_text()
        try:
            update(self.state.file_values(), self.config_path)
        except ConfigError as e:
            log.warning("%s", e)
            if not self._closing:
                self.statusBar().showMessage(str(e), 8000)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._closing:
            event.accept()
            return
        self._closing = True
        self._status_timer.stop()
        self._save_timer.stop()
        self._apply_timer.stop()
        self.save_settings()
        self.session.shutdown(1.0)
        n = self.status_numbers()
        if n["painted"]:
            log.info(
                "preview: %d frames shown at %.1f fps; GUI thread %.2f ms per frame (median), "
                "%.2f ms (p95); capture to screen %.0f ms (median)",
                n["painted"],
                n["fps"],
                n["gui_ms_median"],
                n["gui_ms_p95"],
                n["latency_ms_median"],
            )
        event.accept()


def _same_camera(a: str, b: str) -> bool:
    def number(s: str) -> str:
        return s[len("/dev/video") :] if s.startswith("/dev/video") else s

    return number(a) == number(b)
