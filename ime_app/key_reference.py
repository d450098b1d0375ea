"""Help → Keys and Shortcuts: the key reference (:data:`frontend.keytable.KEY_REFERENCE`) in a window."""
from __future__ import annotations

import re
from html import escape

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from frontend.keytable import KEY_REFERENCE, KEY_REFERENCE_HEADER


CODE_SPAN = re.compile(r"`([^`]+)`")


def markdown_cell_html(text: str) -> str:
    """A table cell's Markdown (only `code` spans) as HTML."""
    return CODE_SPAN.sub(lambda m: f"<code>{m.group(1)}</code>", escape(text, quote=False))


def key_reference_html() -> str:
    """The key reference as an HTML table."""
    head = "".join(f"<th align=left>{escape(h.capitalize())}</th>" for h in KEY_REFERENCE_HEADER)
    rows = "".join(f"<tr><td valign=top><b>{markdown_cell_html(keys)}</b></td><td>{markdown_cell_html(what)}</td></tr>"
                   for keys, what in KEY_REFERENCE)
    return (f"<table cellspacing=0 cellpadding=4 width='100%'><tr>{head}</tr>{rows}</table>"
            "<p>The toolbar's 中/EN, ，。/,. and 简/繁 show the state of each switch; "
            "click one to switch it.</p>")


class KeyReferenceDialog(QDialog):
    """A non-modal window with the key table; it stays open beside the editor while you type."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Shuru: Keys and Shortcuts")
        self.browser = QTextBrowser()
        self.browser.setHtml(key_reference_html())
        self.browser.setOpenLinks(False)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
        self.resize(760, 640)
