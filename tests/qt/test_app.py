"""The Shuru window, offscreen, against the real engine and the committed assets.

Keys go through ``QTest`` into the editor, i.e. through the app's own key handling, the
worker thread and the engine. Settings and the learned history live in ``tmp_path``.
"""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QRect, Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest

from engine.pinyin.session import Session
from frontend.config import Settings
from ime_app.window import MainWindow
from tests.conftest import TIMEOUT_MS, close, learned_word_count, reloaded_word_count

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def window(make_window, qtbot):
    w = make_window()
    qtbot.waitUntil(lambda: w.controller.ready, timeout=TIMEOUT_MS)
    return w


def settle(qtbot, w: MainWindow) -> None:
    """Wait until the worker has answered every action sent."""
    c = w.controller
    qtbot.waitUntil(lambda: c.settled, timeout=TIMEOUT_MS)


def typed(qtbot, w: MainWindow, keys: str):
    QTest.keyClicks(w.editor, keys)
    settle(qtbot, w)
    return w.controller.view


def press(qtbot, w: MainWindow, key, modifier=Qt.KeyboardModifier.NoModifier):
    QTest.keyClick(w.editor, key, modifier)
    settle(qtbot, w)
    return w.controller.view


def text(w: MainWindow) -> str:
    return w.editor.toPlainText()


def test_nihao_space_commits_nihao(qtbot, window):
    view = typed(qtbot, window, "nihao")
    assert window.editor.preedit_text == "ni'hao"  # inline, segmented
    assert view.candidates[0].text == "你好"
    assert window.candidates.isVisible() and window.candidates.texts[0] == "你好"
    assert window.latency_label.text().endswith("ms")
    press(qtbot, window, Qt.Key.Key_Space)
    assert text(window) == "你好"
    assert window.editor.preedit_text == "" and not window.candidates.isVisible()


def test_a_search_left_unfinished_by_a_key_is_drawn_when_idle_work_finishes_it(qtbot, make_window, monkeypatch):
    from frontend.session_runner import SessionRunner

    monkeypatch.setattr(SessionRunner, "budget_ms", 0)  # one letter per view: the rest goes on idle
    w = make_window()
    qtbot.waitUntil(lambda: w.controller.ready, timeout=TIMEOUT_MS)
    drawn = []
    w.engine.worker.snapshot.connect(lambda seq, view: drawn.append(view))  # runs on the worker thread
    view = typed(qtbot, w, "woxianghuijia")  # settles only once the whole input is decoded
    assert view.complete and view.candidates[0].text == "我想回家"
    assert w.candidates.texts[0] == "我想回家"
    assert any(not v.complete for v in drawn if v is not None)  # a view of what was decoded came first
    press(qtbot, w, Qt.Key.Key_Space)
    assert text(w) == "我想回家"
    close(w)


def test_digit_picks_that_candidate(qtbot, window):
    view = typed(qtbot, window, "nihao")
    second = view.candidates[1].text
    press(qtbot, window, Qt.Key.Key_2)
    assert text(window) == second != "你好"


def test_arrows_move_the_highlight(qtbot, window):
    view = typed(qtbot, window, "nihao")
    view = press(qtbot, window, Qt.Key.Key_Down)
    assert view.highlight == 1 and window.candidates.highlight == 1
    press(qtbot, window, Qt.Key.Key_Space)
    assert text(window) == view.candidates[1].text


@pytest.mark.parametrize("down,up,comma_period_paging", [
    ("=", "-", False),
    (Qt.Key.Key_PageDown, Qt.Key.Key_PageUp, False),
    (".", ",", True),  # only with the setting on
])
def test_paging(qtbot, make_window, down, up, comma_period_paging):
    window = make_window(Settings(comma_period_paging=comma_period_paging))
    qtbot.waitUntil(lambda: window.controller.ready, timeout=TIMEOUT_MS)
    first = typed(qtbot, window, "shi")
    assert first.page == 0 and first.page_count > 2
    turn = (lambda k: typed(qtbot, window, k)) if isinstance(down, str) else (lambda k: press(qtbot, window, k))
    second = turn(down)
    assert second.page == 1 and second.candidates != first.candidates
    assert window.candidates.page_label() == f"2/{second.page_count}"
    assert turn(up).candidates == first.candidates
    assert text(window) == ""  # paging keys type nothing while composing


