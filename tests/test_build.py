"""The asset build: open-domain word lists, their priors, and a whole tiny build from a data folder."""
import lzma
from pathlib import Path

import numpy as np
import pytest

from engine.build.counts import Occurrences
from engine.build.lexicon_build import TITLE_COUNT, open_domain_prior
from engine.build.words import OpenDomainWords, clean_title, clean_word


@pytest.mark.parametrize("title, words", [
    ("河姆渡遗址", ["河姆渡遗址"]),
    ("沪昆客运专线", ["沪昆客运专线"]),
    ("米兰·潘切夫斯基", ["米兰", "潘切夫斯基"]),  # a name is typed without its dot: its parts are words
    ("阿黛儿・艾萨卓普洛斯", ["阿黛儿", "艾萨卓普洛斯"]),  # the other middle dot
    ("COVID-19疫情", []),  # Latin letters and digits
    ("2008年夏季奥林匹克运动会", []),
    ("臺灣", []),  # traditional forms (outside GB2312)
    ("中华人民共和国国务院总理", []),  # longer than 7 syllables
    ("鱼", []),  # a single character is not a word
    ("哈利·波特：魔法石", []),  # other punctuation
    ("  鸟取县\n", ["鸟取县"]),
])
def test_titles_become_lexicon_words(title, words):
    assert clean_title(title) == words


@pytest.mark.parametrize("word, kept", [("背鳍", "背鳍"), ("ABC", None), ("藝術", None), ("一二三四五六七八", None)])
def test_list_words_are_filtered_like_titles(word, kept):
    assert clean_word(word) == kept


def test_occurrences_count_substrings_of_clauses():
    occ = Occurrences(["北京", "北京大学", "大学", "河姆渡", "学生会"])
    counts = occ.count(["我在北京大学读书", "北京的大学", "河姆渡遗址", "学生会议", "北", "京"])
    assert dict(zip(occ.words, counts.tolist())) == {"北京": 2, "北京大学": 1, "大学": 2, "河姆渡": 1, "学生会": 1}


def test_priors_prefer_evidence_and_keep_bare_titles_low():
    lists = OpenDomainWords(titles={"河姆渡遗址", "雀鲷", "紫堇属", "子发"}, wordfreq={"雀鲷": 1e-7}, essay={})
    tokens = 1e8
    seen = open_domain_prior("河姆渡遗址", lists, occurrences=40, corpus_tokens=tokens)
    listed = open_domain_prior("雀鲷", lists, occurrences=0, corpus_tokens=tokens)
    bare = open_domain_prior("紫堇属", lists, occurrences=0, corpus_tokens=tokens)
    assert seen > listed > bare == TITLE_COUNT[3] > 0
    assert open_domain_prior("河姆渡遗址", lists, occurrences=10**7, corpus_tokens=tokens) <= 500  # capped
    # short strings occur mostly across words (孩子发烧): their occurrences count for nothing, and a
    # two-character title with no other evidence is left out
    assert open_domain_prior("子发", lists, occurrences=5000, corpus_tokens=tokens) == 0


