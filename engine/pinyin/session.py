"""One input's state: the letters being typed, partial selections, paging, the preedit.

A :class:`Session` is the GUI's only door into the engine. Edits (``insert``,
``backspace``, cursor moves) are cheap; :meth:`Session.view` runs the decoder (reusing
the previous keystroke's work) and returns an immutable :class:`SessionView`.
Not thread-safe: call one Session from one thread.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from ..memory import release_if_grown
from .candidates import candidates
from .decoder import Conversion, Decoder
from .lattice import SEPARATOR
from .script import SIMPLIFIED, converter as script_converter
from .shuangpin import FULL_PINYIN, layout as shuangpin_layout



class SessionBackend(Protocol):
    """What a Session needs from the engine (engine.Engine is one): fresh decoders, the sources
    of the candidate list's other translators, and learning."""

    user_dict: object  # engine.user.userdict.UserDict, or None
    phrases: object  # engine.pinyin.phrases.QuickPhrases, or None

    def decoder(self, context: str = "", whole_syllables: bool = False) -> Decoder: ...
    def learn(self, tokens: list[int], context: str = "") -> None: ...
    def learned_parts(self, text: str) -> list[str]: ...
    def forget_words(self, words: list[str]) -> int: ...
    def predict(self, context: str, k: int = 5) -> list[str]: ...

MAX_CONTEXT_CHARS = 32
# The search time a front end allows one view (a keystroke): a paste or an edit at the start of a
# long input is decoded further in idle steps of the same size, showing the candidates of the
# letters decoded so far meanwhile. One letter costs 1-15 ms, so a key is never split.
DECODE_BUDGET_MS = 30.0
ALLOWED = set("abcdefghijklmnopqrstuvwxyz'")


@dataclass(frozen=True)
class Candidate:
    """One entry of the candidate list."""

    text: str
    consumed: int  # letters (keys, in shuangpin) it converts from the start of the remaining input
    kind: str  # "sentence" | "word" | "char" | "literal" | "phrase" (a quick phrase or a date)
    score: float


@dataclass(frozen=True)
class SessionView:
    """What an input method shows after a keystroke."""

    preedit: str  # chosen hanzi + segmented pinyin, e.g. "我想hui'jia" (shuangpin: the full pinyin)
    preedit_cursor: int  # caret index in ``preedit``
    chosen: str  # the already-chosen hanzi at the start of ``preedit`` (partial selections)
    letters: str  # remaining raw letters (the keys typed, in shuangpin)
    cursor: int  # caret index in ``letters``
    candidates: tuple[Candidate, ...]  # current page
    page: int
    page_count: int
    highlight: int  # index on the page
    composing: bool
    decode_ms: float
    predictions: tuple[str, ...] = ()  # likely next words after a commit (shown while not composing)
    complete: bool = True  # False: the candidates are those of the letters decoded so far (idle work goes on)


@dataclass
class _Selection:
    text: str
    letters: str
    tokens: tuple[int, ...]
    kind: str = ""  # the candidate's kind ("phrase": quick-phrase text, shown as written)


