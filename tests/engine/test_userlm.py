"""The user's own text as a statistical layer: counted, saved, loaded, mixed in."""
import numpy as np
import pytest

from engine import AssetError, Engine, EngineOptions
from engine.pinyin.candidates import decoder_readings
from engine.user.userlm import FILE_NAME, AdaptedNgram, UserLM, build_from_files

LAW = "第一条 当事人对人民法院的判决不服的，有权提起上诉。\n" * 20 + "当事人应当依照法律规定提起上诉。\n" * 5


@pytest.fixture
def user_dir(engine, tmp_path):
    text = tmp_path / "law.txt"
    text.write_text(LAW, encoding="utf-8")
    folder = tmp_path / "personal"
    meta = build_from_files([text], engine.lexicon, folder / FILE_NAME)
    assert meta["tokens"] > 0 and meta["sources"] == ["law.txt"]
    return folder


def test_counts_round_trip(engine, user_dir):
    user = UserLM.load(user_dir / FILE_NAME, engine.lexicon)
    a, b = engine.lexicon.token_id("当事人"), engine.lexicon.token_id("对")
    c, total = user.counts_of(np.array([a]), np.array([b]))
    assert c[0] == 20 and total[0] >= 20


def test_the_user_layer_leaves_word_starts_to_the_shipped_model(engine, user_dir):
    """How often words begin with a character (NgramModel.word_start) is the shipped model's, with or
    without the user's text."""
    adapted = AdaptedNgram(engine.ngram, UserLM.load(user_dir / FILE_NAME, engine.lexicon))
    chars = np.array([engine.lexicon.token_id(c) for c in "当事人对"])
    assert np.array_equal(adapted.word_start(chars), engine.ngram.word_start(chars))


def test_engine_mixes_in_the_user_layer(engine, user_dir):
    adapted = Engine.load(EngineOptions(model_dir=user_dir, use_neural=False, learning=False))
    assert isinstance(adapted.ngram, AdaptedNgram) and "your text" in adapted.status
    w = [engine.lexicon.token_id(t) for t in ("当事人", "提起", "上诉")]
    before = engine.ngram.logprob(np.array([w[0]]), np.array([w[1]]), np.array([w[2]]))[0]
    after = adapted.ngram.logprob(np.array([w[0]]), np.array([w[1]]), np.array([w[2]]))[0]
    assert after > before


def test_user_layer_for_another_lexicon_is_ignored_with_a_message(engine, user_dir):
    import json

    path = user_dir / FILE_NAME
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    meta["token_hash"] = "0" * 16
    arrays["meta"] = np.array(json.dumps(meta))
    path.unlink()
    np.savez(path, **arrays)
    with pytest.raises(AssetError, match="another lexicon"):
        UserLM.load(path, engine.lexicon)
    e = Engine.load(EngineOptions(model_dir=user_dir, use_neural=False, learning=False))
    assert not isinstance(e.ngram, AdaptedNgram) and "ignored" in e.status


def test_how_the_user_opens_a_clause_counts_too(engine, user_dir):
    from engine.core.lexicon import BOS

    adapted = Engine.load(EngineOptions(model_dir=user_dir, use_neural=False, learning=False))
    first = engine.lexicon.token_id("当事人")  # opens many of the user's clauses
    args = (np.array([BOS]), np.array([BOS]), np.array([first]))
    assert adapted.ngram.logprob(*args)[0] > engine.ngram.logprob(*args)[0]


def _layer(engine, tmp_path, triples, version=None):
    """A user layer counted from word triples (each clause: <s> <s> a b c </s>)."""
    from collections import Counter

    from engine.core.lexicon import BOS, EOS
    from engine.user.userlm import save_user_lm

    ids = {w: engine.lexicon.token_id(w) for t in triples for w in t}
    uni, bi, tri = Counter(), Counter(), Counter()
    for t in triples:
        toks = [BOS, BOS] + [ids[w] for w in t] + [EOS]
        uni.update(toks[2:])
        bi.update(zip(toks[1:-1], toks[2:]))
        tri.update(zip(toks[:-2], toks[1:-1], toks[2:]))
    path = tmp_path / FILE_NAME
    save_user_lm(path, uni, bi, engine.lexicon, ["t.txt"], tri if version is None else None)
    if version is not None:  # rewrite as an older layer without trigram arrays
        import json

        with np.load(path) as z:
            arrays = {k: z[k] for k in ("meta", "unigram", "bigram_keys", "bigram_counts")}
        meta = json.loads(str(arrays["meta"]))
        meta["version"] = version
        arrays["meta"] = np.array(json.dumps(meta))
        path.unlink()
        np.savez(path, **arrays)
    return UserLM.load(path, engine.lexicon), ids


def test_trigrams_tell_apart_what_follows_a_pair(engine, tmp_path):
    user, ids = _layer(engine, tmp_path, [("我们", "喜欢", "苹果")] * 3 + [("他们", "喜欢", "香蕉")] * 3)
    p = lambda u, v, w: user.adapt_prob(np.array([ids[u]]), np.array([ids[v]]), np.array([ids[w]]))[0]
    assert p("我们", "喜欢", "苹果") > 0.7 > 0.3 > p("他们", "喜欢", "苹果") > 0  # bigram alone: 0.5 each
    assert p("我们", "苹果", "香蕉") == 0  # a pair the user never wrote gains nothing


