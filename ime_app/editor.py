"""The text editor: the window's writing area, a QPlainTextEdit that Shuru types into.

Its keys reach the input controller the way every text field's do (:mod:`ime_app.text_fields`),
which shows the preedit (the pinyin being typed) inline at the caret, underlined, the way a
system input method does.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPlainTextEdit

from .text_fields import TextField


class ImeEditor(QPlainTextEdit):
    """The writing area; :attr:`preedit_text` is the pinyin shown at the caret ("" when idle)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        # Shuru handles the keys: keep a system input method (ibus, fcitx) out of this widget.
        self.setAttribute(Qt.WidgetAttribute.WA_InputMethodEnabled, False)

    @property
    def preedit_text(self) -> str:
        return TextField.of(self).preedit_text

    @property
    def preedit_cursor(self) -> int:
        return TextField.of(self).preedit_cursor