class Session:
    """Letters -> candidates for one input; see the module docstring.

    ``layout``: "full" pinyin, or a shuangpin layout (``engine.pinyin.shuangpin.LAYOUT_NAMES``) whose keys
    are read as full pinyin for the decoder; editing, the caret and ``consumed`` stay in keys.
    ``script``: "simplified", or a traditional script (``engine.pinyin.script.SCRIPT_NAMES``) that what is
    shown and committed is converted to; decoding, learning and context stay simplified."""

    def __init__(self, engine: SessionBackend, page_size: int = 9, context: str = "", layout: str = FULL_PINYIN,
                 script: str = SIMPLIFIED, budget_ms: float | None = None, prediction: bool = False):
        """``budget_ms``: the most time one view() spends searching (front ends: DECODE_BUDGET_MS);
        a longer search (a paste, an edit at the start of a long input) goes on in :meth:`idle`,
        the view saying ``complete=False`` meanwhile. None: every view is complete.
        ``prediction``: offer the likely next words after a commit."""
        self.engine = engine
        self._script = script_converter(script)
        self.layout = shuangpin_layout(layout)
        self._allowed = self.layout.keys if self.layout is not None else ALLOWED
        self.page_size = max(1, page_size)
        self.letters = ""
        self.cursor = 0
        self.page = 0
        self.highlight = 0
        self._context = self._simplified(context)[-MAX_CONTEXT_CHARS:]
        self._typed = len(self._context)  # how many of its last characters the user typed (learned from)
        self._selected: list[_Selection] = []
        self._decoder: Decoder | None = None
        self._cands: list[Conversion] | None = None
        self._undo: list[Decoder] = []  # the decoder before each partial selection
        self.predicting = prediction  # offer next words after a commit
        self.budget_ms = budget_ms
        self._partial = False  # the candidates cover only the letters decoded so far
        self._predictions: tuple[str, ...] = ()  # in the output script
        self._heap_used = False  # a view decoded since the heap's free pages were last handed back

    # -- state --------------------------------------------------------------------------
    @property
    def composing(self) -> bool:
        return bool(self.letters or self._selected)

    @property
    def decoding(self) -> bool:
        """The last candidates cover only part of the letters: :meth:`idle` goes on searching."""
        return self._partial and self._cands is not None

    @property
    def predictions(self) -> tuple[str, ...]:
        """The predicted next words shown after a commit (none while composing)."""
        return () if self.composing else self._predictions

    def set_page_size(self, page_size: int) -> None:
        """Candidates per page; keeps the input and the highlighted candidate."""
        absolute = self.page * self.page_size + self.highlight
        self.page_size = max(1, page_size)
        self.page, self.highlight = divmod(absolute, self.page_size)

    def set_context(self, text: str, typed: int | None = None) -> None:
        """Text just before the caret; the last 32 characters condition the scorers. ``typed``: how
        many of its last characters the user typed (None: all); what learning pairs a committed
        word with is only ever text the user typed, never an application's own text."""
        ctx = self._simplified(text[-MAX_CONTEXT_CHARS:])
        if typed is not None:
            self._typed = min(typed, len(ctx))
        elif ctx != self._context:
            self._typed = len(ctx)
        if ctx != self._context:
            self._context = ctx
            self._predictions = ()  # the caret moved elsewhere
            self._decoder = None
            self._undo = []
            self._cands = None

    # -- editing ------------------------------------------------------------------------
    def insert(self, text: str) -> None:
        """Insert letters (and apostrophes) at the caret; other characters are ignored."""
        text = "".join(c for c in text.lower() if c in self._allowed)
        if not text:
            return
        self._predictions = ()
        self.letters = self.letters[: self.cursor] + text + self.letters[self.cursor:]
        self.cursor += len(text)
        self._changed()

    def backspace(self) -> None:
        """Delete before the caret; at the start, undo the last partial selection."""
        if self.cursor > 0:
            self.letters = self.letters[: self.cursor - 1] + self.letters[self.cursor:]
            self.cursor -= 1
        elif self._selected:
            sel = self._selected.pop()
            self.letters = sel.letters + self.letters
            self.cursor = len(sel.letters)
            self._decoder = self._undo.pop() if self._undo else None  # its states still fit the letters
        self._changed()

    def delete(self) -> None:
        if self.cursor < len(self.letters):
            self.letters = self.letters[: self.cursor] + self.letters[self.cursor + 1:]
            self._changed()

    def move_cursor(self, delta: int) -> None:
        self.set_cursor(self.cursor + delta)

    def set_cursor(self, pos: int) -> None:
        self.cursor = max(0, min(len(self.letters), pos))

    # -- paging and highlight -----------------------------------------------------------
    def page_down(self) -> bool:
        if (self.page + 1) * self.page_size < len(self._candidates()):
            self.page += 1
            self.highlight = 0
            return True
        return False

    def page_up(self) -> bool:
        if self.page > 0:
            self.page -= 1
            self.highlight = 0
            return True
        return False

    def move_highlight(self, delta: int) -> None:
        """Move the highlight; crossing a page edge turns the page."""
        n = len(self._candidates())
        absolute = max(0, min(n - 1, self.page * self.page_size + self.highlight + delta))
        self.page, self.highlight = divmod(absolute, self.page_size)

    # -- choosing -----------------------------------------------------------------------
    def select_on_page(self, k: int) -> str | None:
        """Choose candidate ``k`` of the page; while not composing, prediction ``k`` (the next word)."""
        if not self.composing:
            return self.pick_prediction(k)
        return self.select(self.page * self.page_size + k)

    def pick_prediction(self, k: int) -> str | None:
        """Commit the ``k``-th predicted next word; the words likely after it are predicted next."""
        if not 0 <= k < len(self._predictions):
            return None
        text = self._predictions[k]
        self._context = (self._context + self._simplified(text))[-MAX_CONTEXT_CHARS:]
        self._predict()
        return text

    def dismiss_predictions(self) -> None:
        """Hide the predicted next words (a key that is not a pick, Esc)."""
        self._predictions = ()

    def commit(self) -> str | None:
        """Choose the highlighted candidate (Space)."""
        if not self.letters:
            return self._finish("") if self._selected else None
        if self.page == 0 and self.highlight == 0 and (self._cands is None or self._partial):
            self._candidates(complete=True)  # Space converts the whole input, decoded or not yet
        return self.select(self.page * self.page_size + self.highlight)

    def select(self, index: int) -> str | None:
        """Choose a candidate: the text to commit if the input is done, else None (partial).

        ``index`` is into the list last shown; keys that came before any view (a digit typed
        right after the letters) choose from the whole input's list."""
        cands = self._candidates(complete=self._cands is None)
        if not 0 <= index < len(cands):
            return None
        c = cands[index]
        pinyin = self._pinyin()
        rest = pinyin[c.consumed:].lstrip(SEPARATOR)
        if not rest:
            self._selected.append(_Selection(c.text, self.letters, c.tokens, c.kind))
            return self._finish("")
        consumed = len(pinyin) - len(rest)  # in pinyin letters
        keys = self._keys_at(consumed)
        self._selected.append(_Selection(c.text, self.letters[:keys], c.tokens, c.kind))
        old = self._decoder_for_input()
        self._undo.append(old)
        self.letters = self.letters[keys:]
        self.cursor = len(self.letters)
        # the letters after the choice were decoded already: continue from that work
        if self._pinyin() == rest:
            self._decoder = old.after_selection(c, consumed, self._decoder_context())
        else:  # the pick ended inside keys that spell no syllable: decode the rest afresh
            self._decoder = None
        self._changed()
        return None

    def forget_highlighted(self) -> list[str]:
        """Forget what was learned of the highlighted candidate (Ctrl+Delete); returns the words forgotten.

        The candidates are ranked again without them; the input stays as it is."""
        cands = self._candidates()
        index = self.page * self.page_size + self.highlight
        if not 0 <= index < len(cands):
            return []
        parts = self.engine.learned_parts(cands[index].text)
        if parts:
            self.engine.forget_words(parts)
            self.rerank()
        return parts

    def rerank(self) -> None:
        """Rank the input again from scratch (what the engine learned changed); keeps the input."""
        self._decoder = None  # its beams were scored with the old learned words
        self._undo = []
        self._cands = None

    def commit_raw(self) -> str:
        """Enter: chosen hanzi plus the raw letters, unconverted."""
        return self._finish(self.letters, learn=False)

    def cancel(self) -> None:
        self._reset()
        self._predictions = ()

    # -- view ---------------------------------------------------------------------------
    def view(self) -> SessionView:
        """Decode (incrementally) and describe what to show."""
        t0 = time.perf_counter()
        cands = self._candidates()
        ms = (time.perf_counter() - t0) * 1000
        self._heap_used = not release_if_grown()
        page_count = max(1, -(-len(cands) // self.page_size))
        self.page = min(self.page, page_count - 1)
        on_page = cands[self.page * self.page_size: (self.page + 1) * self.page_size]
        preedit, pcur = self._preedit()
        return SessionView(
            preedit=preedit, preedit_cursor=pcur, chosen=self._chosen_text(),
            letters=self.letters, cursor=self.cursor,
            candidates=tuple(Candidate(self._shown(c.text, c.kind), self._keys_at(c.consumed), c.kind,
                                       round(c.score, 3)) for c in on_page),
            page=self.page, page_count=page_count, highlight=min(self.highlight, max(0, len(on_page) - 1)),
            composing=self.composing, decode_ms=ms, predictions=self.predictions, complete=not self.decoding)

    def idle(self) -> bool:
        """One bounded step of work a front end runs while no key is waiting; True if more remains.

        After a partial selection, the decoder that Backspace at the start would bring back
        is one letter behind per key typed since. Catching it up here, a letter at a time
        (about one keystroke's work), makes that undo as fast as any key.

        First, though, a search that a view() left unfinished goes on (within the budget), and the
        model reads the search put off are done (Decoder.settle), so the next letter need not. Last, with
        nothing left to do, the heap's freed pages go back to the system if it has grown (engine.memory)."""
        if self.decoding:
            self._cands = None
            self._candidates()
            return True
        if self._decoder is not None and self._decoder.settle():
            return True
        if self._undo and self._selected:
            try:
                if not self._undo[-1].prepare(self._pinyin(self._selected[-1].letters + self.letters)):
                    return True
            except Exception:
                self._undo = []  # a half-advanced decoder must not come back: the undo decodes afresh
                raise
        if self._heap_used:
            self._heap_used = False
            release_if_grown()
        return False

    def candidates(self) -> list[Candidate]:
        """The whole ranked candidate list (all pages)."""
        return [Candidate(self._shown(c.text, c.kind), self._keys_at(c.consumed), c.kind, c.score)
                for c in self._candidates()]

    # -- internals ----------------------------------------------------------------------
    def _changed(self) -> None:
        self.page = 0
        self.highlight = 0
        self._cands = None

    def _decoder_for_input(self) -> Decoder:
        if self._decoder is None:
            ctx = self._decoder_context()
            self._decoder = self.engine.decoder(ctx, whole_syllables=True) if self.layout else self.engine.decoder(ctx)
        return self._decoder

    def _shown(self, text: str, kind: str = "") -> str:
        """Decoded (simplified) text in the output script; quick phrases stay as written."""
        return self._script.convert(text) if self._script is not None and text and kind != "phrase" else text

    def _chosen_text(self) -> str:
        """The partial selections as shown."""
        return "".join(self._shown(s.text, s.kind) for s in self._selected)

    def _simplified(self, text: str) -> str:
        """Committed text (in the output script) as the simplified context the scorers read."""
        return self._script.to_simplified(text) if self._script is not None and text else text

    def _pinyin(self, keys: str | None = None) -> str:
        """What the decoder converts: the letters (default: the input's), or the pinyin that
        shuangpin keys spell."""
        keys = self.letters if keys is None else keys
        return keys if self.layout is None else self.layout.read(keys).pinyin

    def _keys_at(self, pinyin_pos: int) -> int:
        """Keys (letters) covered by the first ``pinyin_pos`` pinyin letters of the input."""
        if self.layout is None:
            return pinyin_pos
        at = self.layout.read(self.letters).keys_at
        return at[min(pinyin_pos, len(at) - 1)]

    def _decoder_context(self) -> str:
        return (self._context + "".join(s.text for s in self._selected))[-MAX_CONTEXT_CHARS:]

    def _candidates(self, complete: bool = False) -> list[Conversion]:
        if self._cands is None or (complete and self._partial):
            pinyin = self._pinyin()
            deadline = None if complete or self.budget_ms is None else time.perf_counter() + self.budget_ms / 1000
            decoder = self._decoder_for_input()
            self._cands = candidates(decoder, pinyin, self.letters, self.engine.user_dict, self.engine.phrases,
                                     deadline)
            self._partial = bool(self.letters) and decoder.text != pinyin
        return self._cands

    def _preedit(self) -> tuple[str, int]:
        chosen = self._chosen_text()
        if not self.letters:
            return chosen, len(chosen)
        if self.layout is not None:  # the pinyin already has its separators
            reading = self.layout.read(self.letters)
            return chosen + reading.pinyin, len(chosen) + reading.pinyin_at[self.cursor]
        starts = {s.start for s in self._decoder_for_input().best_segments()}
        out, caret = [], None
        for i, ch in enumerate(self.letters):
            if i == self.cursor:
                caret = len("".join(out))
            if i in starts and i > 0 and ch != SEPARATOR and self.letters[i - 1] != SEPARATOR:
                out.append(SEPARATOR)
                if i == self.cursor:
                    caret += 1
            out.append(ch)
        text = "".join(out)
        return chosen + text, len(chosen) + (caret if caret is not None else len(text))

    def _finish(self, tail: str, learn: bool = True) -> str:
        text = "".join(s.text for s in self._selected) + tail
        shown = self._chosen_text() + tail
        if learn and self._selected:
            typed = self._context[len(self._context) - self._typed:] if self._typed else ""
            self.engine.learn([t for s in self._selected for t in s.tokens], typed)
        self._reset()
        self._context = (self._context + text)[-MAX_CONTEXT_CHARS:]  # what was just typed conditions what follows
        self._typed = min(self._typed + len(text), len(self._context))
        if learn:
            self._predict()
        return shown

    def _predict(self) -> None:
        """The next words likely after the context, one page of them, when prediction is on."""
        if not self.predicting:
            self._predictions = ()
            return
        words = self.engine.predict(self._context, self.page_size)
        self._predictions = tuple(self._shown(w) for w in words)

    def _reset(self) -> None:
        self.letters = ""
        self.cursor = 0
        self._selected = []
        self._decoder = None
        self._undo = []
        self._changed()