def test_partial_selection_then_continue(qtbot, window):
    view = typed(qtbot, window, "nihaoshijie")
    for _ in range(8):  # whole-input sentences come first; words further down
        partial = [i for i, c in enumerate(view.candidates) if c.text == "你好" and c.consumed == 5]
        if partial:
            break
        view = typed(qtbot, window, "=")
    assert partial, "no 你好 word candidate for nihaoshijie"
    view = press(qtbot, window, getattr(Qt.Key, f"Key_{partial[0] + 1}"))
    assert text(window) == "" and view.composing
    assert view.preedit.startswith("你好") and view.letters == "shijie"
    assert window.editor.preedit_text == view.preedit
    press(qtbot, window, Qt.Key.Key_Space)
    assert text(window).startswith("你好") and len(text(window)) == 4


def test_worker_prepares_the_undo_of_a_partial_pick_between_keys(qtbot, window):
    view = typed(qtbot, window, "nihaoshijie")
    for _ in range(8):
        partial = [i for i, c in enumerate(view.candidates) if c.text == "你好" and c.consumed == 5]
        if partial:
            break
        view = typed(qtbot, window, "=")
    press(qtbot, window, getattr(Qt.Key, f"Key_{partial[0] + 1}"))
    typed(qtbot, window, "hao")
    session = window.engine.worker._runner.session
    # while no key waits, the worker brings the undo's decoder up to the letters typed since the pick
    # (read only here: the session belongs to the worker thread)
    qtbot.waitUntil(lambda: bool(session._undo) and session._undo[-1]._memo[0] == "nihaoshijiehao", timeout=TIMEOUT_MS)
    press(qtbot, window, Qt.Key.Key_Home)
    view = press(qtbot, window, Qt.Key.Key_Backspace)
    assert view.letters == "nihaoshijiehao" and view.chosen == ""


def test_backspace_and_delete_edit_inside_the_pinyin(qtbot, window):
    typed(qtbot, window, "nihao")
    press(qtbot, window, Qt.Key.Key_Left)
    view = press(qtbot, window, Qt.Key.Key_Left)
    assert view.cursor == 3
    view = press(qtbot, window, Qt.Key.Key_Backspace)
    assert (view.letters, view.cursor) == ("niao", 2)
    view = press(qtbot, window, Qt.Key.Key_Delete)
    assert view.letters == "nio"
    for _ in range(3):
        view = press(qtbot, window, Qt.Key.Key_Right)  # clamped at the end
    for _ in range(3):
        view = press(qtbot, window, Qt.Key.Key_Backspace)
    assert not view.composing and not window.candidates.isVisible()
    assert text(window) == ""
    press(qtbot, window, Qt.Key.Key_Backspace)  # idle: the editor's own Backspace
    assert text(window) == ""


def test_escape_cancels(qtbot, window):
    typed(qtbot, window, "nihao")
    view = press(qtbot, window, Qt.Key.Key_Escape)
    assert not view.composing and text(window) == "" and window.editor.preedit_text == ""
    assert not window.candidates.isVisible()
    typed(qtbot, window, "ma")
    press(qtbot, window, Qt.Key.Key_Space)
    assert len(text(window)) == 1


def test_enter_commits_the_letters(qtbot, window):
    typed(qtbot, window, "nihao")
    press(qtbot, window, Qt.Key.Key_Return)
    assert text(window) == "nihao"
    press(qtbot, window, Qt.Key.Key_Return)  # idle: a new line
    assert text(window) == "nihao\n"


def tap_shift(qtbot, w):
    QTest.keyPress(w.editor, Qt.Key.Key_Shift)
    QTest.keyRelease(w.editor, Qt.Key.Key_Shift, Qt.KeyboardModifier.ShiftModifier)
    settle(qtbot, w)


def test_shift_alone_toggles_english(qtbot, window):
    assert window.controller.chinese and window.mode_label.text() == "中文"
    tap_shift(qtbot, window)
    assert not window.controller.chinese and window.mode_label.text() == "English"
    typed(qtbot, window, "nihao, 2")
    assert text(window) == "nihao, 2" and window.editor.preedit_text == ""
    tap_shift(qtbot, window)
    assert window.controller.chinese
    # Shift held for a capital letter is not a tap.
    QTest.keyPress(window.editor, Qt.Key.Key_Shift)
    QTest.keyClick(window.editor, "A", Qt.KeyboardModifier.ShiftModifier)
    QTest.keyRelease(window.editor, Qt.Key.Key_Shift, Qt.KeyboardModifier.ShiftModifier)
    settle(qtbot, window)
    assert window.controller.chinese and text(window) == "nihao, 2A"


