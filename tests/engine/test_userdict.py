"""The user dictionary (engine.user.userdict): word lists in, matching typed letters, candidates at once."""
from __future__ import annotations

import sqlite3

import pytest

from engine.pinyin.candidates import with_user_words
from engine.pinyin.decoder import Conversion
from engine.user.userdict import UserDict, UserWord, format_word_list, match_lengths, parse_line, parse_word_list

SDXX = ("shen", "du", "xue", "xi")

# line -> (word, syllables, weight)
GOOD_LINES = [
    ("深度学习 shen du xue xi 5", ("深度学习", SDXX, 5.0)),
    ("深度学习\tshen'du'xue'xi\t5", ("深度学习", SDXX, 5.0)),
    ("深度学习", ("深度学习", SDXX, 1.0)),                        # the lexicon's reading
    ("银行", ("银行", ("yin", "hang"), 1.0)),                     # of the word, not of each character
    ("阔罗木", ("阔罗木", ("kuo", "luo", "mu"), 1.0)),             # not in the lexicon: its characters
    ("深度学习 2.5", ("深度学习", SDXX, 2.5)),
    ("绿茶 lü cha", ("绿茶", ("lv", "cha"), 1.0)),
    ("略 lue4", ("略", ("lve",), 1.0)),                           # tone numbers dropped, lue spelled lve
    ("  舒如 Shu Ru  ", ("舒如", ("shu", "ru"), 1.0)),
    ("GPT模型 ji pi ti mo xing", ("GPT模型", ("ji", "pi", "ti", "mo", "xing"), 1.0)),
]


@pytest.mark.parametrize("line, expected", GOOD_LINES)
def test_word_list_lines(engine, line, expected):
    w = parse_line(line, engine.lexicon)
    assert (w.word, w.syllables, w.weight) == expected


# line -> part of the reason it is refused
BAD_LINES = [
    ("GPT模型", "no reading known"),
    ("深度学习 shen du xue", "4 characters but 3 syllables"),
    ("深度学习 shen du xue xii", "'xii' is not a pinyin syllable"),
    ("深度学习 shen du xue xi 0", "above 0"),
    ("一二三四五六七八九十一二三四五六七", "longer than 16"),
]


@pytest.mark.parametrize("line, reason", BAD_LINES)
def test_bad_lines_are_refused_with_a_reason(engine, line, reason):
    with pytest.raises(ValueError, match=reason):
        parse_line(line, engine.lexicon)


def test_word_list_reports_bad_lines_by_number(engine):
    text = "# my words\n深度学习 5\n\nGPT模型\n舒如 shu ru\n深度学习 shen du\n"
    words, problems = parse_word_list(text, engine.lexicon)
    assert [w.word for w in words] == ["深度学习", "舒如"]
    assert [n for n, _ in problems] == [4, 6]


def test_export_round_trip():
    words = [UserWord("深度学习", SDXX, 5.0), UserWord("绿茶", ("lv", "cha"), 1.5), UserWord("GPT模型", ("mo", "xing"))]
    again, problems = parse_word_list(format_word_list(words))
    assert again == words and problems == []


# (syllables, letters) -> every cover length
MATCHES = [
    (SDXX, "shenduxuexi", {10, 11}),            # 10: xi typed as x (merge then skips the split xi)
    (SDXX, "shdxx", {5}),                       # by initials
    (SDXX, "shen'du'xue'xi", {13, 14}),
    (SDXX, "shenduxuex", {10}),                 # the last syllable as its initial
    (SDXX, "shenduxuexiwo", {10, 11}),          # a prefix of the input
    (SDXX, "shendux", set()),                   # too few syllables
    (SDXX, "sdxx", {4}),                        # a first letter, as the decoder reads abbreviations
    (("xi", "an"), "xian", {3, 4}),             # 3: an typed as its initial a
    (("zhong", "guo"), "zhonggu", {6, 7}),      # the last syllable unfinished (6: as its initial)
]


@pytest.mark.parametrize("syllables, letters, ends", MATCHES)
def test_match_lengths(syllables, letters, ends):
    assert match_lengths(syllables, letters) == ends


def conv(text, consumed, kind="sentence"):
    return Conversion(text, consumed, -1.0, kind)


# (decoder candidates, letters) -> merged texts, with 舒如 (shu ru) and 舒如法 (shu ru fa) in the dictionary
MERGES = [
    # the whole input: the user's word first, before the decoder's reading of the same letters
    ([conv("书如", 5), conv("输入", 5), conv("书", 3, "char")], "shuru", ["舒如", "书如", "输入", "书"]),
    # the decoder found the word itself: it stays first, once
    ([conv("舒如", 5), conv("输入", 5)], "shuru", ["舒如", "输入"]),
    # the decoder has only the letters: the word goes first
    ([conv("shuru", 5, "literal")], "shuru", ["舒如", "shuru"]),
    # a prefix: among the decoder's words, before those covering no more letters
    ([conv("书如发", 7), conv("输入法", 7, "word"), conv("输入", 5, "word"), conv("书", 3, "char")], "shurufa",
     ["舒如法", "书如发", "输入法", "舒如", "输入", "书"]),
    ([], "shrf", ["舒如法", "舒如"]),
    ([conv("是", 1)], "xx", ["是"]),
    ([conv("书如", 2)], "sr", ["舒如", "书如"]),  # first letters
]


