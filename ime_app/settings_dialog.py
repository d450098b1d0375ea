"""The Settings dialog: edits a copy of :class:`~frontend.config.Settings`; the window applies it."""
from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFontComboBox, QFormLayout,
                               QGridLayout, QGroupBox, QHBoxLayout, QLabel, QMessageBox, QPlainTextEdit, QPushButton,
                               QSpinBox, QTabWidget, QVBoxLayout, QWidget)

from engine.pinyin.phrases import parse_phrases
from engine.pinyin.shuangpin import FULL_PINYIN, LAYOUT_NAMES, LAYOUT_TABLES
from frontend.config import ORIENTATIONS, Settings

from .fonts import cjk_families

ORIENTATION_LABELS = {"horizontal": "Horizontal", "vertical": "Vertical"}
LAYOUT_LABELS = {FULL_PINYIN: "Full pinyin (全拼)", **{n: f"Shuangpin: {LAYOUT_TABLES[n][0]}" for n in LAYOUT_NAMES}}
SCRIPT_LABELS = {"simplified": "Simplified (简体)", "traditional": "Traditional (繁體)",
                 "tw": "Traditional, Taiwan phrases (臺灣)", "hk": "Traditional, Hong Kong (香港)"}


class SettingsDialog(QDialog):
    """``values()`` returns the edited settings; ``clear_history_requested`` fires after confirmation."""

    clear_history_requested = Signal()
    view_learned_requested = Signal()  # the learned-words list was asked for

    def __init__(self, settings: Settings, fuzzy_pair_names: tuple[str, ...], parent: QWidget | None = None,
                 phrases_text: str = ""):
        super().__init__(parent)
        self.setWindowTitle("Shuru Settings")
        self._base = settings
        self._phrases_base = phrases_text
        layout = QVBoxLayout(self)
        self.tabs = QTabWidget()  # in pages: the whole dialog would not fit a 1366x768 screen
        self.tabs.addTab(_page(self._input_group(settings), self._candidate_group(settings)), "Typing")
        self.tabs.addTab(_page(self._fuzzy_group(settings, fuzzy_pair_names)), "Fuzzy pinyin")
        self.tabs.addTab(_page(self._phrases_group(phrases_text)), "Quick phrases")
        layout.addWidget(self.tabs)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _candidate_group(self, s: Settings) -> QGroupBox:
        box = QGroupBox("Candidates and font")
        form = QFormLayout(box)
        self.page_size = QSpinBox()
        self.page_size.setRange(1, 9)
        self.page_size.setValue(s.page_size)
        form.addRow("Candidates per page:", self.page_size)
        self.orientation = QComboBox()
        for o in ORIENTATIONS:
            self.orientation.addItem(ORIENTATION_LABELS[o], o)
        self.orientation.setCurrentIndex(ORIENTATIONS.index(s.orientation))
        form.addRow("Candidate window:", self.orientation)
        self.font_family = QFontComboBox()
        families = cjk_families()
        family = s.font_family or (families[0] if families else "")
        if family:
            self.font_family.setCurrentFont(QFont(family))
        form.addRow("Font:", self.font_family)
        self.font_size = QSpinBox()
        self.font_size.setRange(6, 72)
        self.font_size.setSuffix(" pt")
        self.font_size.setValue(s.font_size)
        form.addRow("Font size:", self.font_size)
        return box

    def _fuzzy_group(self, s: Settings, names: tuple[str, ...]) -> QGroupBox:
        box = QGroupBox("Fuzzy pinyin (either sound of a pair matches both)")
        grid = QGridLayout(box)
        self.fuzzy: dict[str, QCheckBox] = {}
        for i, name in enumerate(names):
            check = QCheckBox(name)
            check.setChecked(name in s.fuzzy_pairs)
            self.fuzzy[name] = check
            grid.addWidget(check, i // 4, i % 4)
        return box

    def _input_group(self, s: Settings) -> QGroupBox:
        box = QGroupBox("Input")
        form = QFormLayout(box)
        self.layout_box = _combo(LAYOUT_LABELS, s.layout)
        form.addRow("Typing:", self.layout_box)
        self.script_box = _combo(SCRIPT_LABELS, s.script)
        form.addRow("Characters:", self.script_box)
        self.chinese_mode = QCheckBox("Start in Chinese mode")
        self.chinese_mode.setChecked(s.chinese_mode)
        form.addRow(self.chinese_mode)
        self.fullwidth = QCheckBox("Full-width punctuation in Chinese mode (，。？)")
        self.fullwidth.setChecked(s.fullwidth_punct)
        form.addRow(self.fullwidth)
        self.comma_period_paging = QCheckBox("Comma and period turn pages while typing pinyin (instead of ，。)")
        self.comma_period_paging.setChecked(s.comma_period_paging)
        form.addRow(self.comma_period_paging)
        self.prediction = QCheckBox("After a commit, offer the likely next words (digits or a click pick one)")
        self.prediction.setChecked(s.prediction)
        form.addRow(self.prediction)
        self.learning = QCheckBox("Learn from the words I choose")
        self.learning.setChecked(s.learning)
        form.addRow(self.learning)
        self.learned_label = QLabel("Learned words: …")
        view = QPushButton("View and remove…")
        view.clicked.connect(self.view_learned_requested)
        clear = QPushButton("Clear learned history…")
        clear.clicked.connect(self._confirm_clear)
        row = QHBoxLayout()
        row.addWidget(self.learned_label, 1)
        row.addWidget(view)
        row.addWidget(clear)
        form.addRow(row)
        return box

    def _phrases_group(self, text: str) -> QGroupBox:
        box = QGroupBox("Quick phrases (a trigger, a space, the text; built in: rq date, sj time, xq weekday)")
        col = QVBoxLayout(box)
        self.phrases = QPlainTextEdit()
        self.phrases.setPlaceholderText("dz 北京市海淀区中关村大街1号\nyx someone@example.com")
        self.phrases.setPlainText(text)
        self.phrases.setMaximumHeight(110)
        self.phrases_problems = QLabel()
        self.phrases_problems.setWordWrap(True)
        self.phrases.textChanged.connect(self._check_phrases)
        col.addWidget(self.phrases)
        col.addWidget(self.phrases_problems)
        self._check_phrases()
        return box

    def _check_phrases(self) -> None:
        """Show which lines of the phrases would be skipped, and why."""
        _, errors = parse_phrases(self.phrases.toPlainText())
        self.phrases_problems.setText("Skipped: " + "; ".join(map(str, errors)) if errors else "")
        self.phrases_problems.setVisible(bool(errors))

    def phrases_text(self) -> str:
        """The quick phrases as edited."""
        return self.phrases.toPlainText()

    def phrases_changed(self) -> bool:
        return self.phrases_text() != self._phrases_base

    @Slot(object)
    def show_learned(self, words) -> None:
        """The engine's learned words (from the worker): shows how many there are."""
        self.learned_label.setText(f"Learned words: {len(words)}")

    def _confirm_clear(self) -> None:
        answer = QMessageBox.question(self, "Clear learned history",
                                      "Forget every word Shuru has learned from your typing?")
        if answer == QMessageBox.StandardButton.Yes:
            self.clear_history_requested.emit()

    def values(self) -> Settings:
        """The settings as edited (window state such as geometry is kept from the input)."""
        return replace(
            self._base,
            page_size=self.page_size.value(),
            orientation=self.orientation.currentData(),
            font_family=self.font_family.currentFont().family(),
            font_size=self.font_size.value(),
            fuzzy_pairs=sorted(n for n, c in self.fuzzy.items() if c.isChecked()),
            fullwidth_punct=self.fullwidth.isChecked(),
            chinese_mode=self.chinese_mode.isChecked(),
            learning=self.learning.isChecked(),
            comma_period_paging=self.comma_period_paging.isChecked(),
            prediction=self.prediction.isChecked(),
            layout=self.layout_box.currentData(),
            script=self.script_box.currentData(),
            traditional_script=(self.script_box.currentData() if self.script_box.currentData() != "simplified"
                                else self._base.traditional_script),
        ).normalized()


def _combo(labels: dict[str, str], current: str) -> QComboBox:
    """A combo box of ``labels`` (value -> text) with ``current`` selected."""
    box = QComboBox()
    for value, text in labels.items():
        box.addItem(text, value)
    box.setCurrentIndex(max(0, list(labels).index(current) if current in labels else 0))
    return box


def _page(*groups: QWidget) -> QWidget:
    """A tab holding ``groups`` one above the other, top-aligned."""
    page = QWidget()
    col = QVBoxLayout(page)
    for group in groups:
        col.addWidget(group)
    col.addStretch(1)
    return page
