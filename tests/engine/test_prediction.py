"""Next-word prediction: after a commit, likely next words; digits pick one, other keys dismiss."""
import copy

import pytest

from engine.pinyin.prediction import Predictor
from engine.pinyin.session import Session
from frontend.actions import DismissPredictions, Insert, SelectOnPage
from frontend.keytable import EDITOR, Route, RouteKind, dismisses_predictions, route_key


@pytest.fixture
def predicting(engine):
    e = copy.copy(engine)
    e.configure(prediction=True)
    return e


@pytest.mark.parametrize("context,expected", [
    ("谢谢", "你"),
    ("今天天气", "很"),
])
def test_likely_next_words(engine, context, expected):
    words = Predictor(engine.lexicon, engine.ngram).predict(context, 5)
    assert expected in words and len(words) == 5
    assert all("\u4e00" <= ch <= "\u9fff" for w in words for ch in w)  # Chinese words only


def test_predictions_follow_a_commit_and_a_digit_picks_one(predicting):
    s = Session(predicting, page_size=5, layout="full", prediction=True)
    s.insert("xiexie")
    assert s.commit() == "谢谢"
    v = s.view()
    assert not v.composing and v.candidates == () and "你" in v.predictions
    k = v.predictions.index("你")
    assert s.select_on_page(k) == "你"
    assert s.view().predictions  # the words after 谢谢你 are offered next


def test_typing_or_escape_dismisses_predictions(predicting):
    s = predicting.new_session(page_size=5)
    s.insert("xiexie")
    s.commit()
    s.insert("n")
    assert s.view().predictions == () and s.composing
    s.cancel()
    s.insert("xiexie")
    s.commit()
    s.dismiss_predictions()
    assert s.view().predictions == ()


def test_off_by_default(engine):
    s = engine.new_session()
    s.insert("xiexie")
    s.commit()
    assert s.view().predictions == ()


def test_raw_enter_predicts_nothing(predicting):
    s = predicting.new_session()
    s.insert("xiexie")
    s.commit_raw()
    assert s.view().predictions == ()


def test_traditional_predictions(predicting):
    e = copy.copy(predicting)
    e.configure(script="traditional")
    s = e.new_session(page_size=9)
    s.insert("xiexie")
    assert s.commit() == "謝謝"
    assert "你" in s.view().predictions


@pytest.mark.parametrize("key,text,want", [
    ("", "1", Route(RouteKind.SESSION, SelectOnPage(0))),  # a digit picks
    ("", "3", Route(RouteKind.SESSION, SelectOnPage(2))),
    ("escape", "", Route(RouteKind.SESSION, DismissPredictions())),
    ("space", " ", EDITOR),  # Space types a space: it never commits a prediction
    ("return", "", EDITOR),
    ("", "n", Route(RouteKind.SESSION, Insert("n"))),  # a letter starts new input
    ("", ",", Route(RouteKind.PUNCT, char=",")),
])
def test_keys_while_predictions_are_shown(key, text, want):
    assert route_key(key, text, ctrl_alt=False, chinese=True, composing=False, predicting=True) == want


def test_which_routes_dismiss_predictions():
    assert dismisses_predictions(EDITOR) and dismisses_predictions(Route(RouteKind.PUNCT, char=","))
    assert not dismisses_predictions(Route(RouteKind.SESSION, SelectOnPage(0)))
    assert route_key("", "1", ctrl_alt=False, chinese=True, composing=False) == EDITOR  # none shown: digits type


def test_predictions_in_an_ibus_input_context(predicting):
    from frontend.config import Settings
    from tests.ibus_harness import FakeInputContext

    ic = FakeInputContext(predicting, Settings(prediction=True))
    ic.keys(*"xiexie", "space")
    assert ic.text == "谢谢" and "你" in ic.display.candidates and ic.display.cursor == -1
    ic.keys(str(ic.display.candidates.index("你") + 1))
    assert ic.text == "谢谢你"
    ic.keys("space")  # dismisses, and the space goes to the application
    assert ic.display.candidates == [] and ic.text == "谢谢你 "
