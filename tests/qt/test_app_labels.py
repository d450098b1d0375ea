"""What a newcomer reads in the window: toggles that say what they switch, a status bar that tells
the truth in English mode, a "Details…" button only beside a shortened status, dialogs that fit
a 1366x768 screen, and a command line that explains itself (``--version``, no display)."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QToolBar

from ime_app.__main__ import NO_DISPLAY, display_problem
from tests.conftest import TIMEOUT_MS

REPO = Path(__file__).resolve().parents[2]
SCREEN = (1366, 768)
TITLE_AND_PANEL = 80  # a window title bar and a desktop panel take this much of the screen's height


@pytest.fixture
def window(make_window, qtbot):
    w = make_window()
    qtbot.waitUntil(lambda: w.controller.ready, timeout=TIMEOUT_MS)
    return w


# action, its menu text, then (toolbar label, tooltip start) before and after one click
TOGGLES = [
    ("mode_action", "&Chinese Input", ("中", "Chinese input (中): letters type pinyin"),
     ("EN", "English input (EN): letters and punctuation are typed as they are")),
    ("punct_action", "&Full-width Punctuation", ("，。", "Full-width punctuation in Chinese input"),
     (",.", "Half-width punctuation in Chinese input")),
    ("script_action", "&Traditional Characters", ("简", "Characters: Simplified (简体). Click or Ctrl+Shift+F for "
                                                        "Traditional (繁體)"),
     ("繁", "Characters: Traditional (繁體). Click or Ctrl+Shift+F for Simplified (简体)")),
]


@pytest.mark.parametrize("name,menu_text,before,after", TOGGLES, ids=[t[0] for t in TOGGLES])
def test_toggles_say_what_they_switch(qtbot, window, name, menu_text, before, after):
    action = getattr(window, name)
    toolbar = window.findChild(QToolBar, "InputToolBar")
    button = toolbar.widgetForAction(action)
    for checked, (label, tip) in ((name != "script_action", before), (name == "script_action", after)):
        assert action.text() == menu_text and action.isCheckable() and action.isChecked() == checked
        assert button.text() == label and action.toolTip().startswith(tip) and action.statusTip() == action.toolTip()
        action.trigger()
    assert action.isChecked() != checked  # a click switched it back and forth


# (Chinese mode, full-width setting) -> what the status bar says is typed
PUNCT_LABELS = [
    (True, True, "full-width ，。"),
    (True, False, "half-width ,."),
    (False, True, "half-width ,."),  # English types ASCII whatever the setting
    (False, False, "half-width ,."),
]


@pytest.mark.parametrize("chinese,fullwidth,label", PUNCT_LABELS)
def test_the_status_bar_says_what_punctuation_is_typed(qtbot, window, chinese, fullwidth, label):
    window.controller.set_fullwidth(fullwidth)
    window.controller.set_chinese(chinese)
    assert window.punct_label.text() == label
    assert ("applies in Chinese input" in window.punct_label.toolTip()) == (not chinese)


LONG = "Fallback scorer in use: statistical scorers only (neural model: the file /a/b/model.onnx is damaged.)"
SHORT = "Engine: neural (base) + n-gram"


# steps: ("status", text) sets the status; ("message", text) shows a temporary message ("" ends it);
# after each, whether "Details…" shows
DETAILS_CASES = [
    ("a shortened status has details", [("status", LONG, True)]),
    ("a whole status has none", [("status", SHORT, False)]),
    ("a message hides the button, its end brings it back",
     [("status", LONG, True), ("message", "Saved note.txt", False), ("message", "", True)]),
    ("a status set under a message waits for it to end",
     [("message", "Switching to the base model…", False), ("status", LONG, False), ("message", "", True)]),
    ("details go away with the long status",
     [("status", LONG, True), ("status", SHORT, False), ("message", "Copied", False), ("message", "", False)]),
]


@pytest.mark.parametrize("steps", [c[1] for c in DETAILS_CASES], ids=[c[0] for c in DETAILS_CASES])
def test_details_never_covers_a_message(qtbot, window, steps):
    bar = window.statusBar()
    window.set_status(SHORT)  # whatever the engine said on loading
    for kind, text, shown in steps:
        if kind == "status":
            window.set_status(text)
        elif text:
            bar.showMessage(text)
        else:
            bar.clearMessage()
        QApplication.processEvents()
        assert window.details_button.isVisible() == shown, (kind, text)
        assert window.has_details() == (window.status_details == LONG)


def test_the_details_button_shows_the_whole_status(qtbot, window):
    window.set_status(LONG)
    window.details_button.click()
    assert window.details_box.text() == LONG
    window.details_box.close()


# (dialog opened from the window) -> it fits the screen
DIALOGS = [
    ("Settings", lambda w: _settings_dialog(w)),
    ("Personalise", lambda w: w.open_personalise()),
    ("Keys and Shortcuts", lambda w: w.show_keys()),
]


def _settings_dialog(w):
    from engine.pinyin.syllables import FUZZY_PAIR_NAMES
    from ime_app.settings_dialog import SettingsDialog

    dialog = SettingsDialog(w.settings, FUZZY_PAIR_NAMES, w, phrases_text="dz 北京市海淀区\n" * 30)
    dialog.show()
    return dialog


@pytest.mark.parametrize("name,open_dialog", DIALOGS, ids=[d[0] for d in DIALOGS])
def test_dialogs_fit_a_1366x768_screen(qtbot, window, name, open_dialog):
    dialog = open_dialog(window)
    QApplication.processEvents()
    for size in (dialog.size(), dialog.sizeHint(), dialog.minimumSizeHint()):
        assert size.width() <= SCREEN[0] and size.height() <= SCREEN[1] - TITLE_AND_PANEL, (name, size)
    dialog.close()


def test_settings_are_in_tabs(qtbot, window):
    dialog = _settings_dialog(window)
    assert [dialog.tabs.tabText(i) for i in range(dialog.tabs.count())] == ["Typing", "Fuzzy pinyin", "Quick phrases"]
    dialog.close()


def test_help_has_the_key_reference(qtbot, window):
    help_menu = [a for a in window.menuBar().actions() if a.text() == "&Help"][0].menu()
    assert [a.text() for a in help_menu.actions()] == ["&Keys and Shortcuts…", "&About Shuru"]
    dialog = window.show_keys()
    assert dialog.isVisible() and "commit the highlighted candidate" in dialog.browser.toPlainText()
    assert window.show_keys() is dialog  # one window, raised again
    dialog.close()


# (environment, platform) -> whether the window can open
DISPLAYS = [
    ({}, "linux", False),
    ({"DISPLAY": ":0"}, "linux", True),
    ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", True),
    ({"QT_QPA_PLATFORM": "offscreen"}, "linux", True),
    ({"QT_QPA_PLATFORM": "xcb"}, "linux", False),
    ({"QT_QPA_PLATFORM": "wayland;xcb"}, "linux", False),
    ({"DISPLAY": ""}, "freebsd13", False),
    ({}, "win32", True),
    ({}, "darwin", True),
]


@pytest.mark.parametrize("environ,platform,ok", DISPLAYS)
def test_a_missing_display_is_found_before_qt_starts(environ, platform, ok):
    assert display_problem(environ, platform) == ("" if ok else NO_DISPLAY)


def _shuru(*args: str, **env_changes) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(env_changes)
    return subprocess.run([sys.executable, "-m", "ime_app", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=60)


def test_without_a_display_shuru_says_so_and_exits_1():
    run = _shuru()
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr.strip() == NO_DISPLAY and "no display found (DISPLAY/WAYLAND_DISPLAY)" in run.stderr


def test_version():
    from ime_app import __version__

    run = _shuru("--version")
    assert run.returncode == 0 and run.stdout.strip() == f"shuru {__version__}"