def test_shift_while_composing_commits_the_letters(qtbot, window):
    typed(qtbot, window, "nihao")
    tap_shift(qtbot, window)
    assert text(window) == "nihao" and not window.controller.chinese


def test_fullwidth_punctuation(qtbot, window):
    typed(qtbot, window, ',?!""' + "''" + "\\^_<>()")
    assert text(window) == "，？！“”‘’、……——《》（）"
    typed(qtbot, window, "3.5")
    assert text(window).endswith("）3.5")  # digits go to the editor; "." after a digit stays ASCII
    window.punct_action.trigger()
    assert not window.controller.fullwidth and "half" in window.punct_label.text()
    typed(qtbot, window, ",")
    assert text(window).endswith("3.5,")


@pytest.mark.parametrize("keys,fullwidth,want", [
    ("nihao!", True, "你好！"),
    ("nihao,", True, "你好，"),  # , and . commit the highlighted candidate too
    ("wohenhao.", True, "我很好。"),
    ("nihao,wohenhao.", True, "你好，我很好。"),
    ("nihao,", False, "你好,"),
    ("wohenhao.", False, "我很好."),
])
def test_punctuation_while_composing_commits_first(qtbot, make_window, keys, fullwidth, want):
    window = make_window(Settings(fullwidth_punct=fullwidth))
    qtbot.waitUntil(lambda: window.controller.ready, timeout=TIMEOUT_MS)
    view = typed(qtbot, window, keys)
    assert text(window) == want and not view.composing


def test_comma_period_paging_can_be_switched_on(qtbot, window):
    window.apply_settings(Settings(comma_period_paging=True))
    typed(qtbot, window, "nihao")
    view = typed(qtbot, window, ",")  # first page: nothing before
    assert view.composing and view.page == 0 and text(window) == ""
    assert typed(qtbot, window, ".").page == 1


