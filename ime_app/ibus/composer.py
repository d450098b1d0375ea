"""What one IBus input context shows: key events -> the shared key table -> a SessionRunner.

:class:`Composer` is the IBus engine without IBus: it takes ``(keyval, state)`` pairs, routes
them with :func:`~ime_app.keytable.route_key` (the window's key table), applies the actions
to a :class:`~ime_app.session_runner.SessionRunner` and tells a :class:`Display` what to
show and commit. The ``gi`` engine (:mod:`ime_app.ibus.engine`) is a thin Display over
``IBus.Engine``; tests drive a Composer with a fake Display and no bus.

Edits are applied at once, so whether a key is consumed is always known when IBus asks;
decoding waits until the keys already queued are handled (``defer``: GLib's idle queue in
IBus), so a burst of keys costs one decode; the session's idle work (the undo of a partial
pick, prepared ahead) runs a step at a time after it, while no key waits. Keys typed while the engine still loads are
queued in order, their letters shown as typed, and applied once it is ready.
"""
from __future__ import annotations

import logging
from typing import Callable, Protocol

from ..config import Settings
from ..keytable import CTRL_TOGGLES, ShiftTap, dismisses_predictions, layout_keys, route_key
from ..punctuation import Punctuator
from ..session_runner import Outcome, SessionRunner, punctuation_action
from .keys import KeyPress, key_press

log = logging.getLogger(__name__)

PAGES_AHEAD = 1  # pages after the current one sent in the lookup table


class Display(Protocol):
    """What an input context can show; the IBus engine implements it with IBus calls."""

    def commit(self, text: str) -> None: ...
    def show_preedit(self, text: str, cursor: int) -> None: ...
    def hide_preedit(self) -> None: ...
    def show_candidates(self, texts: list[str], cursor: int, page_size: int) -> None: ...
    def hide_candidates(self) -> None: ...
    def modes_changed(self, chinese: bool, fullwidth: bool) -> None: ...
    def problem(self, text: str) -> None: ...


