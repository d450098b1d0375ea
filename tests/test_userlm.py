"""The user's own text as a statistical layer: counted, saved, loaded, mixed in."""
import numpy as np
import pytest

from engine import AssetError, Engine, EngineOptions
from engine.userlm import FILE_NAME, AdaptedNgram, UserLM, build_from_files

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
    from engine.lexicon import BOS

    adapted = Engine.load(EngineOptions(model_dir=user_dir, use_neural=False, learning=False))
    first = engine.lexicon.token_id("当事人")  # opens many of the user's clauses
    args = (np.array([BOS]), np.array([BOS]), np.array([first]))
    assert adapted.ngram.logprob(*args)[0] > engine.ngram.logprob(*args)[0]
