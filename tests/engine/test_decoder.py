"""Lattice -> candidates with the shipped lexicon and n-gram (statistical scorers)."""
import numpy as np
import pytest

from engine.pinyin.candidates import decoder_readings
from engine.pinyin.decoder import SYLLABLE_FIRST


def texts(engine, pinyin, context=""):
    return [c.text for c in decoder_readings(engine.decoder(context), pinyin)]


@pytest.mark.parametrize("pinyin, expected", [
    ("nihao", "你好"),
    ("woxianghuijia", "我想回家"),
    ("zhongguoren", "中国人"),
    ("bjdx", "北京大学"),
    ("beijdx", "北京大学"),
    ("xian", "西安"),
    ("fangan", "方案"),
    ("zhongguor", "中国人"),
    ("nih", "你好"),
    ("woaibeijingtiananmen", "我爱北京天安门"),
    ("lvse", "绿色"),
    ("yinhang", "银行"),
])
def test_top5_contains_the_expected_conversion(engine, pinyin, expected):
    assert expected in texts(engine, pinyin)[:5]


def test_both_readings_of_an_ambiguous_cut_are_offered(engine):
    cands = texts(engine, "fangan")
    assert "方案" in cands[:5] and "反感" in cands[:5]
    cands = texts(engine, "xian")
    assert "西安" in cands[:10] and "先" in cands[:10]


@pytest.mark.parametrize("pinyin, first, on_first_page", [
    ("shi", "是", ["时", "事", "市", "使"]),
    ("xian", "先", ["现", "线", "县", "西安"]),
    ("de", "的", ["得", "德", "地"]),
    ("ta", "他", ["她", "它"]),
    ("hen", "很", ["恨", "狠"]),
    ("qu", "去", ["区", "取"]),
    ("zhidao", "知道", ["直到", "指导"]),
    ("bjdx", "北京大学", []),
    ("zhon", "中", ["种", "重"]),  # an unfinished syllable with one completion
    ("nih", "你好", ["你会"]),  # an unfinished input keeps its clause end
    ("n", "你", ["那", "能"]),  # one initial: a character typed alone, not a clause (年 ends dates)
    ("w", "我", ["为"]),
    ("sh", "是", ["说", "上"]),
    ("z", "在", ["这"]),
    ("jiuba", "酒吧", ["就把"]),  # one word before two (ScoreWeights.extra_word)
    ("yishi", "意识", ["一时"]),
    ("shide", "是的", ["似的"]),  # 的 leans on 是: a reply typed as one word
    ("youa", "有啊", ["友爱"]),
    ("zheshi", "这是", ["这时"]),  # two words far ahead of one keep their place
])
def test_a_word_typed_alone_lists_what_people_type(engine, pinyin, first, on_first_page):
    """With no text before it, an input is scored as maybe, not surely, a clause's start and end."""
    page = texts(engine, pinyin)[:9]
    assert page[0] == first
    assert set(on_first_page) <= set(page)


@pytest.mark.parametrize("pinyin, split_reading, after", [
    ("hen", "河南", SYLLABLE_FIRST),  # he'n: the n of a whole syllable read as an initial
    ("ta", "天啊", SYLLABLE_FIRST),  # t'a
    ("de", "第二", SYLLABLE_FIRST),  # d'e, e standing for er
    ("ha", "好啊", SYLLABLE_FIRST),  # h'a
    ("zhon", "走红", 4),  # z'hon: an unfinished syllable's readings are ordered by score alone
])
def test_a_whole_syllable_is_not_cut_into_an_abbreviation_before_its_own_words(engine, pinyin, split_reading, after):
    cands = texts(engine, pinyin)
    assert split_reading not in cands[:after]


@pytest.mark.parametrize("pinyin, archaic", [
    ("ning", "年"),  # nian; no word reads it ning
    ("pou", "部"),   # bu
    ("sa", "蔡"),    # cai
    ("hen", "掀"),   # xian
])
def test_a_reading_no_word_uses_stays_off_the_first_page(neural_engine, pinyin, archaic):
    """The neural model does not see readings: it must not carry 年 onto ning's page."""
    assert archaic not in texts(neural_engine, pinyin)[:SYLLABLE_FIRST]


