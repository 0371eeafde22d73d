"""The sidebar's controls. It only builds and lays out widgets; the main window wires them."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPointF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QImage, QPainter, QPixmap, QRadialGradient
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from segcam.gui.gallery import GalleryItem
from segcam.gui.state import EFFECT_CONTROLS, EFFECTS, TOGGLES

THUMB = QSize(112, 63)

_MASK_FILTERS = ("skip", "temporal", "refine", "smoothstep")


def _group(title: str) -> tuple[QGroupBox, QVBoxLayout]:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(10, 8, 10, 10)
    layout.setSpacing(6)
    return box, layout


def bgr_icon(image: np.ndarray) -> QIcon:
    """A QIcon from a BGR uint8 array (copied: the icon outlives the array)."""
    h, w = image.shape[:2]
    qimage = QImage(image.data, w, h, image.strides[0], QImage.Format.Format_BGR888).copy()
    return QIcon(QPixmap.fromImage(qimage))


def drawn_icon(item: GalleryItem, colour: str) -> QIcon:
    """Icons for the entries that are not files: blur, colour, mask, transparent."""
    pm = QPixmap(THUMB)
    w, h = THUMB.width(), THUMB.height()
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    if item.kind == "blur":
        pm.fill(QColor(70, 82, 96))
        for cx, cy, r, c in (
            (0.2, 0.3, 0.5, QColor(240, 200, 140)),
            (0.75, 0.25, 0.45, QColor(140, 190, 240)),
            (0.55, 0.85, 0.5, QColor(190, 140, 200)),
        ):
            g = QRadialGradient(QPointF(cx * w, cy * h), r * w)
            c2 = QColor(c)
            c2.setAlpha(0)
            g.setColorAt(0, c)
            g.setColorAt(1, c2)
            p.fillRect(0, 0, w, h, QBrush(g))
        _person(p, w, h, QColor(35, 38, 44))
    elif item.kind == "colour":
        pm.fill(QColor(colour))
        _person(p, w, h, QColor(35, 38, 44))
    elif item.kind == "mask":
        pm.fill(QColor(0, 0, 0))
        _person(p, w, h, QColor(255, 255, 255))
    else:  # transparent
        pm.fill(QColor(200, 200, 200))
        for y in range(0, h, 8):
            for x in range(0, w, 8):
                if (x // 8 + y // 8) % 2:
                    p.fillRect(x, y, 8, 8, QColor(150, 150, 150))
        _person(p, w, h, QColor(35, 38, 44))
    p.end()
    return QIcon(pm)


def _person(p: QPainter, w: int, h: int, colour: QColor) -> None:
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(colour)
    p.drawEllipse(QPointF(w / 2, h * 0.42), h * 0.17, h * 0.2)
    p.drawRoundedRect(int(w / 2 - h * 0.38), int(h * 0.66), int(h * 0.76), int(h * 0.5), 12, 12)


_SLIDER_KEYS = {
    Qt.Key.Key_Left,
    Qt.Key.Key_Right,
    Qt.Key.Key_Up,
    Qt.Key.Key_Down,
    Qt.Key.Key_Home,
    Qt.Key.Key_End,
    Qt.Key.Key_PageUp,
    Qt.Key.Key_PageDown,
}


class _KeepSliderKeys(QObject):
    """A focused slider keeps its arrow keys (otherwise ← and → are window shortcuts for
    the previous and next background)."""

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and event.key() in _SLIDER_KEYS:
            event.accept()
        return False


class EffectRow:
    """One effect's control under its switch: a label, a slider and the value it shows.

    The slider's positions are :class:`~segcam.gui.state.EffectControl` steps; the
    window maps them to the parameter and enables the row only while the effect is on.
    """

    def __init__(self, name: str, grid: QGridLayout, row: int) -> None:
        control = EFFECTS[name]
        self.control = control
        self.label = QLabel(control.label)
        # Indented under the switch it belongs to.
        self.label.setContentsMargins(22, 0, 0, 0)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(control.position(control.lo), control.position(control.hi))
        self.slider.setToolTip(control.tip)
        self.label.setToolTip(control.tip)
        self.value = QLabel()
        self.value.setMinimumWidth(34)
        grid.addWidget(self.label, row, 0)
        grid.addWidget(self.slider, row, 1)
        grid.addWidget(self.value, row, 2)

    def show_value(self, value: float) -> None:
        self.value.setText(f"{value:.{self.control.decimals}f}")

    def set_enabled(self, on: bool) -> None:
        for w in (self.label, self.slider, self.value):
            w.setEnabled(on)


class Sidebar(QScrollArea):
    """Source, virtual camera, model, background gallery, mask and blending switches, and
    the effects with their controls."""

    def __init__(self, models: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMinimumWidth(300)
        inner = QWidget()
        col = QVBoxLayout(inner)
        col.setContentsMargins(8, 8, 8, 8)
        col.setSpacing(10)

        box, lay = _group("Source")
        row = QHBoxLayout()
        self.source = QComboBox()
        self.source.setToolTip("Camera, the demo, or a video or image file")
        self.source.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.source.setMinimumContentsLength(16)
        self.rescan = QToolButton()
        self.rescan.setText("⟳")
        self.rescan.setToolTip("Look for cameras again")
        row.addWidget(self.source, 1)
        row.addWidget(self.rescan)
        lay.addLayout(row)
        col.addWidget(box)

        box, lay = _group("Virtual camera")
        self.vcam = QCheckBox("Send to video apps")
        self.vcam.setToolTip(
            "A virtual webcam that Zoom, Meet, Teams or OBS can pick (Ctrl+Shift+V); "
            "it runs beside the preview and a recording"
        )
        self.vcam_state = QLabel("Off")
        self.vcam_state.setObjectName("vcamState")
        self.vcam_state.setWordWrap(True)
        # A long device name wraps rather than widening the window's minimum size.
        self.vcam_state.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        lay.addWidget(self.vcam)
        lay.addWidget(self.vcam_state)
        col.addWidget(box)

        box, lay = _group("Model")
        self.model = QComboBox()
        for i, (name, description) in enumerate(models):
            label = f"{i + 1}  {name}" if i < 9 else name
            self.model.addItem(label, name)
            self.model.setItemData(i, description, Qt.ItemDataRole.ToolTipRole)
        self.model.setToolTip("Segmentation model (keys 1, 2, …)")
        lay.addWidget(self.model)
        col.addWidget(box)

        box, lay = _group("Background")
        self.gallery = QListWidget()
        self.gallery.setViewMode(QListView.ViewMode.IconMode)
        self.gallery.setIconSize(THUMB)
        self.gallery.setResizeMode(QListView.ResizeMode.Adjust)
        self.gallery.setMovement(QListView.Movement.Static)
        self.gallery.setWrapping(True)
        self.gallery.setSpacing(4)
        self.gallery.setUniformItemSizes(True)
        self.gallery.setGridSize(QSize(THUMB.width() + 14, THUMB.height() + 30))
        self.gallery.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.gallery.setMinimumHeight(2 * (THUMB.height() + 30) + 12)
        self.gallery.setToolTip("N / → next, P / ← previous, B blur")
        lay.addWidget(self.gallery, 1)
        buttons = QHBoxLayout()
        self.add_background = QPushButton("Add image or video…")
        self.remove_background = QPushButton("Remove")
        self.remove_background.setToolTip("Remove the selected background from the gallery")
        buttons.addWidget(self.add_background, 1)
        buttons.addWidget(self.remove_background)
        lay.addLayout(buttons)
        grid = QGridLayout()
        grid.addWidget(QLabel("Blur"), 0, 0)
        self.blur = QSlider(Qt.Orientation.Horizontal)
        self.blur.setRange(1, 100)
        self.blur.setToolTip("Blur strength of the blur background")
        grid.addWidget(self.blur, 0, 1)
        self.blur_value = QLabel()
        self.blur_value.setMinimumWidth(28)
        grid.addWidget(self.blur_value, 0, 2)
        grid.addWidget(QLabel("Colour"), 1, 0)
        self.colour = QPushButton()
        self.colour.setToolTip("Colour of the solid-colour background")
        grid.addWidget(self.colour, 1, 1, 1, 2)
        lay.addLayout(grid)
        col.addWidget(box, 1)  # the gallery takes the height the window has to spare

        box, lay = _group("Mask")
        self.learn_bg = QPushButton("Learn background")
        self.learn_bg.setToolTip(
            "Clean-plate mode (the cleanplate filter, still cameras): learn the empty scene "
            "again; step out of the frame for a second"
        )
        lay.addWidget(self.learn_bg)
        row = QHBoxLayout()
        row.addWidget(QLabel("Threshold"))
        self.threshold = QSlider(Qt.Orientation.Horizontal)
        self.threshold.setRange(5, 95)
        self.threshold.setToolTip(
            "Mask threshold: higher keeps less of the uncertain edge (centre of the smooth step)"
        )
        row.addWidget(self.threshold, 1)
        self.threshold_value = QLabel()
        self.threshold_value.setMinimumWidth(34)
        row.addWidget(self.threshold_value)
        lay.addLayout(row)
        self.toggles: dict[str, QCheckBox] = {}
        blend_box, blend_lay = _group("Blending")
        # Each effect: its switch on one line, its control under it.
        effects_box, effects_lay = _group("Effects")
        effects_grid = QGridLayout()
        effects_grid.setColumnStretch(1, 1)
        self.effects: dict[str, EffectRow] = {}
        for name, label, key in TOGGLES:
            check = QCheckBox(f"{label} [{key}]" if key else label)
            check.setToolTip(f"Filter '{name}'" + (f" (key {key})" if key else ""))
            self.toggles[name] = check
            if name in EFFECTS:
                continue
            # One switch a line: two side by side ("Skip unchanged frames", "Temporal
            # smoothing") are wider than the sidebar, which clips rather than wraps.
            (lay if name in _MASK_FILTERS else blend_lay).addWidget(check)
        for i, control in enumerate(EFFECT_CONTROLS):
            effects_grid.addWidget(self.toggles[control.filter], 2 * i, 0, 1, 3)
            self.effects[control.filter] = EffectRow(control.filter, effects_grid, 2 * i + 1)
        effects_lay.addLayout(effects_grid)
        # The effects come right under the background, where someone coming from NVIDIA
        # Broadcast looks for them and a window 800 px high still shows them; the
        # mask and blending tweaks below may need scrolling.
        col.insertWidget(col.indexOf(self.gallery.parentWidget()) + 1, effects_box)
        col.addWidget(box)
        col.addWidget(blend_box)
        self._keep_keys = _KeepSliderKeys(self)
        sliders = [self.blur, self.threshold, *(r.slider for r in self.effects.values())]
        for slider in sliders:
            slider.installEventFilter(self._keep_keys)
        self.setWidget(inner)

    def needed_width(self) -> int:
        """The width at which no control is cut off, with room for the vertical scroll
        bar (the horizontal one is off, so anything wider would be clipped)."""
        inner = self.widget().minimumSizeHint().width()
        return inner + self.verticalScrollBar().sizeHint().width() + 2 * self.frameWidth()


class ControlBar(QWidget):
    """The buttons under the video: pause, snapshot, record, mirror, help (full screen is
    F11 or the View menu)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(6)
        self.pause = QPushButton("❚❚  Pause")
        self.pause.setToolTip("Pause or resume the camera (Space)")
        self.snapshot = QPushButton("Snapshot")
        self.snapshot.setToolTip("Save the picture as a PNG in your Pictures folder (Ctrl+S)")
        self.record = QPushButton("●  Record")
        self.record.setCheckable(True)
        self.record.setToolTip("Record the video to your Videos folder (Ctrl+R)")
        self.mirror = QCheckBox("Mirror preview")
        self.mirror.setToolTip("Show the preview like a mirror (recordings are not mirrored)")
        self.help = QToolButton()
        self.help.setText("?")
        self.help.setToolTip("Keyboard shortcuts (? or F1)")
        for w in (self.pause, self.snapshot, self.record):
            row.addWidget(w)
        row.addStretch(1)
        row.addWidget(self.mirror)
        row.addWidget(self.help)