class Composer:
    """Routes one input context's keys; see the module docstring.

    ``defer(fn)`` runs ``fn`` soon on this thread; ``settings`` gives the start mode,
    punctuation width, page size and comma/period paging."""

    def __init__(self, display: Display, defer: Callable[[Callable[[], None]], None], settings: Settings):
        self.display = display
        self._defer = defer
        self.runner: SessionRunner | None = None  # None until the engine has loaded
        self.failed = False  # the engine could not load: English only
        self.chinese = settings.chinese_mode
        self.fullwidth = settings.fullwidth_punct
        self.page_size = settings.page_size
        self.comma_period_paging = settings.comma_period_paging
        self.layout_keys = layout_keys(settings.layout)  # shuangpin keys besides letters (; in Microsoft)
        self.punctuator = Punctuator()
        self.shift_tap = ShiftTap()
        self._queued: list[tuple] = []  # actions typed while the engine loads
        self._typed = ""  # their letters, shown as the preedit meanwhile
        self._refresh_scheduled = False
        self._before = ""  # the character before the caret, where known (for 3.14)

    @property
    def chinese_active(self) -> bool:
        return self.chinese and not self.failed

    @property
    def composing(self) -> bool:
        """Whether input is pending (while loading: letters were typed)."""
        return self.runner.composing if self.runner is not None else bool(self._typed)

    # The engine ---------------------------------------------------------------------

    def engine_ready(self, engine) -> None:
        """The shared engine has loaded (or was reloaded): keys typed meanwhile are applied now."""
        if self.runner is not None:
            self._commit_pending()
            self.runner.use_engine(engine, self.page_size)
            return
        self.runner = SessionRunner(engine, self.page_size)
        queued, self._queued, self._typed = self._queued, [], ""
        for action in queued:
            self._apply(action)
        self._after_change()

    def engine_failed(self, message: str) -> None:
        """No engine: English only; letters typed while it loaded are committed as typed."""
        self.failed = True
        typed, self._queued, self._typed = self._typed, [], ""
        if typed:
            self.display.commit(typed)
        self._hide()
        self.display.problem(message)
        self.display.modes_changed(False, self.fullwidth)

    def apply_settings(self, old: Settings, new: Settings) -> None:
        """Settings changed (the window or the settings dialog saved them)."""
        self.comma_period_paging = new.comma_period_paging
        self.layout_keys = layout_keys(new.layout)
        if new.page_size != self.page_size:
            self.page_size = new.page_size
            if self.runner is not None:
                self.runner.set_page_size(new.page_size)
                self._after_change()
        if old.fullwidth_punct != new.fullwidth_punct:
            self.set_fullwidth(new.fullwidth_punct)
        if old.chinese_mode != new.chinese_mode:
            self.set_chinese(new.chinese_mode)

    # Keys -----------------------------------------------------------------------------

    def process_key(self, keyval: int, state: int) -> bool:
        """One key event from IBus; whether it was consumed (else the application gets it)."""
        key = key_press(keyval, state)
        if key.release:
            if self.shift_tap.release(key.is_shift):
                self.set_chinese(not self.chinese)
            return False
        self.shift_tap.press(key.is_shift, other_modifiers=key.ctrl_alt)
        if key.is_modifier:
            return False
        if key.ctrl_only and key.name in CTRL_TOGGLES:
            self.toggle(CTRL_TOGGLES[key.name])
            return True
        route = route_key(key.name, key.text, ctrl_alt=key.ctrl_alt, chinese=self.chinese_active,
                          composing=self.composing, comma_period_paging=self.comma_period_paging,
                          layout_keys=self.layout_keys, predicting=bool(self.predictions))
        if self.predictions and dismisses_predictions(route):
            self.act(("dismiss_predictions",))  # not a pick: the key does what it does idle
        if route.kind == "editor":
            self._passed_through(key)
            return False
        if route.kind == "punct":
            self._punctuation(route.char)
        elif route.kind == "session":
            self.act(route.action)
        return True

    def act(self, action: tuple) -> None:
        """Apply a session action (a key's, or the candidate panel's: a click, a page button)."""
        if self.runner is None:
            self._queue(action)
        else:
            self._apply(action)
        self._after_change()

    def toggle(self, what: str) -> None:
        """Toggle "mode" (Chinese/English) or "punctuation" (full-width/half-width)."""
        if what == "mode":
            self.set_chinese(not self.chinese)
        elif what == "punctuation":
            self.set_fullwidth(not self.fullwidth)
        else:
            raise ValueError(f"nothing to toggle called {what!r}")

    def set_chinese(self, chinese: bool) -> None:
        if chinese != self.chinese:
            if not chinese:
                self._commit_pending()
            self.chinese = chinese
        self.display.modes_changed(self.chinese_active, self.fullwidth)

    def set_fullwidth(self, fullwidth: bool) -> None:
        self.fullwidth = fullwidth
        self.display.modes_changed(self.chinese_active, self.fullwidth)

    def reset(self) -> None:
        """The application reset the input (a click, focus moved): drop it; the context is unknown now.

        The application keeps the preedit itself (it is shown with the "commit on focus out" mode)."""
        if self.runner is not None:
            self.runner.apply(("cancel",))
            self.runner.set_context("")
        self._queued, self._typed, self._before = [], "", ""
        self._hide()

    def _passed_through(self, key: KeyPress) -> None:
        """A key the application handles: what it types is the context of the next input."""
        if self.composing:
            return  # a shortcut while composing
        if key.text and key.text.isprintable() and not key.ctrl_alt:
            self._note_typed(key.text)
        else:  # the caret moved or the text changed in a way we cannot see
            self._before = ""
            if self.runner is not None:
                self.runner.set_context("")

    def _punctuation(self, char: str) -> None:
        action = punctuation_action(self.punctuator, char, fullwidth=self.fullwidth, composing=self.composing,
                                    before=self._before)
        if action[0] == "type":
            self.display.commit(action[1])
            self._note_typed(action[1])
        else:
            self.act(action)

    def _note_typed(self, text: str) -> None:
        self._before = text[-1:]
        if self.runner is not None:
            self.runner.note_typed(text)

    # Applying and showing ---------------------------------------------------------------

    def _apply(self, action: tuple) -> None:
        self._report(self.runner.apply(action))

    def _queue(self, action: tuple) -> None:
        """While loading: keep the action for later, and its letters for the preedit."""
        name = action[0]
        if name == "commit_raw":  # Enter: the letters as typed, nothing to decode
            typed, self._queued, self._typed = self._typed, [], ""
            self._report(Outcome(committed=typed))
            return
        if name == "cancel":
            self._queued, self._typed = [], ""
            return
        self._queued.append(action)
        if name == "insert":
            self._typed += action[1]
        elif name == "backspace":
            self._typed = self._typed[:-1]
        elif name == "commit_all_then":
            self._typed = ""

    def _report(self, outcome: Outcome) -> None:
        if outcome.committed:
            self.display.commit(outcome.committed)
            self._before = outcome.committed[-1:]
        if outcome.error:
            self.display.problem(outcome.error)

    def _commit_pending(self) -> None:
        """Commit what is being typed as raw letters (before a switch to English or a reload)."""
        if self.composing:
            self.act(("commit_raw",))

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
        # the pages up to the next one: the panel's page buttons work, and a key sends ~10 candidates, not ~40
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
