"""The engine's neural scorer against the trainer's model: parity across the ONNX boundary,
cached vs uncached scoring, mixed cache lengths in one batch, and use inside the decoder."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from engine import Engine, EngineOptions  # noqa: E402
from engine.core.neural import KEEP, NeuralScorer  # noqa: E402
from engine.pinyin.candidates import decoder_readings  # noqa: E402
from trainer.export import write_model_dir  # noqa: E402
from trainer.model import MODEL_PRESETS, CharLM  # noqa: E402
from trainer.vocab import build_small_vocab  # noqa: E402

TEXT = "我想回家你好北京大学中国人民今天天气很好我们一起去吃饭吧西安方案"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A randomly initialised tiny model exported the way the shipped one is."""
    torch.manual_seed(0)
    vocab = build_small_vocab(TEXT)
    from dataclasses import replace

    cfg = replace(MODEL_PRESETS["tiny"], vocab_size=len(vocab))
    model = CharLM(cfg).eval()
    out = tmp_path_factory.mktemp("model") / "model"
    write_model_dir(model, vocab, out, training={"note": "test"}, metrics={})
    return model, vocab, out


def torch_logprob(model, vocab, context: str, text: str) -> float:
    """log P(text | <bos> context) from one uncached torch forward."""
    ctx = [2] + [vocab.tokens.index(c) for c in context]
    ids = ctx + [vocab.tokens.index(c) for c in text]
    with torch.no_grad():
        logits, _ = model(torch.tensor([ids]))
        lp = torch.log_softmax(logits.float(), -1)[0]
    return float(sum(lp[len(ctx) - 1 + k, ids[len(ctx) + k]] for k in range(len(text))))


def test_onnx_scores_equal_torch(tiny_model):
    model, vocab, path = tiny_model
    scorer = NeuralScorer.load(path)
    for context, text in [("", "我想回家"), ("今天天气很好", "我们"), ("你好", "北")]:
        lp, _ = scorer.extend([scorer.start(context)], [text])
        assert lp[0] == pytest.approx(torch_logprob(model, vocab, context, text), abs=1e-3)


def test_cached_pieces_equal_one_piece(tiny_model):
    _, _, path = tiny_model
    scorer = NeuralScorer.load(path)
    s0 = scorer.start("你好")
    whole, _ = scorer.extend([s0], ["北京大学"])
    lp1, (s1,) = scorer.extend([s0], ["北京"])
    lp2, _ = scorer.extend([s1], ["大学"])
    assert whole[0] == pytest.approx(lp1[0] + lp2[0], abs=2e-2)  # states keep float16 caches


def test_batch_with_different_cache_lengths_equals_rows_alone(tiny_model):
    _, _, path = tiny_model
    scorer = NeuralScorer.load(path)
    short, long_ = scorer.start(""), scorer.start("今天天气很好我们一起去")
    pairs = [(short, "吃饭吧"), (long_, "吃饭"), (long_, "西安方案"), (short, "我")]
    batched, states = scorer.extend([p[0] for p in pairs], [p[1] for p in pairs])
    for (state, text), lp, st in zip(pairs, batched, states):
        alone, (st1,) = scorer.extend([state], [text])
        assert lp == pytest.approx(alone[0], abs=1e-4)
        assert np.allclose(st.next_logprobs, st1.next_logprobs, atol=1e-4)


def test_decoder_uses_the_neural_model(tiny_model, tmp_path):
    _, _, path = tiny_model
    engine = Engine.load(EngineOptions(model_dir=path, learning=False))
    assert engine.neural is not None and "neural" in engine.status
    s = engine.new_session()
    for ch in "woxianghuijia":
        s.insert(ch)
    cands = [c.text for c in s.candidates()]
    assert "我想回家" in cands[:10]


def test_vocab_mismatch_falls_back(tiny_model, tmp_path):
    import shutil

    _, _, path = tiny_model
    broken = tmp_path / "m"
    shutil.copytree(path, broken)
    (broken / "vocab.txt").write_text("<pad>\n<unk>\n<bos>\n<p>\n错\n", encoding="utf-8")
    engine = Engine.load(EngineOptions(model_dir=broken, learning=False))
    assert engine.neural is None and "vocabulary" in engine.status


def test_score_without_states_equals_extend(tiny_model):
    _, _, path = tiny_model
    scorer = NeuralScorer.load(path)
    states = [scorer.start(""), scorer.start("今天天气很好"), scorer.start("你好")]
    texts = ["北京大学", "我", "吃饭吧"]
    full, _ = scorer.extend(states, texts)
    assert np.allclose(scorer.score(states, texts), full, atol=1e-4)
    advanced = scorer.advance(states, texts)
    assert [s.length for s in advanced] == [s.length + len(t) for s, t in zip(states, texts)]


