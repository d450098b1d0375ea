"""SessionRunner: the actions every front end applies to its Session, and what they produce."""
from __future__ import annotations

import pytest

from frontend.actions import Commit, CommitAllThen, Insert, PageDown, TypeText
from frontend.punctuation import Punctuator
from frontend.session_runner import CONTEXT_CHARS, SessionRunner, punctuation_action


def typed(runner: SessionRunner, letters: str) -> None:
    for ch in letters:
        runner.apply(Insert(ch))


def test_a_commit_is_text_to_insert_and_context_for_what_follows(engine):
    runner = SessionRunner(engine, 5)
    typed(runner, "nihao")
    assert runner.apply(Commit()).committed == "你好"
    assert runner.context == "你好" and not runner.composing


def test_punctuation_while_composing_commits_everything_first(engine):
    runner = SessionRunner(engine, 5)
    typed(runner, "woxianghuijia")
    runner.view()
    while runner.idle():  # a slow machine may leave the search to idle steps
        pass
    first = runner.session.view().candidates[0].text
    action = punctuation_action(Punctuator(), ",", fullwidth=True, composing=True)
    assert action == CommitAllThen("，")
    assert runner.apply(action).committed == first + "，"


def test_idle_punctuation_types_and_stays_ascii_after_a_digit():
    p = Punctuator()
    assert punctuation_action(p, ".", fullwidth=True, composing=False) == TypeText("。")
    assert punctuation_action(p, ".", fullwidth=True, composing=False, before="3") == TypeText(".")


def test_a_failed_decode_commits_the_letters_and_says_why(engine, monkeypatch):
    runner = SessionRunner(engine, 5)
    typed(runner, "nih")
    monkeypatch.setattr(runner.session, "view", lambda: (_ for _ in ()).throw(RuntimeError("boom")))
    view, outcome = runner.view()
    assert outcome.committed == "nih" and "boom" in outcome.error


def test_a_failed_action_is_reported_not_raised(engine, monkeypatch):
    runner = SessionRunner(engine, 5)
    monkeypatch.setattr(runner.session, "page_down", lambda: 1 / 0)
    assert "page_down failed" in runner.apply(PageDown()).error


def test_an_unknown_action_is_a_programming_error(engine):
    with pytest.raises(ValueError, match="not a session action: 'fly'"):
        SessionRunner(engine, 5).apply("fly")


def test_the_context_is_kept_across_an_engine_change_and_bounded(engine):
    runner = SessionRunner(engine, 5, context="x" * 100)
    assert len(runner.context) == CONTEXT_CHARS
    runner.note_typed("你好")
    runner.use_engine(engine, page_size=3)
    assert runner.context.endswith("你好") and runner.session.page_size == 3


def test_a_search_left_unfinished_by_a_view_finishes_in_idle_steps(engine, monkeypatch):
    monkeypatch.setattr(SessionRunner, "budget_ms", 0)  # one letter per view: independent of the machine
    runner = SessionRunner(engine, 5)
    runner.apply(Insert("woxianghuijia"))
    view, _ = runner.view()
    assert not view.complete and runner.decoding
    steps = 0
    while runner.idle():
        steps += 1
    assert steps >= len("woxianghuijia") - 1 and not runner.decoding
    assert runner.view()[0].complete
    assert runner.apply(Commit()).committed == "我想回家"


def test_front_ends_bound_each_view_by_the_session_budget(engine):
    from engine.pinyin.session import DECODE_BUDGET_MS

    assert SessionRunner(engine, 5).session.budget_ms == DECODE_BUDGET_MS
