"""The key table and punctuation as specs: pure functions, no window, no engine."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtCore import Qt

from frontend.actions import (Backspace, Cancel, Commit, CommitRaw, Delete, ForgetHighlighted, Insert, MoveCursor,
                              MoveHighlight, PageDown, PageUp, SelectOnPage)
from frontend.config import Settings, SettingsStore, add_recent
from frontend.keytable import (CURSOR_END, EDITOR, KEY_NAMES, SWALLOW, Route, RouteKind, depends_on_composing,
                               layout_keys, route_key)
from frontend.punctuation import Punctuator

K = Qt.Key


@pytest.mark.parametrize("qt_key,name", [(K.Key_Space, "space"), (K.Key_Enter, "enter"), (K.Key_PageDown, "page_down"),
                                         (K.Key_Comma, "comma"), (K.Key_A, ""), (K.Key_F5, "")])
def test_qt_keys_translate_to_the_table_names(qt_key, name):
    from ime_app.keymap import QT_KEY_NAMES, key_name

    assert key_name(qt_key) == name
    assert set(QT_KEY_NAMES.values()) == KEY_NAMES


def test_the_key_table_knows_no_toolkit():
    import ast
    from pathlib import Path

    import frontend.keytable as table
    import frontend.punctuation as punct

    for module in (table, punct):
        tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
        imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not imported & {"PySide6", "gi", "PyQt5", "PyQt6"}, module.__name__


def check(key, text, want, *, composing, chinese=True, ctrl_alt=False, paging=False):
    assert route_key(key, text, ctrl_alt=ctrl_alt, chinese=chinese, composing=composing,
                     comma_period_paging=paging) == want


@pytest.mark.parametrize("key,text,want", [
    ("", "n", Route(RouteKind.SESSION, Insert("n"))),
    ("", "A", Route(RouteKind.SESSION, Insert("a"))),  # Shift+letter while composing: lower-cased
    ("", "'", Route(RouteKind.SESSION, Insert("'"))),
    ("space", " ", Route(RouteKind.SESSION, Commit())),
    ("", "1", Route(RouteKind.SESSION, SelectOnPage(0))),
    ("", "9", Route(RouteKind.SESSION, SelectOnPage(8))),
    ("", "0", SWALLOW),
    ("minus", "-", Route(RouteKind.SESSION, PageUp())),
    ("equal", "=", Route(RouteKind.SESSION, PageDown())),
    ("comma", ",", Route(RouteKind.PUNCT, char=",")),  # commits, then ， (paging is a setting)
    ("period", ".", Route(RouteKind.PUNCT, char=".")),
    ("page_up", "", Route(RouteKind.SESSION, PageUp())),
    ("page_down", "", Route(RouteKind.SESSION, PageDown())),
    ("up", "", Route(RouteKind.SESSION, MoveHighlight(-1))),
    ("down", "", Route(RouteKind.SESSION, MoveHighlight(1))),
    ("left", "", Route(RouteKind.SESSION, MoveCursor(-1))),
    ("right", "", Route(RouteKind.SESSION, MoveCursor(1))),
    ("home", "", Route(RouteKind.SESSION, MoveCursor(-CURSOR_END))),
    ("return", "\r", Route(RouteKind.SESSION, CommitRaw())),
    ("escape", "\x1b", Route(RouteKind.SESSION, Cancel())),
    ("backspace", "\x08", Route(RouteKind.SESSION, Backspace())),
    ("delete", "\x7f", Route(RouteKind.SESSION, Delete())),
    ("", "?", Route(RouteKind.PUNCT, char="?")),
    ("", "", SWALLOW),
])
def test_composing_keys(key, text, want):
    check(key, text, want, composing=True)


@pytest.mark.parametrize("key,text,composing,want", [
    ("comma", ",", True, Route(RouteKind.SESSION, PageUp())),
    ("period", ".", True, Route(RouteKind.SESSION, PageDown())),
    ("minus", "-", True, Route(RouteKind.SESSION, PageUp())),
    ("", "?", True, Route(RouteKind.PUNCT, char="?")),
    ("comma", ",", False, Route(RouteKind.PUNCT, char=",")),  # idle: still punctuation
    ("period", ".", False, Route(RouteKind.PUNCT, char=".")),
])
def test_comma_period_paging_setting(key, text, composing, want):
    check(key, text, want, composing=composing, paging=True)


@pytest.mark.parametrize("layout,keys", [("full", ""), ("xiaohe", ""), ("microsoft", ";"), ("sogou", ";")])
def test_layout_keys_beyond_letters(layout, keys):
    assert layout_keys(layout) == keys


@pytest.mark.parametrize("composing,want", [
    (True, Route(RouteKind.SESSION, Insert(";"))),  # Microsoft / Sogou: ; is the ing key
    (False, Route(RouteKind.PUNCT, char=";")),  # idle: punctuation as usual
])
def test_shuangpin_semicolon(composing, want):
    assert route_key("", ";", ctrl_alt=False, chinese=True, composing=composing, layout_keys=";") == want


@pytest.mark.parametrize("key,text,want", [
    ("", "n", Route(RouteKind.SESSION, Insert("n"))),
    ("", "A", EDITOR),  # Shift+letter types the capital letter
    ("space", " ", EDITOR),
    ("", "1", EDITOR),
    ("return", "\r", EDITOR),
    ("backspace", "\x08", EDITOR),
    ("left", "", EDITOR),
    ("comma", ",", Route(RouteKind.PUNCT, char=",")),
    ("", "'", Route(RouteKind.PUNCT, char="'")),
    ("minus", "-", EDITOR),
])
def test_idle_keys(key, text, want):
    check(key, text, want, composing=False)


def test_english_mode_and_shortcuts_go_to_the_editor():
    check("", "n", EDITOR, composing=False, chinese=False)
    check("comma", ",", EDITOR, composing=False, chinese=False)
    check("", "\x03", EDITOR, composing=True, ctrl_alt=True)
    check("delete", "\x7f", Route(RouteKind.SESSION, ForgetHighlighted()), composing=True, ctrl_alt=True)
    check("delete", "\x7f", EDITOR, composing=False, ctrl_alt=True)  # idle: the editor's own


def test_which_keys_wait_for_the_worker():
    kw = dict(ctrl_alt=False, chinese=True)
    assert not depends_on_composing("", "n", **kw)  # a letter composes either way
    assert depends_on_composing("space", " ", **kw)
    assert depends_on_composing("", "2", **kw)
    assert not depends_on_composing("comma", ",", **kw)  # punctuation either way
    assert depends_on_composing("comma", ",", comma_period_paging=True, **kw)
    assert not depends_on_composing("space", " ", ctrl_alt=False, chinese=False)


@pytest.mark.parametrize("keys,before,want", [
    (",.?!:;", "", "，。？！：；"),
    ("\\^_<>()", "", "、……——《》（）"),
    ('""""', "", "“”“”"),
    ("''", "", "‘’"),
    (".", "3", "."),  # 3.14
    (",", "1", ","),  # 1,000
    (".", "三", "。"),
    ("@#", "", "@#"),  # no full-width form: unchanged
])
def test_fullwidth_punctuation(keys, before, want):
    p = Punctuator()
    assert "".join(p.translate(k, True, before) for k in keys) == want


