"""Typed actions: what a key, a click or a menu asks of the engine, defined once for every front end.

A :class:`SessionAction` is one call on an engine :class:`~engine.pinyin.session.Session`
(:meth:`SessionAction.apply_to` makes it); :class:`CommitAllThen` and :class:`SetContext` are
applied by the :class:`~frontend.session_runner.SessionRunner` itself; a :class:`WorkerAction`
is the window's worker thread's own (settings, reload, the learned words, the user dictionary,
backups). :class:`TypeText` is no engine action: the front end types its text at the caret.

Each class says what the action may do to the composition (:attr:`Action.after`) and whether
its answer may insert text (:attr:`Action.inserts_text`): a front end whose session runs
elsewhere (the window's worker) uses them to keep keys in typing order.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar


class After(Enum):
    """Whether the session composes after an action, as far as the front end can tell before the answer."""

    UNCHANGED = "unchanged"  # as before the action
    COMPOSING = "composing"
    IDLE = "idle"
    UNKNOWN = "unknown"  # the answer says (a pick may or may not end the input)


class Toggle(Enum):
    """What Ctrl+Space, Ctrl+. and the front ends' mode buttons toggle."""

    MODE = "mode"  # Chinese / English
    PUNCTUATION = "punctuation"  # full-width / half-width


@dataclass(frozen=True)
class Action:
    """Base of every engine action."""

    after: ClassVar[After] = After.UNCHANGED
    inserts_text: ClassVar[bool] = False  # its answer may insert text into the document


# Session actions ------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionAction(Action):
    """One call on an engine Session."""

    commits: ClassVar[bool] = False  # the call returns the text to insert

    def apply_to(self, session) -> Any:
        """Make the call; returns what the Session method returns."""
        raise NotImplementedError


@dataclass(frozen=True)
class Insert(SessionAction):
    """Type letters (a pinyin letter, ``'``, a shuangpin layout key)."""

    char: str
    after: ClassVar[After] = After.COMPOSING

    def apply_to(self, session) -> Any:
        return session.insert(self.char)


@dataclass(frozen=True)
class Backspace(SessionAction):
    after: ClassVar[After] = After.UNKNOWN

    def apply_to(self, session) -> Any:
        return session.backspace()


@dataclass(frozen=True)
class Delete(SessionAction):
    after: ClassVar[After] = After.UNKNOWN

    def apply_to(self, session) -> Any:
        return session.delete()


@dataclass(frozen=True)
class MoveCursor(SessionAction):
    """Move the caret inside the pinyin by ``delta`` letters (clamped at either end)."""

    delta: int

    def apply_to(self, session) -> Any:
        return session.move_cursor(self.delta)


@dataclass(frozen=True)
class SetCursor(SessionAction):
    position: int

    def apply_to(self, session) -> Any:
        return session.set_cursor(self.position)


@dataclass(frozen=True)
class MoveHighlight(SessionAction):
    """Move the highlighted candidate by ``delta`` (crossing a page edge turns the page)."""

    delta: int

    def apply_to(self, session) -> Any:
        return session.move_highlight(self.delta)


@dataclass(frozen=True)
class PageUp(SessionAction):
    def apply_to(self, session) -> Any:
        return session.page_up()


@dataclass(frozen=True)
class PageDown(SessionAction):
    def apply_to(self, session) -> Any:
        return session.page_down()


@dataclass(frozen=True)
class SelectOnPage(SessionAction):
    """Pick candidate ``index`` of the page shown (a digit key, a click)."""

    index: int
    commits: ClassVar[bool] = True
    after: ClassVar[After] = After.UNKNOWN
    inserts_text: ClassVar[bool] = True

    def apply_to(self, session) -> Any:
        return session.select_on_page(self.index)


@dataclass(frozen=True)
class Select(SessionAction):
    """Pick candidate ``index`` of the whole list."""

    index: int
    commits: ClassVar[bool] = True
    after: ClassVar[After] = After.UNKNOWN
    inserts_text: ClassVar[bool] = True

    def apply_to(self, session) -> Any:
        return session.select(self.index)


