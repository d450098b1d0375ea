"""Shuangpin (double pinyin): each layout's key map, and typing it in a Session."""
import pytest

from engine.pinyin.session import Session
from engine.pinyin.shuangpin import LAYOUT_NAMES, layout
from engine.pinyin.syllables import SYLLABLES

# layout, keys -> the full pinyin they are read as
KEY_MAPS = [
    ("xiaohe", "nihc", "ni'hao"),
    ("xiaohe", "vsgo", "zhong'guo"),
    ("xiaohe", "uuru", "shu'ru"),
    ("xiaohe", "xmlk", "xian'ling"),
    ("xiaohe", "dkiu", "ding'chu"),
    ("microsoft", "nihk", "ni'hao"),
    ("microsoft", "vsgo", "zhong'guo"),
    ("microsoft", "p;ly", "ping'lv"),
    ("microsoft", "lvxt", "lve'xue"),
    ("ziranma", "nihk", "ni'hao"),
    ("ziranma", "p'yy", "p'ying"),  # a typed separator starts a new pair
    ("ziranma", "pyyu", "ping'yu"),
    ("sogou", "nihk", "ni'hao"),
    ("sogou", "lt", "lve"),
    ("sogou", "p;", "ping"),
    ("abc", "nihk", "ni'hao"),
    ("abc", "asgo", "zhong'guo"),
    ("abc", "vuru", "shu'ru"),
    ("abc", "egby", "cheng'bing"),
    ("jiajia", "nihd", "ni'hao"),
    ("jiajia", "vygo", "zhong'guo"),
    ("jiajia", "iuru", "shu'ru"),
    ("jiajia", "htuu", "heng'chu"),
]

# layout, zero-initial syllable -> its keys
ZERO_INITIAL = [
    ("xiaohe", "a", "aa"), ("xiaohe", "ai", "ai"), ("xiaohe", "ang", "ah"), ("xiaohe", "o", "oo"),
    ("xiaohe", "ou", "ou"), ("xiaohe", "e", "ee"), ("xiaohe", "er", "er"), ("xiaohe", "eng", "eg"),
    ("ziranma", "a", "aa"), ("ziranma", "ang", "ah"), ("ziranma", "ou", "ou"), ("ziranma", "er", "er"),
    ("microsoft", "a", "oa"), ("microsoft", "ai", "ol"), ("microsoft", "o", "oo"), ("microsoft", "ou", "ob"),
    ("microsoft", "e", "oe"), ("microsoft", "er", "or"), ("microsoft", "ang", "oh"),
    ("sogou", "a", "oa"), ("sogou", "ei", "oz"), ("sogou", "er", "or"),
    ("abc", "a", "oa"), ("abc", "ei", "oq"), ("abc", "ou", "ob"), ("abc", "er", "or"),
    ("jiajia", "a", "aa"), ("jiajia", "ai", "as"), ("jiajia", "ou", "op"), ("jiajia", "e", "ee"),
    ("jiajia", "en", "er"), ("jiajia", "er", "eq"), ("jiajia", "eng", "et"),
]


@pytest.mark.parametrize("name,keys,pinyin", KEY_MAPS)
def test_keys_read_as_full_pinyin(name, keys, pinyin):
    assert layout(name).read(keys).pinyin == pinyin


@pytest.mark.parametrize("name,syllable,keys", ZERO_INITIAL)
def test_zero_initial_syllables(name, syllable, keys):
    assert layout(name).encode(syllable) == keys
    assert layout(name).read(keys).pinyin == syllable


@pytest.mark.parametrize("name", LAYOUT_NAMES)
def test_every_syllable_has_two_keys_that_read_back(name):
    lay = layout(name)
    for s in SYLLABLES:
        keys = lay.encode(s)
        assert len(keys) == 2
        assert lay.read(keys).pinyin == ("luo" if s == "lo" else s), s  # l+o is luo; lo is too rare


