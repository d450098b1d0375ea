"""Random Session actions never raise and never leave an inconsistent view."""
import pytest

from engine.fuzz import check_view, fuzz


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
    report = fuzz(engine, 1500, seed=seed)
    assert report.actions == 1500
    assert report.exceptions == [] and report.broken == []
