"""Neural character LM scorer: ONNX model run with onnxruntime on the CPU, with a KV cache.

The model (built by ``python -m trainer export``) is a causal transformer over hanzi
tokens; the decoder uses it as a noisy-channel language model: the lattice guarantees
the pinyin match, the model gives log P(next character | everything before), normalised
over the whole vocabulary, so an incoherent history is penalised.

Its files, I/O and tokens are engine.core.model_format's.

A hypothesis' state keeps only the keys/values of the characters it added plus a link
to its parent state, so a beam of hundreds of hypotheses costs a few MB; the full cache
is rebuilt (left-padded) when a batch of hypotheses is extended.
"""
from __future__ import annotations

import os
import json
import logging
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import STATISTICAL_INSTEAD, AssetError, FormatVersionError, asset_problem
from .model_format import BOS, INPUTS, MODEL_FILES, OUTPUTS, UNK, encode_text, manifest_problem, vocab_sha1
from .onnx_runtime import cpu_session, input_dtype

log = logging.getLogger(__name__)

# A hypothesis attends to its first token (BOS, a sink) and its last WINDOW - 1; when positions run out
# (max_len) it re-reads its last KEEP from a fresh start (docs/TUNING.md#attention-window-of-the-neural-scorer)
WINDOW, KEEP = 24, 20
# Positions one model run reads at most: a run's (rows x positions x vocabulary) log-probabilities are
# its largest tensors, so bigger batches are split (docs/TUNING.md#the-largest-model-run)
MAX_RUN_POSITIONS = 64


@dataclass
class NeuralState:
    """What the model has read for one hypothesis."""

    parent: "NeuralState | None"
    k: np.ndarray  # (L, H, t, Dh) float16 keys of the tokens this state added
    v: np.ndarray
    length: int  # tokens read in total (= next position)
    next_logprobs: np.ndarray | None  # (V,) float16 log P(next token); None once released
    last_token: int = BOS  # the token read last (to recompute next_logprobs after a release)
    tokens: tuple[int, ...] = ()  # the tokens this state added (to re-read a window of them)
    windowed: "NeuralState | None" = None  # the same history cut to the last KEEP tokens, once made
    deferred: "_Deferred | None" = None  # the run that fills k, v and next_logprobs, put off until needed

    def history(self, n: int) -> list[int]:
        """The last ``n`` tokens read (oldest first)."""
        out: list[int] = []
        s = self
        while s is not None and len(out) < n:
            out[:0] = s.tokens
            s = s.parent
        return out[-n:]


