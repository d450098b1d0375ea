"""The asset build: open-domain word lists, their priors, and a whole tiny build from a data folder."""
import lzma
import os
from pathlib import Path

import numpy as np
import pytest

from engine.pinyin.candidates import decoder_readings
from tools.build.counts import Occurrences
from engine.pinyin.syllables import SYLLABLES
from tools.build.lexicon_build import (NO_WORD_READING_COUNT, TITLE_COUNT, _reading_counts, char_readings,
                                      open_domain_prior, word_reading)
from tools.build.words import OpenDomainWords, clean_title, clean_word


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


# A character typed alone, by reading (syllable ids 0, 1, 2; the first is pypinyin's default):
# (count as a token, readings, uses inside words by reading, its count under each reading).
READINGS_ALONE = [
    # one reading: all of it
    (5000.0, [0], {0: 900.0}, {0: 5000.0}),
    # 的 de/di: di lives in words (目的); alone it is at most half as common as there
    (2_290_000.0, [0, 1], {0: 145_000.0, 1: 12_000.0}, {0: 2_290_000.0 * (0.6 + 0.4 * 145 / 157), 1: 6_000.0}),
    # 是 shi/ti: a reading no word uses stays rare however common the character
    (3_000_000.0, [0, 1], {0: 80_000.0}, {0: 3_000_000.0 * 1.0, 1: NO_WORD_READING_COUNT}),
    # 地 di/de: a reading few words use keeps its floor where that is below RARE_READING_COUNT
    (35_000.0, [0, 1], {0: 270_000.0, 1: 12.0}, {0: 35_000.0 * (0.6 + 0.4 * 270_000 / 270_012), 1: 700.0}),
    # 还 hai/huan: a reading words use freely keeps its share of the character
    (118_000.0, [0, 1], {0: 92_656.0, 1: 9_161.0}, {0: 118_000.0 * (0.6 + 0.4 * 92_656 / 101_817),
                                                   1: 118_000.0 * 0.4 * 9_161 / 101_817}),
]


@pytest.mark.parametrize("count,readings,in_words,expected", READINGS_ALONE)
def test_a_character_alone_is_mostly_its_default_reading(count, readings, in_words, expected):
    assert _reading_counts(count, readings, in_words) == pytest.approx(expected, rel=1e-6)


CORPUS = ("我们去河姆渡遗址参观。河姆渡遗址很有名。\n" * 3 + "今天天气很好，我们一起去公园。\n" * 20
          + "他在北京大学读书。北京大学在北京。\n" * 10 + "鸟取县在日本。\n" + "日本很有名。\n" * 2)
CHAT = "我们去公园。\n公园很好。\n"  # a source of typed text (tools.build.counts.TYPED_SOURCES)


@pytest.mark.parametrize("char, readings", [("嗯", ["en"]), ("唔", ["wu"]), ("哼", ["heng"]), ("中", ["zhong"])])
def test_a_character_reads_as_keyboards_spell_it(char, readings):
    # 嗯 is only n / ng in pypinyin, which no keyboard syllable spells; the others keep their own readings
    assert [SYLLABLES[s] for s in char_readings()[char]] == readings


def test_a_word_with_an_interjection_reads_as_typed():
    assert [SYLLABLES[s] for s in word_reading("嗯嗯")] == ["en", "en"]


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    """A data folder laid out like ../shared/data, a few lines of everything."""
    d = tmp_path_factory.mktemp("data")
    (d / "corpus").mkdir()
    with lzma.open(d / "corpus/tiny.txt.xz", "wt", encoding="utf-8") as fh:
        fh.write(CORPUS)
    with lzma.open(d / "corpus/chat_lccc_sample.txt.xz", "wt", encoding="utf-8") as fh:
        fh.write(CHAT)
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
    from tools.build.__main__ import main

    out = tmp_path_factory.mktemp("assets")
    work = tmp_path_factory.mktemp("work")
    assert main(["all", "--data", str(tiny_data), "--work", str(work), "--assets", str(out), "--procs", "1"]) == 0
    return out