def test_ctrl_shortcuts_reach_the_editor(qtbot, window):
    typed(qtbot, window, "nihao  ")  # Space commits, the second Space is a space
    press(qtbot, window, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert window.editor.textCursor().selectedText() == "你好 "
    assert not window.controller.composing


def test_fast_typing_keeps_typing_order(qtbot, window):
    """Keys whose meaning depends on the worker's answer wait for it, in order."""
    QTest.keyClicks(window.editor, "nihao woxianghuijia1, nihao  ,3.5\"")
    settle(qtbot, window)
    assert text(window) == "你好我想回家， 你好 ，3.5“"


def test_ui_thread_is_not_blocked_while_the_worker_decodes(qtbot, window, monkeypatch):
    """The event loop keeps running through every decode; a hiccup elsewhere is not a block."""
    slow_s = 0.5  # a slow decoder: a blocked GUI thread would tick 0 times in it, a free one ~50
    gui = threading.get_ident()
    view_threads, spans = [], []
    real_view = Session.view

    def slow_view(self):
        view_threads.append(threading.get_ident())
        start = time.perf_counter()
        time.sleep(slow_s)
        spans.append((start, time.perf_counter()))
        return real_view(self)

    monkeypatch.setattr(Session, "view", slow_view)
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(10)
    t0 = time.perf_counter()
    QTest.keyClicks(window.editor, "woxianghuijia")
    typing_s = time.perf_counter() - t0
    assert window.editor.preedit_text == "woxianghuijia"  # echoed before any decode finished
    settle(qtbot, window)
    timer.stop()
    assert typing_s < slow_s, "typing waited for the decoder"
    assert view_threads and gui not in view_threads
    assert len(view_threads) < 13, "one decode per burst, not per key"
    assert window.controller.view.candidates[0].text == "我想回家"
    ticks_in = [sum(a <= t <= b for t in ticks) for a, b in spans]
    assert spans and min(ticks_in) >= 5, f"the GUI event loop stalled while decoding: {ticks_in}"


def test_settings_persist_across_restart(qtbot, make_window, config_dir):
    w = make_window()
    qtbot.waitUntil(lambda: w.controller.ready, timeout=TIMEOUT_MS)
    new = Settings(page_size=7, orientation="vertical", font_size=18, fuzzy_pairs=["z/zh"],
                   fullwidth_punct=False, chinese_mode=True, learning=False)
    w.apply_settings(new)
    assert not w.controller.fullwidth and w.candidates.vertical
    view = typed(qtbot, w, "nihao")
    assert len(view.candidates) == 7
    press(qtbot, w, Qt.Key.Key_Escape)
    w.resize(640, 480)
    close(w)

    w2 = make_window()
    qtbot.waitUntil(lambda: w2.controller.ready, timeout=TIMEOUT_MS)
    s = w2.settings
    assert (s.page_size, s.orientation, s.font_size, s.fuzzy_pairs, s.fullwidth_punct, s.learning) == \
        (7, "vertical", 18, ["z/zh"], False, False)
    assert w2.size().width() == 640 and w2.size().height() == 480
    assert w2.editor.font().pointSize() == 18 and w2.candidates.vertical and not w2.controller.fullwidth
    assert len(typed(qtbot, w2, "nihao").candidates) == 7
    assert typed(qtbot, w2, "=").page == 1
    assert w2.engine.worker._options.fuzzy_pairs == frozenset({"z/zh"})


def test_settings_dialog_edits_a_copy(qtbot):
    from ime_app.settings_dialog import SettingsDialog

    base = Settings(geometry="abc", recent_files=["/x.txt"])
    d = SettingsDialog(base, ("z/zh", "an/ang"))
    qtbot.addWidget(d)
    d.page_size.setValue(3)
    d.orientation.setCurrentIndex(1)
    d.fuzzy["an/ang"].setChecked(True)
    d.learning.setChecked(False)
    d.comma_period_paging.setChecked(True)
    got = d.values()
    assert (got.page_size, got.orientation, got.fuzzy_pairs, got.learning) == (3, "vertical", ["an/ang"], False)
    assert got.comma_period_paging and not base.comma_period_paging
    assert (got.geometry, got.recent_files) == ("abc", ["/x.txt"]) and base.page_size == 5


def test_clear_history(qtbot, window, tmp_path, monkeypatch):
    """The worker clears the history; the GUI thread says so; the window keeps working."""
    from PySide6.QtWidgets import QStatusBar

    shown = []
    real_show = QStatusBar.showMessage
    monkeypatch.setattr(QStatusBar, "showMessage", lambda bar, text, timeout=0: (
        shown.append((text, threading.get_ident())), real_show(bar, text, timeout)))
    typed(qtbot, window, "nihao")
    press(qtbot, window, Qt.Key.Key_2)
    history = window.engine.worker._engine.history
    assert learned_word_count(history) > 0, "the pick was learned"
    window.controller.clear_history()
    qtbot.waitUntil(lambda: ("Learned history cleared", threading.get_ident()) in shown, timeout=TIMEOUT_MS)
    assert window.statusBar().currentMessage() == "Learned history cleared"
    assert learned_word_count(history) == 0 and reloaded_word_count(tmp_path / "history.json") == 0
    qtbot.wait(500)  # a widget touched from the engine thread would crash the window only later
    typed(qtbot, window, "nihao ")
    assert text(window).endswith("你好") and window.isVisible()


def test_missing_assets_leave_an_english_editor(qtbot, make_window, tmp_path):
    w = make_window(assets_dir=tmp_path / "no-assets")
    QTest.keyClicks(w.editor, "ni")  # typed while the engine loads
    qtbot.waitUntil(lambda: w.controller.failed, timeout=TIMEOUT_MS)
    assert "failed to load" in w.status_label.text() and not w.controller.chinese
    QTest.keyClicks(w.editor, "hao")
    assert text(w) == "nihao"


def test_statistical_fallback_is_shown(qtbot, make_window, tmp_path):
    (tmp_path / "broken-model").mkdir()
    (tmp_path / "broken-model" / "manifest.json").write_text("not json")
    w = make_window(model_dir=tmp_path / "broken-model", use_neural=True)
    qtbot.waitUntil(lambda: w.controller.ready, timeout=TIMEOUT_MS)
    assert w.status_label.text() == "Fallback scorer in use: statistical scorers only"
    assert "manifest" in w.status_label.toolTip() and w.details_button.isVisibleTo(w)
    assert w.model_label.text() == "model: none"
    assert typed(qtbot, w, "nihao").candidates[0].text == "你好"


@pytest.mark.parametrize("damage", [
    lambda real: os.urandom(4096),  # numpy's own message would suggest allow_pickle
    lambda real: real[: len(real) // 2],  # truncated
])
def test_a_damaged_ngram_model_is_explained_in_the_window(qtbot, make_window, assets_copy, damage):
    path = assets_copy / "ngram.npz"
    real = path.read_bytes()
    path.unlink()
    path.write_bytes(damage(real))
    w = make_window(assets_dir=assets_copy)
    qtbot.waitUntil(lambda: w.controller.failed, timeout=TIMEOUT_MS)
    message = w.status_details
    assert "ngram.npz" in message and "English" in message and "git checkout assets/" in message
    assert "allow_pickle" not in message and "rebuild" not in message.lower()
    assert w.status_label.text() == "Engine failed to load — English only"  # short: the bar does not cut it
    assert w.status_label.toolTip() == message and w.details_button.isVisibleTo(w)
    w.details_button.click()
    assert w.details_box.isVisible() and w.details_box.text() == message
    w.details_box.close()
    QTest.keyClicks(w.editor, "hello")
    assert text(w) == "hello"


@pytest.mark.parametrize("status,short", [
    ("Engine: neural (base) + n-gram", "Engine: neural (base) + n-gram"),
    ("Fallback scorer in use: statistical scorers only (neural model disabled)",
     "Fallback scorer in use: statistical scorers only"),
    ("Fallback scorer in use: statistical scorers only (neural model: The neural model file /a/b is damaged.)",
     "Fallback scorer in use: statistical scorers only"),
    ("x" * 80, "x" * 59 + "…"),
    ("first line\n\nsecond", "first line"),
])
def test_status_texts_are_shortened(status, short):
    from ime_app.window import shorten_status

    assert shorten_status(status) == short


def test_shipped_configuration(qtbot, make_window):
    """The engine as the app ships it (neural model when present): status bar, about box, a conversion."""
    w = make_window(use_neural=True)
    qtbot.waitUntil(lambda: w.controller.ready, timeout=TIMEOUT_MS)
    assert w.engine_status in w.status_label.text() and w.engine_status in w.about_text()
    assert w.model_label.text() == f"model: {w.model_name}"
    assert typed(qtbot, w, "nihao").candidates[0].text == "你好"


def test_files_copy_and_about(qtbot, window, tmp_path):
    typed(qtbot, window, "nihao  ")
    path = tmp_path / "note.txt"
    assert window.save_as(str(path))
    assert path.read_bytes() == "你好 ".encode("utf-8")
    assert window.settings.recent_files[0] == str(path.resolve())
    assert "note.txt" in window.windowTitle()
    window.new_file()
    assert text(window) == ""
    assert window.open_file(str(path)) and text(window) == "你好 "
    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes("中文".encode("gb18030"))
    assert window.open_file(str(gbk)) and text(window) == "中文"
    window.copy_all()
    assert QGuiApplication.clipboard().text() == "中文"
    about = window.about_text()
    assert "Shuru" in about and "None loaded: the statistical scorers" in about  # use_neural=False


LONG_PINYIN = "woxiangqugongyuansanburanhouzaihubiandechangyishangzuoleyihuier"


@pytest.mark.parametrize("size,keys", [
    ((900, 600), "nihao"),
    ((900, 600), LONG_PINYIN),  # whole-input sentences: long candidates
    ((400, 200), LONG_PINYIN * 3),  # a preedit that wraps past the editor's last visible line
])
def test_candidate_window_stays_on_screen(qtbot, window, size, keys):
    window.resize(*size)
    typed(qtbot, window, keys)
    bar, area = window.candidates, QGuiApplication.primaryScreen().availableGeometry()
    assert bar.isVisible() and area.contains(bar.geometry()), (bar.geometry(), area)
    assert all(bar.rect().contains(r) for r in bar.item_rects() + bar.indicator_rects())
    editor = window.editor
    assert editor.viewport().rect().contains(editor.cursorRect()), "the caret scrolled out of view"
    bar.place_at(QRect(area.right() - 5, area.bottom() - 5, 1, 18))
    assert area.contains(bar.geometry())


def test_entry_points(tmp_path):
    from ime_app.__main__ import main  # the console script target

    assert callable(main)
    out = subprocess.run([sys.executable, "-m", "ime_app", "--help"], cwd=REPO, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and "shuru" in out.stdout


def test_main_starts_the_window(qtbot, tmp_path, config_dir):
    from PySide6.QtCore import QElapsedTimer
    from PySide6.QtWidgets import QApplication

    from ime_app.__main__ import main

    app = QApplication.instance()
    seen = []

    def close_all():
        for w in QApplication.topLevelWidgets():
            if isinstance(w, MainWindow) and w.isVisible():
                seen.append(w)
                close(w)
        app.quit()

    # Closing the last window would post a second Quit event that outlives exec(); handled
    # later, it makes every nested event loop (qtbot.wait) of the following tests return at once.
    app.setQuitOnLastWindowClosed(False)
    try:
        QTimer.singleShot(300, close_all)
        assert main(["--history", str(tmp_path / "h.json")]) == 0
    finally:
        app.setQuitOnLastWindowClosed(True)
    assert len(seen) == 1
    clock = QElapsedTimer()
    clock.start()
    app.processEvents()  # deliver what exec() left in the queue
    qtbot.wait(50)
    assert clock.elapsed() >= 40, "the application was left quitting"


@pytest.mark.x11
@pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb not installed (./dev.sh screenshot installs it)")
def test_screenshot_script_under_xvfb(tmp_path):
    """The real app on an X server (Xvfb), typed into, with the candidate window in the PNG."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "QT_QPA_PLATFORM")}
    out = tmp_path / "shot.png"
    run = subprocess.run([sys.executable, "-m", "tools.screenshot", "--out", str(out)], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=120)
    if run.returncode != 0 and "platform plugin" in run.stderr:
        pytest.skip("Qt's xcb platform plugin cannot load here (missing X libraries)")
    assert run.returncode == 0, run.stderr
    assert out.stat().st_size > 10_000 and "candidates: ['" in run.stdout


def learn_word(qtbot, w, letters: str, word: str, times: int = 3) -> None:
    """Type ``letters`` and pick ``word`` from the candidate pages, ``times`` times."""
    for _ in range(times):
        view = typed(qtbot, w, letters)
        while word not in [c.text for c in view.candidates]:
            view = press(qtbot, w, Qt.Key.Key_PageDown)
        index = [c.text for c in view.candidates].index(word)
        press(qtbot, w, getattr(Qt.Key, f"Key_{index + 1}"))


def test_ctrl_delete_forgets_the_highlighted_candidate(qtbot, window):
    learn_word(qtbot, window, "shiyan", "誓言")
    assert typed(qtbot, window, "shiyan").candidates[0].text == "誓言"
    view = press(qtbot, window, Qt.Key.Key_Delete, Qt.KeyboardModifier.ControlModifier)
    assert view.composing and view.letters == "shiyan" and view.candidates[0].text != "誓言"
    assert "Forgot 誓言" in window.statusBar().currentMessage()
    assert window.engine.worker._engine.learned_words() == []


def test_settings_show_learned_words_and_remove_one(qtbot, window):
    from ime_app.settings_dialog import SettingsDialog

    learn_word(qtbot, window, "shiyan", "誓言", times=1)
    learn_word(qtbot, window, "nihao", "你好", times=1)
    opened = []

    def inspect():
        dialog = next(d for d in window.findChildren(SettingsDialog) if d.isVisible())
        qtbot.waitUntil(lambda: dialog.learned_label.text() == "Learned words: 2", timeout=TIMEOUT_MS)
        words = window.open_learned_words(dialog)
        opened.append(words)
        qtbot.waitUntil(lambda: words.table.rowCount() == 2, timeout=TIMEOUT_MS)
        row = [words.table.item(r, 0).text() for r in range(2)].index("誓言")
        words.table.selectRow(row)
        words.remove_selected()
        qtbot.waitUntil(lambda: words.table.rowCount() == 1, timeout=TIMEOUT_MS)
        assert words.table.item(0, 0).text() == "你好" and words.summary.text().startswith("1 word learned")
        words.close()
        dialog.reject()

    QTimer.singleShot(0, inspect)
    window.open_settings()
    assert opened
    assert [w for w, _, _ in window.engine.worker._engine.learned_words()] == ["你好"]


def test_settings_only_shows_the_dialog_and_saves_for_every_front_end(qtbot, make_window, config_dir, monkeypatch):
    """`python -m ime_app --settings` (the IBus menu's Settings…): the dialog alone; its OK saves settings.json."""
    from ime_app.__main__ import settings_only
    from frontend.config import SettingsStore
    from ime_app.settings_dialog import SettingsDialog

    w = make_window()
    qtbot.waitUntil(lambda: w.controller.ready, timeout=TIMEOUT_MS)
    monkeypatch.setattr(SettingsDialog, "exec", lambda self: (self.page_size.setValue(7), True)[1])
    assert settings_only(w) == 0
    assert SettingsStore(config_dir).load().page_size == 7
    assert not w.engine.thread.isRunning()