def test_the_weight_orders_user_words_of_one_reading():
    words = [UserWord("石狮", ("shi", "shi"), 1.0), UserWord("事实", ("shi", "shi"), 3.0), UserWord("誓师", ("shi", "shi"), 2.0)]
    for letters in ("shishi", "ss", "shis"):
        merged = with_user_words(UserDict(words), letters, [conv("实施", len(letters)), conv("时", 3, "char")])
        assert [c.text for c in merged][:4] == ["事实", "誓师", "石狮", "实施"], letters


@pytest.mark.parametrize("decoded, letters, expected", MERGES)
def test_merge_ranks_user_words(decoded, letters, expected):
    d = UserDict([UserWord("舒如", ("shu", "ru")), UserWord("舒如法", ("shu", "ru", "fa"))])
    assert [c.text for c in with_user_words(d, letters, decoded)] == expected


def test_user_store_upgrades_version_1_and_keeps_learned_words(tmp_path):
    from engine.user.userdb import SCHEMA_VERSION, UserStore

    path = tmp_path / "user.db"
    store = UserStore(path, 2000.0)
    store.learn(["你好"], [])
    store._db.execute("DROP TABLE userdict")
    store._db.execute("PRAGMA user_version=1")
    store.close()
    again = UserStore(path, 2000.0)
    assert again.snapshot().unigrams == {"你好": 1.0}
    again.dict_add([("舒如", "shu'ru", 2.0)])
    assert again.dict_entries() == [("舒如", "shu'ru", 2.0)]
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2


def test_a_made_up_word_is_proposed_at_once(tmp_path):
    """Through a real Session on the shipped assets: added, it is a candidate on the next keystroke;
    chosen, it is committed; removed, it is gone; another engine on the same store sees it."""
    from engine import Engine, EngineOptions

    opts = EngineOptions(use_neural=False, history_path=tmp_path / "user.db")
    engine = Engine.load(opts)
    session = engine.new_session()
    session.insert("kuoluomu")
    assert "阔罗木" not in [c.text for c in session.candidates()]
    engine.add_user_words([parse_line("阔罗木 kuo luo mu 3", engine.lexicon)])
    session.backspace()
    session.insert("u")
    texts = [c.text for c in session.candidates()]
    assert "阔罗木" in texts[:2]
    assert session.select(texts.index("阔罗木")) == "阔罗木"
    session.insert("klm")
    assert "阔罗木" in [c.text for c in session.candidates()][:2]  # abbreviated
    other = Engine.load(opts)
    assert [w.word for w in other.user_words()] == ["阔罗木"]
    engine.remove_user_words(["阔罗木"])
    session.backspace()
    session.insert("m")
    assert "阔罗木" not in [c.text for c in session.candidates()]


@pytest.mark.parametrize("layout,keys", [("full", "kuoluomu"), ("xiaohe", "kolomu"), ("full", "klm")])
def test_a_user_word_is_proposed_in_every_layout(tmp_path, layout, keys):
    """Shuangpin keys reach the user dictionary as the full pinyin they stand for; the word
    consumes the keys typed, not the pinyin letters."""
    from engine import Engine, EngineOptions
    from engine.user.userdict import UserWord

    engine = Engine.load(EngineOptions(use_neural=False, history_path=tmp_path / "user.db", layout=layout))
    engine.add_user_words([UserWord("阔罗木", ("kuo", "luo", "mu"), 1.0)])
    session = engine.new_session()
    session.insert(keys)
    found = [c for c in session.candidates()[:5] if c.text == "阔罗木"]
    assert found and found[0].consumed == len(keys)


# word added, keys typed -> it is the first candidate (with the shipped engine, neural model and all,
# before any pick: the decoder alone ranks 括落幕 and 神功能不全 first)
FIRST = [
    ("阔落木", ("kuo", "luo", "mu"), "kuoluomu"),
    ("阔落木", ("kuo", "luo", "mu"), "klm"),
    ("阔落木", ("kuo", "luo", "mu"), "kuolm"),
    ("肾功能不全", ("shen", "gong", "neng", "bu", "quan"), "shengongnengbuquan"),
    ("肾功能不全", ("shen", "gong", "neng", "bu", "quan"), "shgnbq"),
    ("肾功能不全", ("shen", "gong", "neng", "bu", "quan"), "sgnbq"),
]


@pytest.fixture(scope="module")
def engine_with_user_words(tmp_path_factory):
    from engine import Engine, EngineOptions

    engine = Engine.load(EngineOptions(history_path=tmp_path_factory.mktemp("first") / "user.db"))
    engine.add_user_words([UserWord(w, syl) for w, syl, _ in FIRST[::3]])
    return engine


@pytest.mark.parametrize("word, syllables, keys", FIRST)
def test_the_users_own_word_comes_first(engine_with_user_words, word, syllables, keys):
    session = engine_with_user_words.new_session()
    session.insert(keys)
    assert session.candidates()[0].text == word
