"""One input context whose session runs on the caller's thread: the IBus engine's (and any synchronous front end's).

A :class:`Composer` is an :class:`~frontend.controller.InputController` over its own
:class:`~frontend.session_runner.SessionRunner`: it takes :class:`~frontend.keytable.Key` presses,
applies their actions at once (so whether a key is taken is always known when the application
asks) and tells a :class:`Display` what to show and commit. The front end implements the Display
(IBus calls; tests record them) and translates its key events into Keys.

Decoding waits until the keys already queued are handled (``defer``: GLib's idle queue in IBus), so
a burst of keys costs one decode; the session's idle work (the undo of a partial pick, prepared
ahead) runs a step at a time after it, while no key waits. Keys typed while the engine still loads
are queued in order, their letters shown as typed, and applied once it is ready.
"""
from __future__ import annotations

import logging
from typing import Callable, Protocol

from .actions import Action, Backspace, Cancel, CommitAllThen, CommitRaw, Insert, Toggle
from .config import Settings
from .controller import ControlledFront, InputController
from .keytable import Key, ShiftTap
from .session_runner import Outcome, SessionRunner

log = logging.getLogger(__name__)

PAGES_AHEAD = 1  # pages after the current one sent in the candidate list
MAX_BEFORE_CHARS = 4096  # of an application's text before the caret, the most kept (the engine reads the last 32)


class Display(Protocol):
    """What an input context can show; each synchronous front end implements it."""

    def commit(self, text: str) -> None: ...
    def show_preedit(self, text: str, cursor: int) -> None: ...
    def hide_preedit(self) -> None: ...
    def show_candidates(self, texts: list[str], cursor: int, page_size: int) -> None: ...
    def hide_candidates(self) -> None: ...
    def modes_changed(self, chinese: bool, fullwidth: bool) -> None: ...
    def problem(self, text: str) -> None: ...


