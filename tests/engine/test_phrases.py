"""Quick phrases and dates: the file format, bad lines, and candidates beside the conversion."""
import datetime as dt

import pytest

from engine.pinyin.phrases import PhraseError, QuickPhrases, builtin_phrases, parse_phrases
from engine.pinyin.session import Session

TUESDAY = dt.datetime(2026, 12, 1, 9, 5)


def test_phrases_file_format():
    phrases, errors = parse_phrases(
        "# my phrases\n"
        "dz 北京市海淀区中关村大街1号\n"
        "\n"
        "yx\tsomeone@example.com\n"
        "dz  Room 2, Building 5  \n")
    assert phrases == {"dz": ["北京市海淀区中关村大街1号", "Room 2, Building 5"], "yx": ["someone@example.com"]}
    assert errors == []


@pytest.mark.parametrize("line,reason", [
    ("dz", "has no text"),
    ("DZ 地址", "lower-case letters"),
    ("d1 地址", "lower-case letters"),
    ("地址 beijing", "lower-case letters"),
    ("abcdefghijklmnopq text", "1-16"),
])
def test_bad_lines_are_skipped_and_reported_with_their_line_numbers(line, reason):
    phrases, errors = parse_phrases(f"ok 好的\n{line}\nyx a@b.c\n")
    assert phrases == {"ok": ["好的"], "yx": ["a@b.c"]}
    assert len(errors) == 1 and errors[0].line == 2 and reason in errors[0].reason
    assert str(errors[0]).startswith("line 2: ")


def test_loading_a_file_logs_bad_lines(tmp_path, caplog):
    path = tmp_path / "phrases.txt"
    path.write_text("dz 地址\nbad\n", encoding="utf-8")
    phrases = QuickPhrases.load(path)
    assert phrases.lookup("dz")[0] == "地址" and phrases.errors == [PhraseError(2, phrases.errors[0].reason)]
    assert "line 2" in caplog.text
    assert QuickPhrases.load(tmp_path / "missing.txt").user == {}


@pytest.mark.parametrize("trigger,texts", [
    ("rq", ["2026年12月1日", "2026-12-01", "2026/12/01"]),
    ("sj", ["09:05", "9点05分"]),
    ("xq", ["星期二", "周二"]),
])
def test_builtin_dates_from_the_clock(trigger, texts):
    assert builtin_phrases(TUESDAY)[trigger] == texts
    assert QuickPhrases(clock=lambda: TUESDAY).lookup(trigger) == texts


def test_user_phrases_come_before_builtins_of_the_same_trigger():
    phrases = QuickPhrases({"rq": ["日期"]}, clock=lambda: TUESDAY)
    assert phrases.lookup("rq")[:2] == ["日期", "2026年12月1日"]
    assert QuickPhrases(builtins=False).lookup("rq") == []


@pytest.fixture
def phrase_engine(engine):
    import copy

    e = copy.copy(engine)
    e.phrases = QuickPhrases({"dz": ["北京市海淀区中关村大街1号"], "yx": ["someone@example.com"]},
                             clock=lambda: TUESDAY)
    return e


def test_phrases_are_offered_after_the_first_candidate(phrase_engine):
    s = Session(phrase_engine, page_size=9)
    s.insert("rq")
    cands = s.view().candidates
    assert cands[0].kind != "phrase"  # the normal conversion stays first
    assert [c.text for c in cands[1:4]] == ["2026年12月1日", "2026-12-01", "2026/12/01"]
    assert cands[1].kind == "phrase" and cands[1].consumed == 2
    assert s.select_on_page(2) == "2026-12-01"


def test_user_phrase_commits_as_written_even_in_traditional(phrase_engine):
    s = Session(phrase_engine, page_size=9, script="traditional")
    s.insert("dz")
    page = s.view().candidates
    assert page[1].text == "北京市海淀区中关村大街1号"
    assert s.select_on_page(1) == "北京市海淀区中关村大街1号"


def test_phrases_only_for_the_whole_input(phrase_engine):
    s = Session(phrase_engine, page_size=9)
    s.insert("dzd")
    assert all(c.kind != "phrase" for c in s.candidates())


def test_engine_reads_the_phrases_file_and_rereads_it_on_configure(engine, tmp_path):
    import copy

    path = tmp_path / "phrases.txt"
    path.write_text("yx me@example.com\n", encoding="utf-8")
    e = copy.copy(engine)
    e.configure(phrases_path=path)
    assert e.phrases.lookup("yx") == ["me@example.com"]
    path.write_text("yx you@example.com\n", encoding="utf-8")
    e.configure(phrases_path=path)
    assert e.phrases.lookup("yx") == ["you@example.com"]
