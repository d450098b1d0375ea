"""The window's input features, offscreen: shuangpin layouts and the 简/繁 toggle."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from dataclasses import replace

import pytest

from ime_app.config import Settings, SettingsStore
from tests.conftest import TIMEOUT_MS
from tests.test_app import settle, text, typed


@pytest.fixture
def window(make_window, qtbot):
    w = make_window()
    qtbot.waitUntil(lambda: w.controller.ready, timeout=TIMEOUT_MS)
    return w


def test_script_toggle_switches_what_is_committed(qtbot, window):
    window.script_action.trigger()
    settle(qtbot, window)
    assert window.script_action.text() == "繁"
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