def test_the_build_reads_the_data_folder_it_is_given(tiny_assets, tiny_data):
    from engine.core.lexicon import Lexicon

    lex = Lexicon.load(tiny_assets / "lexicon.npz")
    for word in ("我们", "北京大学", "河姆渡遗址", "鸟取县", "紫堇属"):
        assert lex.token_id(word) is not None, word
    assert lex.token_id("COVID") is None


def test_a_title_the_corpus_never_segments_is_proposed_first(tiny_assets):
    from engine import Engine, EngineOptions

    engine = Engine.load(EngineOptions(assets_dir=tiny_assets, use_neural=False, learning=False))
    for pinyin, word in [("hemuduyizhi", "河姆渡遗址"), ("niaoquxian", "鸟取县"), ("zijinshu", "紫堇属")]:
        cands = [c.text for c in decoder_readings(engine.decoder(""), pinyin)]
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
    from engine.core.lexicon import Lexicon
    from tools.misses import MissAnalyser

    lex = Lexicon.load(tiny_assets / "lexicon.npz")
    tokens = tuple(lex.token_id(w) for w in first_words)
    assert MissAnalyser(lex).category(gold, first, tokens) == category


def test_a_miss_records_the_gold_rank(tiny_assets):
    from engine.core.lexicon import Lexicon
    from tools.misses import MissAnalyser

    a = MissAnalyser(Lexicon.load(tiny_assets / "lexicon.npz"))
    assert a.cut("北京大学在北京") == ["北京大学", "在", "北京"]
    assert a.analyse("北京大学", ["北京大雪", "北京大学"]).rank == 1
    assert a.analyse("紫堇花开", ["紫金花开"]).rank is None


def test_open_domain_words_are_flagged_and_never_cut_into(tiny_assets):
    from engine.core.lm import context_tokens
    from engine.core.lexicon import Lexicon
    from engine.user.userlm import count_text

    lex = Lexicon.load(tiny_assets / "lexicon.npz")
    assert lex.open_domain(lex.token_id("河姆渡遗址")) and lex.open_domain(lex.token_id("紫堇属"))
    assert not lex.open_domain(lex.token_id("北京"))
    # text is cut into the corpus counts' words, as the corpus was: a title stays characters there
    assert context_tokens(lex, "我们去河姆渡遗址") == (lex.token_id("遗"), lex.token_id("址"))
    uni, _, _ = count_text(["我们去河姆渡遗址参观"], lex)
    assert lex.token_id("河姆渡遗址") not in uni and uni[lex.token_id("我们")] == 1


def test_the_user_text_layer_leaves_bracketed_tags_out(tiny_assets):
    from engine.core.lexicon import Lexicon
    from engine.user.userlm import count_text

    lex = Lexicon.load(tiny_assets / "lexicon.npz")
    plain, _, _ = count_text(["我们去北京", "参观"], lex)
    tagged, _, _ = count_text(["我们去北京[参观]", "参观［北京］"], lex)  # an emoticon code is not typed text
    assert tagged == plain


def test_titles_add_their_inner_word_ngrams_and_nothing_else(tiny_data, tmp_path):
    """北京大学 cut as 北京|大学 adds that bigram once; unigrams and sentence boundaries stay the corpus's."""
    from tools.build.counts import BITS, TITLE_NGRAM_COUNT, count_corpus
    from tools.build.words import candidate_words, pypinyin_chars

    words, chars = candidate_words(tiny_data), pypinyin_chars()
    quiet = lambda *a: None  # noqa: E731
    count_corpus(words, chars, tmp_path / "plain.npz", 1, log=quiet, data_dir=tiny_data)
    count_corpus(words, chars, tmp_path / "titles.npz", 1, log=quiet, data_dir=tiny_data,
                 titles=["北京大学", "今天天气很好"])
    plain, titles = np.load(tmp_path / "plain.npz"), np.load(tmp_path / "titles.npz")
    ids = {str(w): i for i, w in enumerate(plain["vocab"])}
    assert (plain["unigram"] == titles["unigram"]).all()

    def counts(d, order):
        return dict(zip(d[f"{order}_keys"].tolist(), d[f"{order}_counts"].tolist()))

    def added(order):
        before, after = counts(plain, order), counts(titles, order)
        return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}

    bj, dx, jt, tq, hh = (ids[w] for w in ("北京", "大学", "今天", "天气", "很"))
    assert TITLE_NGRAM_COUNT >= 1
    assert added("bigram")[bj << BITS | dx] == TITLE_NGRAM_COUNT
    assert added("trigram")[jt << 2 * BITS | tq << BITS | hh] == TITLE_NGRAM_COUNT
    for order in ("bigram", "trigram"):  # no <s> or </s> around a title
        assert all((k >> s) & ((1 << BITS) - 1) not in (1, 2) for k in added(order) for s in (0, BITS, 2 * BITS))


