"""Small widgets of the window: the message banner and the keyboard-shortcut overlay."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

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
        self._buttons = QHBoxLayout()
        layout.addLayout(self._buttons)
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.setAutoRaise(True)
        close.clicked.connect(self.dismiss)
        layout.addWidget(close)
        self.kind = ""
        self.hide()

    def show_message(
        self,
        text: str,
        level: str = "error",
        actions: list[tuple[str, Callable[[], None]]] | None = None,
        kind: str = "",
    ) -> None:
        bg, fg, border = _BANNER_STYLES.get(level, _BANNER_STYLES["error"])
        self.setStyleSheet(
            f"QFrame#banner {{ background: {bg}; border: 1px solid {border}; border-radius: 6px; }}"
            f"QFrame#banner QLabel {{ color: {fg}; }}"
            f"QFrame#banner QToolButton {{ color: {fg}; }}"
        )
        self.icon.setText({"error": "⚠", "warning": "⚠", "info": "ℹ"}.get(level, ""))
        self.text.setText(text)
        self.kind = kind
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
