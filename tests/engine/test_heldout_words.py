"""python -m tools heldout-words: the dev-words recipe on held-out text, on tiny fixtures."""
import json
import lzma

import pytest

from tools.cli import main
from tools.heldout_words import cut_words, dictionary_segmenter, draw

DICTIONARY = "我们 100 n\n今天 80 t\n天气 60 n\n很 50 d\n好 40 a\n北京大学 30 nt\n图书馆 20 n\n的 200 u\n"


@pytest.fixture
def segmenter(tmp_path):
    path = tmp_path / "dict.txt"
    path.write_text(DICTIONARY, encoding="utf-8")
    return dictionary_segmenter(path)


@pytest.mark.parametrize("line, expected", [
    ("今天天气很好", [("jintian", "今天", ""), ("tianqi", "天气", "今天"), ("hen", "很", "今天天气"),
                      ("hao", "好", "今天天气很")]),
    # clauses end at punctuation and digits; the context is the whole line before the word
    ("我们,3个", [("women", "我们", ""), ("ge", "个", "我们,3")]),
    # full-width forms are normalised (NFKC) before cutting
    ("我们，好", [("women", "我们", ""), ("hao", "好", "我们,")]),
    # words longer than four characters are left out; 北京大学 is four
    ("北京大学图书馆", [("beijingdaxue", "北京大学", ""), ("tushuguan", "图书馆", "北京大学")]),
    ("hello 123", []),
])
def test_words_are_cut_as_the_dev_set_was(segmenter, line, expected):
    rows = cut_words([line], segmenter)
    assert [(r["pinyin"], r["hanzi"], r["context"]) for r in rows] == expected
    assert all(r["src"] == "replay-heldout" for r in rows)


def test_a_polyphone_is_read_as_in_its_word(tmp_path):
    path = tmp_path / "dict.txt"
    path.write_text("银行 10 n\n行走 10 v\n绿 5 a\n", encoding="utf-8")
    rows = cut_words(["银行行走绿"], dictionary_segmenter(path))
    assert [r["pinyin"] for r in rows] == ["yinhang", "xingzou", "lv"]


def test_the_draw_is_the_same_for_the_same_seed(segmenter):
    rows = cut_words(["今天天气很好", "我们的北京大学图书馆很好"] * 3, segmenter)
    assert draw(rows, 5, seed=0) == draw(rows, 5, seed=0)
    assert len(draw(rows, 5, seed=0)) == 5 and len(draw(rows, 100, seed=0)) == len(rows)
    assert sorted(map(json.dumps, draw(rows, 100, seed=1))) == sorted(map(json.dumps, rows))


def test_the_command_writes_json_lines(tmp_path, capsys):
    data = tmp_path / "data"
    (data / "lexicons" / "jieba").mkdir(parents=True)
    (data / "lexicons" / "jieba" / "dict.txt").write_text(DICTIONARY, encoding="utf-8")
    text = tmp_path / "text.txt.xz"
    with lzma.open(text, "wt", encoding="utf-8") as f:
        f.write("今天天气很好\n我们的图书馆\n")
    out = tmp_path / "words.jsonl"
    assert main(["heldout-words", "--out", str(out), "--text", str(text), "--data", str(data), "--count", "4"]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 4 and {r["hanzi"] for r in rows} <= {"今天", "天气", "很", "好", "我们", "的", "图书馆"}
    assert "4 words" in capsys.readouterr().out


@pytest.mark.parametrize("missing, message", [("dictionary", "no jieba dictionary"), ("text", "no such text")])
def test_missing_inputs_are_plain_errors(tmp_path, missing, message):
    data = tmp_path / "data"
    if missing != "dictionary":
        (data / "lexicons" / "jieba").mkdir(parents=True)
        (data / "lexicons" / "jieba" / "dict.txt").write_text(DICTIONARY, encoding="utf-8")
    with pytest.raises(SystemExit, match=message):
        main(["heldout-words", "--out", str(tmp_path / "w.jsonl"), "--text", str(tmp_path / "none.txt"),
              "--data", str(data)])
