"""The window's input features, offscreen: shuangpin layouts and the 简/繁 toggle."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from dataclasses import replace

import pytest

from frontend.config import Settings, SettingsStore
from tests.conftest import TIMEOUT_MS
from tests.qt.test_app import settle, text, typed


@pytest.fixture
def window(make_window, qtbot):
    w = make_window()
    qtbot.waitUntil(lambda: w.controller.ready, timeout=TIMEOUT_MS)
    return w


def test_script_toggle_switches_what_is_committed(qtbot, window):
    window.script_action.trigger()
    settle(qtbot, window)
    assert window.script_action.iconText() == "繁" and window.script_action.isChecked()
    typed(qtbot, window, "zhongguo ")
    assert text(window).endswith("中國")
    window.script_action.trigger()
    settle(qtbot, window)
    typed(qtbot, window, "zhongguo ")
    assert text(window).endswith("中國中国")
    assert SettingsStore().load().script == "simplified"  # the toggle is saved


def test_toggle_returns_to_the_traditional_script_last_chosen(qtbot, window):
    window.apply_settings(replace(window.settings, script="tw"))
    window.toggle_script()
    assert window.settings.script == "simplified"
    window.toggle_script()
    assert window.settings.script == "tw"
    settle(qtbot, window)
    typed(qtbot, window, "ruanjian ")
    assert text(window).endswith("軟體")


def test_shuangpin_layout_from_settings(qtbot, make_window):
    w = make_window(Settings(layout="xiaohe"))
    qtbot.waitUntil(lambda: w.controller.ready, timeout=TIMEOUT_MS)
    view = typed(qtbot, w, "nihc")
    assert w.editor.preedit_text == "ni'hao" and view.candidates[0].text == "你好"
    typed(qtbot, w, " ")
    assert text(w).endswith("你好")


def test_microsoft_semicolon_is_ing_while_composing(qtbot, make_window):
    w = make_window(Settings(layout="microsoft"))
    qtbot.waitUntil(lambda: w.controller.ready, timeout=TIMEOUT_MS)
    typed(qtbot, w, "p;")
    assert w.editor.preedit_text == "ping"


def test_quick_phrases_edited_in_settings_are_offered(qtbot, window, monkeypatch):
    from frontend.config import phrases_path
    from ime_app.settings_dialog import SettingsDialog

    def edit_and_accept(dialog):
        dialog.phrases.setPlainText("yx someone@example.com\nnotext\n")
        assert "line 2" in dialog.phrases_problems.text()  # the bad line is shown, with its number
        dialog.phrases.setPlainText("yx someone@example.com\n")
        return 1

    monkeypatch.setattr(SettingsDialog, "exec", edit_and_accept)
    window.open_settings()
    assert phrases_path().read_text(encoding="utf-8") == "yx someone@example.com\n"
    settle(qtbot, window)
    view = typed(qtbot, window, "yx")
    assert "someone@example.com" in [c.text for c in view.candidates]
    typed(qtbot, window, "2")
    assert text(window).endswith("someone@example.com")


def test_date_candidates_in_the_window(qtbot, window):
    view = typed(qtbot, window, "rq")
    kinds = [c.kind for c in view.candidates]
    assert kinds[0] != "phrase" and kinds[1] == "phrase"


def test_next_word_predictions_in_the_window(qtbot, make_window):
    w = make_window(Settings(prediction=True))
    qtbot.waitUntil(lambda: w.controller.ready, timeout=TIMEOUT_MS)
    typed(qtbot, w, "xiexie ")
    assert text(w).endswith("谢谢")
    assert w.candidates.isVisible() and "你" in w.candidates.texts and w.candidates.highlight == -1
    typed(qtbot, w, str(w.candidates.texts.index("你") + 1))
    assert text(w).endswith("谢谢你")
    typed(qtbot, w, " ")  # Space types a space and hides them: it never picks one
    assert text(w).endswith("谢谢你 ") and not w.candidates.isVisible()
    typed(qtbot, w, "xiexie ")
    typed(qtbot, w, "hao ")  # a letter starts new input
    assert text(w).endswith("谢谢好")