class NeuralScorer:
    """Scores hanzi strings after a hypothesis' history: the search's engine.core.lm.ContextModel."""

    def __init__(self, session, manifest: dict, vocab: list[str], model_dir: Path):
        self.session = session
        self.manifest = manifest
        self.model_dir = model_dir
        self.max_len = int(manifest.get("max_len", 128))
        self.token_id = {t: i for i, t in enumerate(vocab)}
        self.vocab_size = len(vocab)
        cfg = manifest["config"]
        self.n_layer, self.n_head = int(cfg["n_layer"]), int(cfg["n_head"])
        self.head_dim = int(cfg["d_model"]) // self.n_head
        self.max_context = 32
        self.cache_dtype = input_dtype(session, "past_k")  # float16 from format version 2, float32 before

    # -- loading ------------------------------------------------------------------------
    @classmethod
    def load(cls, model_dir: Path, threads: int = int(os.environ.get("SHURU_ORT_THREADS", "1"))) -> "NeuralScorer":
        """Check the manifest, vocabulary and ONNX I/O; raise AssetError with the reason."""
        model_dir = Path(model_dir)
        manifest = _read_manifest(model_dir)
        vocab = _read_vocab(model_dir, manifest)
        path = next((model_dir / f for f in MODEL_FILES if (model_dir / f).exists()), None)
        if path is None:
            raise AssetError(model_problem(model_dir / MODEL_FILES[-1], "is missing"))
        try:
            sess = cpu_session(path, threads)
        except Exception as e:
            log.warning("%s is not a loadable ONNX model: %s", path, e)
            raise AssetError(model_problem(path, "is damaged or unreadable")) from None
        names_in = tuple(i.name for i in sess.get_inputs())
        names_out = tuple(o.name for o in sess.get_outputs())
        if set(names_in) != set(INPUTS) or not set(OUTPUTS) <= set(names_out):
            log.warning("%s has inputs %s / outputs %s, expected %s / %s", path, names_in, names_out, INPUTS, OUTPUTS)
            raise AssetError(model_problem(path, "is from another version of Shuru: its inputs and outputs differ"))
        scorer = cls(sess, manifest, vocab, model_dir)
        scorer.start("")  # one real step: fails now, not on the first keystroke
        return scorer

    # -- ContextModel (engine.core.lm) -------------------------------------------------
    def start(self, context: str) -> NeuralState:
        """State after <bos> and the last characters of ``context``."""
        ids = [BOS] + self.encode(context[-self.max_context:])
        return self._run([self._empty()], [ids])[0][0]

    def extend(self, states: list[NeuralState], texts: list[str]) -> tuple[np.ndarray, list[NeuralState]]:
        """log P(text | state) for each (state, text) pair, and the states after reading the texts."""
        ids = [self.encode(t) or [UNK] for t in texts]
        new, inner = self._run(states, ids)
        return self._first(states, ids) + inner, new

    def score(self, states: list[NeuralState], texts: list[str]) -> np.ndarray:
        """log P(text | state) without keeping states: single characters cost no model run."""
        return self.first_logprob(states, texts) + self.rest_logprob(states, texts)

    def advance(self, states: list[NeuralState], texts: list[str]) -> list[NeuralState]:
        """The states after reading each text (one batched model run per text length)."""
        return self._run(states, [self.encode(t) or [UNK] for t in texts])[0]

    def first_logprob(self, states: list[NeuralState], texts: list[str]) -> np.ndarray:
        """log P(first character of text | state): free, read from the state's cached distribution."""
        return self._first(states, [self.encode(t[:1]) or [UNK] for t in texts])

    def release(self, states: list[NeuralState]) -> None:
        """Drop the states' next-token distributions (15 KB each); they are recomputed if needed.

        The decoder releases hypotheses far behind the end of a long input, which new words
        rarely start from, so memory stays bounded however long the input grows."""
        for s in states:
            if s is not None and s.length:
                s.next_logprobs = None

    def advance_scored(self, states: list[NeuralState], texts: list[str]) -> tuple[list[NeuralState], np.ndarray]:
        """States after each text, and log P(text[1:] | state, text[0]) from the same model run.

        A one-character text scores nothing past its first character, so its run is put off: its
        state is read when a later call needs it, or by :meth:`settle` while no key waits."""
        return self._run(states, [self.encode(t) or [UNK] for t in texts], defer_single=True)

    def rest_logprob(self, states: list[NeuralState], texts: list[str]) -> np.ndarray:
        """log P(text[1:] | state, text[0]) without keeping states: 1-character texts cost nothing."""
        ids = [self.encode(t) or [UNK] for t in texts]
        out = np.zeros(len(ids))
        multi = [k for k, i in enumerate(ids) if len(i) > 1]
        if multi:
            _, inner = self._run([states[k] for k in multi], [ids[k][:-1] for k in multi],
                                 targets=[ids[k][1:] for k in multi])
            out[multi] = inner
        return out

    def _first(self, states: list[NeuralState], ids: list[list[int]]) -> np.ndarray:
        self.settle(states)
        self._restore([s for s in states if s.next_logprobs is None])
        return np.array([float(s.next_logprobs[i[0]]) for s, i in zip(states, ids)], dtype=np.float64)

    def _restore(self, states: list[NeuralState]) -> None:
        """Recompute released next-token distributions: re-read each state's last token."""
        states = list({id(s): s for s in states}.values())
        if not states:
            return
        before = []
        for s in states:  # the state minus its last token, as one cache delta
            k, v = _full_cache(s)
            before.append(NeuralState(None, k[:, :, :-1], v[:, :, :-1], s.length - 1, None))
        logprobs, _, _ = self._forward(before, [[s.last_token] for s in states])
        for b, s in enumerate(states):
            s.next_logprobs = logprobs[b, 0].astype(np.float16)

    def encode(self, text: str) -> list[int]:
        """Characters -> token ids (runs of non-Han characters become one <p>)."""
        return encode_text(self.token_id, text)

    # -- running the model --------------------------------------------------------------
    def _run(self, states: list[NeuralState], ids: list[list[int]], targets: list[list[int]] | None = None,
             defer_single: bool = False) -> tuple[list[NeuralState | None], np.ndarray]:
        """Every row reads its tokens after its state's cache; rows of equal length share a run.

        Without ``targets``: returns the new states and log P(ids[1:] | state, ids[0]) per row.
        With ``targets`` (the token after each read token): no states, log P(targets | ...).
        ``defer_single``: the run of one-token rows (they score nothing) is put off (:class:`_Deferred`)."""
        self.settle(states)
        states = self._fit(states, [len(i) for i in ids])
        out: list[NeuralState | None] = [None] * len(ids)
        inner = np.zeros(len(ids))
        for n, rows in runs_by_length(ids, MAX_RUN_POSITIONS):
            if defer_single and n == 1 and targets is None:
                for k, state in zip(rows, _put_off(self, [states[k] for k in rows], [ids[k] for k in rows])):
                    out[k] = state
                continue
            logprobs, pk, pv = self._forward([states[k] for k in rows], [ids[k] for k in rows])
            b_idx = np.arange(len(rows))[:, None]
            if targets is not None:
                inner[rows] = logprobs[b_idx, np.arange(n), np.array([targets[k] for k in rows])].sum(axis=1,
                                                                                                     dtype=np.float64)
                continue
            if n > 1:
                nxt = np.array([ids[k][1:] for k in rows])
                inner[rows] = logprobs[b_idx, np.arange(n - 1), nxt].sum(axis=1, dtype=np.float64)
            made = _unread([states[k] for k in rows], [ids[k] for k in rows])
            _fill(made, logprobs, pk, pv, n)
            for k, state in zip(rows, made):
                out[k] = state
        return out, inner

    def settle(self, states: list[NeuralState | None]) -> bool:
        """Run the reads put off for ``states`` (whole runs, as they would have run); True if any ran."""
        ran = False
        for s in states:
            if s is not None and s.deferred is not None:
                s.deferred.run()
                ran = True
        return ran

    def _forward(self, states, ids):
        """One onnxruntime call for rows of equal length (past caches, each cut to its window, left-padded
        to a common P): logprobs, present_k, present_v."""
        past_k, past_v, mask = cache_feeds(states, self.n_layer, self.n_head, self.head_dim, dtype=self.cache_dtype)
        T = len(ids[0])
        tokens = np.asarray(ids, dtype=np.int64)
        positions = np.array([[s.length + t for t in range(T)] for s in states], dtype=np.int64)
        return self.session.run(list(OUTPUTS), {"tokens": tokens, "positions": positions, "past_k": past_k,
                                                "past_v": past_v, "past_mask": mask})

    def _fit(self, states: list[NeuralState], n_new: list[int]) -> list[NeuralState]:
        """Keep positions inside the model's range: a state that would read past max_len is
        replaced by one that re-reads its last KEEP tokens from a fresh start (the attention
        window already bounds the cost of each key; this runs once per max_len - KEEP tokens)."""
        limit = self.max_len
        long = [k for k, (s, n) in enumerate(zip(states, n_new)) if s.length + n > limit]
        if not long:
            return states
        todo = list({id(states[k]): states[k] for k in long if states[k].windowed is None}.values())
        if todo:
            fresh, _ = self._run([self._empty()] * len(todo), [[BOS] + s.history(KEEP) for s in todo])
            for s, w in zip(todo, fresh):
                s.windowed = w  # kept: later words from the same hypothesis re-use it
        out = list(states)
        for k in long:
            out[k] = states[k].windowed
        return out

    def _empty(self) -> NeuralState:
        L, H, D = self.n_layer, self.n_head, self.head_dim
        z = np.zeros((L, H, 0, D), dtype=np.float32)
        return NeuralState(None, z, z, 0, np.zeros(self.vocab_size, dtype=np.float32))


