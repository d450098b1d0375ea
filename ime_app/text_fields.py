"""Shuru input in every text field of the app: one router that follows the focus.

The window's input (:mod:`ime_app.window_input`) talks to one :class:`TextField` at a
time: an adapter that shows the preedit, inserts text and places the candidate window the same
way for a ``QLineEdit``, a ``QPlainTextEdit`` or a ``QTextEdit``. A :class:`FieldRouter`
watches the focus: when a text field of the window (or of one of its dialogs) gets it, the
router installs itself as that widget's event filter and hands the field to the controller, so
the editor, the user dictionary's Add field, the quick-phrase box and the learned-words filter
all type Chinese with the same keys, candidate window and engine session.

Fields where Chinese makes no sense stay Latin (:func:`takes_chinese`): read-only and password
fields, the text part of spin boxes and combo boxes (numbers, font names), file dialogs, and any
widget marked :data:`LATIN_ONLY` (for example a pinyin field), with everything inside it.
"""
from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QRect, QRectF, Qt, Signal
from PySide6.QtGui import QInputMethodEvent, QKeyEvent, QTextCharFormat
from PySide6.QtWidgets import (QAbstractScrollArea, QAbstractSpinBox, QApplication, QComboBox, QFileDialog, QLineEdit,
                               QPlainTextEdit, QTextEdit, QWidget)

from frontend.keytable import ShiftTap

from .keymap import copy_key

Attr = QInputMethodEvent.Attribute
AttrType = QInputMethodEvent.AttributeType
TEXT_WIDGETS = (QLineEdit, QPlainTextEdit, QTextEdit)
# Text typed inside these is a number, a choice or a file name: it stays Latin.
LATIN_CONTAINERS = (QAbstractSpinBox, QComboBox, QFileDialog)
LATIN_ONLY = "shuruLatinOnly"  # a dynamic property: True keeps Shuru out of a widget and its children
SHIFT_ALONE = (Qt.KeyboardModifier.ShiftModifier, Qt.KeyboardModifier.NoModifier)


def takes_chinese(widget: QWidget | None) -> bool:
    """Whether Shuru types into ``widget``: an editable, non-password text widget outside any
    Latin-only container."""
    if not isinstance(widget, TEXT_WIDGETS) or widget.isReadOnly():
        return False
    if isinstance(widget, QLineEdit) and widget.echoMode() != QLineEdit.EchoMode.Normal:
        return False
    w = widget
    while w is not None:
        if isinstance(w, LATIN_CONTAINERS) or w.property(LATIN_ONLY):
            return False
        w = w.parentWidget()
    return True


def set_latin_only(widget: QWidget, latin: bool = True) -> None:
    """Keep Shuru out of ``widget`` and everything inside it (a field for pinyin, a path...)."""
    widget.setProperty(LATIN_ONLY, latin)


_FIELDS: dict = {}  # widget -> its TextField


