"""A typing process killed (SIGKILL) mid-learning loses nothing it had written.

Three kills here (tests/kill_learning.py; docs/RELIABILITY.md has the 20-kill run): after
each, the history and the settings load without a problem, and every word reported learned
before the kill is in the history.
"""
import json

from tests.kill_learning import check, run


def test_kills_mid_typing_lose_no_learned_word_and_no_setting(tmp_path):
    report = run(3, tmp_path, seed=5)
    assert report["problems"] == []
    assert report["kills_after_writes_began"] == 3 and report["writes_before_the_kills"] >= 3


def test_the_check_sees_a_lost_word_and_a_lost_setting(tmp_path):
    """The harness itself: a word reported learned but absent, and a setting never saved, are both caught."""
    lines = ["ready", "learned " + json.dumps("银行"), "saved doc0.txt"]
    problems = check(tmp_path, lines)
    assert any("银行" in p and "not in the history" in p for p in problems)
    assert any("settings lost doc0.txt" in p for p in problems)
