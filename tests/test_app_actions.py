"""Every menu entry and dialog of the window, driven once, offscreen, against the real engine.

File dialogs are answered by replacing ``QFileDialog``'s static functions; message boxes and
the Settings dialog really open (modal) and are answered by a timer that clicks their
buttons. The Qt message guard (``tests/conftest.py``) fails the test on any thread or
QObject warning, which is what preceded the crash after clearing the history.
"""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import json

import pytest
from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QMessageBox, QPushButton

from ime_app.training import FinetuneRun, trainer_available
from tests.conftest import TIMEOUT_MS
from tests.test_app import text, typed

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


@pytest.fixture
def quick_trainer(monkeypatch):
    """The trainer run replaced by a tiny process printing what ``python -m trainer`` prints."""
    script = ("import sys, json; print('step 1/1 loss 3.2', file=sys.stderr, flush=True); "
              "print(json.dumps({'steps': 1}))")
    real_start = FinetuneRun.start

    def start(run):
        run.process.setArguments(["-c", script])
        real_start(run)

    monkeypatch.setattr(FinetuneRun, "start", start)


class LoadRecorder(QObject):
    """Records the worker's ``loaded`` signals, received (as a slot) on the GUI thread."""

    def __init__(self):
        super().__init__()
        self.calls = []

    @Slot(str, str, str)
    def record(self, *args) -> None:
        self.calls.append(args)


def wait_idle(qtbot, w) -> None:
    c = w.controller
    qtbot.waitUntil(lambda: c.shown_seq == c.sent_seq and not c._deferred, timeout=TIMEOUT_MS)


def test_every_menu_action_and_dialog(qtbot, make_window, tmp_path, file_dialogs, quick_trainer, qt_messages):
    w = make_window()
    loads = LoadRecorder()  # engine loads reported to the GUI thread (a reload follows training)
    w.engine.worker.loaded.connect(loads.record)
    qtbot.waitUntil(lambda: w.controller.ready, timeout=TIMEOUT_MS)
    answers = ModalAnswers()
    used = set()

    def run(name: str) -> None:
        used.add(name)
        trigger(w, name)
        wait_idle(qtbot, w)

    # File
    run("File/New")
    typed(qtbot, w, "nihao ")
    answers.then(click(Button.Discard))
    run("File/New")  # unsaved changes: Discard
    assert text(w) == "" and answers.seen == ["Unsaved changes"]
    typed(qtbot, w, "nihao ")
    file_dialogs["getSaveFileName"] = str(tmp_path / "note")
    run("File/Save")  # no path yet: asks for one, adds .txt
    assert (tmp_path / "note.txt").read_text(encoding="utf-8") == "你好"
    file_dialogs["getSaveFileName"] = str(tmp_path / "copy.txt")
    run("File/Save As…")
    assert w.path == tmp_path / "copy.txt" and not w.isWindowModified()
    run("File/New")
    file_dialogs["getOpenFileName"] = str(tmp_path / "note.txt")
    run("File/Open…")
    assert text(w) == "你好" and w.path == tmp_path / "note.txt"
    for name in ("note.txt", "copy.txt"):
        run(f"File/Open Recent/{(tmp_path / name).resolve()}")
        assert w.path == (tmp_path / name).resolve()

    # Edit
    typed(qtbot, w, "shijie ")
    assert text(w) == "你好世界"
    run("Edit/Undo")
    assert text(w) == "你好"
    run("Edit/Redo")
    assert text(w) == "你好世界"
    run("Edit/Copy All")
    assert QGuiApplication.clipboard().text() == "你好世界"
    run("Edit/Select All")
    assert w.editor.textCursor().selectedText() == "你好世界"

    # Tools
    run("Tools/中")
    assert not w.controller.chinese and w.mode_label.text() == "English"
    run("Tools/英")
    assert w.controller.chinese
    run("Tools/，。")
    assert not w.controller.fullwidth
    run("Tools/,.")
    assert w.controller.fullwidth
    history = w.engine.worker._engine.history
    assert history.unigrams  # learned from the conversions above
    answers.then(clear_history_then_ok(answers))
    run("Tools/Settings…")
    qtbot.waitUntil(lambda: w.statusBar().currentMessage() == "Learned history cleared", timeout=TIMEOUT_MS)
    assert answers.seen[-2:] == ["Shuru Settings", "Clear learned history"]
    assert not history.unigrams and json.loads((tmp_path / "history.json").read_text())["unigrams"] == {}
    if trainer_available():
        file_dialogs["getOpenFileNames"] = []
        run("Tools/Train on My Text…")  # cancelled: nothing starts
        assert w.finetune is None
        file_dialogs["getOpenFileNames"] = [str(tmp_path / "note.txt")]
        run("Tools/Train on My Text…")
        qtbot.waitUntil(lambda: len(loads.calls) == 2, timeout=TIMEOUT_MS)  # trained, then reloaded
        assert w.finetune is None and w.statusBar().currentMessage().startswith("Personal model ready")

    # Help
    answers.then(lambda box: box.accept())
    run("Help/About Shuru")
    assert answers.seen[-1] == "About Shuru"

    qtbot.wait(300)  # the crash after clearing the history came later
    w.editor.moveCursor(w.editor.textCursor().MoveOperation.End)
    typed(qtbot, w, "nihao ")
    assert text(w).endswith("你好")

    # File/Quit last: Cancel keeps the window, Discard closes it
    answers.then(click(Button.Cancel))
    run("File/Quit")
    assert w.isVisible()
    answers.then(click(Button.Discard))
    used.add("File/Quit")
    trigger(w, "File/Quit")
    qtbot.waitUntil(lambda: not w.isVisible(), timeout=TIMEOUT_MS)

    assert set(menu_actions(w)) <= used, "a menu entry this test does not drive"
    assert not qt_messages.take(), "Qt warned about threads or QObject ownership"
