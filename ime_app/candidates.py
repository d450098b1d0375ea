"""The candidate window: a frameless popup next to the caret, numbered 1-9, with a page indicator.

It never takes focus (keys keep going to the editor). Clicking a candidate picks it and
the mouse wheel or the arrows of the page indicator turn pages; both only emit signals,
the controller decides what they do.

The whole window always stays inside the screen's available area: long candidates are
elided in the middle so a page fits the screen's width, a page that does not fit even so
is laid out vertically, and the window opens above the caret when below it would leave
the screen.
"""
from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QGuiApplication, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QWidget


PAD = 6  # px around the content
GAP = 10  # px between items
CARET_GAP = 4  # px between the caret and the window
MIN_TEXT_CHARS = 3  # an elided candidate keeps about this many characters, else the page goes vertical
ELIDE = Qt.TextElideMode.ElideMiddle  # a sentence's start and end both help to recognise it
UNLIMITED = 1 << 14  # px: width limit before the window is placed on a screen
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
        self.vertical = False  # the user's orientation
        self.laid_out_vertical = False  # this page's: vertical also when a row cannot fit the screen
        self.texts: list[str] = []
        self.shown_texts: list[str] = []  # texts as drawn (elided to fit the width limit)
        self.max_width = UNLIMITED  # px: the available width of the screen the window is on
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

    def place_at(self, caret: QRect, area: QRect | None = None) -> None:
        """Fit the page to ``area`` (default: the available geometry of the caret's screen) and move
        the window below the caret rectangle (global coordinates), or above it near the bottom."""
        if area is None:
            area = screen_area(caret)
        self.max_width = area.width()
        self._relayout()
        self.move(fit_position(caret, self.size(), area))

    def item_rects(self) -> list[QRect]:
        """Where each candidate is drawn (widget coordinates)."""
        return list(self._item_rects)

    def indicator_rects(self) -> list[QRect]:
        """Where the page indicator's ◀, label and ▶ are drawn (widget coordinates)."""
        return [QRect(self._prev_rect), QRect(self._label_rect), QRect(self._next_rect)]

    # Layout and painting -----------------------------------------------------------------

    def _relayout(self) -> None:
        fm = QFontMetrics(self._font)
        self.shown_texts, self.laid_out_vertical = self._fit(fm)
        widths = [fm.horizontalAdvance(t) for t in self.shown_texts]
        rects, prev, label, next_, size = self._layout(widths, self.laid_out_vertical)
        self._item_rects, self._prev_rect, self._label_rect, self._next_rect = rects, prev, label, next_
        self.resize(size)

    def _fit(self, fm: QFontMetrics) -> tuple[list[str], bool]:
        """The texts elided to fit :attr:`max_width`, and whether the page must be laid out vertically."""
        widths = [fm.horizontalAdvance(t) for t in self.texts]
        if not self.vertical:
            budget = self.max_width - self._layout([0] * len(widths), False)[-1].width()
            cap = fair_cap(widths, budget)
            if cap >= min(max(widths, default=0), fm.horizontalAdvance("中" * MIN_TEXT_CHARS + "…")):
                return self._elided(fm, widths, cap), False
        small = QFontMetrics(self._small)
        chrome = max((self._item_width(small, i, 0) for i in range(len(widths))), default=0)
        return self._elided(fm, widths, max(0, self.max_width - 2 * PAD - chrome)), True

    def _elided(self, fm: QFontMetrics, widths: list[int], cap: int) -> list[str]:
        """The texts, each wider than ``cap`` px cut in the middle to fit it."""
        return [fm.elidedText(t, ELIDE, cap) if w > cap else t for t, w in zip(self.texts, widths)]

    def _item_width(self, small: QFontMetrics, i: int, text_width: int) -> int:
        return small.horizontalAdvance(f"{i + 1}") + 4 + text_width + 12

    def _layout(self, text_widths: list[int], vertical: bool):
        """Rectangles of the items and of the page indicator, and the window size, for these text widths."""
        fm, small = QFontMetrics(self._font), QFontMetrics(self._small)
        row_h = max(fm.height(), small.height()) + 6
        rects, x, y = [], PAD, PAD
        for i, text_width in enumerate(text_widths):
            w = self._item_width(small, i, text_width)
            rects.append(QRect(x, y, w, row_h))
            if vertical:
                y += row_h
            else:
                x += w + GAP // 2
        if vertical:
            widest = max((r.width() for r in rects), default=0)
            rects = [QRect(r.x(), r.y(), widest, r.height()) for r in rects]
        return (rects, *self._layout_indicator(rects, row_h, small, vertical))

    def _layout_indicator(self, rects: list[QRect], row_h: int, small: QFontMetrics, vertical: bool):
        arrow_w = small.horizontalAdvance("◀") + 8
        label_w = small.horizontalAdvance(self.page_label()) + 6
        if vertical:
            x, y = PAD, (rects[-1].bottom() + 1 if rects else PAD)
            width = max([r.width() for r in rects] + [2 * arrow_w + label_w])
        else:
            x, y = (rects[-1].right() + GAP if rects else PAD), PAD
            width = 2 * arrow_w + label_w
        prev = QRect(x, y, arrow_w, row_h)
        label = QRect(x + arrow_w, y, width - 2 * arrow_w, row_h)
        next_ = QRect(x + width - arrow_w, y, arrow_w, row_h)
        right = max(r.right() for r in rects + [next_])
        return prev, label, next_, QSize(right + 1 + PAD, next_.bottom() + 1 + PAD)

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        # Square corners: rounded ones need a compositor for the transparent corners.
        p.fillRect(self.rect(), BACKGROUND)
        p.setPen(QPen(BORDER, 1))
        p.drawRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5))
        for i, (text, rect) in enumerate(zip(self.shown_texts, self._item_rects)):
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


def screen_area(caret: QRect) -> QRect:
    """The available geometry of the screen showing ``caret`` (the primary screen if none does)."""
    screen = QGuiApplication.screenAt(caret.center()) or QGuiApplication.primaryScreen()
    return screen.availableGeometry() if screen else QRect(0, 0, UNLIMITED, UNLIMITED)


def fit_position(caret: QRect, size: QSize, area: QRect) -> QPoint:
    """Top-left of a window of ``size``: below ``caret``, or above it when below would leave
    ``area``; then shifted so that the window lies inside ``area`` where it can."""
    x = min(caret.left(), area.x() + area.width() - size.width())
    y = caret.y() + caret.height() + CARET_GAP
    if y + size.height() > area.y() + area.height():
        y = caret.y() - CARET_GAP - size.height()
    y = min(y, area.y() + area.height() - size.height())
    return QPoint(max(area.x(), x), max(area.y(), y))


def fair_cap(widths: list[int], budget: int) -> int:
    """The largest width cap with ``sum(min(w, cap)) <= budget``: the widest texts are cut first,
    to equal widths, and the short ones stay whole."""
    if sum(widths) <= budget:
        return max(widths, default=0)
    remaining, ws = budget, sorted(widths)
    for i, w in enumerate(ws):
        if w * (len(ws) - i) > remaining:  # the cap falls below w: share what is left
            return max(0, remaining // (len(ws) - i))
        remaining -= w
    return ws[-1]
