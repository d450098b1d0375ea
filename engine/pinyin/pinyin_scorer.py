"""Run-time runner of the pinyin-reading model (engine.pinyin.pinyin_format; the contract is in
trainer/pinyin_export.py's module doc): numpy and onnxruntime only.

Positions are absolute and shared by both graphs. The decoder reads <bos> ctx_1 .. ctx_k
c_1 .. c_m at positions 0 .. k + m; the pinyin row fed with the token at position t is
the encoder row of t, the row of the syllable of the char position t *predicts*. So a
state cannot read its last token until the next char's syllable is known: a state holds
the float16 keys/values of the positions it has read (like engine.neural.NeuralState,
a delta per state with a link to its parent) and the tokens it has not read yet
(`unread`: its last token, and after start() the context tokens whose encoder rows are
not final yet, see start()). extend() reads them with the rows it is given.

Look-ahead: enc[t] depends on the syllables up to t + lookahead, so rows (and the keys and
values computed from them) of the last `lookahead` typed positions change when more
syllables are typed: keeping states whose rows stay valid is the caller's job.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import PinyinModelError, PinyinModelMismatchError
from ..core.model_format import BOS, PUNCT, UNK, encode_text
from ..core.neural import WINDOW, cache_feeds, new_positions, runs_by_length
from ..core.onnx_runtime import cpu_session, input_dtype
from ..text import is_han
from .pinyin_format import (CANDIDATES_NAME, DECODER_INPUTS, DECODER_NAME, DECODER_OUTPUTS, ENCODER_INPUTS,
                            ENCODER_NAME, ENCODER_OUTPUTS, MAX_CONTEXT, SYL_NONE, SYLLABLE_SHA1, SYLLABLE_TOKENS,
                            SYLLABLES_NAME, VOCAB_NAME, read_candidates, read_pinyin_manifest)
from .syllables import ALIASES

log = logging.getLogger(__name__)

PREFIX_STATES = 512  # prefix states kept between keys (cleared when there are more)
# the longest reading a model that re-reads readings whole at every key (bidirectional) scores:
# a key's cost grows with the text (docs/TUNING.md#what-the-look-ahead-reader-scores-on-whole-readings)
WHOLE_READ_CHARS = 24


@dataclass
class PinyinState:
    """What the model has read for one hypothesis (see the module doc)."""

    parent: "PinyinState | None"
    k: np.ndarray  # (L, H, t, Dh) float16 keys of the positions this state read
    v: np.ndarray
    length: int  # positions read in total (= position of unread[0])
    unread: tuple[int, ...]  # tokens at positions length .. length + len - 1, not read yet
    tokens: tuple[int, ...] = ()  # the tokens this state read

    @property
    def deferred(self) -> int:
        """Unread tokens before the last one (context tokens after start(), else 0): extend()
        needs this many pinyin rows before the text's."""
        return len(self.unread) - 1

    @property
    def next_position(self) -> int:
        """The position whose output predicts the next char (that of the last token)."""
        return self.length + self.deferred


