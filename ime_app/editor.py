"""The text editor: a QPlainTextEdit whose key presses go to an input controller first.

It also shows the preedit (the pinyin being typed) inline at the caret, underlined, the
way a system input method does, through :class:`QInputMethodEvent`, and detects a tap of
Shift alone (press and release with no other key or click in between).
"""
from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import QCoreApplication, QRect, Qt, Signal
from PySide6.QtGui import QInputMethodEvent, QKeyEvent, QTextCharFormat
from PySide6.QtWidgets import QPlainTextEdit

from .keytable import ShiftTap


Attr = QInputMethodEvent.Attribute
AttrType = QInputMethodEvent.AttributeType
SHIFT_KEYS = (Qt.Key.Key_Shift,)
SHIFT_ALONE = (Qt.KeyboardModifier.ShiftModifier, Qt.KeyboardModifier.NoModifier)


class KeyHandler(Protocol):
    def handle_key(self, event: QKeyEvent) -> None: ...
    def handle_click(self) -> bool: ...


class ImeEditor(QPlainTextEdit):
    """The writing area. Keys go to ``handler.handle_key``, which calls :meth:`default_key` for editor keys."""

    shift_tapped = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        # Our own IME handles the keys: keep a system input method (ibus, fcitx) out of this widget.
        self.setAttribute(Qt.WidgetAttribute.WA_InputMethodEnabled, False)
        self.handler: KeyHandler | None = None
        self._shift_tap = ShiftTap()
        self.preedit_text = ""
        self.preedit_cursor = 0

    def keyPressEvent(self, event: QKeyEvent) -> None:
        self._shift_tap.press(event.key() in SHIFT_KEYS, other_modifiers=event.modifiers() not in SHIFT_ALONE,
                              auto_repeat=event.isAutoRepeat())
        if self.handler is None:
            super().keyPressEvent(event)
        else:
            self.handler.handle_key(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if self._shift_tap.release(event.key() in SHIFT_KEYS, auto_repeat=event.isAutoRepeat()):
            self.shift_tapped.emit()
            return
        super().keyReleaseEvent(event)

    def mousePressEvent(self, event) -> None:
        self._shift_tap.interrupt()
        if self.handler is not None and self.handler.handle_click():
            return  # composing: the caret stays where the pinyin is
        super().mousePressEvent(event)

    def default_key(self, event: QKeyEvent) -> None:
        """Handle a key the way a plain QPlainTextEdit does."""
        super().keyPressEvent(event)

    def set_preedit(self, text: str, cursor: int, commit: str = "") -> None:
        """Show ``text`` inline at the caret (underlined) and insert ``commit`` before it."""
        fmt = QTextCharFormat()
        fmt.setFontUnderline(True)
        fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.SingleUnderline)
        attrs = [Attr(AttrType.TextFormat, 0, len(text), fmt), Attr(AttrType.Cursor, cursor, 1)]
        event = QInputMethodEvent(text, attrs)
        if commit:
            event.setCommitString(commit)
        self.preedit_text, self.preedit_cursor = text, cursor
        QCoreApplication.sendEvent(self, event)
        self._scroll_to_preedit_caret()

    def _scroll_to_preedit_caret(self) -> None:
        """Scroll down when a long, wrapped preedit put the caret below the visible lines
        (``ensureCursorVisible`` ignores the preedit); the candidate window follows the caret."""
        below = self.cursorRect().bottom() - self.viewport().height()
        if below > 0:
            bar = self.verticalScrollBar()  # in lines
            bar.setValue(bar.value() + -(-below // max(1, self.fontMetrics().lineSpacing())))

    def caret_rect(self) -> QRect:
        """The caret rectangle in global coordinates (where the candidate window goes), moved
        into the visible part of the editor when it is scrolled out of view."""
        r, view = self.cursorRect(), self.viewport().rect()
        r.moveTop(max(view.top(), min(r.top(), view.bottom() + 1 - r.height())))
        r.moveLeft(max(view.left(), min(r.left(), view.right())))
        return QRect(self.viewport().mapToGlobal(r.topLeft()), r.size())

    def text_before_cursor(self, max_chars: int) -> str:
        """Up to ``max_chars`` characters of committed text before the caret."""
        pos = self.textCursor().position()
        start = max(0, pos - max_chars)
        cur = self.textCursor()
        cur.setPosition(start)
        cur.setPosition(pos, cur.MoveMode.KeepAnchor)
        return cur.selectedText().replace("\u2029", "\n")