@pytest.mark.parametrize("pinyin, first", [("hang", "行"), ("kuai", "快"), ("le", "了")])
def test_a_second_reading_that_words_use_keeps_its_place(neural_engine, pinyin, first):
    assert texts(neural_engine, pinyin)[0] == first  # 行 hang as in 银行


@pytest.mark.parametrize("pinyin, emoticon, common", [
    ("lei", "泪", "类"),  # [泪]
    ("xx", "嘻嘻", "谢谢"),  # [嘻嘻]
    ("wa", "挖", "哇"),  # [挖鼻屎]
])
def test_weibos_emoticon_codes_do_not_count_as_typed_text(neural_engine, pinyin, emoticon, common):
    """The corpus is read without its bracketed tags (trainer.corpus.strip_tags)."""
    cands = texts(neural_engine, pinyin)
    assert cands.index(common) < (cands.index(emoticon) if emoticon in cands else len(cands))


@pytest.mark.parametrize("pinyin, characters", [
    ("ei", ["诶", "誒", "欸"]),  # e'i read 而i, 二i
    ("gei", ["给", "給"]),  # 个i
    ("kei", ["刻", "尅", "剋"]),  # 可i
])
def test_a_whole_syllable_lists_its_characters_before_readings_that_keep_a_letter_latin(engine, pinyin,
                                                                                      characters):
    cands = texts(engine, pinyin)
    latin = [i for i, c in enumerate(cands) if any(ch.isascii() for ch in c)]
    assert set(characters) <= set(cands) and latin, cands
    assert max(cands.index(c) for c in characters) < min(latin)


def test_a_whole_syllable_still_offers_its_abbreviation_after_its_own_characters(engine):
    cands = texts(engine, "hen")
    assert all(len(c) == 1 for c in cands[:SYLLABLE_FIRST])  # 很 恨 狠 痕 ...
    assert "河南" in cands[SYLLABLE_FIRST:]


def test_the_end_of_a_clause_still_counts_when_it_is_one(engine):
    """A whole clause keeps its end: the sentence-final particle reads as such."""
    assert texts(engine, "nihaoma")[0] == "你好吗"


def test_list_order_three_sentences_then_prefix_words_then_chars(engine):
    """The first page is not filled with near-copies: three whole-input conversions, then 我想."""
    convs = decoder_readings(engine.decoder(), "woxianghuijia")
    kinds = [c.kind for c in convs]
    assert kinds[:3] == ["sentence"] * 3 and kinds[3] == "word"
    assert convs[3].text == "我想" and convs[3].consumed == len("woxiang")
    first_char = kinds.index("char")
    assert "word" not in kinds[first_char:] and "sentence" not in kinds[first_char:]
    assert all(c.consumed == 13 for c in convs if c.kind == "sentence")


@pytest.mark.parametrize("letters", ["daxue", "xiadaxue", "xuexi", "guojia"])
def test_non_gb2312_forms_are_off_the_first_page(engine, letters):
    convs = decoder_readings(engine.decoder(), letters)
    uncommon = [i for i, c in enumerate(convs) if any(engine.lexicon.uncommon(t) for t in c.tokens if t > 2)]
    assert uncommon and min(uncommon) >= 9  # 大學, 學習, 國家 come after every common form
    assert all(i >= len(convs) - len(uncommon) for i in uncommon)


def test_no_duplicate_candidates(engine):
    cands = texts(engine, "shishi")
    assert len(cands) == len(set(cands))


def test_junk_letters_stay_latin(engine):
    cands = texts(engine, "iphone")
    assert cands and cands[0].startswith("i")


def test_apostrophe_forces_the_cut(engine):
    assert texts(engine, "xi'an")[0] in {"西安", "西岸", "喜爱"}
    assert all(len(t) == 2 for t in texts(engine, "xi'an")[:3])


