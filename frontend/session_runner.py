"""Applying actions to an engine Session: the toolkit-free half of every front end's glue.

An action is one of :mod:`frontend.actions`: a :class:`~frontend.actions.SessionAction` (what
:func:`~frontend.keytable.route_key` returns for a key), :class:`~frontend.actions.CommitAllThen`
for punctuation typed while composing, or :class:`~frontend.actions.SetContext`. A
:class:`SessionRunner` applies it to its Session, keeps the text committed so far as the
session's context, and returns an :class:`Outcome` that says what to insert into the text. The
window's worker thread and the IBus engine each drive one; neither holds a copy of this logic.

On the keystroke path nothing raises: a failed action or decode is logged and reported in
``Outcome.error``, and a failed decode commits the letters as typed so no input is lost.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from engine.pinyin.session import DECODE_BUDGET_MS

from .actions import CommitAllThen, ForgetHighlighted, SessionAction, SetContext, TypeText
from .punctuation import Punctuator

log = logging.getLogger(__name__)

CONTEXT_CHARS = 64  # committed text kept as context (the engine reads the last 32)
MAX_COMMIT_STEPS = 64  # bound on partial selections when committing everything


@dataclass(frozen=True)
class Outcome:
    """What one action (or decode) produced besides the new session state."""

    committed: str = ""  # text to insert into the document
    forgotten: tuple[str, ...] = ()  # words forgotten (Ctrl+Delete)
    error: str = ""  # a handled failure, for the status line


NOTHING = Outcome()


def punctuation_action(punctuator: Punctuator, char: str, *, fullwidth: bool, composing: bool,
                       before: str = "") -> CommitAllThen | TypeText:
    """What an ASCII punctuation key typed in Chinese mode does.

    While composing it commits the highlighted candidate (and the rest of the input) first, as
    fcitx5 does: :class:`CommitAllThen`. Idle it types at once: :class:`TypeText`;
    ``before`` is the character before the caret ("" if unknown), so ``3.14`` stays ASCII.
    """
    if composing:
        return CommitAllThen(punctuator.translate(char, fullwidth))
    return TypeText(punctuator.translate(char, fullwidth, before))


def action_name(action) -> str:
    """An action's name for messages: ``PageDown()`` -> ``page_down``."""
    name = type(action).__name__
    return "".join("_" + c.lower() if c.isupper() and i else c.lower() for i, c in enumerate(name))


class SessionRunner:
    """One Session of ``engine`` plus the committed text before the caret (its context).

    Not thread-safe, like the Session: call it from one thread.
    """

    budget_ms: float | None = DECODE_BUDGET_MS  # the search time one view may take (the rest goes on in idle)

    def __init__(self, engine, page_size: int, context: str = "", typed: int | None = None):
        """``typed``: how many of the context's last characters the user typed (None: all of it)."""
        self.engine = engine
        self.page_size = page_size
        self.context = context[-CONTEXT_CHARS:]
        self.typed = len(self.context) if typed is None else min(typed, len(self.context))
        self.session = self._new_session()
        self.session.set_context(self.context, self.typed)

    def _new_session(self):
        return self.engine.new_session(page_size=self.page_size, budget_ms=self.budget_ms)

    @property
    def composing(self) -> bool:
        return self.session.composing

    def apply(self, action: SessionAction | CommitAllThen | SetContext) -> Outcome:
        """Apply one action; a failure is logged and returned as ``Outcome.error``.

        Any other object is a programming error and raises ValueError."""
        if not isinstance(action, (SessionAction, CommitAllThen, SetContext)):
            raise ValueError(f"not a session action: {action!r}")
        try:
            if isinstance(action, CommitAllThen):
                return self._committed(self.commit_all_then(action.suffix))
            if isinstance(action, SetContext):
                self.set_context(action.text)
                return NOTHING
            result = action.apply_to(self.session)
        except Exception as e:  # never raise on the keystroke path: log, tell, go on
            log.exception("action %r failed", action)
            return Outcome(error=f"{action_name(action)} failed: {e}")
        if action.commits and result:
            return self._committed(result)
        if isinstance(action, ForgetHighlighted) and result:
            return Outcome(forgotten=tuple(result))
        return NOTHING

    def commit_all_then(self, suffix: str) -> str:
        """Commit the highlighted candidate, and the rest until the input is converted, then ``suffix``."""
        text = ""
        for _ in range(MAX_COMMIT_STEPS):
            if not self.session.composing:
                break
            text = self.session.commit() or ""
            if text:
                break
        if self.session.composing:  # should not happen; keep the letters rather than lose them
            text = self.session.commit_raw()
        return text + suffix

    def view(self):
        """``(SessionView or None, Outcome)``: decode; after a failure the letters are committed as typed."""
        try:
            return self.session.view(), NOTHING
        except Exception as e:
            log.exception("decoding failed")
            return self._salvage(f"decoding failed ({e}); letters committed as typed")

    @property
    def decoding(self) -> bool:
        """The last view showed the candidates of part of the letters; idle steps decode the rest."""
        return self.session.decoding

    def idle(self) -> bool:
        """One bounded step of the session's idle work (run while no key waits); True if more remains.

        Idle work finishes a search a view left unfinished (then the front end shows the view
        again: :attr:`decoding` turned False) and prepares the undo of a partial pick. A failure
        is logged and ends it, and typing goes on."""
        try:
            return bool(self.session.idle())
        except Exception:
            log.exception("idle work failed")
            return False

    def set_context(self, text: str, typed: int | None = None) -> None:
        """The text before the caret (the front end knows it after the user moved); ``typed``: how
        many of its last characters the user typed (None: all; 0 for an application's own text,
        which is a context but never learned from)."""
        self.context = text[-CONTEXT_CHARS:]
        self.typed = len(self.context) if typed is None else min(typed, len(self.context))
        self.session.set_context(self.context, self.typed)

    def note_typed(self, text: str) -> None:
        """Text the front end inserted itself (idle punctuation): it is context too."""
        if text:
            self.set_context(self.context + text, self.typed + len(text))

    def set_page_size(self, page_size: int) -> None:
        """Candidates per page; the input in progress stays."""
        self.page_size = page_size
        self.session.set_page_size(page_size)

    def use_engine(self, engine, page_size: int | None = None) -> None:
        """Continue with ``engine`` (reloaded or reconfigured): a new, empty session, same context."""
        self.engine = engine
        if page_size is not None:
            self.page_size = page_size
        self.session = self._new_session()
        self.session.set_context(self.context, self.typed)

    def _committed(self, text: str) -> Outcome:
        if not text:
            return NOTHING
        self.context = (self.context + text)[-CONTEXT_CHARS:]
        self.typed = min(self.typed + len(text), len(self.context))
        self.session.set_context(self.context, self.typed)
        return Outcome(committed=text)

    def _salvage(self, error: str):
        """After a failed decode: commit the raw letters so no input is lost."""
        committed = ""
        try:
            committed = self.session.commit_raw()
            if committed:
                self._committed(committed)
            return self.session.view(), Outcome(committed=committed, error=error)
        except Exception:
            log.exception("decoding failed again after commit_raw; new session")
            self.session = self._new_session()
            return None, Outcome(committed=committed, error=error)