@pytest.mark.parametrize("name,keys,pinyin", [
    ("xiaohe", "nihcv", "ni'hao'zh"),  # a lone last key is an initial
    ("microsoft", "nihku", "ni'hao'sh"),
    ("abc", "a", "zh"),
    ("xiaohe", "bx", "bx"),  # a pair that spells no syllable stays as typed
])
def test_lone_key_and_invalid_pair(name, keys, pinyin):
    assert layout(name).read(keys).pinyin == pinyin


def test_unknown_layout_is_a_clear_error():
    with pytest.raises(ValueError, match="xiaohe"):
        layout("dvorak")
    assert layout("full") is None


@pytest.fixture
def xiaohe(engine):
    return Session(engine, page_size=5, layout="xiaohe")


def type_(session, keys):
    for ch in keys:
        session.insert(ch)
    return session.view()


def test_xiaohe_session_converts_and_shows_full_pinyin(xiaohe):
    v = type_(xiaohe, "nihc")
    assert v.candidates[0].text == "你好"
    assert v.preedit == "ni'hao" and v.letters == "nihc"
    assert v.preedit_cursor == len("ni'hao")
    assert xiaohe.commit() == "你好"


@pytest.mark.parametrize("name,keys,text", [
    ("xiaohe", "vsgo", "中国"),
    ("microsoft", "vsgo", "中国"),
    ("ziranma", "bzjy", "北京"),
    ("sogou", "daxt", "大学"),
    ("abc", "asgo", "中国"),
    ("jiajia", "vygo", "中国"),
])
def test_each_layout_converts(engine, name, keys, text):
    s = Session(engine, page_size=5, layout=name)
    assert type_(s, keys).candidates[0].text == text


def test_unfinished_last_syllable_and_abbreviations(xiaohe):
    assert type_(xiaohe, "nih").candidates[0].text == "你好"  # ni + h
    xiaohe.cancel()
    v = type_(xiaohe, "b'j'd'x")  # initials, one per separated key
    assert v.candidates[0].text == "北京大学"


def test_backspace_and_caret_move_by_key(xiaohe):
    type_(xiaohe, "nihc")
    xiaohe.backspace()
    v = xiaohe.view()
    assert v.letters == "nih" and v.preedit == "ni'h" and v.preedit_cursor == 4
    xiaohe.move_cursor(-1)
    assert xiaohe.view().preedit_cursor == 3  # before the h: after "ni'"
    xiaohe.move_cursor(-1)
    assert xiaohe.view().preedit_cursor == 1  # between n and i


def test_partial_pick_consumes_keys_and_undo_brings_them_back(xiaohe):
    type_(xiaohe, "woxlhvjx")  # wo xiang hui jia
    cands = xiaohe.candidates()
    idx = next(i for i, c in enumerate(cands) if c.text == "我想")
    assert cands[idx].consumed == 4
    assert xiaohe.select(idx) is None
    v = xiaohe.view()
    assert v.letters == "hvjx" and v.preedit == "我想hui'jia"
    assert v.candidates[0].text == "回家"
    xiaohe.set_cursor(0)
    xiaohe.backspace()
    assert xiaohe.view().letters == "woxlhvjx"
    assert xiaohe.commit() == "我想回家"


def test_engine_layout_option_makes_shuangpin_sessions(engine):
    from dataclasses import replace

    old = engine.options
    engine.options = replace(old, layout="microsoft")
    try:
        s = engine.new_session()
        assert type_(s, "p;").preedit == "ping"
    finally:
        engine.options = old


@pytest.mark.parametrize("name,keys", [
    ("xiaohe", "vsgorfmbdw"),  # zhong guo ren min de: lone initials growing into syllables
    ("xiaohe", "xmzdjxlmzz"),
    ("microsoft", "p;guojxdk"),
])
def test_typing_key_by_key_matches_a_fresh_decode(engine, name, keys):
    typed = Session(engine, page_size=9, layout=name)
    for ch in keys:
        typed.insert(ch)
        typed.view()
    fresh = Session(engine, page_size=9, layout=name)
    fresh.insert(keys)
    assert [c.text for c in typed.candidates()[:9]] == [c.text for c in fresh.candidates()[:9]]