def test_incremental_decoding_equals_decoding_from_scratch(engine):
    """Typing letter by letter (reusing states and what was scored on them) gives exactly the
    one-shot result after every letter, scores included."""
    for pinyin in ["woxianghuijia", "zhongguorenmin", "bjdxxs", "xi'anshi", "xianzaishi"]:
        dec = engine.decoder()
        for k in range(1, len(pinyin) + 1):
            inc = [(c.text, c.consumed, round(c.score, 6)) for c in decoder_readings(dec, pinyin[:k])]
            fresh = [(c.text, c.consumed, round(c.score, 6)) for c in decoder_readings(engine.decoder(), pinyin[:k])]
            assert inc == fresh, pinyin[:k]


def test_backspace_then_retype_reuses_prefix_and_matches(engine):
    dec = engine.decoder()
    decoder_readings(dec, "woxianghuijia")
    decoder_readings(dec, "woxiang")
    again = [c.text for c in decoder_readings(dec, "woxianghuijia")]
    assert again == texts(engine, "woxianghuijia")


def test_context_conditions_the_first_word(engine):
    plain = texts(engine, "gongshi")
    after_agreeing = texts(engine, "gongshi", context="双方达成")  # 达成共识: reach a consensus
    assert after_agreeing[0] == "共识" and plain.index("共识") > 0


def test_beam_width_is_an_option(engine):
    from engine.pinyin.decoder import DecoderOptions, Decoder

    narrow = Decoder(engine.lexicon, engine.ngram, options=DecoderOptions(beam_width=1, nbest=1))
    convs = decoder_readings(narrow, "woxianghuijia")
    assert sum(c.kind == "sentence" for c in convs) == 1


@pytest.mark.parametrize("pinyin, expected", [("sp", "视频"), ("ssm", "是什么"), ("zhhuikaiche", "只会开车")])
def test_first_letter_abbreviations(engine, pinyin, expected):
    assert expected in texts(engine, pinyin)[:10]


@pytest.mark.parametrize("pinyin, width", [("woxianghuijia", 8), ("bjdx", 16), ("beijdx", 16)])
def test_abbreviated_input_gets_the_wider_beam(engine, pinyin, width):
    from engine.pinyin.decoder import Decoder, DecoderOptions

    d = Decoder(engine.lexicon, engine.ngram, options=DecoderOptions(beam_width=8, abbrev_beam_width=16))
    decoder_readings(d, pinyin)
    assert d._width == width


@pytest.mark.parametrize("pinyin, abbreviated", [("nihao", False), ("bjdx", True)])
def test_the_engine_searches_abbreviated_input_with_its_own_beam(engine, pinyin, abbreviated):
    from engine.options import ABBREV_BEAM

    d = engine.decoder()
    decoder_readings(d, pinyin)
    assert d._width == (ABBREV_BEAM if abbreviated else engine.beam_width)


@pytest.mark.parametrize("keys, ranks", [
    ([], []),
    ([7], [0]),
    ([5, 5, 5], [0, 1, 2]),
    ([3, 1, 3, 1, 2, 3], [0, 0, 1, 1, 0, 2]),
])
def test_rank_in_group_counts_earlier_equal_keys(keys, ranks):
    import numpy as np

    from engine.pinyin.decoder import _rank_in_group

    assert _rank_in_group(np.array(keys, dtype=np.int64)).tolist() == ranks


def _beam_states(decoder):
    from collections import Counter

    return [Counter(zip(st.beam.w1.tolist(), st.beam.w2.tolist())) for st in decoder.states[1:] if len(st.beam)]


@pytest.mark.parametrize("per_state", [1, 2, 3])
def test_beam_keeps_at_most_per_state_hypotheses_per_ngram_state(engine, per_state):
    from engine.pinyin.decoder import Decoder, DecoderOptions

    d = Decoder(engine.lexicon, engine.ngram, options=DecoderOptions(beam_width=8, per_state=per_state))
    decoder_readings(d, "jintiantianqizhenhaowomenqugongyuanwanba")
    most = max(max(c.values()) for c in _beam_states(d))
    assert most == per_state  # never more, and long inputs fill the allowance


