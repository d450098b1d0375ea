"""Traditional output: a stage after the search; decoding and learning stay simplified."""
import subprocess
import sys

import pytest

from engine.pinyin.script import SCRIPT_NAMES, converter
from engine.pinyin.session import Session


@pytest.mark.parametrize("script,simplified,shown", [
    ("traditional", "中国", "中國"),
    ("traditional", "头发", "頭髮"),
    ("tw", "软件", "軟體"),  # Taiwan phrases
    ("tw", "信息", "資訊"),
    ("hk", "中国", "中國"),
])
def test_conversions(script, simplified, shown):
    assert converter(script).convert(simplified) == shown


def test_simplified_has_no_converter_and_unknown_is_an_error():
    assert converter("simplified") is None
    with pytest.raises(ValueError, match="traditional"):
        converter("klingon")
    assert set(SCRIPT_NAMES) == {"simplified", "traditional", "tw", "hk"}


def type_(session, letters):
    session.insert(letters)
    return session.view()


def test_session_shows_and_commits_traditional(engine):
    s = Session(engine, page_size=5, script="traditional")
    v = type_(s, "zhongguo")
    assert v.candidates[0].text == "中國"
    assert s.commit() == "中國"


def test_partial_pick_shows_the_chosen_part_converted(engine):
    s = Session(engine, page_size=9, script="tw")
    type_(s, "ruanjiankaifa")
    idx = next(i for i, c in enumerate(s.candidates()) if c.text == "軟體")
    s.select(idx)
    v = s.view()
    assert v.chosen == "軟體" and v.preedit.startswith("軟體")
    assert s.commit() == "軟體開發"


def test_traditional_context_is_read_as_simplified(engine):
    s = Session(engine, context="我們去中國", script="traditional")
    assert s._context == "我们去中国"


def test_simplified_sessions_never_load_opencc():
    code = ("import sys;from engine import Engine,EngineOptions;"
            "e=Engine.load(EngineOptions(use_neural=False,learning=False,personal=False));"
            "s=e.new_session();s.insert('nihao');s.view();s.commit();print('opencc' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
