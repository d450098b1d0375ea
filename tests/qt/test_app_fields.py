"""Shuru types into every text field of the app, not only the editor: the user dictionary's Add
field, the quick-phrase box and the learned-words filter get the same keys, candidate window and
engine session (offscreen, real engine). Fields for numbers, choices and file names stay Latin."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (QComboBox, QFileDialog, QFontComboBox, QLineEdit, QPlainTextEdit, QSpinBox, QTextEdit,
                               QVBoxLayout, QWidget)

from ime_app.candidates import fit_position, screen_area
from ime_app.text_fields import TextField, set_latin_only, takes_chinese
from tests.conftest import TIMEOUT_MS
from tests.qt.test_app import settle, text, typed

Key = Qt.Key


@pytest.fixture
def window(make_window, qtbot):
    w = make_window()
    qtbot.waitUntil(lambda: w.controller.ready, timeout=TIMEOUT_MS)
    return w


def user_dictionary_add_field(w):
    return w.open_user_dictionary().entry


def quick_phrase_box(w):
    from engine.pinyin.syllables import FUZZY_PAIR_NAMES
    from ime_app.settings_dialog import SettingsDialog

    dialog = SettingsDialog(w.settings, FUZZY_PAIR_NAMES, w, phrases_text="")
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    tabs = dialog.tabs
    tabs.setCurrentIndex(next(i for i in range(tabs.count()) if tabs.tabText(i) == "Quick phrases"))
    return dialog.phrases


def learned_words_filter(w):
    return w.open_learned_words().filter


def main_editor(w):
    return w.editor


FIELDS = {"user dictionary Add field": user_dictionary_add_field, "quick-phrase box": quick_phrase_box,
          "learned-words filter": learned_words_filter, "editor": main_editor}


def focus(qtbot, field) -> None:
    """Give ``field`` the keyboard focus, as a click into it does, once its window's layout has
    settled (a dialog just shown can still move its fields by a pixel on a busy machine)."""
    field.window().activateWindow()
    field.setFocus(Qt.FocusReason.MouseFocusReason)
    qtbot.waitUntil(field.hasFocus, timeout=TIMEOUT_MS)
    seen = []

    def settled() -> bool:
        seen.append(field.mapToGlobal(QPoint(0, 0)))
        return len(seen) > 2 and seen[-1] == seen[-2] == seen[-3]

    qtbot.waitUntil(settled, timeout=TIMEOUT_MS)


def keys(qtbot, w, field, typed_keys: str):
    QTest.keyClicks(field, typed_keys)
    settle(qtbot, w)
    return w.controller.view


def press(qtbot, w, field, key, modifier=Qt.KeyboardModifier.NoModifier):
    QTest.keyClick(field, key, modifier)
    settle(qtbot, w)
    return w.controller.view


def tap_shift(qtbot, w, field) -> None:
    QTest.keyPress(field, Key.Key_Shift)
    QTest.keyRelease(field, Key.Key_Shift, Qt.KeyboardModifier.ShiftModifier)
    settle(qtbot, w)


def content(field) -> str:
    return field.text() if isinstance(field, QLineEdit) else field.toPlainText()


def pick(qtbot, w, field, word: str):
    """Pick ``word`` from the shown page with its digit."""
    texts = [c.text for c in w.controller.view.candidates]
    assert word in texts, texts
    return press(qtbot, w, field, getattr(Key, f"Key_{texts.index(word) + 1}"))


@pytest.mark.parametrize("open_field", FIELDS.values(), ids=FIELDS)
def test_nihao_space_types_nihao_and_shift_switches_to_english(qtbot, window, open_field):
    field = open_field(window)
    focus(qtbot, field)
    view = keys(qtbot, window, field, "nihao")
    assert TextField.of(field).preedit_text == "ni'hao" and content(field) == ""  # pinyin inline, not typed
    assert view.candidates[0].text == "你好" and window.candidates.texts[0] == "你好"
    caret = TextField.of(field).caret_rect()
    assert field.rect().contains(field.mapFromGlobal(caret.center()))  # this field's caret...
    cands = window.candidates
    assert cands.isVisible() and cands.pos() == fit_position(caret, cands.size(), screen_area(caret))  # ...there
    press(qtbot, window, field, Key.Key_Space)
    assert content(field) == "你好" and not cands.isVisible()
    tap_shift(qtbot, window, field)
    assert not window.controller.chinese and window.mode_label.text() == "English"
    keys(qtbot, window, field, "ok, 2")
    assert content(field) == "你好ok, 2" and TextField.of(field).preedit_text == ""
    tap_shift(qtbot, window, field)
    assert window.controller.chinese


def test_a_word_typed_in_chinese_is_added_to_the_user_dictionary(qtbot, window):
    dialog = window.open_user_dictionary()
    qtbot.waitUntil(lambda: dialog.summary.text() == "0 words in your dictionary", timeout=TIMEOUT_MS)
    focus(qtbot, dialog.entry)
    keys(qtbot, window, dialog.entry, "kuoluomu")
    view = pick(qtbot, window, dialog.entry, "阔落")
    assert content(dialog.entry) == "" and TextField.of(dialog.entry).preedit_text == "阔落mu"
    index = [c.text for c in view.candidates].index("木")
    QTest.mouseClick(window.candidates, Qt.MouseButton.LeftButton,  # the window is usable over the dialog
                     pos=window.candidates.item_rects()[index].center())
    settle(qtbot, window)
    assert content(dialog.entry) == "阔落木"
    press(qtbot, window, dialog.entry, Key.Key_Return)  # idle: Return adds the word
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 1, timeout=TIMEOUT_MS)
    row = [dialog.table.item(0, c).text() for c in range(3)]
    assert row[:2] == ["阔落木", "kuo luo mu"]  # the reading comes from the characters
    assert content(dialog.entry) == ""


def test_keys_typed_ahead_of_the_engine_keep_their_order_in_a_dialog(qtbot, window):
    dialog = window.open_user_dictionary()
    focus(qtbot, dialog.entry)
    QTest.keyClicks(dialog.entry, "nihao")
    QTest.keyClick(dialog.entry, Key.Key_Space)
    QTest.keyClick(dialog.entry, Key.Key_Return)  # waits for 你好, then adds it
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 1, timeout=TIMEOUT_MS)
    assert [dialog.table.item(0, c).text() for c in range(2)] == ["你好", "ni hao"]


def test_the_keys_follow_the_focus_and_input_left_behind_stays_in_its_field(qtbot, window):
    entry = window.open_user_dictionary().entry
    focus(qtbot, entry)
    keys(qtbot, window, entry, "nihao")
    assert TextField.of(entry).preedit_text == "ni'hao" and window.candidates.isVisible()
    focus(qtbot, window.editor)
    settle(qtbot, window)
    assert content(entry) == "nihao" and TextField.of(entry).preedit_text == ""  # committed as typed
    assert not window.candidates.isVisible()
    typed(qtbot, window, "zhongguo ")
    assert text(window) == "中国" and content(entry) == "nihao"


def test_the_candidate_window_follows_a_dialog_that_moves(qtbot, window):
    entry = window.open_user_dictionary().entry
    focus(qtbot, entry)
    keys(qtbot, window, entry, "nihao")
    before = window.candidates.pos()
    entry.window().move(entry.window().pos() + QPoint(40, 30))
    caret, cands = TextField.of(entry).caret_rect(), window.candidates
    qtbot.waitUntil(lambda: cands.pos() == fit_position(caret, cands.size(), screen_area(caret)), timeout=TIMEOUT_MS)
    assert cands.pos() != before and cands.isVisible()


def test_a_dialog_closed_while_typing_takes_its_input_with_it(qtbot, window):
    dialog = window.open_user_dictionary()
    focus(qtbot, dialog.entry)
    QTest.keyClicks(dialog.entry, "nihao")  # the dialog goes before the worker answers
    dialog.close()  # deleted on close
    qtbot.waitUntil(lambda: window.controller.field is window.controller.home, timeout=TIMEOUT_MS)
    settle(qtbot, window)
    assert not window.candidates.isVisible() and window.editor.preedit_text == ""
    typed(qtbot, window, "zhongguo ")
    assert text(window) == "中国"


@pytest.mark.parametrize("open_field", [learned_words_filter, main_editor])
@pytest.mark.parametrize("key, flag", [(Key.Key_Space, "chinese"), (Key.Key_Period, "fullwidth")],
                         ids=["ctrl+space", "ctrl+period"])
def test_ctrl_space_and_ctrl_period_toggle_once_in_every_field(qtbot, window, open_field, key, flag):
    field = open_field(window)
    focus(qtbot, field)
    before = getattr(window.controller, flag)
    press(qtbot, window, field, key, Qt.KeyboardModifier.ControlModifier)
    assert getattr(window.controller, flag) is not before and content(field) == ""


def _latin_parent() -> QWidget:
    parent = QWidget()
    set_latin_only(parent)
    QVBoxLayout(parent).addWidget(QLineEdit())
    return parent


def _password() -> QLineEdit:
    w = QLineEdit()
    w.setEchoMode(QLineEdit.EchoMode.Password)
    return w


def _read_only(cls):
    w = cls()
    w.setReadOnly(True)
    return w


def _spin_box_text():
    box = QSpinBox()
    return box, box.findChild(QLineEdit)


def _editable_combo_text():
    box = QComboBox()
    box.setEditable(True)
    return box, box.lineEdit()


def _font_combo_text():
    box = QFontComboBox()
    return box, box.lineEdit()


def _file_dialog_text():
    dialog = QFileDialog(options=QFileDialog.Option.DontUseNativeDialog)
    return dialog, dialog.findChild(QLineEdit)


# widget factory -> whether Shuru types Chinese into it
POLICY = [
    (QLineEdit, True),
    (QPlainTextEdit, True),
    (QTextEdit, True),
    (lambda: _read_only(QLineEdit), False),
    (lambda: _read_only(QPlainTextEdit), False),  # reports, logs
    (_password, False),
    (_spin_box_text, False),  # numbers
    (_editable_combo_text, False),  # choices
    (_font_combo_text, False),  # font names
    (_file_dialog_text, False),  # file names and paths
    (lambda: (lambda p: (p, p.findChild(QLineEdit)))(_latin_parent()), False),  # marked Latin only
    (lambda: QWidget(), False),
]


@pytest.mark.parametrize("make, chinese", POLICY)
def test_which_fields_take_chinese(qtbot, make, chinese):
    made = make()
    owner, widget = made if isinstance(made, tuple) else (made, made)
    qtbot.addWidget(owner)
    assert widget is not None and takes_chinese(widget) is chinese


def test_a_latin_field_of_a_dialog_keeps_its_letters(qtbot, window):
    from engine.pinyin.syllables import FUZZY_PAIR_NAMES
    from ime_app.settings_dialog import SettingsDialog

    dialog = SettingsDialog(window.settings, FUZZY_PAIR_NAMES, window)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    spin = dialog.font_size.findChild(QLineEdit)
    focus(qtbot, spin)
    spin.selectAll()
    QTest.keyClicks(spin, "18")
    assert dialog.font_size.value() == 18 and window.controller.field is not TextField.of(spin)
    assert not window.candidates.isVisible()