def test_second_hypothesis_per_state_gives_alternatives_that_differ_early(engine):
    """Keeping one past per (last two words) leaves whole-input alternatives that differ only
    at the end; a second one per state brings back those that differ earlier."""
    from engine.pinyin.decoder import Decoder, DecoderOptions

    def early_variants(per_state):
        d = Decoder(engine.lexicon, engine.ngram, options=DecoderOptions(beam_width=8, per_state=per_state))
        sents = [c for c in decoder_readings(d, "woxiangqubeijingkankantiananmen") if c.kind == "sentence"]
        best = sents[0]
        return [c.text for c in sents[1:] if c.tokens[-2:] == best.tokens[-2:]]

    assert early_variants(1) == []
    assert early_variants(2)


def test_engine_passes_its_per_state_to_decoders(engine):
    from engine.pinyin.decoder import DecoderOptions

    assert engine.decoder().opt.per_state == engine.per_state == DecoderOptions.per_state
    engine.configure(per_state=1)
    try:
        assert engine.decoder().opt.per_state == 1
    finally:
        engine.configure(per_state=None)


@pytest.mark.parametrize("table, syllables, expected", [
    ((0.2, 0.2, 0.5, 1.0), 1, 0.2),
    ((0.2, 0.2, 0.5, 1.0), 3, 0.5),
    ((0.2, 0.2, 0.5, 1.0), 12, 1.0),  # longer inputs take the last entry
    ((0.5,), 7, 0.5),
    ((0.3, 0.6), 0, 0.3),
])
def test_per_length_tables(table, syllables, expected):
    from engine.pinyin.decoder import _by_length

    assert _by_length(table, syllables) == expected


@pytest.mark.parametrize("share, a, b, expected", [
    (1.0, -2.0, -9.0, -2.0),  # surely a clause start: the score after <s>
    (0.0, -2.0, -9.0, -9.0),  # surely not: the unigram
    (0.5, -3.0, -3.0, -3.0),  # both agree
    (0.25, 0.0, -50.0, float(np.log(0.25))),
])
def test_start_mixture(share, a, b, expected):
    from engine.pinyin.decoder import _mix

    assert float(_mix(share, np.array([a]), np.array([b]))[0]) == pytest.approx(expected, abs=1e-9)


def test_context_turns_the_mixture_off(engine):
    """After text, the first word is read after that text's words, as before: no unigram mixture."""
    dec = engine.decoder("我们")
    decoder_readings(dec, "shi")
    assert not dec._free_start and engine.decoder()._free_start


class FakeReader:
    """A reading model that knows one text: 0 for it, -50 for any other; records what it was asked."""

    def __init__(self, liked: str, reach: int = 100):
        self.liked, self.reach, self.asked = liked, reach, []

    def score_readings(self, context, texts, typed):
        self.asked.append((context, list(texts), [list(t) for t in typed]))
        return np.array([0.0 if t == self.liked else -50.0 for t in texts])

    def fits(self, context, n_chars):
        return n_chars <= self.reach


@pytest.fixture
def wide_margin(monkeypatch):
    """Every one of the best READ_TOP readings is near enough to be read (the statistical scorers alone
    leave wider gaps than the shipped margin, which is tuned with the neural scorer)."""
    import engine.pinyin.decoder as decoder

    monkeypatch.setattr(decoder, "READ_MARGIN", 6.0)


def reader_first(engine, pinyin, reader, weight, context="今天"):
    from dataclasses import replace

    from engine.pinyin.decoder import Decoder, ScoreWeights

    d = Decoder(engine.lexicon, engine.ngram, weights=replace(ScoreWeights(), reader=weight), reader=reader,
                context=context)
    return [c.text for c in decoder_readings(d, pinyin) if c.kind == "sentence"]


