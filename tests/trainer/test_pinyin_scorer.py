"""engine.pinyin.pinyin_scorer against PyTorch: a tiny random PinyinLM exported with
trainer.pinyin_export, scored by the engine (float16 caches) and by PinyinLM.forward with
trainer.pinyin_model's restricted scoring; the encoder rows; extending in pieces; load
errors; syllable ids."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from engine.errors import FormatVersionError, PinyinFormatVersionError, PinyinModelError, PinyinModelMismatchError
from engine.pinyin.pinyin_format import SYL_NONE
from engine.pinyin.pinyin_scorer import WHOLE_READ_CHARS, PinyinScorer
from engine.pinyin.syllables import SYLLABLES
from tests.trainer.test_pinyin_model import FIXTURE, TABLE, tiny_model
from trainer.export import convert_float16_io
from trainer.pinyin_export import (EncoderStep, decoder_check_feeds, export_decoder, upgrade_pinyin_model_dir,
                                   write_pinyin_model_dir)
from trainer.pinyin_rank import list_loss, reading_batch, reading_logprobs
from trainer.vocab import build_small_vocab

TOL = 1e-2  # float16 caches and log-probabilities (half a float16 step is 0.002 at -4 to -8, per character)
CONTEXT = "环青海湖自行车赛进入第四赛段"
# (context, clause, its syllables): full syllables, an initial (h), chars their syllable cannot
# be (好 as ma) and a syllable without candidates (biang): the last two score unrestricted
CLAUSES = [("", "你好吗", "ni hao ma"), ("中国", "银行走", "yin h zou"), (CONTEXT, "绿略", "lv lve"),
           (CONTEXT[:5], "你好", "biang ma"), (CONTEXT[:1], "专家号", "zhuan jia hao")]


@pytest.fixture(scope="module")
def vocab():
    return build_small_vocab(FIXTURE.read_text(encoding="utf-8") + "你好吗银行走绿略")


@pytest.fixture(scope="module", params=[False, True], ids=["lookahead-2", "bidirectional"])
def model(vocab, request):
    return tiny_model(vocab, lookahead=2, trained_proj=True, bidirectional=request.param)


@pytest.fixture(scope="module")
def model_dir(model, vocab, tmp_path_factory):
    out = tmp_path_factory.mktemp("pinyin") / "model"
    write_pinyin_model_dir(model, vocab, TABLE, out)
    return out


@pytest.fixture(scope="module")
def scorer(model_dir):
    return PinyinScorer.load(model_dir)


def torch_score(model, scorer, context: str, clause: str, syl: np.ndarray) -> float:
    """Restricted log P(clause | context) as training scores a reading (trainer.pinyin_rank)."""
    with torch.no_grad():
        return float(reading_logprobs(model, reading_batch(scorer.token_id, context, [clause], [list(syl)]))[0])


def engine_rows(scorer, state, syl: np.ndarray) -> np.ndarray:
    return scorer.encode(syl[None], state.next_position)[0]


def test_restricted_scores_equal_torch(model, scorer):
    states, texts, rows, syls, want = [], [], [], [], []
    for context, clause, readings in CLAUSES:
        syl = scorer.syllable_ids(readings.split())
        state = scorer.start(context)
        enc = engine_rows(scorer, state, syl)
        states.append(state)
        texts.append(clause)
        rows.append(enc[state.length:])
        syls.append(syl)
        want.append(torch_score(model, scorer, context, clause, syl))
    got, new = scorer.extend(states, texts, rows, syls)  # one batch: rows of different lengths
    assert np.allclose(got, want, atol=TOL), (got, want)
    assert all(s.unread == (scorer.token_id[t[-1]],) and s.deferred == 0 for s, t in zip(new, texts))
    assert got[3] > -2 * np.log(scorer.vocab_size) - 1  # unrestricted fallback, not -inf


@pytest.mark.parametrize("pieces", [(1, 1, 1, 1), (2, 2), (3, 1), (1, 3)])
def test_extending_in_pieces_equals_at_once(scorer, pieces):
    clause, syl = "银行你好", scorer.syllable_ids("yin hang ni h".split())
    state = scorer.start(CONTEXT)
    enc = engine_rows(scorer, state, syl)
    whole, _ = scorer.extend([state], [clause], [enc[state.length:]], [syl])
    total, t, s = 0.0, 0, state
    for n in pieces:
        lp, (s,) = scorer.extend([s], [clause[t:t + n]], [enc[s.length:s.next_position + n]], [syl[t:t + n]])
        total, t = total + lp[0], t + n
    assert total == pytest.approx(whole[0], abs=TOL)
    assert s.length == s.next_position == state.next_position + len(clause)  # c_m unread, at that position


def test_encode_equals_torch(model, scorer):
    syl = scorer.syllable_ids("ni hao zh yin xyz".split())[None].repeat(2, 0)
    got = scorer.encode(syl, 3)
    row = torch.from_numpy(np.concatenate([np.full((2, 3), SYL_NONE), syl], 1))
    with torch.no_grad():
        want = EncoderStep(model)(row).numpy()
    assert got.shape == (2, 8, model.lm.cfg.d_model)
    assert np.abs(got - want).max() < 1e-4


def test_extend_checks_its_rows(scorer):
    state = scorer.start(CONTEXT)
    with pytest.raises(ValueError, match="deferred positions needs"):
        scorer.extend([state], ["你"], [np.zeros((1, scorer.d_model), np.float32)], [np.array([2])])


@pytest.mark.parametrize("syllable, expected", [
    ("ni", 2 + SYLLABLES.index("ni")), ("hao", 2 + SYLLABLES.index("hao")), ("lv", 2 + SYLLABLES.index("lv")),
    ("lue", 2 + SYLLABLES.index("lve")), ("zh", 2 + len(SYLLABLES) + 14), ("b", 2 + len(SYLLABLES)),
    ("a", 2 + SYLLABLES.index("a")), ("xyz", SYL_NONE), ("", SYL_NONE)])
def test_syllable_ids(scorer, syllable, expected):
    assert scorer.syllable_ids([syllable]).tolist() == [expected]
    assert TABLE.tokens[expected] == {"lue": "lve", "xyz": "<none>", "": "<none>"}.get(syllable, syllable)


def _broken(model_dir, tmp_path, change):
    bad = tmp_path / "bad"
    shutil.copytree(model_dir, bad)
    change(bad)
    return bad


def _manifest(path, **changes):
    m = json.loads((path / "manifest.json").read_text())
    (path / "manifest.json").write_text(json.dumps({**m, **changes}))


def test_a_wrong_format_version_is_refused(model_dir, tmp_path):
    bad = _broken(model_dir, tmp_path, lambda p: _manifest(p, format_version=99))
    with pytest.raises(PinyinFormatVersionError, match="v99, expected 'shuru-pinyin-model' v3.*re-export") as e:
        PinyinScorer.load(bad)
    assert isinstance(e.value, FormatVersionError)


@pytest.mark.parametrize("version", [1, 2])
def test_an_earlier_model_dir_loads_and_upgrades_to_the_same_scores(model, model_dir, tmp_path, version):
    """A personal reader of an earlier format (1: float32 decoder caches and log-probabilities; 2:
    float16, the past's keys and values returned too) still loads; tools.upgrade_models rewrites
    it, and it scores the same readings the same."""
    old = tmp_path / f"v{version}"
    shutil.copytree(model_dir, old)
    export_decoder(model, old / "decoder.onnx")  # float32 I/O, past and new returned: format version 1
    if version == 2:
        convert_float16_io(old / "decoder.onnx", decoder_check_feeds(model.lm.cfg))
    _manifest(old, format_version=version)
    texts, typed = ["你好吗", "银行"], [["ni", "hao", "ma"], ["yin", "h"]]
    before = PinyinScorer.load(old)
    assert before.cache_dtype == (np.float32 if version == 1 else np.float16)
    want = before.score_readings(CONTEXT, texts, typed)
    assert upgrade_pinyin_model_dir(old) is True and upgrade_pinyin_model_dir(old) is False
    after = PinyinScorer.load(old)
    assert after.cache_dtype == np.float16 and after.manifest["format_version"] == 3
    assert np.allclose(after.score_readings(CONTEXT, texts, typed), want, atol=TOL)


def test_a_mismatched_vocab_is_refused(model_dir, tmp_path):
    bad = _broken(model_dir, tmp_path, lambda p: p.joinpath("vocab.txt").write_text(
        p.joinpath("vocab.txt").read_text(encoding="utf-8") + "龘\n", encoding="utf-8"))
    with pytest.raises(PinyinModelMismatchError, match="vocab.txt sha1 .* does not match the manifest"):
        PinyinScorer.load(bad)


def test_a_missing_file_is_refused(model_dir, tmp_path):
    bad = _broken(model_dir, tmp_path, lambda p: p.joinpath("encoder.onnx").unlink())
    with pytest.raises(PinyinModelError, match="missing encoder.onnx"):
        PinyinScorer.load(bad)


def test_a_damaged_graph_is_refused(model_dir, tmp_path):
    bad = _broken(model_dir, tmp_path, lambda p: p.joinpath("decoder.onnx").write_bytes(b"not onnx"))
    with pytest.raises(PinyinModelError, match="decoder.onnx is damaged or unreadable"):
        PinyinScorer.load(bad)


def test_score_readings_equals_torch(model, scorer):
    """Whole readings of one input in one call (what the search asks) score as training does."""
    readings = [("你好吗", "ni hao ma"), ("银行走", "yin h zou"), ("你好", "biang ma"), ("绿略", "lv lve")]
    got = scorer.score_readings(CONTEXT, [t for t, _ in readings], [r.split() for _, r in readings])
    want = [torch_score(model, scorer, CONTEXT, t, scorer.syllable_ids(r.split())) for t, r in readings]
    assert np.allclose(got, want, atol=TOL), (got, want)
    firsts = scorer.read_readings(CONTEXT, [t for t, _ in readings], [r.split() for _, r in readings])[1]
    assert not np.allclose(firsts, 0) and np.all(firsts <= 0)
    assert scorer.fits(CONTEXT, 8) and not scorer.fits(CONTEXT, scorer.max_len)
    # a bidirectional model re-reads readings whole at each key: long ones are left to the search
    assert scorer.fits(CONTEXT, WHOLE_READ_CHARS + 1) == (scorer.lookahead < scorer.max_len)


def test_readings_of_one_cut_read_their_context_once(model_dir):
    """The context a state defers is read once for all the readings of one cut, the cuts in one run:
    each reading's run reads only its own characters, and attends to the whole context, however
    long, as a reading read whole in one run does (extend() from the start state)."""
    long_context = (CONTEXT * 3)[-30:]  # past the attention window (neural.WINDOW) of a kept state
    readings = [("你好吗", "ni hao ma"), ("你号码", "ni hao ma"), ("你好", "ni hao"), ("银行走", "yin h zou")]
    for context in (CONTEXT, long_context):
        scorer = PinyinScorer.load(model_dir)
        start = scorer._start(context)
        read = []
        run = scorer.decoder.run
        scorer.decoder.run = lambda names, feeds: read.append(feeds["tokens"].shape) or run(names, feeds)
        typed = [r.split() for _, r in readings]
        got = scorer.score_readings(context, [t for t, _ in readings], typed)
        # the context read once per cut (ni hao ma, ni hao, yin h zou), in one run; then each reading's characters
        assert read[0] == (3, start.deferred)
        assert sum(b * t for b, t in read[1:]) == sum(len(t) for t, _ in readings)
        for (text, _), syllables, score in zip(readings, typed, got):
            syl = scorer.syllable_ids(syllables)
            rows = engine_rows(scorer, start, syl)[start.length:start.next_position + len(text)]
            whole = scorer.extend([start], [text], [rows], [syl])[0][0]
            assert abs(score - whole) < 1e-6, (context, text, score, whole)


def test_the_engine_uses_a_pinyin_model_and_says_so(model_dir, tmp_path):
    from engine import Engine, EngineOptions

    e = Engine.load(EngineOptions(pinyin_model=model_dir, learning=False, personal=False, libime="off"))
    assert e.reader is not None and "pinyin-reading model" in e.status and e.weights.reader > 0
    s = e.new_session()
    s.insert("nihao")
    assert s.view().candidates  # the tiny model re-orders; the list is there
    broken = _broken(model_dir, tmp_path, lambda p: p.joinpath("decoder.onnx").write_bytes(b"not onnx"))
    e = Engine.load(EngineOptions(pinyin_model=broken, learning=False, personal=False, libime="off"))
    assert e.reader is None and e.weights.reader == 0
    assert "pinyin-reading model not used" in e.status and "decoder.onnx is damaged" in e.status
    s = e.new_session()
    s.insert("nihao")
    assert s.view().candidates[0].text == "你好"


def test_readings_typed_key_by_key_score_as_from_scratch(model, model_dir):
    """The prefix states kept between keys give the scores a fresh scorer gives."""
    kept = PinyinScorer.load(model_dir)
    steps = [(["你好"], ["ni hao"]), (["你好吗", "你号码"], ["ni hao ma", "ni hao ma"]),
             (["你好吗你", "你好吗"], ["ni hao ma ni", "ni hao ma"]),
             (["你好吗你好", "你好吗你号"], ["ni hao ma ni hao", "ni hao ma ni hao"]),
             (["你好吗银行走绿略", "你好吗银行"], ["ni hao ma yin h zou lv lve", "ni hao ma yin hang"])]
    for context in (CONTEXT, "中国"):
        for texts, readings in steps:
            typed = [r.split() for r in readings]
            fresh = PinyinScorer.load(kept.model_dir)
            got = kept.score_readings(context, texts, typed)
            assert np.allclose(got, fresh.score_readings(context, texts, typed), atol=TOL)
            # the first char's term, from a kept prefix as from scratch
            first = got - kept.score_readings(context, texts, typed, skip_first=True)
            assert np.allclose(first, fresh.read_readings(context, texts, typed)[1], atol=TOL)
            want = [torch_score(model, kept, context, t, kept.syllable_ids(r)) for t, r in zip(texts, typed)]
            assert np.allclose(got, want, atol=TOL)
    assert bool(kept._prefixes) == (kept.lookahead < kept.max_len)  # states kept where rows stay valid



def test_readings_of_one_input_score_in_one_batch_as_the_engine_scores_them(model, scorer):
    """Readings of different lengths, padded into one batch (what the list loss reads)."""
    readings = [("你好吗", "ni hao ma"), ("银行", "yin h"), ("绿略你好", "lv lve ni hao")]
    typed = [r.split() for _, r in readings]
    syl = [list(scorer.syllable_ids(r)) for r in typed]
    batch = reading_batch(scorer.token_id, CONTEXT, [t for t, _ in readings], syl)
    with torch.no_grad():
        got = reading_logprobs(model, batch).numpy()
    assert np.allclose(got, scorer.score_readings(CONTEXT, [t for t, _ in readings], typed), atol=TOL)
    with pytest.raises(ValueError, match="2 syllables for the 3 characters"):
        reading_batch(scorer.token_id, "", ["你好吗"], [[2, 3]])


# (engine totals, model scores, gold, weight): the loss of a list is low where the gold leads
LISTS = [([-10.0, -12.0], [-5.0, -5.0], 0, 0.5, "low"), ([-10.0, -12.0], [-5.0, -5.0], 1, 0.5, "high"),
         ([-10.0, -10.5], [-9.0, -3.0], 1, 1.0, "low"), ([-10.0, -10.5], [-9.0, -3.0], 1, 0.0, "high")]


@pytest.mark.parametrize("totals,scores,gold,weight,expected", LISTS)
def test_the_list_loss_rewards_a_gold_the_weighted_sum_puts_first(totals, scores, gold, weight, expected):
    loss = float(list_loss(torch.tensor(totals), torch.tensor(scores), gold, weight))
    assert (loss < np.log(2)) == (expected == "low")
