"""The shared front-end core without any front end: typed actions and the input controller's typing order."""
from __future__ import annotations

import dataclasses

import pytest

from frontend import actions as a
from frontend.controller import InputController
from frontend.keytable import Key


class RecordingSession:
    """Answers every Session method by recording its name and arguments."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        return lambda *args: self.calls.append((name, args))


SESSION_CALLS = [
    (a.Insert("n"), ("insert", ("n",))), (a.Backspace(), ("backspace", ())), (a.Delete(), ("delete", ())),
    (a.MoveCursor(-1), ("move_cursor", (-1,))), (a.SetCursor(2), ("set_cursor", (2,))),
    (a.MoveHighlight(1), ("move_highlight", (1,))), (a.PageUp(), ("page_up", ())), (a.PageDown(), ("page_down", ())),
    (a.SelectOnPage(0), ("select_on_page", (0,))), (a.Select(7), ("select", (7,))), (a.Commit(), ("commit", ())),
    (a.CommitRaw(), ("commit_raw", ())), (a.Cancel(), ("cancel", ())),
    (a.ForgetHighlighted(), ("forget_highlighted", ())), (a.PickPrediction(1), ("pick_prediction", (1,))),
    (a.DismissPredictions(), ("dismiss_predictions", ())),
]


@pytest.mark.parametrize("action,call", SESSION_CALLS, ids=[type(c[0]).__name__ for c in SESSION_CALLS])
def test_each_session_action_is_one_session_call(action, call):
    session = RecordingSession()
    action.apply_to(session)
    assert session.calls == [call]


def test_every_session_action_is_covered_and_frozen():
    assert {type(act) for act, _ in SESSION_CALLS} == set(a.SessionAction.__subclasses__())
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.Insert("n").char = "m"


def test_the_worker_handles_every_worker_action():
    from ime_app.worker import EngineWorker

    assert set(EngineWorker(None, 5)._handlers()) == set(a.WorkerAction.__subclasses__())


class Port:
    """A session on another thread: ``composing_state`` None until the test answers."""

    def __init__(self):
        self.composing_state: bool | None = False
        self.predicting = False
        self.text_pending = False
        self.sent = []

    def send(self, action):
        self.sent.append(action)
        if action.after is a.After.COMPOSING:
            self.composing_state = True
        elif action.after is a.After.IDLE:
            self.composing_state = False
        elif action.after is a.After.UNKNOWN:
            self.composing_state = None


class Target:
    def __init__(self):
        self.passed, self.typed, self.modes = [], [], []

    def pass_key(self, key):
        self.passed.append(key.text)

    def type_text(self, text):
        self.typed.append(text)

    def text_before(self):
        return ""

    def modes_changed(self, chinese, fullwidth):
        self.modes.append((chinese, fullwidth))


def letter(ch: str) -> Key:
    return Key("space" if ch == " " else "", ch)


@pytest.fixture
def ctl():
    return InputController(Port(), Target(), chinese=True, fullwidth=True)


def test_keys_whose_meaning_depends_on_the_answer_wait_in_order(ctl):
    for ch in "ni":
        assert ctl.press(letter(ch))
    assert ctl.press(letter("1")) and ctl.port.composing_state is None  # a pick: composing after it?
    assert ctl.press(letter(" ")) and ctl.press(letter("h"))  # Space waits, and the letter behind it too
    assert ctl.port.sent == [a.Insert("n"), a.Insert("i"), a.SelectOnPage(0)] and len(ctl.deferred) == 2
    ctl.port.composing_state = False  # the pick ended the input
    ctl.replay()
    assert ctl.deferred == [] and ctl.target.passed == [" "]  # idle: Space is the field's
    assert ctl.port.sent[-1] == a.Insert("h")


def test_a_mode_toggle_waits_behind_the_keys_before_it(ctl):
    ctl.press(letter("n"))
    ctl.press(letter(" "))  # Commit: composing after it is unknown
    ctl.press(letter(" "))
    ctl.toggle_mode()
    assert ctl.chinese and ctl.deferred[-1] is a.Toggle.MODE
    ctl.port.composing_state = False
    ctl.replay()
    assert not ctl.chinese and ctl.target.modes == [(False, True)]


def test_idle_punctuation_is_typed_and_while_composing_commits_first(ctl):
    assert ctl.press(Key("comma", ","))
    assert ctl.target.typed == ["，"]
    ctl.press(letter("n"))
    ctl.press(Key("period", "."))
    assert ctl.port.sent[-1] == a.CommitAllThen("。")


def test_leaving_chinese_commits_the_letters_and_hides_predictions(ctl):
    ctl.press(letter("n"))
    ctl.set_chinese(False)
    assert ctl.port.sent[-1] == a.CommitRaw()
    ctl.set_chinese(True)
    ctl.port.predicting = True
    ctl.set_chinese(False)
    assert ctl.port.sent[-1] == a.DismissPredictions()


def test_modifiers_are_never_routed_and_ctrl_toggles_are_taken(ctl):
    assert not ctl.press(Key("", "", is_modifier=True)) and ctl.port.sent == []
    assert ctl.press(Key("period", ".", ctrl_alt=True, ctrl_only=True)) and not ctl.fullwidth
    assert ctl.press(Key("space", " ", ctrl_alt=True, ctrl_only=True)) and not ctl.chinese


def test_a_failed_engine_hands_waiting_keys_to_the_field_and_stays_english(ctl):
    for ch in "n  x":  # the second Space waits for the answer to the first, the x behind it
        ctl.press(letter(ch))
    ctl.port.composing_state = False
    ctl.engine_failed()
    assert ctl.target.passed == [" ", "x"] and not ctl.chinese
    ctl.set_chinese(True)
    assert not ctl.chinese_active
