"""One language-model interface (engine.core.lm): the n-gram, the user's learned words and the neural
LM implement it, and the search reads them through one MixedLM."""
import numpy as np

from engine.core.lexicon import BOS, EOS
from engine.core.lm import ContextModel, Layer, LanguageModel, MixedLM, NgramLM, WordStates, interpolate
from engine.core.neural import NeuralScorer
from engine.user.history import USER_WEIGHT, UserHistory
from engine.user.userdb import MEMORY


def _words(engine, *texts):
    return np.array([engine.lexicon.token_id(t) for t in texts], dtype=np.int64)


def _implements(obj, protocol) -> bool:
    names = {n for klass in protocol.__mro__ if klass is not object
             for n in [*vars(klass), *getattr(klass, "__annotations__", {})] if not n.startswith("_")}
    return all(hasattr(obj, n) for n in names)


def test_every_model_implements_the_interface(engine):
    history = UserHistory(engine.lexicon, MEMORY)
    assert _implements(NgramLM(engine.ngram, engine.lexicon), LanguageModel)
    assert _implements(history, Layer)
    assert _implements(NeuralScorer, ContextModel)
    assert {"start", "extend"} <= set(vars(LanguageModel)) and LanguageModel in ContextModel.__mro__


def test_the_ngram_reads_its_state_and_moves_it_on(engine):
    lm = NgramLM(engine.ngram, engine.lexicon)
    start = lm.start("我们一起")
    assert (int(start.w1[0]), int(start.w2[0])) == tuple(_words(engine, "我们", "一起"))
    tok = _words(engine, "去")
    logp, after = lm.extend(start, tok)
    assert logp[0] == engine.ngram.logprob(start.w1, start.w2, tok)[0]
    assert (int(after.w1[0]), int(after.w2[0])) == (int(start.w2[0]), int(tok[0]))
    assert lm.end_logprob(after)[0] == engine.ngram.logprob(after.w1, after.w2, np.array([EOS]))[0]
    assert lm.start("").w1[0] == BOS and lm.start("").w2[0] == BOS


def test_learned_words_are_interpolated_in_one_place(engine):
    history = UserHistory(engine.lexicon, MEMORY)
    mixed = MixedLM(engine.lexicon, NgramLM(engine.ngram, engine.lexicon), [history])
    states = WordStates(_words(engine, "我们", "我们"), _words(engine, "一起", "一起"))
    tok = _words(engine, "誓言", "去")
    plain, _ = mixed.extend(states, tok)
    assert np.array_equal(plain, engine.ngram.logprob(states.w1, states.w2, tok))  # nothing learned: untouched
    history.learn([int(tok[0])], prev=int(states.w2[0]))
    logp, after = mixed.extend(states, tok)
    assert np.array_equal(logp, history.mix(plain, states.w2, tok))
    assert logp[0] > plain[0] and np.array_equal(after.w2, tok)
    # a word alone: how typed text uses it (NgramModel.alone), the user's words mixed in as after <s>
    assert np.array_equal(mixed.alone(tok), history.mix(engine.ngram.alone(tok), np.full(2, BOS), tok))
    # the end of a clause and a character alone are the n-gram's
    assert np.array_equal(mixed.end_logprob(states), NgramLM(engine.ngram, engine.lexicon).end_logprob(states))
    assert mixed.char_logprob("去") == float(engine.ngram.unigram(_words(engine, "去"))[0])
    # the layer is a language model of its own: log P_user(w | v)
    own, _ = history.extend(states, tok)
    assert np.allclose(np.exp(own), history.prob(states.w2, tok))


def test_interpolation_is_a_bounded_share():
    logp = np.log(np.array([1e-9, 0.5, 0.2]))
    p = np.array([0.1, 0.1, 0.0])
    mixed = interpolate(logp, USER_WEIGHT, p)
    assert np.allclose(np.exp(mixed), (1 - USER_WEIGHT) * np.exp(logp) + USER_WEIGHT * p)