class PinyinScorer:
    """Restricted log-probabilities of hanzi strings given their syllables (see the module doc)."""

    def __init__(self, encoder, decoder, manifest: dict, vocab: list[str], offsets: np.ndarray, ids: np.ndarray,
                 model_dir: Path):
        self.encoder, self.decoder, self.manifest, self.model_dir = encoder, decoder, manifest, model_dir
        self.offsets, self.ids = offsets, ids  # candidates CSR: row s = ids[offsets[s]:offsets[s + 1]], sorted
        self.token_id = {t: i for i, t in enumerate(vocab)}
        self.vocab_size = len(vocab)
        cfg = manifest["config"]
        self.n_layer, self.n_head = int(cfg["n_layer"]), int(cfg["n_head"])
        self.d_model = int(cfg["d_model"])
        self.head_dim = self.d_model // self.n_head
        self.lookahead, self.max_len = int(manifest["lookahead"]), int(manifest["max_len"])
        self.quantized = dict(manifest.get("quantized") or {})
        self.syllable_id = {s: i for i, s in enumerate(SYLLABLE_TOKENS)}
        self.max_context = MAX_CONTEXT
        self.window = WINDOW  # attention window of a state, as engine.neural's
        self.cache_dtype = input_dtype(decoder, "past_k")  # float16 from format version 2, float32 before
        self._start_cache: tuple[str, PinyinState] | None = None
        # (prefix, its syllables) -> (state after it, its score, its first char's term), see read_readings()
        self._prefixes: dict[tuple[str, bytes], tuple[PinyinState, float, float]] = {}

    # -- loading ------------------------------------------------------------------------------
    @classmethod
    def load(cls, model_dir: Path, threads: int = int(os.environ.get("SHURU_ORT_THREADS", "1"))) -> "PinyinScorer":
        """Check the model dir (manifest, vocab.txt and syllables.txt sha1s, this Shuru's syllable
        table, candidates.npz, both graphs' I/O) and load it. encoder.onnx and decoder.onnx are
        int8 where the manifest's "quantized" says so (same file names). Raises
        PinyinModelError / PinyinModelMismatchError / PinyinFormatVersionError with the reason."""
        model_dir = Path(model_dir)
        m = read_pinyin_manifest(model_dir)
        if m.get("syllable_sha1") != SYLLABLE_SHA1:
            raise PinyinModelMismatchError(f"{model_dir / SYLLABLES_NAME} is another syllable table than this "
                                           f"Shuru's (engine.syllables): re-export the model with this version")
        vocab = (model_dir / VOCAB_NAME).read_text(encoding="utf-8").split("\n")[:-1]
        if len(vocab) != m.get("vocab_size"):
            raise PinyinModelMismatchError(f"{model_dir / VOCAB_NAME} has {len(vocab)} tokens, the manifest "
                                           f"says {m.get('vocab_size')}")
        offsets, ids, _ = read_candidates(model_dir / CANDIDATES_NAME)
        if len(ids) and (ids.min() < 0 or ids.max() >= len(vocab)):
            raise PinyinModelError(f"{model_dir / CANDIDATES_NAME} is damaged: ids outside the vocabulary")
        encoder = _session(model_dir / ENCODER_NAME, threads, ENCODER_INPUTS, ENCODER_OUTPUTS)
        decoder = _session(model_dir / DECODER_NAME, threads, DECODER_INPUTS, DECODER_OUTPUTS)
        scorer = cls(encoder, decoder, m, vocab, offsets, ids, model_dir)
        scorer.start("的")  # one real step of each graph: fails now, not on the first keystroke
        scorer.encode(np.full((1, 1), SYL_NONE))
        return scorer

    # -- syllables and the encoder ----------------------------------------------------------------
    def syllable_ids(self, syllables: list[str]) -> np.ndarray:
        """Syllable token ids (int64) of full syllables (`lv`, `lue` = `lve`) and initials
        (`zh`); anything else (`xyz`, punctuation) -> `<none>` (1)."""
        return np.array([self.syllable_id.get(ALIASES.get(s, s), SYL_NONE) for s in syllables], dtype=np.int64)

    def encode(self, syl_ids: np.ndarray, context_positions: int = 0) -> np.ndarray:
        """Encoder rows: syl_ids (B, S) typed syllable ids -> enc (B, k + S, d) float32 with
        k = context_positions (PinyinState.next_position of the state start() returned): rows
        0 .. k - 1 are those of `<none>` at <bos> and the context chars (as the model was
        trained), row k + j that of syl_ids[:, j], the position predicting the (j+1)-th typed
        char. enc[:, t] is the row of absolute position t."""
        syl_ids = np.asarray(syl_ids, dtype=np.int64)
        B, S = syl_ids.shape
        if context_positions + S > self.max_len:
            raise ValueError(f"{context_positions + S} positions > the model's max_len {self.max_len}")
        row = np.concatenate([np.full((B, context_positions), SYL_NONE, np.int64), syl_ids], axis=1)
        return self.encoder.run(ENCODER_OUTPUTS, {"syllables": row})[0]

    # -- the decoder --------------------------------------------------------------------------------
    def start(self, context: str) -> PinyinState:
        """State after <bos> and the last characters of ``context`` (k tokens): the positions
        < k - lookahead are read (their `<none>` rows cannot change); the last `lookahead`
        context tokens stay unread (their rows see the first typed syllables) with the last
        one, which predicts the first typed char. The first extend() of this state needs
        `deferred` rows for them first: enc[:, length:next_position] of encode(...,
        next_position)."""
        ids = [BOS] + encode_text(self.token_id, context[-self.max_context:])
        k = len(ids) - 1
        n_read = max(k - self.lookahead, 0)
        empty = self._empty()
        if not n_read:
            return PinyinState(None, empty.k, empty.v, 0, tuple(ids))
        rows = self.encode(np.zeros((1, 0), np.int64), k)[:, :n_read]
        _, new = self._read([empty], [ids[:n_read]], rows)
        return PinyinState(None, new[0].k, new[0].v, n_read, tuple(ids[n_read:]), tuple(ids[:n_read]))

    def extend(self, states: list[PinyinState], texts: list[str], pinyin_rows: list[np.ndarray],
               syl_ids: list[np.ndarray]) -> tuple[np.ndarray, list[PinyinState]]:
        """Restricted log P(text | state, syllables) for each row, and the states after the texts.

        pinyin_rows[i]: float32 (states[i].deferred + len(texts[i]), d), the encoder rows of
        positions states[i].length .. states[i].next_position + len(texts[i]) - 1: those of the
        state's deferred context positions (only after start()), then those the text's chars are
        predicted at, i.e. enc[b, s.length : s.next_position + len(text)] of encode().
        syl_ids[i]: int (len(texts[i]),), the syllable token each char was typed as.

        The score is the sum over the chars of log-softmax over the candidates of the char's
        syllable (candidates.npz). A char that is not among its syllable's candidates, or a
        syllable with no candidates in the vocabulary (biang, bong, cei, den, din, eng, fiao,
        nia, nun, rua, wong), falls back to the unrestricted log-softmax: the `<none>` row,
        every token but <pad>, as training scores it. One decoder run per distinct number of
        positions read; texts must be non-empty and stay under max_len positions."""
        reads = [list(s.unread) + [self._char_id(ch) for ch in t[:-1]] for s, t in zip(states, texts)]
        for s, t, r, rows in zip(states, texts, reads, pinyin_rows):
            if not t or np.shape(rows) != (len(r), self.d_model):
                raise ValueError(f"text {t!r} after a state with {s.deferred} deferred positions needs "
                                 f"({len(r)}, {self.d_model}) pinyin rows, got {np.shape(rows)}")
            if s.length + len(r) > self.max_len:
                raise ValueError(f"{s.length + len(r)} positions > the model's max_len {self.max_len}")
        per_char, out = self._read_texts(states, texts, reads, pinyin_rows, syl_ids)
        return np.array([c.sum() for c in per_char]), out

    def _read_texts(self, states, texts, reads, pinyin_rows, syl_ids, window: int | None = None
                    ) -> tuple[list[np.ndarray], list[PinyinState]]:
        """extend()'s work, checked: each char's restricted log-probability, and the states after
        (``window``: the states' positions attended to, the scorer's window by default)."""
        per_char: list[np.ndarray] = [np.zeros(0)] * len(texts)
        out: list[PinyinState | None] = [None] * len(texts)
        for n, batch in runs_by_length(reads):
            logprobs, new = self._read([states[i] for i in batch], [reads[i] for i in batch],
                                       np.stack([np.asarray(pinyin_rows[i], np.float32) for i in batch]), window)
            for b, i in enumerate(batch):
                m = len(texts[i])
                targets = [self._char_id(ch) for ch in texts[i]]
                per_char[i] = self._restricted(logprobs[b, n - m:], targets, np.asarray(syl_ids[i]))
                out[i] = PinyinState(new[b].parent, new[b].k, new[b].v, new[b].length, (targets[-1],),
                                     tuple(reads[i]))
        return per_char, out

    def score_readings(self, context: str, texts: list[str], typed: list[list[str]],
                       skip_first: bool = False) -> np.ndarray:
        """Restricted log P(text | context, typed syllables) of whole readings of one input (the
        search's engine.core.lm.ReadingModel). typed[i]: what was typed for each char of texts[i]
        (a syllable or an initial), as long as texts[i]. ``skip_first``: without the first char's
        term (after no context, that term reads the char as a sentence's first)."""
        totals, firsts = self.read_readings(context, texts, typed)
        return totals - firsts if skip_first else totals

    def read_readings(self, context: str, texts: list[str], typed: list[list[str]]
                      ) -> tuple[np.ndarray, np.ndarray]:
        """score_readings()'s work: each reading's whole score and its first char's term.

        A reading is read from the longest prefix read before (this key or an earlier one of the
        same input) whose characters and syllables, the `lookahead` after it included, are its
        own; the state `lookahead` chars before its end is kept for the next keys. So a key costs
        a few positions per reading however long the input is."""
        start = self._start(context)
        syl = [self.syllable_ids(t) for t in typed]
        enc = self._rows(start, syl)
        begin, cuts = [], []
        for t, ids in zip(texts, syl):
            cut = max(len(t) - max(self.lookahead, 1), 0)  # at least the last char is read anew
            m = next((m for m in range(cut, 0, -1) if self._prefix_key(t, ids, m) in self._prefixes), 0)
            begin.append((*self._prefixes[self._prefix_key(t, ids, m)], m) if m else (start, 0.0, 0.0, 0))
            cuts.append(cut)
        states = self._read_context([b[0] for b in begin], syl, enc)
        pieces = [t[b[3]:] for t, b in zip(texts, begin)]
        reads = [list(st.unread) + [self._char_id(ch) for ch in piece[:-1]] for st, piece in zip(states, pieces)]
        rows = [e[st.length:st.next_position + len(piece)] for st, piece, e in zip(states, pieces, enc)]
        # a context read apart is attended to whole, as when it is read in the same run as the text
        window = self.max_len if any(a is not b[0] for a, b in zip(states, begin)) else self.window
        per_char, after = self._read_texts(states, pieces, reads, rows, [ids[b[3]:] for ids, b in zip(syl, begin)],
                                           window)
        if len(self._prefixes) > PREFIX_STATES:
            self._prefixes.clear()
        firsts = [first if m else float(lp[0]) for (_, _, first, m), lp in zip(begin, per_char)]
        for t, ids, (_, base, _, m), st, first, cut, lp, new in zip(texts, syl, begin, states, firsts, cuts, per_char,
                                                                     after):
            if cut > m:  # keep the state at the cut: the read positions before it are final
                n1 = len(st.unread) + cut - m - 1
                kept = PinyinState(new.parent, new.k[:, :, :n1], new.v[:, :, :n1], st.length + n1,
                                   (self._char_id(t[cut - 1]),), new.tokens[:n1])
                self._prefixes[self._prefix_key(t, ids, cut)] = (kept, base + float(lp[:cut - m].sum()), first)
        return (np.array([b[1] + float(lp.sum()) for b, lp in zip(begin, per_char)]), np.array(firsts))

    def _read_context(self, states: list[PinyinState], syl: list[np.ndarray], enc: list[np.ndarray]
                      ) -> list[PinyinState]:
        """``states`` with the context tokens they defer (after start()) read, once for all the readings
        of one cut (their context rows are the same): the readings' runs then read only their own
        characters, not the context once per reading. The cuts after one state share a run (its
        rows differ only in their pinyin). States that defer nothing are kept."""
        out = list(states)
        cuts: dict[int, dict[bytes, list[int]]] = {}  # id(state) -> syllables -> readings
        for i, (st, ids) in enumerate(zip(states, syl)):
            if st.deferred > 0:
                cuts.setdefault(id(st), {}).setdefault(ids.tobytes(), []).append(i)
        for by_cut in cuts.values():
            readings = list(by_cut.values())
            st = states[readings[0][0]]
            n = st.deferred
            _, new = self._read([st] * len(readings), [list(st.unread[:n])] * len(readings),
                                np.stack([enc[r[0]][st.length:st.length + n] for r in readings]))
            for r, s in zip(readings, new):
                read = PinyinState(s.parent, s.k, s.v, s.length, st.unread[n:], st.unread[:n])
                for i in r:
                    out[i] = read
        return out

    def _rows(self, start: PinyinState, syl: list[np.ndarray]) -> list[np.ndarray]:
        """Each reading's encoder rows by absolute position: one encoder run per syllable count, over
        the distinct syllable sequences (readings of one cut share theirs)."""
        distinct: dict[bytes, np.ndarray] = {}
        for ids in syl:
            distinct.setdefault(ids.tobytes(), ids)
        by_len: dict[int, list[bytes]] = {}
        for key, ids in distinct.items():
            by_len.setdefault(len(ids), []).append(key)
        rows: dict[bytes, np.ndarray] = {}
        for keys in by_len.values():
            enc = self.encode(np.stack([distinct[k] for k in keys]), start.next_position)
            rows.update(zip(keys, enc))
        return [rows[ids.tobytes()] for ids in syl]

    def _prefix_key(self, text: str, syl: np.ndarray, m: int) -> tuple[str, bytes]:
        """A prefix of m chars with the syllables its state depends on (those of m + lookahead chars)."""
        return text[:m], syl[:m + self.lookahead].tobytes()

    def fits(self, context: str, n_chars: int) -> bool:
        """Whether a reading of ``n_chars`` after ``context`` stays within the model's positions and,
        for a model whose rows all change with each syllable (bidirectional), within WHOLE_READ_CHARS."""
        if self.lookahead >= self.max_len and n_chars > WHOLE_READ_CHARS:
            return False
        return self._start(context).next_position + n_chars <= self.max_len

    def _start(self, context: str) -> PinyinState:
        """start(context), kept for the next call with the same context (every key of one input);
        the prefixes read after another context are dropped."""
        if self._start_cache is None or self._start_cache[0] != context:
            self._start_cache = (context, self.start(context))
            self._prefixes.clear()
        return self._start_cache[1]

    def _restricted(self, logprobs: np.ndarray, targets: list[int], syl: np.ndarray) -> np.ndarray:
        """(m, V) log-softmax rows -> (m,) restricted logprob of each target (see extend())."""
        out = np.empty(len(targets))
        for j, (v, s) in enumerate(zip(targets, syl)):
            row = self.ids[self.offsets[s]:self.offsets[s + 1]]
            hit = np.searchsorted(row, v)
            if hit == len(row) or row[hit] != v:
                row = self.ids[self.offsets[SYL_NONE]:self.offsets[SYL_NONE + 1]]
            x = logprobs[j][row].astype(np.float64)  # only the row's scores (float16 converts slowly)
            top = x.max()
            out[j] = float(logprobs[j][v]) - (top + np.log(np.exp(x - top).sum()))
        return out

    def _read(self, states: list[PinyinState], ids: list[list[int]], pinyin: np.ndarray, window: int | None = None
              ) -> tuple[np.ndarray, list[PinyinState]]:
        """One decoder run over rows of equal length: logprobs (B, T, V) and the states with
        the keys/values of the read positions (unread left empty for the caller)."""
        past_k, past_v, mask = cache_feeds(states, self.n_layer, self.n_head, self.head_dim, window or self.window,
                                           self.cache_dtype)
        T = len(ids[0])
        positions = np.array([[s.length + t for t in range(T)] for s in states], dtype=np.int64)
        logprobs, pk, pv = self.decoder.run(DECODER_OUTPUTS, {
            "tokens": np.asarray(ids, np.int64), "positions": positions, "past_k": past_k, "past_v": past_v,
            "past_mask": mask, "pinyin": pinyin})
        # float16 halves what a beam's states hold; views per state of the new positions (format 3 returns
        # only those; the past's returned by earlier versions are cut off and the rest copied)
        new_k, new_v = new_positions(pk, T), new_positions(pv, T)
        new = [PinyinState(s if s.length else None, new_k[:, b], new_v[:, b], s.length + T, ())
               for b, s in enumerate(states)]
        return logprobs, new

    def _char_id(self, ch: str) -> int:
        """One token per char (texts align with their pinyin rows): Han -> its id or <unk>, else <p>."""
        return self.token_id.get(ch, UNK) if is_han(ch) else PUNCT

    def _empty(self) -> PinyinState:
        z = np.zeros((self.n_layer, self.n_head, 0, self.head_dim), dtype=np.float16)
        return PinyinState(None, z, z, 0, ())


def _session(path: Path, threads: int, inputs: list[str], outputs: list[str]):
    """A CPU session of one graph, its I/O names checked."""
    try:
        sess = cpu_session(path, threads)
    except Exception as e:
        log.warning("%s is not a loadable ONNX model: %s", path, e)
        raise PinyinModelError(f"{path} is damaged or unreadable: re-export the model dir") from None
    names_in = [i.name for i in sess.get_inputs()]
    names_out = [o.name for o in sess.get_outputs()]
    if set(names_in) != set(inputs) or not set(outputs) <= set(names_out):
        raise PinyinModelMismatchError(f"{path} has inputs {names_in} / outputs {names_out}, expected "
                                       f"{inputs} / {outputs}: it is from another version of Shuru")
    return sess
