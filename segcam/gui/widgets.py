"""Small widgets of the window: the message banners and the keyboard-shortcut overlay."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

INFO_HIDE_MS = 6000
"""How long an informational banner (``level="info"``) stays up unless it is sticky.
Errors and warnings stay until dismissed or resolved: they ask for something."""

_BANNER_STYLES = {
    "error": ("#5c1f1f", "#ffd9d6", "#a33a3a"),
    "warning": ("#4d3d12", "#ffefc2", "#a07e25"),
    "info": ("#1d3a57", "#d8ebff", "#3d6fa0"),
}


class Banner(QFrame):
    """A non-modal message above the video, with buttons that offer a way out."""

    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 8, 8)
        layout.setSpacing(8)
        self.icon = QLabel()
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.icon)
        layout.addWidget(self.text, 1)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setFixedWidth(120)
        self.progress.hide()
        layout.addWidget(self.progress)
        self._buttons = QHBoxLayout()
        layout.addLayout(self._buttons)
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.setAutoRaise(True)
        close.clicked.connect(self.dismiss)
        layout.addWidget(close)
        self.kind = ""
        self.level = ""
        self.hide()

    def set_progress(self, fraction: float | None) -> None:
        """Show a progress bar at ``fraction`` (0..1) beside the text; None hides it."""
        if fraction is None:
            self.progress.hide()
            return
        self.progress.setValue(round(100 * min(1.0, max(0.0, fraction))))
        self.progress.show()

    def show_message(
        self,
        text: str,
        level: str = "error",
        actions: list[tuple[str, Callable[[], None]]] | None = None,
        kind: str = "",
    ) -> None:
        if level != self.level:  # a style sheet is costly to apply: only when it changes
            bg, fg, border = _BANNER_STYLES.get(level, _BANNER_STYLES["error"])
            self.setStyleSheet(
                f"QFrame#banner {{ background: {bg}; border: 1px solid {border}; "
                "border-radius: 6px; }"
                f"QFrame#banner QLabel {{ color: {fg}; }}"
                f"QFrame#banner QToolButton {{ color: {fg}; }}"
            )
            self.icon.setText({"error": "⚠", "warning": "⚠", "info": "ℹ"}.get(level, ""))
            self.level = level
        self.text.setText(text)
        self.kind = kind
        if not actions and not self._buttons.count():
            self.show()
            return
        while self._buttons.count():
            item = self._buttons.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        for label, callback in actions or []:
            button = QPushButton(label)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.clicked.connect(callback)
            self._buttons.addWidget(button)
        self.show()

    def button_labels(self) -> list[str]:
        return [
            self._buttons.itemAt(i).widget().text()
            for i in range(self._buttons.count())
            if self._buttons.itemAt(i).widget() is not None
        ]

    def click(self, label: str) -> None:
        """Press the action button labelled ``label`` (tests, keyboard users)."""
        for i in range(self._buttons.count()):
            w = self._buttons.itemAt(i).widget()
            if isinstance(w, QPushButton) and w.text() == label:
                w.click()
                return
        raise KeyError(label)

    def dismiss(self) -> None:
        self.hide()
        self.kind = ""
        self.closed.emit()


class BannerStack(QWidget):
    """The banners above the video: one per ``kind``, stacked, none lost.

    A message of a kind already shown replaces that banner's text (a camera that is
    retried does not pile up banners); a message of another kind gets its own banner
    below the others, so a start-up notice about the config file stays readable while
    a camera problem is shown. Informational messages hide by themselves after
    :data:`INFO_HIDE_MS` (not while the pointer is on them) unless ``sticky``;
    errors and warnings stay until the user dismisses them or the window resolves
    them (:meth:`dismiss`). The stack is hidden while it holds no banner.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(4)
        self._banners: dict[str, Banner] = {}
        self._timers: dict[str, QTimer] = {}
        self.hide()

    def show_message(
        self,
        text: str,
        level: str = "error",
        actions: list[tuple[str, Callable[[], None]]] | None = None,
        kind: str = "",
        *,
        sticky: bool = False,
        progress: float | None = None,
    ) -> Banner:
        """Show ``text`` in the banner of ``kind`` (made if needed); returns it."""
        banner = self._banners.get(kind)
        if banner is None:
            banner = self._banners[kind] = Banner(self)
            banner.closed.connect(lambda k=kind, b=banner: self._closed(k, b))
            self._layout.addWidget(banner)
        banner.show_message(text, level, actions, kind)
        banner.set_progress(progress)
        timer = self._timers.get(kind)
        if level == "info" and not sticky:
            if timer is None:
                timer = self._timers[kind] = QTimer(self)
                timer.setSingleShot(True)
                timer.timeout.connect(lambda k=kind: self._expire(k))
            timer.start(INFO_HIDE_MS)
        elif timer is not None:
            timer.stop()
        self.show()
        return banner

    def _expire(self, kind: str) -> None:
        banner = self._banners.get(kind)
        if banner is not None and banner.underMouse():
            self._timers[kind].start(INFO_HIDE_MS // 2)  # the user is reading or clicking
            return
        self.dismiss(kind)

    def _closed(self, kind: str, banner: Banner) -> None:
        # The banner's own close button, or dismiss(): forget it and hide when empty.
        if self._banners.get(kind) is banner:
            del self._banners[kind]
            timer = self._timers.pop(kind, None)
            if timer is not None:
                timer.stop()
                timer.deleteLater()
            self._layout.removeWidget(banner)
            banner.deleteLater()
        if not self._banners:
            self.hide()

    def dismiss(self, *kinds: str) -> None:
        """Remove the banners of ``kinds`` (all banners when none is named)."""
        for kind in kinds or tuple(self._banners):
            banner = self._banners.get(kind)
            if banner is not None:
                banner.dismiss()

    def kinds(self) -> list[str]:
        """The kinds shown, top to bottom."""
        return list(self._banners)

    def banner(self, kind: str) -> Banner | None:
        return self._banners.get(kind)

    def message(self, kind: str) -> str | None:
        """The text of the banner of ``kind``, or None when it is not shown."""
        banner = self._banners.get(kind)
        return banner.text.text() if banner is not None else None

    def button_labels(self, kind: str | None = None) -> list[str]:
        """Action buttons of the banner of ``kind`` (every banner's when None)."""
        banners = [self._banners[kind]] if kind in self._banners else []
        if kind is None:
            banners = list(self._banners.values())
        return [label for b in banners for label in b.button_labels()]

    def click(self, label: str) -> None:
        """Press the action button labelled ``label`` in whichever banner has it."""
        for banner in list(self._banners.values()):
            if label in banner.button_labels():
                banner.click(label)
                return
        raise KeyError(label)


class HelpOverlay(QWidget):
    """The keyboard shortcuts, drawn over the video (``?`` or F1; Esc or a click closes it)."""

    def __init__(self, rows: list[tuple[str, str]], parent: QWidget) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, False)
        outer = QVBoxLayout(self)
        outer.setAlignment(Qt.AlignmentFlag.AlignCenter)
        card = QFrame()
        card.setObjectName("helpcard")
        card.setStyleSheet(
            "QFrame#helpcard { background: rgba(20, 22, 26, 235); border-radius: 12px; "
            "border: 1px solid #555; } QLabel { color: #eee; }"
        )
        grid = QGridLayout(card)
        grid.setContentsMargins(28, 20, 28, 20)
        grid.setHorizontalSpacing(24)
        grid.setVerticalSpacing(6)
        title = QLabel("<b style='font-size:16pt'>Keyboard shortcuts</b>")
        grid.addWidget(title, 0, 0, 1, 4)
        half = (len(rows) + 1) // 2
        for i, (keys, what) in enumerate(rows):
            col = 0 if i < half else 2
            row = 1 + (i if i < half else i - half)
            key = QLabel(f"<b><span style='color:#8fc7ff'>{keys}</span></b>")
            key.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            grid.addWidget(key, row, col)
            grid.addWidget(QLabel(what), row, col + 1)
        hint = QLabel("<i>Press ? or F1 again, Esc or click to close</i>")
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        grid.addWidget(hint, half + 1, 0, 1, 4)
        outer.addWidget(card)
        self.hide()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(0, 0, 0, 110))
        p.end()

    def mousePressEvent(self, event) -> None:
        self.hide()

    def toggle(self) -> None:
        if self.isVisible():
            self.hide()
        else:
            self.setGeometry(self.parentWidget().rect())
            self.raise_()
            self.show()
