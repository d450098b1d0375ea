"""The candidate window: a frameless popup next to the caret, numbered 1-9, with a page indicator.

It never takes focus (keys keep going to the editor). Clicking a candidate picks it and
the mouse wheel or the arrows of the page indicator turn pages; both only emit signals,
the controller decides what they do.
"""
from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QGuiApplication, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QWidget


PAD = 6  # px around the content
GAP = 10  # px between items
BACKGROUND = QColor("#fdfdfd")
BORDER = QColor("#c8ccd2")
TEXT = QColor("#1f2328")
INDEX = QColor("#8a9099")
HIGHLIGHT = QColor("#2f6fde")
HIGHLIGHT_TEXT = QColor("#ffffff")
DISABLED = QColor("#c8ccd2")


class CandidateWindow(QWidget):
    """Draws one page of candidates; :meth:`show_page` updates it, :meth:`place_at` moves it."""

    picked = Signal(int)  # index on the page
    page_requested = Signal(int)  # -1 previous page, +1 next page

    def __init__(self, parent: QWidget | None = None):
        flags = Qt.WindowType.ToolTip | Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowDoesNotAcceptFocus
        super().__init__(parent, flags)
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setObjectName("CandidateWindow")
        self.vertical = False
        self.texts: list[str] = []
        self.highlight = 0
        self.page = 0
        self.page_count = 0
        self._item_rects: list[QRect] = []
        self._prev_rect = QRect()
        self._next_rect = QRect()
        self.set_font(self.font())

    def set_font(self, font: QFont) -> None:
        """Candidate font; indices and the page indicator use a smaller size of it."""
        self._font = QFont(font)
        self._small = QFont(font)
        self._small.setPointSizeF(max(7.0, font.pointSizeF() * 0.75))
        self._relayout()

    def set_vertical(self, vertical: bool) -> None:
        self.vertical = vertical
        self._relayout()

    def show_page(self, texts: list[str], highlight: int, page: int, page_count: int) -> None:
        """Show one page (``texts`` in order); the window hides itself when ``texts`` is empty."""
        self.texts, self.highlight, self.page, self.page_count = list(texts), highlight, page, page_count
        self._relayout()
        self.update()

    def page_label(self) -> str:
        return f"{self.page + 1}/{max(1, self.page_count)}"

    def place_at(self, caret: QRect) -> None:
        """Move below the caret rectangle (global coordinates), or above it near the screen's bottom."""
        screen = QGuiApplication.screenAt(caret.center()) or QGuiApplication.primaryScreen()
        area = screen.availableGeometry() if screen else QRect(0, 0, 1 << 14, 1 << 14)
        size = self.size()
        x = min(caret.left(), area.right() - size.width())
        y = caret.bottom() + 4
        if y + size.height() > area.bottom():
            y = caret.top() - size.height() - 4
        self.move(QPoint(max(area.left(), x), max(area.top(), y)))

    # Layout and painting -----------------------------------------------------------------

    def _relayout(self) -> None:
        fm, small = QFontMetrics(self._font), QFontMetrics(self._small)
        row_h = max(fm.height(), small.height()) + 6
        rects, x, y, widest = [], PAD, PAD, 0
        for i, text in enumerate(self.texts):
            w = small.horizontalAdvance(f"{i + 1}") + 4 + fm.horizontalAdvance(text) + 12
            rects.append(QRect(x, y, w, row_h))
            widest = max(widest, w)
            if self.vertical:
                y += row_h
            else:
                x += w + GAP // 2
        if self.vertical:
            rects = [QRect(r.x(), r.y(), widest, r.height()) for r in rects]
        self._item_rects = rects
        self._layout_indicator(rects, row_h, small)

    def _layout_indicator(self, rects: list[QRect], row_h: int, small: QFontMetrics) -> None:
        arrow_w = small.horizontalAdvance("◀") + 8
        label_w = small.horizontalAdvance(self.page_label()) + 6
        if self.vertical:
            x, y = PAD, (rects[-1].bottom() + 1 if rects else PAD)
            width = max([r.width() for r in rects] + [2 * arrow_w + label_w])
        else:
            x, y = (rects[-1].right() + GAP if rects else PAD), PAD
            width = 2 * arrow_w + label_w
        self._prev_rect = QRect(x, y, arrow_w, row_h)
        self._label_rect = QRect(x + arrow_w, y, width - 2 * arrow_w, row_h)
        self._next_rect = QRect(x + width - arrow_w, y, arrow_w, row_h)
        right = max(r.right() for r in rects + [self._next_rect])
        self.resize(QSize(right + 1 + PAD, self._next_rect.bottom() + 1 + PAD))

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        # Square corners: rounded ones need a compositor for the transparent corners.
        p.fillRect(self.rect(), BACKGROUND)
        p.setPen(QPen(BORDER, 1))
        p.drawRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5))
        for i, (text, rect) in enumerate(zip(self.texts, self._item_rects)):
            self._paint_item(p, i, text, rect)
        self._paint_indicator(p)
        p.end()

    def _paint_item(self, p: QPainter, i: int, text: str, rect: QRect) -> None:
        selected = i == self.highlight
        if selected:
            hl = QPainterPath()
            hl.addRoundedRect(QRectF(rect), 4, 4)
            p.fillPath(hl, HIGHLIGHT)
        small = QFontMetrics(self._small)
        label = str(i + 1)
        p.setFont(self._small)
        p.setPen(HIGHLIGHT_TEXT if selected else INDEX)
        inner = rect.adjusted(6, 0, -6, 0)
        p.drawText(inner, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, label)
        p.setFont(self._font)
        p.setPen(HIGHLIGHT_TEXT if selected else TEXT)
        p.drawText(inner.adjusted(small.horizontalAdvance(label) + 4, 0, 0, 0),
                   Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, text)

    def _paint_indicator(self, p: QPainter) -> None:
        p.setFont(self._small)
        centre = Qt.AlignmentFlag.AlignCenter
        p.setPen(INDEX if self.page > 0 else DISABLED)
        p.drawText(self._prev_rect, centre, "◀")
        p.setPen(INDEX)
        p.drawText(self._label_rect, centre, self.page_label())
        p.setPen(INDEX if self.page + 1 < self.page_count else DISABLED)
        p.drawText(self._next_rect, centre, "▶")

    # Mouse ------------------------------------------------------------------------------

    def mousePressEvent(self, event) -> None:
        pos = event.position().toPoint()
        if self._prev_rect.contains(pos):
            self.page_requested.emit(-1)
        elif self._next_rect.contains(pos):
            self.page_requested.emit(1)
        else:
            for i, rect in enumerate(self._item_rects):
                if rect.contains(pos):
                    self.picked.emit(i)
                    break

    def wheelEvent(self, event) -> None:
        self.page_requested.emit(-1 if event.angleDelta().y() > 0 else 1)