@dataclass(frozen=True)
class Commit(SessionAction):
    """Commit the highlighted candidate (Space)."""

    commits: ClassVar[bool] = True
    after: ClassVar[After] = After.UNKNOWN
    inserts_text: ClassVar[bool] = True

    def apply_to(self, session) -> Any:
        return session.commit()


@dataclass(frozen=True)
class CommitRaw(SessionAction):
    """Commit the letters as typed (Enter)."""

    commits: ClassVar[bool] = True
    after: ClassVar[After] = After.IDLE
    inserts_text: ClassVar[bool] = True

    def apply_to(self, session) -> Any:
        return session.commit_raw()


@dataclass(frozen=True)
class Cancel(SessionAction):
    after: ClassVar[After] = After.IDLE

    def apply_to(self, session) -> Any:
        return session.cancel()


@dataclass(frozen=True)
class ForgetHighlighted(SessionAction):
    """Forget what was learned of the highlighted candidate (Ctrl+Delete)."""

    def apply_to(self, session) -> Any:
        return session.forget_highlighted()


@dataclass(frozen=True)
class PickPrediction(SessionAction):
    index: int
    commits: ClassVar[bool] = True

    def apply_to(self, session) -> Any:
        return session.pick_prediction(self.index)


@dataclass(frozen=True)
class DismissPredictions(SessionAction):
    """Hide the next-word predictions (a key that is not a pick)."""

    def apply_to(self, session) -> Any:
        return session.dismiss_predictions()


# The runner's own actions -----------------------------------------------------------------


@dataclass(frozen=True)
class CommitAllThen(Action):
    """Commit the highlighted candidate and the rest of the input, then ``suffix`` (punctuation typed while composing)."""

    suffix: str
    after: ClassVar[After] = After.IDLE
    inserts_text: ClassVar[bool] = True


@dataclass(frozen=True)
class SetContext(Action):
    """The committed text before the caret (the front end saw the caret move)."""

    text: str


RunnerAction = SessionAction | CommitAllThen | SetContext


@dataclass(frozen=True)
class TypeText:
    """No engine action: the front end types ``text`` at the caret (punctuation typed while idle)."""

    text: str


# The window's worker actions ----------------------------------------------------------------


@dataclass(frozen=True)
class WorkerAction(Action):
    """An action of the window's worker thread besides the runner's (no keystroke)."""


@dataclass(frozen=True)
class Configure(WorkerAction):
    """New engine settings (``frontend.config.engine_overrides``) and page size: a new, empty session."""

    page_size: int
    overrides: dict = field(hash=False)
    after: ClassVar[After] = After.IDLE


@dataclass(frozen=True)
class Reload(WorkerAction):
    """Load the engine again (a personal model was trained)."""

    after: ClassVar[After] = After.IDLE


@dataclass(frozen=True)
class ClearHistory(WorkerAction):
    pass


@dataclass(frozen=True)
class ListLearned(WorkerAction):
    pass


@dataclass(frozen=True)
class ForgetWords(WorkerAction):
    words: tuple[str, ...]


@dataclass(frozen=True)
class UserdictList(WorkerAction):
    pass


@dataclass(frozen=True)
class UserdictAdd(WorkerAction):
    """One typed entry: ``word [pinyin] [weight]``."""

    line: str


@dataclass(frozen=True)
class UserdictRemove(WorkerAction):
    words: tuple[str, ...]


@dataclass(frozen=True)
class UserdictImport(WorkerAction):
    path: str


@dataclass(frozen=True)
class UserdictExport(WorkerAction):
    path: str


@dataclass(frozen=True)
class LearnedExport(WorkerAction):
    path: str


@dataclass(frozen=True)
class UserDataExport(WorkerAction):
    """All user data in one backup file, with the front end's ``files`` (name -> bytes)."""

    path: str
    files: dict = field(hash=False)


@dataclass(frozen=True)
class UserDataImport(WorkerAction):
    path: str