def test_a_version_1_layer_still_loads_with_bigrams_only(engine, tmp_path):
    user, ids = _layer(engine, tmp_path, [("我们", "喜欢", "苹果")] * 3 + [("他们", "喜欢", "香蕉")] * 3, version=1)
    p = user.adapt_prob(np.array([ids["我们"]]), np.array([ids["喜欢"]]), np.array([ids["苹果"]]))[0]
    assert p == pytest.approx(0.5)


def test_word_bonus_rewards_what_the_user_writes_more_often_than_general_text(engine, tmp_path):
    from engine.user.userlm import WORD_BONUS_CAP, word_bonus

    law = [("当事人", "邮寄", "文书")] * 40 + [("我们", "邮寄", "的")] * 2 + [("诉讼", "的", "当事人")]
    user, ids = _layer(engine, tmp_path, law + [("罚没", "的", "我们")] * 2)
    bonus = word_bonus(user, engine.lexicon, scale=1.0)
    for word, expect in [("邮寄", "capped"),      # 42 of the user's 130 words, rare in general text
                         ("当事人", "positive"),  # 41: a legal word
                         ("罚没", "none"),        # written twice only: not yet evidence of the user's style
                         ("的", "none")]:         # common everywhere: never a penalty either
        b = float(bonus[ids[word]])
        assert {"capped": b == WORD_BONUS_CAP, "positive": 0 < b <= WORD_BONUS_CAP, "none": b == 0}[expect], (word, b)
    assert (bonus >= 0).all() and bonus[:3].tolist() == [0, 0, 0]
    assert not word_bonus(user, engine.lexicon, scale=0.0).any()


def _decoder_with_bonus(engine, words: dict[str, float], cost: float, **options):
    """A decoder whose n-gram is the shipped one (user mix weight 0) plus a word bonus."""
    import dataclasses

    from engine.pinyin.decoder import Decoder, DecoderOptions
    from engine.user.userlm import AdaptedNgram

    bonus = np.zeros(engine.lexicon.n_tokens, dtype=np.float32)
    for w, b in words.items():
        bonus[engine.lexicon.token_id(w)] = b
    empty = UserLM(np.zeros(engine.lexicon.n_tokens, dtype=np.int32), np.zeros(0, dtype=np.int64),
                   np.zeros(0, dtype=np.int32), {})
    ngram = AdaptedNgram(engine.ngram, empty, weight=0.0, word_bonus=bonus)
    return Decoder(engine.lexicon, ngram, weights=dataclasses.replace(engine.weights, user_word_cost=cost),
                   options=DecoderOptions(**options))


@pytest.mark.parametrize("bonus, cost, granted", [
    (3.0, 1.0, 1.0),   # 邮寄 (3 - 1) and 滑雪 (0 - 1): the clause earns 1 nat
    (1.5, 1.0, 0.0),   # 1.5 - 1 - 1 < 0: one user word does not carry a general clause
    (3.0, 0.0, 3.0),   # no cost: every bonus counts
])
def test_a_hypothesis_earns_the_sum_of_its_words_bonus_less_their_cost(engine, bonus, cost, granted):
    pinyin = "youjihuaxue"
    plain = {c.text: c.score for c in decoder_readings(_decoder_with_bonus(engine, {}, cost), pinyin) if c.kind == "sentence"}
    scored = {c.text: c.score for c in decoder_readings(_decoder_with_bonus(engine, {"邮寄": bonus}, cost), pinyin)
              if c.kind == "sentence"}
    assert scored["有机化学"] == pytest.approx(plain["有机化学"], abs=1e-3)  # no bonus word: untouched
    assert scored["邮寄滑雪"] - plain["邮寄滑雪"] == pytest.approx(granted, abs=1e-3)


def test_the_users_words_take_a_clause_that_reads_like_their_text_but_not_general_text(engine):
    lawyer = {"邮寄": 2.5, "送达": 2.0, "文书": 2.0}
    top = lambda d, py: next(c.text for c in decoder_readings(d, py) if c.kind == "sentence")
    assert top(_decoder_with_bonus(engine, {}, 1.0), "youjiwenshu") != "邮寄文书"
    assert top(_decoder_with_bonus(engine, lawyer, 1.0), "youjiwenshu") == "邮寄文书"
    assert top(_decoder_with_bonus(engine, lawyer, 1.0), "youjihuaxue") == "有机化学"


def test_the_users_words_are_proposed_beyond_the_entries_a_reading_lists_first(engine):
    # youji: 有机 游记 游击 邮寄 | 忧急 右击 ... (best prior first); four are proposed per span
    texts = lambda d: [c.text for c in decoder_readings(d, "youji")]
    assert "右击" not in texts(_decoder_with_bonus(engine, {}, 1.0, entries_per_edge=4))
    assert "右击" in texts(_decoder_with_bonus(engine, {"右击": 3.0}, 1.0, entries_per_edge=4))


def test_the_context_free_unigram_mixes_in_the_users_word_frequencies(engine):
    """With no context at all a word scores as (1 - a) P_shipped(w) + a P_user(w)."""
    counts = np.zeros(engine.lexicon.n_tokens, dtype=np.int32)
    mine, other = engine.lexicon.token_id("右击"), engine.lexicon.token_id("有机")
    counts[mine] = 3
    user = UserLM(counts, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32), {})
    adapted = AdaptedNgram(engine.ngram, user, weight=0.1)
    base = engine.ngram.unigram(np.array([mine, other]))
    mixed = adapted.unigram(np.array([mine, other]))
    assert mixed[0] == pytest.approx(np.log(0.9 * np.exp(base[0]) + 0.1), rel=1e-6)
    assert mixed[1] == pytest.approx(np.log(0.9) + base[1], rel=1e-6)