def test_lexicon_format_3_round_trip(tiny_assets):
    """Token text is stored as UTF-16 and read back; the token-list hash is that of the UTF-8 texts,
    as format 2 defined it, so n-gram models and user layers built for the same tokens stay valid."""
    import hashlib
    import json

    from engine.core.lexicon import FORMAT_VERSION, Lexicon

    lex = Lexicon.load(tiny_assets / "lexicon.npz")
    assert lex.meta["version"] == FORMAT_VERSION == 3
    texts = [lex.text(i) for i in range(lex.n_tokens)]
    assert texts[:3] == ["<unk>", "<s>", "</s>"] and "河姆渡遗址" in texts
    assert all(lex.token_id(t) == i for i, t in enumerate(texts))
    with np.load(tiny_assets / "lexicon.npz") as z:
        assert bytes(z["token_blob"]) == "".join(texts).encode("utf-16-le")
        assert json.loads(str(z["meta"]))["token_hash"] == lex.token_hash()
    utf8 = [t.encode("utf-8") for t in texts]
    offsets = np.cumsum([0] + [len(b) for b in utf8]).astype(np.int32)
    assert lex.token_hash() == hashlib.sha1(b"".join(utf8) + offsets.tobytes()).hexdigest()[:16]


def test_a_lexicon_without_its_token_hash_is_refused(tiny_assets, tmp_path):
    import json

    from engine.errors import AssetError
    from engine.core.lexicon import Lexicon, write_aligned_npz

    with np.load(tiny_assets / "lexicon.npz") as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    del meta["token_hash"]
    arrays["meta"] = np.array(json.dumps(meta))
    write_aligned_npz(tmp_path / "lexicon.npz", arrays)
    with pytest.raises(AssetError, match="lacks the token-list hash"):
        Lexicon.load(tmp_path / "lexicon.npz")


# --- libime's language model merged into the n-gram (engine/core/libime.py) -----------------

KENLM_FIXTURES = Path(__file__).parents[1] / "fixtures" / "kenlm"
LN10 = float(np.log(10.0))


@pytest.fixture(scope="module")
def merged_assets(tiny_assets, tmp_path_factory) -> Path:
    """The tiny assets with the tiny KenLM model (tests/fixtures/kenlm) merged in at weight 0.5."""
    import shutil

    from engine.core.libime import main

    out = tmp_path_factory.mktemp("merged")
    shutil.copy(tiny_assets / "lexicon.npz", out / "lexicon.npz")
    lm = KENLM_FIXTURES / "tiny.quant_array_trie.bin"
    merged = tmp_path_factory.mktemp("cache") / "ngram-libime.npz"
    assert main(["--lm", str(lm), "--assets", str(tiny_assets), "--out", str(merged), "--weight", "0.5"]) == 0
    shutil.copy(merged, out / "ngram.npz")
    return out


def _models(assets: Path):
    from engine.core.lexicon import Lexicon
    from engine.core.ngram import NgramModel

    lex = Lexicon.load(assets / "lexicon.npz")
    return lex, NgramModel.load(assets / "ngram.npz", lex.token_hash())