@pytest.mark.parametrize("pinyin, liked, weight, reach, first", [
    ("shipin", "食品", 1.0, 100, "食品"),    # a reading among the best READ_TOP moves to the top
    ("shipin", "食品", 0.0, 100, "视频"),    # weight 0: the reading model is not asked
    ("shipin", "食品", 1.0, 1, "视频"),      # beyond its reach (fits() False): the search's order
    ("shipin", "是拼音", 1.0, 100, "视频"),  # a text that is not among the readings changes nothing
])
def test_the_reading_model_reorders_the_best_whole_input_readings(engine, wide_margin, pinyin, liked, weight, reach,
                                                                  first):
    reader = FakeReader(liked, reach)
    got = reader_first(engine, pinyin, reader, weight)
    plain = reader_first(engine, pinyin, None, 0.0)
    assert got[0] == first
    assert sorted(got) == sorted(plain)  # the same readings, only re-ordered
    assert bool(reader.asked) == (weight > 0 and reach > 1)


@pytest.mark.parametrize("pinyin, context, read", [
    ("shipin", "我爱吃", True),
    ("shipin", "", False),     # no text before it: the model measured no gain there (docs/TUNING.md)
    ("shipia", "我爱吃", False),  # an unfinished last syllable (pia: pian, piao): the next key changes it
    ("sp", "我爱吃", False),     # initials only: the same
])
def test_only_finished_input_typed_after_text_is_read(engine, wide_margin, pinyin, context, read):
    reader = FakeReader("食品")
    reader_first(engine, pinyin, reader, 1.0, context=context)
    assert bool(reader.asked) == read


def test_readings_far_behind_the_best_are_not_read(engine, monkeypatch):
    import engine.pinyin.decoder as decoder

    monkeypatch.setattr(decoder, "READ_MARGIN", 0.0)  # only the best is near enough: nothing to re-order
    reader = FakeReader("食品")
    assert reader_first(engine, "shipin", reader, 1.0)[0] == "视频" and not reader.asked


@pytest.mark.parametrize("pinyin, context, typed", [
    ("shipin", "今天", ["shi", "pin"]),        # full syllables
    ("bjdaxue", "今天", ["b", "j", "da", "xue"]),  # initials, as typed
    ("zhongguoren", "我是", ["zhong", "guo", "ren"]),
])
def test_the_reading_model_reads_what_was_typed_for_each_character(engine, monkeypatch, pinyin, context, typed):
    import engine.pinyin.decoder as decoder

    monkeypatch.setattr(decoder, "READ_MARGIN", float("inf"))
    reader = FakeReader("")
    reader_first(engine, pinyin, reader, 1.0, context=context)
    asked_context, texts, syllables = reader.asked[-1]
    assert asked_context == context
    assert syllables[0] == typed
    assert all(len(t) == len(s) for t, s in zip(texts, syllables))


@pytest.fixture(scope="module")
def neural_engine(tmp_path_factory):
    """The shipped assets with the shipped neural character model."""
    from engine import Engine, EngineOptions

    return Engine.load(EngineOptions(learning=False, personal=False, quick_phrases=False, libime="off",
                                     history_path=tmp_path_factory.mktemp("hist") / "history.json"))


def _readings_with(engine, pinyin, context, **weights):
    """The decoder's readings of ``pinyin`` with these ScoreWeights changed."""
    from dataclasses import replace

    options = engine.options
    engine.options = replace(options, weights=replace(engine.weights, **weights))
    try:
        return decoder_readings(engine.decoder(context), pinyin)
    finally:
        engine.options = options


def _scored(engine, pinyin, context, free_rest):
    """Readings and scores with ScoreWeights.free_rest set to ``free_rest`` (and no extra_word cost,
    which also puts 这部 first)."""
    return [(c.text, round(c.score, 6)) for c in _readings_with(engine, pinyin, context, free_rest=free_rest,
                                                                  extra_word=0.0)]