class Composer(ControlledFront):
    """Routes one input context's keys; see the module docstring.

    ``defer(fn)`` runs ``fn`` soon on this thread; ``settings`` gives the start mode,
    punctuation width, page size, comma/period paging and layout."""

    def __init__(self, display: Display, defer: Callable[[Callable[[], None]], None], settings: Settings):
        self.display = display
        self._defer = defer
        self.runner: SessionRunner | None = None  # None until the engine has loaded
        self.page_size = settings.page_size
        self.controller = InputController(self, self, chinese=settings.chinese_mode,
                                          fullwidth=settings.fullwidth_punct,
                                          comma_period_paging=settings.comma_period_paging, layout=settings.layout)
        self.shift_tap = ShiftTap()
        self._queued: list[Action] = []  # actions typed while the engine loads
        self._typed = ""  # their letters, shown as the preedit meanwhile
        self._refresh_scheduled = False
        self._before = ""  # the character before the caret, where known (for 3.14)
        self._context = ""  # the application's text before the caret, given while the engine loads
        self._context_typed = 0  # how many of its last characters the user typed (learned from)

    # The SessionPort (for the controller) ---------------------------------------------------

    @property
    def composing(self) -> bool:
        """Whether input is pending (while loading: letters were typed)."""
        return self.runner.composing if self.runner is not None else bool(self._typed)

    @property
    def composing_state(self) -> bool:
        return self.composing

    @property
    def predicting(self) -> bool:
        return bool(self.predictions)

    @property
    def text_pending(self) -> bool:
        return False  # commits are shown at once

    def send(self, action: Action) -> None:
        """Apply an action (a key's, or the candidate panel's: a click, a page button)."""
        if self.runner is None:
            self._queue(action)
        else:
            self._apply(action)
        self._after_change()

    # The KeyTarget (for the controller) -----------------------------------------------------

    def pass_key(self, key: Key) -> None:
        """A key the application handles: what it types is the context of the next input."""
        if self.composing:
            return  # a shortcut while composing
        if key.text and key.text.isprintable() and not key.ctrl_alt:
            self._note_typed(key.text)
        else:  # the caret moved or the text changed in a way we cannot see
            self.forget_context()

    def type_text(self, text: str) -> None:
        self.display.commit(text)
        self._note_typed(text)

    def text_before(self) -> str:
        return self._before

    def modes_changed(self, chinese: bool, fullwidth: bool) -> None:
        self.display.modes_changed(chinese, fullwidth)

    # Keys -----------------------------------------------------------------------------------

    def key_event(self, key: Key, *, release: bool, is_shift: bool) -> bool:
        """One key event (press or release); whether it was taken. A Shift tap toggles the mode."""
        if release:
            if self.shift_tap.release(is_shift):
                self.controller.set_chinese(not self.chinese)
            return False
        self.shift_tap.press(is_shift, other_modifiers=key.ctrl_alt)
        taken = self.controller.press(key)
        if not taken and not key.is_modifier:
            self.pass_key(key)
        return taken

    def toggle(self, what: Toggle) -> None:
        """A mode button of the front end (or Ctrl+Space, Ctrl+.)."""
        self.controller.toggle(what)

    def set_context(self, text: str) -> None:
        """The application's text before the caret (IBus's or fcitx5's surrounding text): the context of the next input.

        Only a context: nothing is learned from it. What the user typed here and the text still ends
        with stays the user's (applications report their text again after each commit), so
        consecutive words are still learned as pairs. Ignored while composing (the application's
        text does not hold the input yet; the next commit extends the context anyway)."""
        if self.composing:
            return
        text = text[-MAX_BEFORE_CHARS:]
        context, typed = ((self.runner.context, self.runner.typed) if self.runner is not None
                          else (self._context, self._context_typed))
        mine = context[len(context) - typed:] if typed else ""
        typed = len(mine) if mine and text.endswith(mine) else 0
        self._before = text[-1:]
        if self.runner is None:
            self._context, self._context_typed = text, typed
        else:
            self.runner.set_context(text, typed=typed)

    def forget_context(self) -> None:
        """The text before the caret is unknown (the caret moved where we cannot see, a password field)."""
        self._before, self._context, self._context_typed = "", "", 0
        if self.runner is not None and not self.composing:
            self.runner.set_context("")

    def reset(self) -> None:
        """The application reset the input (a click, focus moved): drop it; the context is unknown now.

        The application keeps the preedit itself (it is shown with the "commit on focus out" mode)."""
        if self.runner is not None:
            self.runner.apply(Cancel())
            self.runner.set_context("")
        self._queued, self._typed, self._before, self._context, self._context_typed = [], "", "", "", 0
        self._hide()

    # The engine and the settings ------------------------------------------------------------

    def engine_ready(self, engine) -> None:
        """The shared engine has loaded (or was reloaded): keys typed meanwhile are applied now."""
        if self.runner is not None:
            self.controller.commit_pending()
            self.runner.use_engine(engine, self.page_size)
            return
        self.runner = SessionRunner(engine, self.page_size, context=self._context, typed=self._context_typed)
        self._context, self._context_typed = "", 0
        queued, self._queued, self._typed = self._queued, [], ""
        for action in queued:
            self._apply(action)
        self._after_change()

    def engine_failed(self, message: str) -> None:
        """No engine: English only; letters typed while it loaded are committed as typed."""
        typed, self._queued, self._typed = self._typed, [], ""
        if typed:
            self.display.commit(typed)
        self._hide()
        self.display.problem(message)
        self.controller.engine_failed()

    def apply_settings(self, old: Settings, new: Settings) -> None:
        """Settings changed (the window or the settings dialog saved them)."""
        self.controller.set_typing(comma_period_paging=new.comma_period_paging, layout=new.layout)
        if new.page_size != self.page_size:
            self.page_size = new.page_size
            if self.runner is not None:
                self.runner.set_page_size(new.page_size)
                self._after_change()
        if old.fullwidth_punct != new.fullwidth_punct:
            self.controller.set_fullwidth(new.fullwidth_punct)
        if old.chinese_mode != new.chinese_mode:
            self.controller.set_chinese(new.chinese_mode)

    # Applying and showing -------------------------------------------------------------------

    def _note_typed(self, text: str) -> None:
        self._before = text[-1:]
        if self.runner is not None:
            self.runner.note_typed(text)
        elif self._context:
            self._context += text
            self._context_typed += len(text)

    def _apply(self, action: Action) -> None:
        self._report(self.runner.apply(action))

    def _queue(self, action: Action) -> None:
        """While loading: keep the action for later, and its letters for the preedit."""
        if isinstance(action, CommitRaw):  # Enter: the letters as typed, nothing to decode
            typed, self._queued, self._typed = self._typed, [], ""
            self._report(Outcome(committed=typed))
            return
        if isinstance(action, Cancel):
            self._queued, self._typed = [], ""
            return
        self._queued.append(action)
        if isinstance(action, Insert):
            self._typed += action.char
        elif isinstance(action, Backspace):
            self._typed = self._typed[:-1]
        elif isinstance(action, CommitAllThen):
            self._typed = ""

    def _report(self, outcome: Outcome) -> None:
        if outcome.committed:
            self.display.commit(outcome.committed)
            self._before = outcome.committed[-1:]
        if outcome.error:
            self.display.problem(outcome.error)

    @property
    def predictions(self) -> tuple[str, ...]:
        """The next words predicted after the last commit (shown while idle)."""
        return self.runner.session.predictions if self.runner is not None else ()

    def _after_change(self) -> None:
        if not self.composing:
            self._hide()
            if self.predictions:  # no highlight: Space types a space, it does not pick
                self.display.show_candidates(list(self.predictions), -1, self.runner.page_size)
        elif not self._refresh_scheduled:
            self._refresh_scheduled = True
            self._defer(self._refresh)

    def _refresh(self) -> None:
        """Decode and show the preedit and the candidates (runs once after a burst of keys)."""
        self._refresh_scheduled = False
        if self.runner is None:
            if self._typed:
                self.display.show_preedit(self._typed, len(self._typed))
            return
        view, outcome = self.runner.view() if self.runner.composing else (None, Outcome())
        self._report(outcome)
        if view is None or not view.composing:
            self._hide()
            return
        self.display.show_preedit(view.preedit, view.preedit_cursor)
        size = self.runner.page_size
        # the pages up to the next one: page buttons work, and a key sends ~10 candidates, not ~40
        texts = [c.text for c in self.runner.session.candidates()[:(view.page + PAGES_AHEAD + 1) * size]]
        if texts:
            self.display.show_candidates(texts, view.page * size + view.highlight, size)
        else:
            self.display.hide_candidates()
        self._defer(self._idle_step)

    def _idle_step(self) -> None:
        """The session's idle work, a step at a time, while no key waits (a key's refresh comes first)."""
        if self.runner is None or self._refresh_scheduled:
            return
        was_decoding = self.runner.decoding
        more = self.runner.idle()
        if was_decoding and not self.runner.decoding:
            self._refresh()  # the search the key's view left unfinished is done: show it (and idle on)
        elif more:
            self._defer(self._idle_step)

    def _hide(self) -> None:
        self.display.hide_preedit()
        self.display.hide_candidates()
