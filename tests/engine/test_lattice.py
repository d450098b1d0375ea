"""The pinyin parser: text -> syllable lattice (table-driven, as libime's tests)."""
import pytest

from engine.pinyin.lattice import LatticeOptions, SegmentKind, parse
from engine.pinyin.syllables import SYLLABLE_ID, SYLLABLES


def cuts(text, options=LatticeOptions()):
    """Every full segmentation of ``text`` as apostrophe-joined strings."""
    lat = parse(text, options)
    out = []

    def walk(pos, path):
        if pos == len(lat.text):
            out.append("'".join(path))
            return
        if lat.is_separator(pos):
            walk(pos + 1, path)
            return
        for seg in lat.segments_from[pos]:
            walk(seg.end, path + [seg.text])

    walk(0, [])
    return set(out)


def test_inventory_has_all_toneless_syllables():
    assert 400 <= len(SYLLABLES) <= 430
    for s in ["a", "zhuang", "lv", "nve", "er", "ri", "yo", "biang"]:
        assert s in SYLLABLE_ID


@pytest.mark.parametrize("text, expected", [
    ("xian", {"xian", "xi'an"}),
    ("fangan", {"fang'an", "fan'gan"}),
    ("zhongguoren", {"zhong'guo'ren"}),
    ("woxianghuijia", {"wo'xiang'hui'jia", "wo'xi'ang'hui'jia"}),
    ("lvse", {"lv'se"}),
    ("nve", {"nve"}),
])
def test_full_syllable_segmentations_are_all_kept(text, expected):
    full = {c for c in cuts(text) if all(
        seg in SYLLABLE_ID for seg in c.split("'"))}
    assert expected <= full


@pytest.mark.parametrize("text, canonical", [("lue", "lve"), ("nue", "nve")])
def test_ue_spellings_mean_ve(text, canonical):
    seg = next(s for s in parse(text).segments_from[0] if s.text == text)
    assert seg.kind == SegmentKind.FULL and seg.exact == SYLLABLE_ID[canonical]


def test_apostrophe_is_a_hard_separator():
    assert cuts("xi'an") >= {"xi'an"}
    assert "xian" not in cuts("xi'an")
    assert all(seg.end <= 2 for seg in parse("xi'an").segments_from[0])


@pytest.mark.parametrize("text, cut", [
    ("bjdx", "b'j'd'x"),
    ("zhgr", "zh'g'r"),
    ("beijdx", "bei'j'd'x"),
    ("sh", "sh"),
])
def test_abbreviations_anywhere(text, cut):
    assert cut in cuts(text)


def test_initial_segment_stands_for_every_syllable_of_that_initial():
    seg = next(s for s in parse("zh").segments_from[0] if s.text == "zh")
    assert seg.kind == SegmentKind.INITIAL
    assert SYLLABLE_ID["zhong"] in seg.syllables and SYLLABLE_ID["zi"] not in seg.syllables


@pytest.mark.parametrize("text, last", [("zhongguor", "r"), ("nih", "h"), ("zhon", "zhon")])
def test_trailing_incomplete_syllable(text, last):
    lat = parse(text)
    assert any(s.text == last for s in lat.segments_to[len(text)])


def test_partial_syllable_only_at_the_end():
    lat = parse("zhonguo")
    assert not any(s.kind == SegmentKind.PARTIAL for segs in lat.segments_from for s in segs)
    seg = next(s for s in parse("zhon").segments_from[0] if s.text == "zhon")
    assert seg.kind == SegmentKind.PARTIAL and SYLLABLE_ID["zhong"] in seg.syllables


@pytest.mark.parametrize("pair, typed, also", [
    ("z/zh", "zi", "zhi"), ("c/ch", "chi", "ci"), ("s/sh", "si", "shi"), ("n/l", "nan", "lan"),
    ("l/r", "lan", "ran"), ("f/h", "fu", "hu"), ("an/ang", "fan", "fang"), ("en/eng", "chen", "cheng"),
    ("in/ing", "xin", "xing"), ("ian/iang", "xian", "xiang"), ("uan/uang", "guan", "guang"),
])
def test_fuzzy_pairs_off_by_default_and_on_when_asked(pair, typed, also):
    plain = next(s for s in parse(typed).segments_from[0] if s.text == typed)
    assert SYLLABLE_ID[also] not in plain.syllables
    fuzzy = next(s for s in parse(typed, LatticeOptions(fuzzy_pairs=frozenset({pair}))).segments_from[0]
                 if s.text == typed)
    assert SYLLABLE_ID[also] in fuzzy.syllables and fuzzy.exact == SYLLABLE_ID[typed]


@pytest.mark.parametrize("text", ["iphone", "v", "u", "123", "ni3hao", "!!"])
def test_junk_letters_become_literal_not_errors(text):
    lat = parse(text)
    for pos in range(len(text)):
        assert lat.segments_from[pos] or lat.is_separator(pos)
    assert any(s.kind == SegmentKind.LITERAL for segs in lat.segments_from for s in segs)


def test_best_cut_prefers_full_syllables():
    assert [s.text for s in parse("woxianghuijia").best_cut()] == ["wo", "xiang", "hui", "jia"]


@pytest.mark.parametrize("letter, syllable", [("s", "shi"), ("c", "chi"), ("z", "zhi"), ("s", "si")])
def test_single_letter_abbreviation_is_the_first_letter_of_the_syllable(letter, syllable):
    """视频 is abbreviated sp: a lone s stands for sh- syllables too (and c/ch, z/zh)."""
    seg = next(s for s in parse(letter).segments_from[0] if s.text == letter)
    assert SYLLABLE_ID[syllable] in seg.syllables


@pytest.mark.parametrize("text, abbreviated", [
    ("bjdx", True), ("beijdx", True), ("wxhj", True),
    ("woxianghuijia", False), ("woxiangh", False), ("zhongguor", False), ("nih", False), ("b", False),
])
def test_abbreviated_input_is_recognised(text, abbreviated):
    # the decoder widens its beam for these (their top-5 needs more whole-input hypotheses)
    assert parse(text).abbreviated() is abbreviated


@pytest.mark.parametrize("steps", [
    ["n", "ni", "nih", "niha", "nihao"],  # typed letter by letter
    ["xian", "xi'an", "xi'anbei"],  # a separator typed inside
    ["woxianghuijia", "woxiang", "woxianghuijiale"],  # Backspaces, then typing on
    ["bjdx", "bjdxzh", "beijdx"],  # abbreviations, an edit near the start
])
def test_best_cut_of_a_lattice_built_from_a_previous_one_is_that_of_a_fresh_parse(steps):
    lattice = parse("")
    for text in steps:
        lattice = parse(text, previous=lattice)
        fresh = parse(text)
        assert [(s.start, s.end, s.kind) for s in lattice.best_cut()] == \
            [(s.start, s.end, s.kind) for s in fresh.best_cut()]


@pytest.mark.parametrize("text, abbreviated", [
    ("bjdx", True),
    ("beijdx", True),
    ("woxianghuijiabjdx", True),  # the initials are where the words are typed now
    ("bjdxwoxianghuijiachifanshuijiao", False),  # seven full syllables since: those words are not abbreviated
    ("woxianghuijia", False),
])
def test_only_recent_initials_make_an_input_abbreviated(text, abbreviated):
    assert parse(text).abbreviated() == abbreviated