@pytest.mark.parametrize("word, typed_share", [
    ("公园", 2 / 6),  # typed text: 我们 去 公园 | 公园 很 好
    ("我们", 1 / 6),
    ("北京大学", 0.0),  # never typed there: the unigram's half alone
])
def test_a_word_typed_alone_is_priced_by_how_often_typed_text_uses_it(tiny_assets, word, typed_share):
    from engine.core.ngram import TYPED_SHARE

    lex, m = _models(tiny_assets)
    t = np.array([lex.token_id(word)])
    expected = np.log((1 - TYPED_SHARE) * np.exp(m.unigram(t)[0]) + TYPED_SHARE * typed_share)
    assert m.alone(t)[0] == pytest.approx(expected, abs=2e-3)  # float16 storage


def test_a_model_without_typed_counts_prices_a_word_alone_by_its_unigram(tiny_assets, tmp_path):
    import shutil

    from engine.core.ngram import NgramModel

    with np.load(tiny_assets / "ngram.npz") as z:
        arrays = {k: z[k] for k in z.files if k != "typed_logp"}
    np.savez(tmp_path / "ngram.npz", **arrays)
    shutil.copy(tiny_assets / "lexicon.npz", tmp_path / "lexicon.npz")
    lex, _ = _models(tiny_assets)
    old = NgramModel.load(tmp_path / "ngram.npz", lex.token_hash())
    t = np.arange(3, lex.n_tokens)
    assert old.typed_logp is None and np.array_equal(old.alone(t), old.unigram(t))


def test_the_merged_model_keeps_the_typed_counts(tiny_assets, merged_assets):
    _, before = _models(tiny_assets)
    _, after = _models(merged_assets)
    assert before.typed_logp is not None and np.array_equal(after.typed_logp, before.typed_logp)


def test_every_token_knows_its_first_character(tiny_assets):
    lex, _ = _models(tiny_assets)
    first = lex.first_chars()
    for t in range(lex.n_tokens):
        text = lex.text(t)
        want = lex.token_id(text[0]) if t > 2 else None  # <unk>, <s>, </s> begin with no character
        assert first[t] == (want if want is not None else -1), text


def _alone_mass(lex, m) -> np.ndarray:
    """Each token's probability typed alone (NgramModel.alone), 0 for the specials."""
    p = np.exp(m.alone(np.arange(lex.n_tokens)).astype(np.float64))
    p[:3] = 0.0
    return p


@pytest.mark.parametrize("a, b", [("我", "天"), ("北", "公"), ("今", "大")])
def test_a_word_start_is_the_mass_of_the_words_a_character_begins(merged_assets, a, b):
    """log P(a word typed alone begins with c), up to a constant: its words' probabilities typed alone, summed."""
    lex, m = _models(merged_assets)
    p, first = _alone_mass(lex, m), lex.first_chars()
    ta, tb = lex.token_id(a), lex.token_id(b)
    expected = np.log(p[first == ta].sum() / p[first == tb].sum())
    assert m.word_start([ta])[0] - m.word_start([tb])[0] == pytest.approx(expected, abs=0.03)  # float16


def test_word_starts_keep_the_level_of_the_first_characters_unigram(merged_assets):
    """Over the words, weighted by how often each is typed alone, a word start scores on average what the
    unigram of its first character did: the clause-start mixture keeps the balance it was tuned at."""
    lex, m = _models(merged_assets)
    p, first = _alone_mass(lex, m), lex.first_chars()
    words = np.arange(3 + lex.n_chars, lex.n_tokens)
    c = first[words]
    assert np.average(m.word_start(c), weights=p[words]) == pytest.approx(
        np.average(m.unigram(c), weights=p[words]), abs=0.02)


def test_only_the_merged_model_prices_word_starts(tiny_assets, merged_assets):
    """The shipped n-gram has no word-start table (it measured worse there): a word start is its
    character's unigram, as before."""
    _, base = _models(tiny_assets)
    lex, merged = _models(merged_assets)
    chars = np.arange(3, 3 + lex.n_chars)
    assert base.start_logp is None and np.array_equal(base.word_start(chars), base.unigram(chars))
    assert merged.start_logp is not None and not np.array_equal(merged.word_start(chars), merged.unigram(chars))


