"""Every menu entry and dialog of the window, driven once, offscreen, against the real engine.

File dialogs are answered by replacing ``QFileDialog``'s static functions; message boxes and
the Settings dialog really open (modal) and are answered by a timer that clicks their
buttons. The Qt message guard (``tests/conftest.py``) fails the test on any thread or
QObject warning (a widget touched from the engine thread crashes the window a while later).
"""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


import pytest
from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QMessageBox, QPushButton

from tests.conftest import TIMEOUT_MS, learned_word_count, reloaded_word_count
from tests.qt.test_app import text, typed

Button = QMessageBox.StandardButton
MODAL_POLLS = 250  # x 20 ms: how long a modal dialog may take to open


def menu_actions(window) -> dict[str, QAction]:
    """Every menu entry, named by its path without accelerators: ``"File/Open Recent/x.txt"``."""
    found = {}

    def walk(prefix: str, menu) -> None:
        for action in menu.actions():
            name = prefix + action.text().replace("&", "")
            if action.menu() is not None:
                walk(name + "/", action.menu())
            elif not action.isSeparator():
                found[name] = action

    for top in window.menuBar().actions():
        walk(top.text().replace("&", "") + "/", top.menu())
    return found


def trigger(window, name: str) -> None:
    action = menu_actions(window)[name]
    assert action.isEnabled(), name
    action.trigger()


class ModalAnswers:
    """Answers the modal dialogs that open next, in order: each answer is a function of the dialog."""

    def __init__(self):
        self.pending = []
        self.answered = []  # the dialogs answered so far (kept alive: identity stays unique)
        self.seen: list[str] = []  # their window titles

    def then(self, respond) -> None:
        self.pending.append(respond)
        QTimer.singleShot(0, lambda: self._poll(MODAL_POLLS))

    def _poll(self, polls_left: int) -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None or any(dialog is d for d in self.answered):
            assert polls_left > 0, "no modal dialog opened"
            QTimer.singleShot(20, lambda: self._poll(polls_left - 1))
            return
        self.answered.append(dialog)
        self.seen.append(dialog.windowTitle())
        self.pending.pop(0)(dialog)


def click(button: Button):
    """An answer that clicks one standard button of a QMessageBox."""
    return lambda box: box.button(button).click()


def clear_history_then_ok(answers: ModalAnswers):
    """The Settings dialog: Clear learned history… → Yes, then OK."""
    def respond(dialog: QDialog) -> None:
        clear = next(b for b in dialog.findChildren(QPushButton) if b.text().startswith("Clear learned history"))
        answers.then(click(Button.Yes))
        clear.click()  # its question box opens (modal, nested) and is answered
        dialog.accept()
    return respond


@pytest.fixture
def file_dialogs(monkeypatch, tmp_path):
    """QFileDialog's static functions answer from ``replies[name]`` (a path or paths; empty: Cancel)."""
    replies = {}
    for name in ("getOpenFileName", "getSaveFileName", "getOpenFileNames"):
        monkeypatch.setattr(QFileDialog, name, staticmethod(lambda *a, _name=name, **k: (replies[_name], "")))
    return replies


class Driver:
    """One window, its dialogs' answers and the menu entries triggered so far."""

    def __init__(self, qtbot, window, tmp_path, file_dialogs):
        self.qtbot, self.w, self.tmp, self.files = qtbot, window, tmp_path, file_dialogs
        self.answers = ModalAnswers()
        self.used: set[str] = set()

    def run(self, name: str) -> None:
        """Trigger a menu entry and wait until the engine has answered what it sent."""
        self.used.add(name)
        trigger(self.w, name)
        c = self.w.controller
        self.qtbot.waitUntil(lambda: c.settled, timeout=TIMEOUT_MS)


def file_menu(d: Driver) -> None:
    w, tmp = d.w, d.tmp
    d.run("File/New")
    typed(d.qtbot, w, "nihao ")
    d.answers.then(click(Button.Discard))
    d.run("File/New")  # unsaved changes: Discard
    assert text(w) == "" and d.answers.seen == ["Unsaved changes"]
    typed(d.qtbot, w, "nihao ")
    d.files["getSaveFileName"] = str(tmp / "note")
    d.run("File/Save")  # no path yet: asks for one, adds .txt
    assert (tmp / "note.txt").read_text(encoding="utf-8") == "你好"
    d.files["getSaveFileName"] = str(tmp / "copy.txt")
    d.run("File/Save As…")
    assert w.path == tmp / "copy.txt" and not w.isWindowModified()
    d.run("File/New")
    d.files["getOpenFileName"] = str(tmp / "note.txt")
    d.run("File/Open…")
    assert text(w) == "你好" and w.path == tmp / "note.txt"
    for name in ("note.txt", "copy.txt"):
        d.run(f"File/Open Recent/{(tmp / name).resolve()}")
        assert w.path == (tmp / name).resolve()
    user_data_menu(d)