class TextField(QObject):
    """A text widget as the input controller sees it: preedit, insertion, caret and context."""

    cursor_moved = Signal(object)  # this field: the caret moved or the text changed

    @classmethod
    def of(cls, widget: QWidget) -> "TextField":
        """The one adapter of ``widget`` (made on first use, deleted with the widget)."""
        field = _FIELDS.get(widget)
        if field is None:
            field = _FIELDS[widget] = cls(widget)
            field.destroyed.connect(lambda *_: _FIELDS.pop(widget, None))
        return field

    def __init__(self, widget: QWidget):
        super().__init__(widget)
        self.widget = widget
        self.preedit_text = ""
        self.preedit_cursor = 0
        self.passing = False  # True while a key handed back by the controller goes to the widget
        self.filtering: QKeyEvent | None = None  # the key event the router is deciding on
        self.pass_on = False  # the controller handed that very event back: the router lets it through
        self.is_line = isinstance(widget, QLineEdit)
        widget.cursorPositionChanged.connect(lambda *_: self.cursor_moved.emit(self))

    def alive(self) -> bool:
        """False once Qt deleted the widget (a dialog closed while its commit was on its way)."""
        from shiboken6 import isValid

        return isValid(self) and isValid(self.widget)

    def default_key(self, event: QKeyEvent) -> None:
        """Let the widget handle the key as it does without Shuru (typing, Tab to the next field...)."""
        if event is self.filtering:
            self.pass_on = True  # the event being delivered now: Qt carries on with it
            return
        self.passing = True
        try:
            QCoreApplication.sendEvent(self.widget, copy_key(event))
        finally:
            self.passing = False

    def set_preedit(self, text: str, cursor: int, commit: str = "") -> None:
        """Show ``text`` inline at the caret (underlined) and insert ``commit`` before it."""
        if not commit and (text, cursor) == (self.preedit_text, self.preedit_cursor):
            return  # nothing changes: the widget (and its selection) is left alone
        fmt = QTextCharFormat()
        fmt.setFontUnderline(True)
        fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.SingleUnderline)
        attrs = [Attr(AttrType.TextFormat, 0, len(text), fmt), Attr(AttrType.Cursor, cursor, 1)]
        event = QInputMethodEvent(text, attrs)
        if commit:
            event.setCommitString(commit)
        self.preedit_text, self.preedit_cursor = text, cursor
        QCoreApplication.sendEvent(self.widget, event)
        if not self.is_line:
            self._scroll_to_preedit_caret()

    def insert_text(self, text: str) -> None:
        """Insert ``text`` at the caret (punctuation typed while idle)."""
        if self.is_line:
            self.widget.insert(text)
        else:
            self.widget.insertPlainText(text)

    def text_before_cursor(self, max_chars: int) -> str:
        """Up to ``max_chars`` characters of committed text before the caret."""
        if self.is_line:
            pos = self.widget.cursorPosition()
            return self.widget.text()[max(0, pos - max_chars):pos]
        cur = self.widget.textCursor()
        pos = cur.position()
        cur.setPosition(max(0, pos - max_chars))
        cur.setPosition(pos, cur.MoveMode.KeepAnchor)
        return cur.selectedText().replace("\u2029", "\n")

    def caret_rect(self) -> QRect:
        """The caret rectangle in global coordinates (where the candidate window goes); in a
        scrolled text area, moved into its visible part when the caret is scrolled out of view."""
        if self.is_line:
            r = self.widget.inputMethodQuery(Qt.InputMethodQuery.ImCursorRectangle)
            r = r.toAlignedRect() if isinstance(r, QRectF) else QRect(r)
            return QRect(self.widget.mapToGlobal(r.topLeft()), r.size())
        r, view = self.widget.cursorRect(), self.widget.viewport().rect()
        r.moveTop(max(view.top(), min(r.top(), view.bottom() + 1 - r.height())))
        r.moveLeft(max(view.left(), min(r.left(), view.right())))
        return QRect(self.widget.viewport().mapToGlobal(r.topLeft()), r.size())

    def _scroll_to_preedit_caret(self) -> None:
        """Scroll down when a long, wrapped preedit put the caret below the visible lines
        (``ensureCursorVisible`` ignores the preedit); the candidate window follows the caret."""
        w = self.widget
        below = w.cursorRect().bottom() - w.viewport().height()
        if below > 0:
            bar = w.verticalScrollBar()  # in lines for QPlainTextEdit, pixels for QTextEdit
            step = max(1, w.fontMetrics().lineSpacing()) if isinstance(w, QPlainTextEdit) else 1
            bar.setValue(bar.value() + -(-below // step))


class FieldHandler(Protocol):
    """What the router calls (the window's input)."""

    def attach(self, field: TextField) -> None: ...
    def handle_key(self, event: QKeyEvent, field: TextField) -> None: ...
    def handle_click(self, field: TextField) -> bool: ...
    def toggle_mode(self) -> None: ...
    def focus_left(self, field: TextField, reason: Qt.FocusReason) -> None: ...
    def field_moved(self, field: TextField) -> None: ...
    def field_gone(self, field: TextField) -> None: ...
    def window_moved(self, window: QWidget) -> None: ...


class FieldRouter(QObject):
    """Routes the keys, clicks and focus changes of the text fields of ``home``'s window and its
    dialogs to ``handler``, which types into the focused one.

    The router is an event filter of the fields it has seen take the focus (and of ``home``
    from the start), not of the whole application: other widgets' events never reach Python.
    """

    def __init__(self, handler: FieldHandler, home: QWidget):
        super().__init__(home)
        self.handler, self.home = handler, home
        self._shift_tap = ShiftTap()
        self._watched: set = set()  # TextFields whose widget has this router as event filter
        QApplication.instance().focusChanged.connect(self._focus_changed)
        self.watch(home)

    def watch(self, widget: QWidget) -> TextField:
        """Route ``widget``'s keys to the handler from now on; returns its field."""
        field = TextField.of(widget)
        if field not in self._watched:
            self._watched.add(field)
            # Shuru types here: keep a system input method (ibus, fcitx) out of this widget.
            widget.setAttribute(Qt.WidgetAttribute.WA_InputMethodEnabled, False)
            widget.installEventFilter(self)
            if isinstance(widget, QAbstractScrollArea):
                widget.viewport().installEventFilter(self)  # clicks land on the viewport
            widget.window().installEventFilter(self)  # the candidate window follows a dialog that moves
            field.cursor_moved.connect(self.handler.field_moved)
            field.destroyed.connect(lambda *_: self._forget(field))
        return field

    def owns(self, widget: QWidget) -> bool:
        """Whether ``widget`` is in ``home``'s window or in a window opened from it."""
        window = widget.window()
        while window is not None:
            if window is self.home.window():
                return True
            parent = window.parentWidget()
            window = parent.window() if parent is not None else None
        return False

    def _forget(self, field: TextField) -> None:
        from shiboken6 import isValid

        if isValid(self):  # not when the window (and this router) goes first
            self._watched.discard(field)
            self.handler.field_gone(field)

    def _focus_changed(self, old, new) -> None:
        if takes_chinese(new) and self.owns(new):
            self.handler.attach(self.watch(new))

    def _field(self, obj: QObject) -> TextField | None:
        widget = obj if isinstance(obj, TEXT_WIDGETS) else obj.parent()  # a scroll area's viewport (or a window)
        field = _FIELDS.get(widget)
        return field if field in self._watched and takes_chinese(widget) else None

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        t = event.type()
        if t == QEvent.Type.KeyPress:
            field = self._field(obj)
            return field is not None and obj is field.widget and not field.passing and self._key_press(field, event)
        if t == QEvent.Type.KeyRelease:
            field = self._field(obj)
            if field is None or field.passing:
                return False
            tapped = self._shift_tap.release(event.key() == Qt.Key.Key_Shift, auto_repeat=event.isAutoRepeat())
            if tapped:
                self.handler.toggle_mode()
            return tapped
        if t == QEvent.Type.MouseButtonPress:
            self._shift_tap.interrupt()
            field = self._field(obj)
            return field is not None and self.handler.handle_click(field)
        if t == QEvent.Type.FocusOut:
            field = self._field(obj)
            if field is not None:
                self.handler.focus_left(field, event.reason())
        elif t in (QEvent.Type.Move, QEvent.Type.Resize) and obj.isWidgetType() and obj.isWindow():
            self.handler.window_moved(obj)
        return False

    def _key_press(self, field: TextField, event: QKeyEvent) -> bool:
        """The handler decides; True (eaten) unless it handed this very event back to the widget."""
        self._shift_tap.press(event.key() == Qt.Key.Key_Shift, other_modifiers=event.modifiers() not in SHIFT_ALONE,
                              auto_repeat=event.isAutoRepeat())
        field.filtering, field.pass_on = event, False
        try:
            self.handler.handle_key(event, field)
        finally:
            field.filtering = None
        return not field.pass_on