def _arpa() -> dict:
    from tests.engine.test_kenlm_trie import read_arpa

    return {w: (p * LN10, b * LN10) for order in read_arpa(KENLM_FIXTURES / "tiny.arpa") for w, (p, b) in order.items()}


def _mixed(ours: float, theirs: float) -> float:
    return float(np.logaddexp(np.log(0.5) + ours, np.log(0.5) + theirs))


@pytest.mark.parametrize("word, libime_words", [
    ("北京", ["北京"]),  # a word of both models
    ("我", ["我"]),
    ("我们", ["我", "们"]),  # not a libime word: the chain of its libime words, P(我) P(们 | 我)
])
def test_merged_unigrams_mix_both_models(tiny_assets, merged_assets, word, libime_words):
    lex, before = _models(tiny_assets)
    _, after = _models(merged_assets)
    arpa = _arpa()
    t = np.array([lex.token_id(word)])
    theirs = arpa[(libime_words[0],)][0]
    for v, w in zip(libime_words, libime_words[1:]):  # the ARPA's bigram, else backoff(v) + P(w)
        theirs += arpa[(v, w)][0] if (v, w) in arpa else arpa[(v,)][1] + arpa[(w,)][0]
    assert after.unigram(t)[0] == pytest.approx(_mixed(before.unigram(t)[0], theirs), abs=5e-3)  # float16


def test_libime_bigrams_of_shuru_tokens_are_added(tiny_assets, merged_assets):
    """人们 is no bigram of the tiny corpus; libime has it, so the merged model lists it, mixed."""
    from engine.core.ngram import BITS

    lex, before = _models(tiny_assets)
    _, after = _models(merged_assets)
    u, w = lex.token_id("人"), lex.token_id("们")
    key = np.int64(u) << BITS | w
    assert key not in set(before.bi_keys.tolist()) and key in set(after.bi_keys.tolist())
    ours = before.logprob(np.array([0]), np.array([u]), np.array([w]))[0]
    want = _mixed(ours, _arpa()[("人", "们")][0])
    got = after.logprob(np.array([0]), np.array([u]), np.array([w]))[0]
    assert got == pytest.approx(want, abs=0.05)  # 8-bit score codes
    assert after.meta["merged"]["licence"] == "LGPL-2.1+" and after.meta["merged"]["weight"] == 0.5


def test_merged_backoff_keeps_each_context_normalised(merged_assets):
    """Unlisted continuations of a context share exactly the mass its listed ones leave."""
    from engine.core.ngram import BITS

    lex, m = _models(merged_assets)
    u = lex.token_id("人")
    listed = m.bi_keys[(m.bi_keys >> BITS) == u] & ((1 << BITS) - 1)
    assert len(listed)
    uni = np.exp(m.unigram(np.arange(lex.n_tokens)))
    p_listed = np.exp(m.logprob(np.zeros(len(listed), np.int64), np.full(len(listed), u), listed)).sum()
    backoff = np.log((1 - p_listed) / (1 - uni[listed].sum()))
    assert float(m.uni_backoff[u]) == pytest.approx(backoff, abs=0.02)


def _engine(assets: Path, cache: Path, mode: str):
    from engine import Engine, EngineOptions

    return Engine.load(EngineOptions(assets_dir=assets, use_neural=False, learning=False, libime=mode,
                                     cache_dir=cache))


def test_the_engine_merges_the_system_model_once_and_reuses_it(tiny_assets, tmp_path, monkeypatch):
    lm = tmp_path / "zh_CN.lm"
    lm.write_bytes((KENLM_FIXTURES / "tiny.quant_array_trie.bin").read_bytes())
    monkeypatch.setenv("SHURU_LIBIME_LM", str(lm))
    cache = tmp_path / "cache"
    engine = _engine(tiny_assets, cache, "wait")
    assert "libime's zh_CN.lm" in engine.status and engine.ngram.meta["merged"]["licence"] == "LGPL-2.1+"
    assert engine.libime_merged
    made = (cache / "ngram-libime.npz").stat().st_mtime_ns
    assert "merged" in _engine(tiny_assets, cache, "wait").ngram.meta
    assert (cache / "ngram-libime.npz").stat().st_mtime_ns == made  # loaded, not made again
    os.utime(lm, ns=(made + 10**9, made + 10**9))  # the package was updated: made again
    assert "merged" in _engine(tiny_assets, cache, "wait").ngram.meta
    assert (cache / "ngram-libime.npz").stat().st_mtime_ns != made


