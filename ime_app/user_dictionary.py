"""The user dictionary dialog: the user's own words (with pinyin and weight), editable, importable, exportable.

The words live in the engine's user store, which the worker thread owns: the dialog asks
for them (``refresh_requested``) and shows what :meth:`show_words` is given; adding,
removing, importing and exporting are requests the worker carries out, answering with the
new list and a message (:meth:`show_message`: how many words came in, which lines were refused).
Learned words (what Shuru learned from typing) can be exported from here too.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QDialogButtonBox, QFileDialog, QHBoxLayout, QHeaderView,
                               QLabel, QLineEdit, QPlainTextEdit, QPushButton, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

COLUMNS = ("Word", "Pinyin", "Weight")
LIST_FILTER = "Word lists (*.txt);;All files (*)"


class UserDictionaryDialog(QDialog):
    """A table of the user's words with Add, Remove, Import…, Export… and Export learned words…"""

    refresh_requested = Signal()
    add_requested = Signal(str)  # a word-list line: "word [pinyin] [weight]"
    remove_requested = Signal(list)  # words
    import_requested = Signal(str)  # path
    export_requested = Signal(str)  # path
    export_learned_requested = Signal(str)  # path

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("User dictionary")
        self.resize(520, 560)
        self.words: list = []
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Your own words are offered as candidates as soon as they are added: type their "
                                "pinyin in full or by initials."))
        self.summary = QLabel("Loading…")
        layout.addWidget(self.summary)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        layout.addWidget(self.table)
        row = QHBoxLayout()
        self.entry = QLineEdit()
        self.entry.setPlaceholderText("深度学习 shen du xue xi 5   (pinyin and weight optional)")
        self.entry.returnPressed.connect(self.add_entry)
        row.addWidget(self.entry, 1)
        self.add_button = _button("Add", self.add_entry, row)
        self.remove_button = _button("Remove", self.remove_selected, row)
        layout.addLayout(row)
        row = QHBoxLayout()
        _button("Import…", self.choose_import, row)
        _button("Export…", self.choose_export, row)
        row.addStretch(1)
        _button("Export learned words…", self.choose_export_learned, row)
        layout.addLayout(row)
        self.message = QPlainTextEdit()
        self.message.setReadOnly(True)
        self.message.setMaximumHeight(110)
        self.message.setPlaceholderText("Import reports appear here")
        layout.addWidget(self.message)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.refresh_requested.emit()

    @Slot(object)
    def show_words(self, words) -> None:
        """The dictionary as engine.user.userdict.UserWord entries."""
        self.words = list(words)
        n = len(self.words)
        self.summary.setText(f"{n} {'word' if n == 1 else 'words'} in your dictionary")
        self.table.setRowCount(n)
        for r, w in enumerate(self.words):
            for c, value in enumerate((w.word, " ".join(w.syllables), f"{w.weight:g}")):
                item = QTableWidgetItem(value)
                if c == 2:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        self.remove_button.setEnabled(n > 0)

    @Slot(str)
    def show_message(self, text: str) -> None:
        self.message.setPlainText(text)

    def add_entry(self) -> None:
        line = self.entry.text().strip()
        if line:
            self.add_requested.emit(line)
            self.entry.clear()

    def selected_words(self) -> list[str]:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        return [self.table.item(r, 0).text() for r in rows]

    def remove_selected(self) -> None:
        words = self.selected_words()
        if words:
            self.remove_requested.emit(words)

    def choose_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a word list", str(Path.home()), LIST_FILTER)
        if path:
            self.import_requested.emit(path)

    def choose_export(self) -> None:
        path = self._save_path("Export the user dictionary", "shuru-words.txt")
        if path:
            self.export_requested.emit(path)

    def choose_export_learned(self) -> None:
        path = self._save_path("Export learned words", "shuru-learned-words.txt")
        if path:
            self.export_learned_requested.emit(path)

    def _save_path(self, title: str, name: str) -> str:
        path, _ = QFileDialog.getSaveFileName(self, title, str(Path.home() / name), LIST_FILTER)
        if path and not Path(path).suffix:
            path += ".txt"
        return path

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Delete and self.table.hasFocus():
            self.remove_selected()
            return
        super().keyPressEvent(event)


def import_report(name: str, added: int, problems: list[tuple[int, str]]) -> str:
    """What an import did: the words added and each refused line with its number and reason."""
    lines = [f"Imported {added} {'word' if added == 1 else 'words'} from {name}"
             + (f"; {len(problems)} {'line' if len(problems) == 1 else 'lines'} refused:" if problems else ".")]
    lines += [f"line {n}: {reason}" for n, reason in problems]
    return "\n".join(lines)


def _button(text: str, slot, row: QHBoxLayout) -> QPushButton:
    b = QPushButton(text)
    b.clicked.connect(slot)
    row.addWidget(b)
    return b