class _Deferred:
    """One model run of one-token rows put off until a state it makes is needed. It then runs
    exactly as it would have (the same rows, in one run), so every score is the same bit for bit.

    It holds its states weakly: a state the search has dropped is freed at once (no reference
    cycle waits for the garbage collector), and its row is read but not kept."""

    def __init__(self, scorer: NeuralScorer, states: list[NeuralState], ids: list[list[int]],
                 members: list[NeuralState]):
        self.scorer, self.states, self.ids = scorer, states, ids
        self.members: list[weakref.ref] | None = [weakref.ref(m) for m in members]
        for m in members:
            m.deferred = self

    def run(self) -> None:
        """Read the rows and fill their states that are still alive (once)."""
        if self.members is None:
            return
        logprobs, pk, pv = self.scorer._forward(self.states, self.ids)  # a failure leaves it to run again
        members, self.members = self.members, None
        _fill([m() for m in members], logprobs, pk, pv, len(self.ids[0]))
        self.states = self.ids = None


def _put_off(scorer: NeuralScorer, states: list[NeuralState], ids: list[list[int]]) -> list[NeuralState]:
    """The states after rows of one token each, their run put off (:class:`_Deferred`)."""
    made = _unread(states, ids)
    _Deferred(scorer, states, ids, made)
    return made