def test_first_plus_rest_equals_whole(tiny_model):
    _, _, path = tiny_model
    scorer = NeuralScorer.load(path)
    states = [scorer.start("你好"), scorer.start("")]
    texts = ["北京大学", "吃"]
    whole, _ = scorer.extend(states, texts)
    _, rest = scorer.advance_scored(states, texts)
    assert np.allclose(scorer.first_logprob(states, texts) + rest, whole, atol=1e-4)
    # the score-only path (hypotheses ending in the unfinished last syllable) agrees
    assert np.allclose(scorer.rest_logprob(states, texts), rest, atol=1e-4)


def test_released_states_are_recomputed_on_demand(tiny_model):
    _, _, path = tiny_model
    scorer = NeuralScorer.load(path)
    states = scorer.advance([scorer.start("你好"), scorer.start("")], ["北京大学", "我想回家"])
    texts = ["中", "今"]
    before = scorer.first_logprob(states, texts)
    scorer.release(states)
    assert all(s.next_logprobs is None for s in states)
    assert np.allclose(scorer.first_logprob(states, texts), before, atol=1e-2)  # float16 caches


def test_a_one_character_read_waits_until_its_state_is_needed(tiny_model, monkeypatch):
    """A one-character text scores nothing past its first character: its run is put off, and the
    state it makes when needed is the one an immediate read makes, bit for bit."""
    _, _, path = tiny_model
    scorer = NeuralScorer.load(path)
    parents = [scorer.start("你好"), scorer.start(""), scorer.start("你好")]
    texts = ["北", "我想", "吃"]
    runs = []
    forward = scorer._forward
    monkeypatch.setattr(scorer, "_forward", lambda states, ids: runs.append(len(ids)) or forward(states, ids))
    got, rest = scorer.advance_scored(parents, texts)
    assert runs == [1] and rest.tolist() == [0.0, rest[1], 0.0]  # the two-character row alone ran
    assert got[0].next_logprobs is None and got[2].k is None and got[1].k is not None
    want = scorer.advance(parents, texts)  # read at once
    runs.clear()
    assert scorer.first_logprob(got[:1], ["中"]).tolist() == scorer.first_logprob(want[:1], ["中"]).tolist()
    assert runs == [2]  # both one-character rows, in the run they were put off from
    for g, w in zip(got, want):
        assert (g.length, g.tokens) == (w.length, w.tokens)
        assert np.array_equal(g.k, w.k) and np.array_equal(g.v, w.v)
        assert np.array_equal(g.next_logprobs, w.next_logprobs)
    assert not scorer.settle(got)


def test_a_put_off_read_that_fails_runs_again_when_next_needed(tiny_model, monkeypatch):
    _, _, path = tiny_model
    scorer = NeuralScorer.load(path)
    parents = [scorer.start("你好")] * 2
    got, _ = scorer.advance_scored(parents, ["北", "吃"])
    want = scorer.advance(parents, ["北", "吃"])
    forward = scorer._forward

    def fail(states, ids):
        raise RuntimeError("onnxruntime failed")

    monkeypatch.setattr(scorer, "_forward", fail)
    with pytest.raises(RuntimeError):
        scorer.settle(got)
    monkeypatch.setattr(scorer, "_forward", forward)
    assert scorer.first_logprob(got, ["中", "中"]).tolist() == scorer.first_logprob(want, ["中", "中"]).tolist()


def test_put_off_states_the_search_drops_are_freed_at_once(tiny_model):
    """No reference cycle holds a dropped state (and its parent) until the garbage collector runs."""
    import gc
    import weakref

    _, _, path = tiny_model
    scorer = NeuralScorer.load(path)
    parent = scorer.start("你好")
    got, _ = scorer.advance_scored([parent] * 3, ["北", "吃", "中"])
    kept, dropped = got[0], weakref.ref(got[1])
    gc.disable()
    try:
        del got
        assert dropped() is None
        assert scorer.first_logprob([kept], ["中"]).shape == (1,)  # the run reads all rows, fills those alive
    finally:
        gc.enable()


def test_idle_time_reads_what_the_search_put_off(tiny_model):
    """The search puts off the reads of one-character words; the session's idle work does them,
    and the lists are the same whether or not it ran between keys."""
    _, _, path = tiny_model
    engine = Engine.load(EngineOptions(model_dir=path, learning=False))

    def put_off(session):
        return [x for st in session._decoder.states for x in st.beam.extra if x is not None and x.deferred]

    def typed(idle):
        s, seen, waiting = engine.new_session(), [], []
        for ch in "woxianghuijia":
            s.insert(ch)
            seen.append([(c.text, c.score) for c in s.candidates()[:5]])
            waiting.append(len(put_off(s)))
            while idle and s.idle():
                pass
            assert not idle or not put_off(s)
        return seen, waiting

    lists, waiting = typed(idle=True)
    assert any(waiting)
    assert typed(idle=False)[0] == lists