CORPUS = ("我们去河姆渡遗址参观。河姆渡遗址很有名。\n" * 3 + "今天天气很好，我们一起去公园。\n" * 20
          + "他在北京大学读书。北京大学在北京。\n" * 10 + "鸟取县在日本。\n" + "日本很有名。\n" * 2)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    """A data folder laid out like ../shared/data, a few lines of everything."""
    d = tmp_path_factory.mktemp("data")
    (d / "corpus").mkdir()
    with lzma.open(d / "corpus/tiny.txt.xz", "wt", encoding="utf-8") as fh:
        fh.write(CORPUS)
    lex = d / "lexicons"
    for sub in ("jieba", "zhwiki_titles", "wordfreq_zh", "rime_essay"):
        (lex / sub).mkdir(parents=True)
    (lex / "jieba/dict.txt").write_text("我们 1000 r\n今天 800 t\n天气 700 n\n一起 600 d\n公园 500 n\n北京 900 ns\n"
                                        "大学 800 n\n读书 300 v\n有名 200 a\n参观 200 v\n日本 500 ns\n", encoding="utf-8")
    with lzma.open(lex / "zhwiki_titles/zhwiki_titles.txt.xz", "wt", encoding="utf-8") as fh:
        fh.write("河姆渡遗址\n北京大学\n鸟取县\n紫堇属\nCOVID-19\n")
    (lex / "wordfreq_zh/large_zh.tsv").write_text("很好\t1e-4\n紫堇属\t1e-8\n", encoding="utf-8")
    (lex / "rime_essay/essay.txt").write_text("公园\t500\n很好\t800\n", encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def tiny_assets(tiny_data, tmp_path_factory) -> Path:
    from engine.build.__main__ import main

    out = tmp_path_factory.mktemp("assets")
    work = tmp_path_factory.mktemp("work")
    assert main(["all", "--data", str(tiny_data), "--work", str(work), "--assets", str(out), "--procs", "1"]) == 0
    return out


def test_the_build_reads_the_data_folder_it_is_given(tiny_assets, tiny_data):
    from engine.lexicon import Lexicon

    lex = Lexicon.load(tiny_assets / "lexicon.npz")
    for word in ("我们", "北京大学", "河姆渡遗址", "鸟取县", "紫堇属"):
        assert lex.token_id(word) is not None, word
    assert lex.token_id("COVID") is None


def test_a_title_the_corpus_never_segments_is_proposed_first(tiny_assets):
    from engine import Engine, EngineOptions

    engine = Engine.load(EngineOptions(assets_dir=tiny_assets, use_neural=False, learning=False))
    for pinyin, word in [("hemuduyizhi", "河姆渡遗址"), ("niaoquxian", "鸟取县"), ("zijinshu", "紫堇属")]:
        cands = [c.text for c in engine.decoder("").decode(pinyin)]
        assert cands[0] == word, (pinyin, cands[:5])


@pytest.mark.parametrize("gold, first, first_words, category", [
    ("今天天气", "今天天氣", (), "variant"),  # a traditional form of the right character
    ("紫堇花开", "紫金花开", (), "not in lexicon"),  # 紫/堇: the lexicon has 紫堇属 but not 紫堇
    ("日本行", "日本航", (), "polyphone"),  # 行 is read hang here, not its usual xing
    ("北京大学", "北京大雪", ("北京", "大", "雪"), "segmentation"),  # the gold is one word
    ("北京大学", "北京大雪", ("北京大学",), "outranked"),  # (a made-up cut: same boundaries)
    ("北京大学", "北京大雪", (), "outranked"),
])
def test_miss_categories_on_a_tiny_lexicon(tiny_assets, gold, first, first_words, category):
    from engine.lexicon import Lexicon
    from engine.misses import MissAnalyser

    lex = Lexicon.load(tiny_assets / "lexicon.npz")
    tokens = tuple(lex.token_id(w) for w in first_words)
    assert MissAnalyser(lex).category(gold, first, tokens) == category


def test_a_miss_records_the_gold_rank(tiny_assets):
    from engine.lexicon import Lexicon
    from engine.misses import MissAnalyser

    a = MissAnalyser(Lexicon.load(tiny_assets / "lexicon.npz"))
    assert a.cut("北京大学在北京") == ["北京大学", "在", "北京"]
    assert a.analyse("北京大学", ["北京大雪", "北京大学"]).rank == 1
    assert a.analyse("紫堇花开", ["紫金花开"]).rank is None


def test_open_domain_words_are_flagged_and_never_cut_into(tiny_assets):
    from engine.decoder import context_tokens
    from engine.lexicon import Lexicon
    from engine.userlm import count_text

    lex = Lexicon.load(tiny_assets / "lexicon.npz")
    assert lex.token_open_domain[lex.token_id("河姆渡遗址")] and lex.token_open_domain[lex.token_id("紫堇属")]
    assert not lex.token_open_domain[lex.token_id("北京")]
    # text is cut into the corpus counts' words, as the corpus was: a title stays characters there
    assert context_tokens(lex, "我们去河姆渡遗址") == (lex.token_id("遗"), lex.token_id("址"))
    uni, _, _ = count_text(["我们去河姆渡遗址参观"], lex)
    assert lex.token_id("河姆渡遗址") not in uni and uni[lex.token_id("我们")] == 1