def _unread(states: list[NeuralState], ids: list[list[int]]) -> list[NeuralState]:
    """The states after each row's tokens, their keys, values and distribution not yet filled."""
    return [NeuralState(s if s.length else None, None, None, s.length + len(row), None, row[-1], tuple(row))
            for s, row in zip(states, ids)]


def _fill(made: list[NeuralState | None], logprobs: np.ndarray, pk: np.ndarray, pv: np.ndarray, n: int) -> None:
    """Fill states made by :func:`_unread` from their run's outputs (row b of the run is made[b]; None: not kept)."""
    # float16 halves what hundreds of live hypotheses hold; scores need no more precision.
    # Each state keeps views of its rows of the new positions: a graph before format version 3
    # returns the past's too, which are cut off (and the rest copied, so the past is freed).
    new_k, new_v = new_positions(pk, n), new_positions(pv, n)
    last = logprobs[:, n - 1].astype(np.float16)
    for b, state in enumerate(made):
        if state is None:
            continue
        state.k, state.v, state.next_logprobs, state.deferred = new_k[:, b], new_v[:, b], last[b], None


def runs_by_length(ids: list[list[int]], max_positions: int | None = None):
    """(length, row indices) of each model run: rows of equal length, at most ``max_positions``
    positions a run (one row at least; None: no limit)."""
    by_len: dict[int, list[int]] = {}
    for k, row in enumerate(ids):
        by_len.setdefault(len(row), []).append(k)
    for n, rows in by_len.items():
        step = len(rows) if max_positions is None else max(1, max_positions // max(n, 1))
        for i in range(0, len(rows), step):
            yield n, rows[i: i + step]


def new_positions(present: np.ndarray, n: int) -> np.ndarray:
    """The float16 keys or values of the last ``n`` positions of a run's ``present_k`` / ``present_v``
    (L, B, H, n, Dh): all of a format-3 graph's, the last n of an earlier graph's (past and new)."""
    if present.shape[3] == n and present.dtype == np.float16:
        return present
    return present[:, :, :, present.shape[3] - n:].astype(np.float16)


def cache_feeds(states, n_layer: int, n_head: int, head_dim: int, window: int = WINDOW, dtype=np.float32
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """past_k, past_v (L, B, H, P, Dh) of ``dtype`` (the graph's: float16 from format version 2)
    and past_mask (B, P) float32 for a batch of states (anything with NeuralState's parent / k / v
    / length chain): each state's window of its cache, left-padded to a common P."""
    B, P = len(states), max(min(s.length, window) for s in states)
    past_k = np.zeros((n_layer, B, n_head, P, head_dim), dtype=dtype)
    past_v = np.zeros((n_layer, B, n_head, P, head_dim), dtype=dtype)
    mask = np.zeros((B, P), dtype=np.float32)
    for b, s in enumerate(states):
        if s.length:
            _write_window(past_k[:, b], past_v[:, b], s, window)  # left-padded
            mask[b, P - min(s.length, window):] = 1.0
    return past_k, past_v, mask


def _full_cache(state: NeuralState) -> tuple[np.ndarray, np.ndarray]:
    """(L, H, length, Dh) keys and values: the state's chain of deltas, oldest first."""
    ks, vs = [], []
    s = state
    while s is not None:
        ks.append(s.k)
        vs.append(s.v)
        s = s.parent
    if len(ks) == 1:
        return ks[0], vs[0]
    return np.concatenate(ks[::-1], axis=2), np.concatenate(vs[::-1], axis=2)


def _write_window(dst_k: np.ndarray, dst_v: np.ndarray, state: NeuralState, window: int) -> None:
    """Write the cache the model attends to into the ends of ``dst_k``/``dst_v`` (L, H, P, Dh):
    the state's first token (BOS, which attention leans on as a sink) and its last ``window - 1``,
    or its whole history when that fits. Walks only the recent deltas, then up to the root."""
    n = left = state.length if state.length <= window else window - 1
    ks, vs = [], []
    s = state
    while left > 0:
        t = s.k.shape[2]
        take = min(t, left)
        ks.append(s.k if take == t else s.k[:, :, t - take:])
        vs.append(s.v if take == t else s.v[:, :, t - take:])
        left -= take
        if left:
            s = s.parent
    if state.length > window:
        while s.parent is not None:
            s = s.parent
        ks.append(s.k[:, :, :1])
        vs.append(s.v[:, :, :1])
        n += 1
    P = dst_k.shape[2]
    np.concatenate(ks[::-1], axis=2, out=dst_k[:, :, P - n:])  # float16 -> the graph's dtype in the copy
    np.concatenate(vs[::-1], axis=2, out=dst_v[:, :, P - n:])


MANIFEST, VOCABULARY = "neural model manifest", "neural model vocabulary"  # file kinds in messages
REPAIR_MODEL = ("To fix it, reinstall Shuru, or repair the checkout with `git checkout assets/`; "
                "a personal model can be trained again with Personalise… in the Tools menu.")


def _read_manifest(model_dir: Path) -> dict:
    path = model_dir / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AssetError(model_problem(path, "is missing", MANIFEST)) from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        log.warning("neural model manifest %s unreadable: %s: %s", path, type(e).__name__, e)
        raise AssetError(model_problem(path, "is damaged or unreadable", MANIFEST)) from None
    problem = manifest_problem(manifest)
    if problem is not None:
        kind, words = problem
        raise (FormatVersionError if kind == "version" else AssetError)(model_problem(path, words, MANIFEST))
    return manifest


def _read_vocab(model_dir: Path, manifest: dict) -> list[str]:
    path = model_dir / "vocab.txt"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise AssetError(model_problem(path, "is missing", VOCABULARY)) from None
    if vocab_sha1(raw) != manifest["vocab_sha1"]:
        raise AssetError(model_problem(path, "does not match the model beside it: they come from different exports",
                                       VOCABULARY))
    vocab = raw.decode("utf-8").split("\n")
    if vocab and vocab[-1] == "":
        vocab.pop()
    if len(vocab) != int(manifest["vocab_size"]):
        log.warning("%s has %d tokens, the manifest says %s", path, len(vocab), manifest["vocab_size"])
        raise AssetError(model_problem(path, "is damaged or from another export of the model", VOCABULARY))
    return vocab


def model_problem(path: Path, problem: str, what: str = "neural model") -> str:
    """A user message about one file of a neural model (Chinese input goes on without it)."""
    return asset_problem(what, path, problem, STATISTICAL_INSTEAD, REPAIR_MODEL)