@pytest.mark.parametrize("setting, status", [
    ("off", None),  # SHURU_LIBIME_LM=off
    ("absent", None),  # named file missing: the shipped n-gram, quietly
    ("damaged", "libime's model not used"),  # not a KenLM file: said, and the shipped n-gram
])
def test_without_a_usable_system_model_the_shipped_ngram_serves(tiny_assets, tmp_path, monkeypatch, setting, status):
    lm = tmp_path / "zh_CN.lm"
    if setting == "damaged":
        lm.write_bytes(b"not a language model" * 100)
    monkeypatch.setenv("SHURU_LIBIME_LM", "off" if setting == "off" else str(lm))
    engine = _engine(tiny_assets, tmp_path / "cache", "wait")
    assert "merged" not in engine.ngram.meta and "libime's zh_CN.lm" not in engine.status
    assert (status is None and "libime" not in engine.status) or status in engine.status
    assert decoder_readings(engine.decoder(""), "beijing")[0].text == "北京"


def test_a_missing_merged_model_is_made_in_the_background(tiny_assets, tmp_path, monkeypatch):
    import time

    monkeypatch.setenv("SHURU_LIBIME_LM", str(KENLM_FIXTURES / "tiny.quant_array_trie.bin"))
    cache = tmp_path / "cache"
    engine = _engine(tiny_assets, cache, "auto")
    assert "in the background" in engine.status and "merged" not in engine.ngram.meta
    deadline = time.time() + 120
    while (cache / "ngram-libime.npz.lock").exists() and time.time() < deadline:
        time.sleep(0.2)
    assert "merged" in _engine(tiny_assets, cache, "auto").ngram.meta, (cache / "ngram-libime.npz.log").read_text()


def test_a_damaged_merged_model_is_made_again(tiny_assets, tmp_path, monkeypatch):
    monkeypatch.setenv("SHURU_LIBIME_LM", str(KENLM_FIXTURES / "tiny.quant_array_trie.bin"))
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "ngram-libime.npz").write_bytes(b"PK\x03\x04 truncated")
    assert "merged" in _engine(tiny_assets, cache, "wait").ngram.meta


@pytest.mark.parametrize("holder, running", [
    ("alive", True),  # this test's own process holds it
    ("dead", False),  # a merge that was killed: its lock does not block the next one
    ("garbage", False),
])
def test_a_merge_lock_counts_only_while_its_process_lives(tmp_path, holder, running):
    from engine.core.libime import _merging

    pid = {"alive": str(os.getpid()), "dead": str(_dead_pid()), "garbage": "not a pid"}[holder]
    lock = tmp_path / "ngram-libime.npz.lock"
    lock.write_text(pid)
    assert _merging(lock) is running


def _dead_pid() -> int:
    """The id of a process that has exited and been reaped."""
    import subprocess

    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_the_engine_commands_read_a_rebuilt_assets_folder(tiny_assets):
    """`--assets DIR` decodes with a rebuilt lexicon and n-gram, as `tools eval` does to measure them."""
    import json
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    p = subprocess.run([sys.executable, "-m", "engine", "convert", "--assets", str(tiny_assets), "--no-neural",
                        "--libime", "off", "--topk", "3"], input="beijingdaxue\n", capture_output=True, text=True,
                       cwd=root, timeout=120)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["candidates"][0] == "北京大学"
    empty = tiny_assets.parent / "no-assets"
    empty.mkdir(exist_ok=True)
    p = subprocess.run([sys.executable, "-m", "engine", "convert", "--assets", str(empty), "--no-neural",
                        "--libime", "off"], input="beijingdaxue\n", capture_output=True, text=True, cwd=root, timeout=120)
    assert p.returncode != 0 and "lexicon.npz" in p.stderr
