"""The key table and punctuation as specs: pure functions, no window, no engine."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtCore import Qt

from ime_app.config import Settings, SettingsStore, add_recent
from ime_app.keymap import CURSOR_END, EDITOR, SWALLOW, Route, depends_on_composing, route_key
from ime_app.punctuation import Punctuator

K = Qt.Key


def check(key, text, want, *, composing, chinese=True, ctrl_alt=False, paging=False):
    assert route_key(key, text, ctrl_alt=ctrl_alt, chinese=chinese, composing=composing,
                     comma_period_paging=paging) == want


@pytest.mark.parametrize("key,text,want", [
    (K.Key_N, "n", Route("session", ("insert", "n"))),
    (K.Key_A, "A", Route("session", ("insert", "a"))),  # Shift+letter while composing: lower-cased
    (K.Key_Apostrophe, "'", Route("session", ("insert", "'"))),
    (K.Key_Space, " ", Route("session", ("commit",))),
    (K.Key_1, "1", Route("session", ("select_on_page", 0))),
    (K.Key_9, "9", Route("session", ("select_on_page", 8))),
    (K.Key_0, "0", SWALLOW),
    (K.Key_Minus, "-", Route("session", ("page_up",))),
    (K.Key_Equal, "=", Route("session", ("page_down",))),
    (K.Key_Comma, ",", Route("punct", char=",")),  # commits, then ， (paging is a setting)
    (K.Key_Period, ".", Route("punct", char=".")),
    (K.Key_PageUp, "", Route("session", ("page_up",))),
    (K.Key_PageDown, "", Route("session", ("page_down",))),
    (K.Key_Up, "", Route("session", ("move_highlight", -1))),
    (K.Key_Down, "", Route("session", ("move_highlight", 1))),
    (K.Key_Left, "", Route("session", ("move_cursor", -1))),
    (K.Key_Right, "", Route("session", ("move_cursor", 1))),
    (K.Key_Home, "", Route("session", ("move_cursor", -CURSOR_END))),
    (K.Key_Return, "\r", Route("session", ("commit_raw",))),
    (K.Key_Escape, "\x1b", Route("session", ("cancel",))),
    (K.Key_Backspace, "\x08", Route("session", ("backspace",))),
    (K.Key_Delete, "\x7f", Route("session", ("delete",))),
    (K.Key_Question, "?", Route("punct", char="?")),
    (K.Key_F5, "", SWALLOW),
])
def test_composing_keys(key, text, want):
    check(key, text, want, composing=True)


@pytest.mark.parametrize("key,text,composing,want", [
    (K.Key_Comma, ",", True, Route("session", ("page_up",))),
    (K.Key_Period, ".", True, Route("session", ("page_down",))),
    (K.Key_Minus, "-", True, Route("session", ("page_up",))),
    (K.Key_Question, "?", True, Route("punct", char="?")),
    (K.Key_Comma, ",", False, Route("punct", char=",")),  # idle: still punctuation
    (K.Key_Period, ".", False, Route("punct", char=".")),
])
def test_comma_period_paging_setting(key, text, composing, want):
    check(key, text, want, composing=composing, paging=True)


@pytest.mark.parametrize("key,text,want", [
    (K.Key_N, "n", Route("session", ("insert", "n"))),
    (K.Key_A, "A", EDITOR),  # Shift+letter types the capital letter
    (K.Key_Space, " ", EDITOR),
    (K.Key_1, "1", EDITOR),
    (K.Key_Return, "\r", EDITOR),
    (K.Key_Backspace, "\x08", EDITOR),
    (K.Key_Left, "", EDITOR),
    (K.Key_Comma, ",", Route("punct", char=",")),
    (K.Key_Apostrophe, "'", Route("punct", char="'")),
    (K.Key_Minus, "-", EDITOR),
])
def test_idle_keys(key, text, want):
    check(key, text, want, composing=False)


def test_english_mode_and_shortcuts_go_to_the_editor():
    check(K.Key_N, "n", EDITOR, composing=False, chinese=False)
    check(K.Key_Comma, ",", EDITOR, composing=False, chinese=False)
    check(K.Key_C, "\x03", EDITOR, composing=True, ctrl_alt=True)
    check(K.Key_Delete, "\x7f", Route("session", ("forget_highlighted",)), composing=True, ctrl_alt=True)
    check(K.Key_Delete, "\x7f", EDITOR, composing=False, ctrl_alt=True)  # idle: the editor's own


def test_which_keys_wait_for_the_worker():
    kw = dict(ctrl_alt=False, chinese=True)
    assert not depends_on_composing(K.Key_N, "n", **kw)  # a letter composes either way
    assert depends_on_composing(K.Key_Space, " ", **kw)
    assert depends_on_composing(K.Key_2, "2", **kw)
    assert not depends_on_composing(K.Key_Comma, ",", **kw)  # punctuation either way
    assert depends_on_composing(K.Key_Comma, ",", comma_period_paging=True, **kw)
    assert not depends_on_composing(K.Key_Space, " ", ctrl_alt=False, chinese=False)


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


def test_model_card_summary_from_a_manifest(tmp_path):
    from ime_app.worker import manifest_summary

    text = manifest_summary({"config": {"n_layer": 4, "d_model": 256, "n_head": 4, "max_len": 128},
                             "vocab_size": 6000, "exported_at": "2026-11-22", "quantized": True}, tmp_path)
    assert "4 layers, d_model 256, 4 heads, vocabulary 6000, context 128" in text
    assert "(int8)" in text and str(tmp_path) in text