def user_data_menu(d: Driver) -> None:
    """File → Export User Data… writes the backup; Import User Data… asks first, then restores it."""
    from engine.user.backup import read_backup

    w, tmp = d.w, d.tmp
    backup = tmp / "me.shuru-backup"
    d.files["getSaveFileName"] = str(backup)
    d.run("File/Export User Data…")
    d.qtbot.waitUntil(backup.exists, timeout=TIMEOUT_MS)
    assert read_backup(backup)[0]["contents"]["learned_words"] >= 1
    d.files["getOpenFileName"] = str(backup)
    d.answers.then(click(Button.No))
    d.run("File/Import User Data…")  # asked, and No: nothing is sent
    assert d.answers.seen[-1] == "Import User Data"
    d.answers.then(click(Button.Yes))
    d.run("File/Import User Data…")
    d.qtbot.waitUntil(lambda: "Imported me.shuru-backup" in w.statusBar().currentMessage(), timeout=TIMEOUT_MS)


def edit_menu(d: Driver) -> None:
    w = d.w
    typed(d.qtbot, w, "shijie ")
    assert text(w) == "你好世界"
    d.run("Edit/Undo")
    assert text(w) == "你好"
    d.run("Edit/Redo")
    assert text(w) == "你好世界"
    d.run("Edit/Copy All")
    assert QGuiApplication.clipboard().text() == "你好世界"
    d.run("Edit/Select All")
    assert w.editor.textCursor().selectedText() == "你好世界"


def tools_menu(d: Driver) -> None:
    w = d.w
    d.run("Tools/Chinese Input")
    assert not w.controller.chinese and w.mode_label.text() == "English" and not w.mode_action.isChecked()
    d.run("Tools/Chinese Input")
    assert w.controller.chinese and w.mode_action.isChecked()
    d.run("Tools/Full-width Punctuation")
    assert not w.controller.fullwidth and not w.punct_action.isChecked()
    d.run("Tools/Full-width Punctuation")
    assert w.controller.fullwidth
    d.run("Tools/Traditional Characters")
    assert w.settings.script == "traditional" and w.script_action.iconText() == "繁" and w.script_action.isChecked()
    d.run("Tools/Traditional Characters")
    assert w.settings.script == "simplified" and w.script_action.iconText() == "简"
    settings_clear_history(d)
    d.run("Tools/Personalise…")  # non-modal: the window goes on working
    assert w.personalise.isVisible() and w.personalise.tabs.currentIndex() == 0
    d.run("Tools/Models…")
    assert w.personalise.tabs.currentIndex() == 1 and w.personalise.models.table.item(0, 0).text() == "base"
    w.personalise.hide()
    d.run("Tools/User Dictionary…")
    from ime_app.user_dictionary import UserDictionaryDialog
    dictionary = w.findChild(UserDictionaryDialog)
    d.qtbot.waitUntil(lambda: dictionary.summary.text() == "0 words in your dictionary", timeout=TIMEOUT_MS)
    dictionary.close()


def settings_clear_history(d: Driver) -> None:
    """Settings → Clear learned history… → Yes, then OK: the history is gone, the GUI says so."""
    history = d.w.engine.worker._engine.history
    assert learned_word_count(history) > 0  # learned from the conversions before
    d.answers.then(clear_history_then_ok(d.answers))
    d.run("Tools/Settings…")
    d.qtbot.waitUntil(lambda: d.w.statusBar().currentMessage() == "Learned history cleared", timeout=TIMEOUT_MS)
    assert d.answers.seen[-2:] == ["Shuru Settings", "Clear learned history"]
    assert learned_word_count(history) == 0 and reloaded_word_count(d.tmp / "history.json") == 0


def help_menu(d: Driver) -> None:
    d.run("Help/Keys and Shortcuts…")  # non-modal, beside the editor
    assert d.w.keys_dialog.isVisible() and "Ctrl+Shift+F" in d.w.keys_dialog.browser.toPlainText()
    d.w.keys_dialog.close()
    about = []
    d.answers.then(lambda box: about.append((box.text(), box.detailedText())) or box.accept())
    d.run("Help/About Shuru")
    assert d.answers.seen[-1] == "About Shuru"
    summary, card = about[0]
    assert summary == d.w.about_text() and "Licences" in summary and card == ""  # no neural model: no card


def quit_menu(d: Driver) -> None:
    """File/Quit with unsaved text: Cancel keeps the window, Discard closes it."""
    d.answers.then(click(Button.Cancel))
    d.run("File/Quit")
    assert d.w.isVisible()
    d.answers.then(click(Button.Discard))
    trigger(d.w, "File/Quit")
    d.qtbot.waitUntil(lambda: not d.w.isVisible(), timeout=TIMEOUT_MS)


def test_every_menu_action_and_dialog(qtbot, make_window, tmp_path, file_dialogs, qt_messages):
    w = make_window()
    qtbot.waitUntil(lambda: w.controller.ready, timeout=TIMEOUT_MS)
    d = Driver(qtbot, w, tmp_path, file_dialogs)
    file_menu(d)
    edit_menu(d)
    tools_menu(d)
    help_menu(d)
    qtbot.wait(300)  # a widget touched from the engine thread would crash the window only later
    w.editor.moveCursor(w.editor.textCursor().MoveOperation.End)
    typed(qtbot, w, "nihao ")
    assert text(w).endswith("你好")
    quit_menu(d)
    assert set(menu_actions(w)) <= d.used, "a menu entry this test does not drive"
    assert not qt_messages.take(), "Qt warned about threads or QObject ownership"