def test_halfwidth_punctuation_is_ascii():
    p = Punctuator()
    assert "".join(p.translate(k, False) for k in ',."') == ',."'


def test_settings_roundtrip_and_bad_files(tmp_path):
    store = SettingsStore(tmp_path)
    assert store.load() == Settings()
    s = Settings(page_size=7, orientation="vertical", fuzzy_pairs=["z/zh", "an/ang"], learning=False)
    store.save(s)
    assert store.load() == s.normalized()
    assert not list(tmp_path.glob("*.tmp"))
    store.path.write_text('{"page_size": 42, "orientation": "diagonal", "unknown": 1}')
    loaded = store.load()
    assert (loaded.page_size, loaded.orientation) == (9, "horizontal")
    store.path.write_text("not json")
    assert store.load() == Settings()


def test_recent_files_are_newest_first_and_unique():
    assert add_recent(["a", "b", "c"], "b") == ["b", "a", "c"]
    assert len(add_recent([str(i) for i in range(20)], "x")) == 8


@pytest.mark.parametrize("events,tapped", [
    ([("press", True), ("release", True)], True),
    ([("press", True), ("press", False), ("release", True)], False),  # Shift+letter
    ([("press", True), ("click",), ("release", True)], False),
    ([("press", True, "ctrl")], False),  # Ctrl+Shift
    ([("press", True), ("press", True, "repeat"), ("release", True)], True),  # held: still a tap
    ([("release", True)], False),
])
def test_a_shift_tap_is_shift_pressed_and_released_alone(events, tapped):
    from frontend.keytable import ShiftTap

    tap, last = ShiftTap(), False
    for event in events:
        if event[0] == "press":
            tap.press(event[1], other_modifiers="ctrl" in event, auto_repeat="repeat" in event)
        elif event[0] == "click":
            tap.interrupt()
        else:
            last = tap.release(event[1])
    assert last == tapped
