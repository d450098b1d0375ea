"""The user dictionary in the window: import a word list (bad lines reported by number), the words
are candidates at once, add and remove, export it and the learned words (offscreen, real engine)."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from engine.user.userdict import parse_word_list
from ime_app.user_dictionary import import_report
from tests.conftest import TIMEOUT_MS
from tests.qt.test_app import press, typed

WORD_LIST = "\n".join([
    "阔罗木 kuo luo mu 3",         # a made-up word
    "GPT模型",                     # line 2: no pinyin and none known
    "",
    "舒如\tshu'ru\t2",
    "深度学习 shen du xue",        # line 5: a syllable short
    "# a comment",
]) + "\n"


def answer_file_dialogs(monkeypatch, path) -> None:
    for name in ("getOpenFileName", "getSaveFileName"):
        monkeypatch.setattr(QFileDialog, name, staticmethod(lambda *a, **k: (str(path), "")))


def words_in(dialog) -> list[str]:
    return [dialog.table.item(r, 0).text() for r in range(dialog.table.rowCount())]


def test_import_use_edit_and_export(qtbot, make_window, tmp_path, monkeypatch):
    w = make_window()
    qtbot.waitUntil(lambda: w.controller.ready, timeout=TIMEOUT_MS)
    source = tmp_path / "words.txt"
    source.write_text(WORD_LIST, encoding="gb18030")  # word lists may be in the legacy encoding too
    dialog = w.open_user_dictionary()
    qtbot.waitUntil(lambda: dialog.summary.text() == "0 words in your dictionary", timeout=TIMEOUT_MS)
    answer_file_dialogs(monkeypatch, source)
    next(b for b in dialog.findChildren(type(dialog.add_button)) if b.text() == "Import…").click()
    qtbot.waitUntil(lambda: dialog.summary.text() == "2 words in your dictionary", timeout=TIMEOUT_MS)
    report = dialog.message.toPlainText()
    assert report.startswith("Imported 2 words from words.txt; 2 lines refused:")
    assert "line 2: no pinyin given" in report and "line 5: 4 characters but 3 syllables" in report
    assert words_in(dialog) == ["阔罗木", "舒如"]

    dialog.entry.setText("深度模型 5")
    dialog.add_button.click()
    qtbot.waitUntil(lambda: len(words_in(dialog)) == 3, timeout=TIMEOUT_MS)
    assert dialog.table.item(2, 1).text() == "shen du mo xing" and dialog.table.item(2, 2).text() == "5"
    dialog.entry.setText("GPT")
    dialog.add_button.click()
    qtbot.waitUntil(lambda: dialog.message.toPlainText().startswith("Not added"), timeout=TIMEOUT_MS)
    dialog.table.selectRow(1)
    dialog.remove_button.click()
    qtbot.waitUntil(lambda: words_in(dialog) == ["阔罗木", "深度模型"], timeout=TIMEOUT_MS)

    exported = tmp_path / "exported.txt"
    answer_file_dialogs(monkeypatch, exported)
    next(b for b in dialog.findChildren(type(dialog.add_button)) if b.text() == "Export…").click()
    qtbot.waitUntil(exported.exists, timeout=TIMEOUT_MS)
    again, problems = parse_word_list(exported.read_text(encoding="utf-8"))
    assert again == w.engine.worker._engine.user_words() and problems == []
    assert [(x.word, x.pinyin, x.weight) for x in again] == [("阔罗木", "kuo'luo'mu", 3.0),
                                                            ("深度模型", "shen'du'mo'xing", 5.0)]
    dialog.close()

    view = typed(qtbot, w, "kuoluomu")
    assert "阔罗木" in [c.text for c in view.candidates][:2]  # proposed at once
    press(qtbot, w, Qt.Key.Key_Escape)
    typed(qtbot, w, "nihao ")  # learned from typing

    dialog = w.open_user_dictionary()
    learned = tmp_path / "learned.txt"
    answer_file_dialogs(monkeypatch, learned)
    dialog.choose_export_learned()
    qtbot.waitUntil(learned.exists, timeout=TIMEOUT_MS)
    entries, problems = parse_word_list(learned.read_text(encoding="utf-8"))
    assert ("你好", ("ni", "hao")) in [(e.word, e.syllables) for e in entries] and problems == []
    dialog.close()


# (words added, refused lines) -> the report
REPORTS = [
    ((1, []), "Imported 1 word from a.txt."),
    ((0, [(3, "empty")]), "Imported 0 words from a.txt; 1 line refused:\nline 3: empty"),
]


@pytest.mark.parametrize("counts, text", REPORTS)
def test_import_report_wording(counts, text):
    added, problems = counts
    assert import_report("a.txt", added, problems) == text
