"""Random Session actions never raise and never leave an inconsistent view."""
import pytest

from tools.fuzz import check_view, fuzz


@pytest.mark.parametrize("letters", ["'", "''", "'a", "a'", "ni'", "'''ni", "xi'an'"])
def test_apostrophes_anywhere(engine, letters):
    s = engine.new_session()
    s.insert(letters)
    view = s.view()
    assert check_view(s, view) == []
    assert all(c.text for c in view.candidates)  # no empty candidate for an input of apostrophes only
    s.commit()
    assert check_view(s, s.view()) == []


@pytest.mark.parametrize("seed", [0, 1])
def test_random_actions(engine, seed):
    """5,000 actions in all (the 100,000-action run is in docs/RELIABILITY.md)."""
    report = fuzz(engine, 2500, seed=seed)
    assert report.actions == 2500
    assert report.exceptions == [] and report.broken == []


class _Anything:
    """A Session stand-in for drawing action names without running them."""

    def __getattr__(self, name):
        return lambda *a: None


def test_the_actions_cover_every_kind_of_key():
    import random

    from tools.fuzz import random_action

    rng = random.Random(0)
    names = {random_action(rng, _Anything())[0] for _ in range(5000)}
    for name in ("backspace", "delete", "left", "right", "home", "end", "page_down", "page_up", "highlight+",
                 "highlight-", "pick 1", "pick 9", "commit", "commit_raw", "cancel", "idle", "insert long",
                 "insert a", "insert zhong", "insert \"'\"", "insert \"''\"", "insert '中'", "insert '\\x00'"):
        assert name in names, name


def test_random_actions_with_every_search_cut_short(engine):
    """Budget 0: each view decodes one letter, the rest in idle steps, so every action also meets
    a half-decoded input (picks, Space, edits and cancels in the middle of a search)."""
    report = fuzz(engine, 1500, seed=2, budget_ms=0)
    assert report.exceptions == [] and report.broken == []
    assert report.partial_views > 100
