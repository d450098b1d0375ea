"""The learned-words dialog: what Shuru has learned from the user's typing, with removal.

The words live in the engine's user store, which the worker thread owns: the dialog asks
for them through ``refresh_requested`` and shows what :meth:`show_words` is given;
removing words emits ``forget_requested`` and the worker answers with the new list.
"""
from __future__ import annotations

import time

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QDialogButtonBox, QHeaderView, QLabel, QLineEdit,
                               QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

COLUMNS = ("Word", "Weight", "Last used")


class LearnedWordsDialog(QDialog):
    """A filterable table of learned words; Remove forgets the selected ones."""

    refresh_requested = Signal()
    forget_requested = Signal(list)  # texts

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Learned words")
        self.resize(420, 480)
        self.words: list[tuple[str, float, float]] = []
        layout = QVBoxLayout(self)
        self.summary = QLabel("Loading…")
        layout.addWidget(self.summary)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter")
        self.filter.textChanged.connect(self._fill)
        layout.addWidget(self.filter)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        layout.addWidget(self.table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Forget the selected words (Delete)")
        self.remove_button.clicked.connect(self.remove_selected)
        buttons.addButton(self.remove_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.refresh_requested.emit()

    @Slot(object)
    def show_words(self, words) -> None:
        """The learned words as (text, weight, last used Unix time), most weight first."""
        self.words = list(words)
        n = len(self.words)
        self.summary.setText(f"{n} {'word' if n == 1 else 'words'} learned from your typing")
        self._fill()

    def _fill(self) -> None:
        needle = self.filter.text().strip()
        rows = [w for w in self.words if needle in w[0]]
        self.table.setRowCount(len(rows))
        for r, (text, weight, used) in enumerate(rows):
            cells = (text, f"{weight:.1f}", time.strftime("%Y-%m-%d", time.localtime(used)) if used else "")
            for c, value in enumerate(cells):
                item = QTableWidgetItem(value)
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        self.remove_button.setEnabled(bool(rows))

    def selected_words(self) -> list[str]:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        return [self.table.item(r, 0).text() for r in rows]

    def remove_selected(self) -> None:
        words = self.selected_words()
        if words:
            self.forget_requested.emit(words)

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Delete:
            self.remove_selected()
            return
        super().keyPressEvent(event)
