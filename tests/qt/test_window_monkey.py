"""The real window (``python -m ime_app`` under Xvfb) survives random X key events.

500 random keys here (tests/window_monkey.py; docs/RELIABILITY.md has the 5,000-key run):
the app stays alive, answers every F12 probe, and Ctrl+S saves exactly the editor's text.
"""
from tests.window_monkey import PROBE_TIMEOUT_S, random_keys, run


def test_random_keys_keep_the_window_alive_and_the_text_safe(tmp_path):
    report = run(500, seed=3, folder=tmp_path)
    assert report.problems == []
    assert report.alive and report.keys == 500
    assert len(report.probes_ms) == 20 and max(report.probes_ms) < PROBE_TIMEOUT_S * 1000
    assert report.saved_matches and report.final_chars > 0


def test_the_keys_cover_what_a_user_can_press():
    import random

    sent = set(random_keys(random.Random(0), 5000))
    for key in ("a", "z", "0", "comma", "space", "Return", "Escape", "BackSpace", "Left", "Prior", "Next",
                "Shift_L", "ctrl+space", "ctrl+period"):
        assert key in sent, key