@pytest.mark.parametrize("pinyin, context, changes", [
    ("zhebu", "", True),  # typed alone: 这部 is read as a word, not a sentence opening (这不)
    ("zhebu", "我觉得", False),  # with text before it the first word is never a maybe-start
    ("zhongguorenmin", "", False),  # four syllables and more read as a clause
])
def test_a_word_typed_alone_is_not_read_as_a_sentence_opening(neural_engine, pinyin, context, changes):
    """With no text before it, the neural model's reading of the first word's later characters (after
    <s>) counts only ScoreWeights.free_rest in the part where the word begins no clause."""
    whole = _scored(neural_engine, pinyin, context, 1.0)
    share = _scored(neural_engine, pinyin, context, neural_engine.weights.free_rest)
    assert (whole != share) == changes
    if changes:
        assert (whole[0][0], share[0][0]) == ("这不", "这部")


@pytest.mark.parametrize("pinyin, context, changes", [
    ("yijian", "", {"一件", "一键"}),  # typed alone: words beginning with 一 are priced by how often words do
    ("yi", "", set()),  # a one-character word keeps its unigram: it begins and ends there
    ("yijian", "我的", set()),  # text before it: the first word is never a maybe-start
    ("yijianbuhe", "", set()),  # four syllables and more read as a clause
])
def test_a_first_word_alone_is_priced_by_how_often_words_begin_with_its_character(neural_engine, pinyin, context,
                                                                                  changes):
    """With no text before it, the first character of a first word of two characters or more stands
    in for the context model as how often a word typed alone begins with it (NgramModel.word_start,
    libime's merged model carries it); a one-character word is priced by its own unigram."""
    model = neural_engine.ngram
    chars = np.arange(3, 3 + neural_engine.lexicon.n_chars)
    table = np.concatenate([np.zeros(3), model.unigram(chars)])
    table[neural_engine.lexicon.token_id("一")] += 2.0  # words beginning with 一: far more likely to start a word
    before = {c.text: c.score for c in decoder_readings(neural_engine.decoder(context), pinyin)}
    shipped, model.start_logp = model.start_logp, table.astype(np.float16)
    try:
        after = {c.text: c.score for c in decoder_readings(neural_engine.decoder(context), pinyin)}
    finally:
        model.start_logp = shipped
    moved = {t for t in before.keys() & after.keys() if abs(after[t] - before[t]) > 0.05}
    assert changes <= moved and all(t.startswith("一") and len(t) > 1 for t in moved)
    assert bool(moved) == bool(changes)


def _readings_by_words(engine, pinyin, context, extra_word):
    """Whole-input readings -> score, keyed by their words, with ScoreWeights.extra_word set."""
    return {tuple(c.pieces): c.score for c in _readings_with(engine, pinyin, context, extra_word=extra_word)
            if c.kind == "sentence"}


@pytest.mark.parametrize("pinyin, context, words, extra", [
    ("zhebu", "", ("这", "不"), 1),  # typed alone, two words: one extra
    ("zhebu", "", ("这部",), 0),  # one word
    ("shide", "", ("是", "的"), 0),  # 的 leans on the word before it: one word as typed
    ("youa", "", ("有", "啊"), 0),
    ("zhebu", "我觉得", ("这", "不"), 0),  # after text the input is part of a sentence
    ("tamenhao", "", ("他们", "好"), 0),  # three syllables read as a clause
    ("zm", "", None, 0),  # initials (bjdx) read as a phrase: no reading pays
])
def test_a_word_typed_alone_pays_for_each_extra_word(engine, pinyin, context, words, extra):
    """A short input with no text before it is one word: each reading pays ScoreWeights.extra_word per
    word after its first, clitics (的, 啊) aside."""
    without = _readings_by_words(engine, pinyin, context, 0.0)
    cost = engine.weights.extra_word
    assert cost < 0
    with_cost = _readings_by_words(engine, pinyin, context, cost)
    if words is None:
        assert with_cost == without
    else:
        assert with_cost[words] == pytest.approx(without[words] + extra * cost)
