"""The live preview: paints output frames, aspect-correct, mirrored on request.

Frames arrive as :class:`~segcam.frame.Frame` objects whose ``output`` is a
buffer the preview sink owns (:mod:`segcam.gui.sinks`). The view wraps that
buffer in a ``QImage`` without converting it (``Format_BGR888`` for BGR, and
``Format_ARGB32``, which is B, G, R, A in memory on little-endian machines, for
the transparent background's BGRA) and keeps the frame referenced while the
``QImage`` lives. Mirroring is a painter transform: the frame itself is never
modified (other sinks, the recorder, see the same buffers' contents).

GUI-thread cost per frame is measured (wrapping + painting) and available as
:attr:`VideoView.gui_ms`.
"""

from __future__ import annotations

import collections
import time

from PySide6.QtCore import QRect, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from segcam.frame import Frame

_BG = QColor(24, 25, 28)


def _checkerboard(cell: int = 12) -> QPixmap:
    pm = QPixmap(2 * cell, 2 * cell)
    pm.fill(QColor(200, 200, 200))
    p = QPainter(pm)
    p.fillRect(0, 0, cell, cell, QColor(150, 150, 150))
    p.fillRect(cell, cell, cell, cell, QColor(150, 150, 150))
    p.end()
    return pm


def wrap_frame(frame: Frame) -> QImage:
    """A QImage over ``frame.output`` (no copy; keep ``frame`` alive while it is used)."""
    out = frame.output
    assert out is not None and out.flags.c_contiguous
    h, w, c = out.shape
    fmt = QImage.Format.Format_BGR888 if c == 3 else QImage.Format.Format_ARGB32
    return QImage(out.data, w, h, out.strides[0], fmt)


class VideoView(QWidget):
    """Shows the latest frame; also the pause, placeholder and on-screen messages."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(240, 135)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.mirror = True
        self.paused = False
        self.placeholder = "Starting…"
        self.frame: Frame | None = None
        self._image: QImage | None = None
        self._checker = QBrush(_checkerboard())
        self._osd = ""
        self._osd_timer = QTimer(self)
        self._osd_timer.setSingleShot(True)
        self._osd_timer.timeout.connect(self._clear_osd)
        #: GUI-thread seconds per shown frame (wrap + paint), recent frames.
        self.gui_times: collections.deque[float] = collections.deque(maxlen=300)
        #: Capture-to-screen seconds of recent frames.
        self.latencies: collections.deque[float] = collections.deque(maxlen=120)
        self.painted = 0
        #: ``time.monotonic()`` of the first and the latest painted frame.
        self.first_paint: float | None = None
        self.last_paint: float | None = None
        self._pending_cost = 0.0
        self._pending_frame: Frame | None = None

    # -- input ------------------------------------------------------------------------

    def show_frame(self, frame: Frame) -> Frame | None:
        """Show ``frame``; return the frame it replaces (its buffer may be reused)."""
        t0 = time.perf_counter()
        old = self.frame
        self.frame = frame
        self._image = wrap_frame(frame)
        self._pending_cost += time.perf_counter() - t0
        self._pending_frame = frame
        self.update()
        return old

    def clear(self, placeholder: str) -> None:
        self.frame = None
        self._image = None
        self.placeholder = placeholder
        self.update()

    def set_placeholder(self, text: str) -> None:
        self.placeholder = text
        if self.frame is None:
            self.update()

    def flash(self, text: str, ms: int = 1600) -> None:
        """An on-screen message over the video (e.g. "Colour transfer: on")."""
        self._osd = text
        self._osd_timer.start(ms)
        self.update()

    def _clear_osd(self) -> None:
        self._osd = ""
        self.update()

    @property
    def osd_text(self) -> str:
        return self._osd

    # -- geometry ---------------------------------------------------------------------

    def image_rect(self) -> QRect:
        """Where the frame is drawn: the largest rectangle of its aspect that fits."""
        if self._image is None:
            return QRect()
        iw, ih = self._image.width(), self._image.height()
        w, h = self.width(), self.height()
        scale = min(w / iw, h / ih)
        dw, dh = max(1, round(iw * scale)), max(1, round(ih * scale))
        return QRect((w - dw) // 2, (h - dh) // 2, dw, dh)

    def sizeHint(self) -> QSize:
        return QSize(960, 540)

    # -- painting ---------------------------------------------------------------------

    def paintEvent(self, event) -> None:
        t0 = time.perf_counter()
        p = QPainter(self)
        p.fillRect(self.rect(), _BG)
        image = self._image
        if image is not None:
            target = self.image_rect()
            if image.format() == QImage.Format.Format_ARGB32:
                p.fillRect(target, self._checker)
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            if self.mirror:
                p.save()
                p.translate(target.x() * 2 + target.width(), 0)
                p.scale(-1, 1)
                p.drawImage(target, image)
                p.restore()
            else:
                p.drawImage(target, image)
        else:
            self._draw_centered(p, self.placeholder, 15, QColor(200, 200, 205))
        if self.paused:
            self._draw_badge(p, "❚❚  Paused — press Space to resume")
        if self._osd:
            self._draw_badge(p, self._osd, bottom=True)
        p.end()
        frame = self._pending_frame
        if frame is not None:
            self._pending_frame = None
            now = time.perf_counter()
            self.gui_times.append(self._pending_cost + (now - t0))
            self._pending_cost = 0.0
            mono = time.monotonic()
            self.latencies.append(mono - frame.t_capture)
            self.painted += 1
            if self.first_paint is None:
                self.first_paint = mono
            self.last_paint = mono

    def _draw_centered(self, p: QPainter, text: str, size: int, colour: QColor) -> None:
        font = QFont(self.font())
        font.setPointSize(size)
        p.setFont(font)
        p.setPen(colour)
        p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text)

    def _draw_badge(self, p: QPainter, text: str, bottom: bool = False) -> None:
        font = QFont(self.font())
        font.setPointSize(13)
        font.setBold(True)
        p.setFont(font)
        metrics = p.fontMetrics()
        tw = metrics.horizontalAdvance(text) + 32
        th = metrics.height() + 16
        x = (self.width() - tw) / 2
        y = self.height() - th - 24 if bottom else 24
        rect = QRectF(x, y, tw, th)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(0, 0, 0, 170))
        p.drawRoundedRect(rect, th / 2, th / 2)
        p.setPen(QColor(255, 255, 255))
        p.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        p.setBrush(Qt.BrushStyle.NoBrush)
