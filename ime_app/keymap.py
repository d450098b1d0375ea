"""Qt key events -> the key table's :class:`~frontend.keytable.Key` (:mod:`frontend.keytable`).

The window's only key-specific code: everything a key means lives in the key table.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent

from frontend.keytable import KEY_NAMES, Key

K = Qt.Key
QT_KEY_NAMES: dict[int, str] = {
    K.Key_Space: "space", K.Key_Return: "return", K.Key_Enter: "enter", K.Key_Escape: "escape",
    K.Key_Backspace: "backspace", K.Key_Delete: "delete", K.Key_Left: "left", K.Key_Right: "right",
    K.Key_Home: "home", K.Key_End: "end", K.Key_Up: "up", K.Key_Down: "down", K.Key_Tab: "tab",
    K.Key_Backtab: "backtab", K.Key_PageUp: "page_up", K.Key_PageDown: "page_down",
    K.Key_Minus: "minus", K.Key_Equal: "equal", K.Key_Comma: "comma", K.Key_Period: "period",
}
assert set(QT_KEY_NAMES.values()) == KEY_NAMES, "every name of the key table has a Qt key"
# Keys that only modify others: never routed, never queued while the worker answers.
MODIFIER_KEYS = frozenset({K.Key_Shift, K.Key_Control, K.Key_Alt, K.Key_Meta, K.Key_AltGr,
                           K.Key_CapsLock, K.Key_Super_L, K.Key_Super_R})
CTRL_ALT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.MetaModifier


def key_name(qt_key: int) -> str:
    """The key table's name of a Qt key, or "" (the key then routes by the text it types)."""
    return QT_KEY_NAMES.get(qt_key, "")


def copy_key(event: QKeyEvent) -> QKeyEvent:
    """A key event that outlives the one Qt delivered (keys may wait for the worker)."""
    return QKeyEvent(event.type(), event.key(), event.modifiers(), event.text(),
                     event.isAutoRepeat(), event.count())


def key_of(event: QKeyEvent) -> Key:
    """A key press as the shared controller takes it; ``native`` is a copy the field can replay later."""
    held = event.modifiers() & CTRL_ALT
    return Key(key_name(event.key()), event.text(), ctrl_alt=bool(held),
               ctrl_only=held == Qt.KeyboardModifier.ControlModifier, is_modifier=event.key() in MODIFIER_KEYS,
               native=copy_key(event))