@pytest.mark.parametrize("edits", [
    "woxianghuijiawoxianghuijiabeijingdaxue",  # typing on, far past the release window
    "woxianghuijiawoxianghuijia" + "\b" * 14 + "zhongguoren",  # backspacing into released positions
])
def test_long_input_decodes_the_same_with_states_released(tiny_model, monkeypatch, edits):
    import engine.pinyin.decoder as decoder

    _, _, path = tiny_model
    engine = Engine.load(EngineOptions(model_dir=path, learning=False))

    def typed(release_after):
        monkeypatch.setattr(decoder, "RELEASE_AFTER", release_after)
        s, seen = engine.new_session(), []
        for ch in edits:
            s.backspace() if ch == "\b" else s.insert(ch)
            seen.append([c.text for c in s.candidates()[:3]])
        return seen

    assert typed(2) == typed(10**6)


def test_undo_prepared_while_idle_decodes_the_same_with_the_model(tiny_model):
    _, _, path = tiny_model
    engine = Engine.load(EngineOptions(model_dir=path, learning=False))
    s = engine.new_session()
    for ch in "woxianghuijia":
        s.insert(ch)
    idx = next(i for i, c in enumerate(s.candidates()) if c.kind == "word" and c.consumed < 13)
    s.select(idx)
    for ch in "chifan":
        s.insert(ch)
        s.view()
        while s.idle():
            pass
    s.set_cursor(0)
    s.backspace()
    fresh = engine.new_session()
    for ch in "woxianghuijiachifan":
        fresh.insert(ch)
    assert s.letters == "woxianghuijiachifan"
    assert [c.text for c in s.candidates()[:10]] == [c.text for c in fresh.candidates()[:10]]


@pytest.mark.parametrize("deltas", [1, 3])  # the history read a character or three at a time
def test_past_the_window_the_model_attends_to_bos_and_the_last_tokens(tiny_model, monkeypatch, deltas):
    import engine.core.neural as neural

    model, vocab, path = tiny_model
    monkeypatch.setattr(neural, "WINDOW", 8)
    scorer = NeuralScorer.load(path)
    state = scorer.start("")
    text = TEXT[:21]
    for i in range(0, len(text), deltas):
        (state,) = scorer.advance([state], [text[i:i + deltas]])
    assert state.length == 22 and state.windowed is None  # past the window, inside max_len: no re-read
    # reference: the whole cache in torch, every slot but the first and the last 7 masked
    k, v = (torch.from_numpy(a.astype(np.float32))[:, None] for a in neural._full_cache(state))
    mask = torch.zeros(1, 22)
    mask[0, 0] = mask[0, -7:] = 1.0
    nxt = vocab.tokens.index("家")
    with torch.no_grad():
        lp, _, _ = model.forward_cached(torch.tensor([[nxt]]), torch.tensor([[22]]), k, v, mask)
    (after,) = scorer.advance([state], ["家"])
    assert np.allclose(after.next_logprobs.astype(np.float32), lp[0, 0].numpy(), atol=2e-2)


def test_a_state_re_reads_its_last_tokens_only_when_positions_run_out(tiny_model):
    _, _, path = tiny_model
    scorer = NeuralScorer.load(path)
    state = scorer.start("")
    while state.length + 2 <= scorer.max_len:
        (state,) = scorer.advance([state], ["北京"])
    (after,) = scorer.advance([state], ["大学"])
    assert state.windowed is not None and after.length == 1 + KEEP + 2



@pytest.mark.parametrize("pinyin, affected", [
    ("bjdx", True),  # typed as initials: each word's neural weight is neural_initials
    ("beijingdaxue", False),  # full pinyin: an initials reading competes with full ones at neural_abbrev
])
def test_the_initials_weight_counts_only_in_abbreviated_input(pinyin, affected):
    from dataclasses import replace

    from engine.options import NEURAL_LIBIME_WEIGHTS

    def scores(initials: float) -> list[float]:
        weights = replace(NEURAL_LIBIME_WEIGHTS, neural_initials=initials)
        engine = Engine.load(EngineOptions(learning=False, personal=False, weights=weights, libime="off"))
        return [round(c.score, 4) for c in decoder_readings(engine.decoder(""), pinyin)[:5]]

    assert (scores(0.0) != scores(1.0)) == affected


def test_the_weights_follow_the_ngram_in_use():
    """neural_initials was tuned with libime's model mixed in; the shipped n-gram alone keeps 0.3."""
    from dataclasses import replace

    from engine.options import NEURAL_LIBIME_WEIGHTS, NEURAL_WEIGHTS, READER_WEIGHT

    engine = Engine.load(EngineOptions(learning=False, personal=False, libime="off"))
    # the shipped pinyin-reading model adds its weight to either
    assert not engine.libime_merged and engine.weights == replace(NEURAL_WEIGHTS, reader=READER_WEIGHT)
    engine.libime_merged = True
    assert engine.weights == replace(NEURAL_LIBIME_WEIGHTS, reader=READER_WEIGHT) and NEURAL_LIBIME_WEIGHTS.neural_initials < NEURAL_WEIGHTS.neural_initials
