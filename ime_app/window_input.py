"""The window's front end: the focused text field, the candidate window and the engine worker.

The GUI-thread half of the input method, a thin Qt adapter over the shared
:class:`~frontend.controller.InputController` (the mode, the punctuation width, what each key
means, the keys that wait). It never decodes: each action goes with a sequence number to
:class:`~ime_app.worker.EngineWorker`, and :class:`WindowInput` is the controller's
:class:`~frontend.controller.SessionPort` for it. Snapshots older than the newest action sent are
dropped. While a snapshot is on its way the typed letters are echoed in the preedit at once, so
typing never waits for the decoder.

A few keys mean different things while composing and while idle (Space, digits, Enter...).
After an action that may or may not end the composition (a pick, Space, Backspace), such
keys wait in order until the worker's answer says which it is; every other key goes at once.

One WindowInput serves every text field of the window and its dialogs: a
:class:`~ime_app.text_fields.FieldRouter` hands it the field that has the focus. Input pending
in the field left behind is committed there as typed, and text the worker converts for it
still lands there.
"""
from __future__ import annotations

import time

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QKeyEvent

from engine.pinyin.shuangpin import FULL_PINYIN
from frontend.actions import (Action, After, Cancel, ClearHistory, CommitRaw, Configure, DismissPredictions,
                              ForgetWords, Insert, ListLearned, PageDown, PageUp, Reload, SelectOnPage, SetContext,
                              WorkerAction)
from frontend.controller import ControlledFront, InputController
from frontend.keytable import Key
from frontend.session_runner import CONTEXT_CHARS

from .candidates import CandidateWindow
from .keymap import key_of
from .text_fields import FieldRouter, TextField

# Focus lost for these reasons comes back to the same field: the input stays pending.
FOCUS_RETURNS = (Qt.FocusReason.PopupFocusReason, Qt.FocusReason.ActiveWindowFocusReason)
COMPOSING_AFTER = {After.COMPOSING: True, After.IDLE: False, After.UNKNOWN: None}  # After -> _composing


class WindowInput(QObject, ControlledFront):
    """Glue between the focused :class:`~ime_app.text_fields.TextField`, the :class:`CandidateWindow`,
    the shared controller and the worker's signals. ``editor`` is the window's main text field, the
    first to get the keys."""

    request = Signal(int, object)  # (seq, Action) -> EngineWorker.submit
    mode_changed = Signal(bool)  # True = Chinese
    punct_changed = Signal(bool)  # True = full-width
    latency_changed = Signal(float, float)  # decode_ms of the newest snapshot, key-to-screen ms
    message = Signal(str)  # a short status bar message

    def __init__(self, editor, candidates: CandidateWindow, *, chinese: bool, fullwidth: bool,
                 comma_period_paging: bool = False, layout: str = FULL_PINYIN):
        super().__init__(editor)
        self.candidates = candidates
        self.home = TextField.of(editor)  # where the keys go when the focused field is gone
        self.field = self.home  # the text field the keys go to now
        self.controller = InputController(self, self, chinese=chinese, fullwidth=fullwidth,
                                          comma_period_paging=comma_period_paging, layout=layout)
        self._shown_modes = (chinese, fullwidth)  # what mode_changed / punct_changed last said
        self.ready = False  # engine loaded
        self.sent_seq = 0  # newest action sent
        self.shown_seq = 0  # action the drawn snapshot answers
        self.answered_seq = 0  # newest action the worker has answered (drawn or dropped as stale)
        self._text_seq = 0  # newest action sent that may insert text (Action.inserts_text)
        self._sent_at: dict[int, float] = {}  # seq -> perf_counter() when sent (key-to-screen latency)
        self.stale_dropped = 0  # snapshots dropped as stale (for tests and the curious)
        self.view = None  # newest SessionView drawn
        self._composing: bool | None = False  # None: an action in flight decides
        self._predicting = False  # next-word predictions are shown (from the drawn snapshot, until a send)
        self._inserts: list[tuple[int, str]] = []  # letters sent after the drawn snapshot
        self._own_edit = False  # True while we change the field (no context update)
        self._last_context: str | None = None
        self._left: list[tuple[int, TextField]] = []  # (newest seq sent while it had the keys, field left)
        self._switch_seq = 0  # newest action sent before the keys went to another field
        self.router = FieldRouter(self, editor)
        candidates.picked.connect(self._pick)
        candidates.page_requested.connect(self._turn_page)

    # The controller's state ---------------------------------------------------------------

    @property
    def failed(self) -> bool:
        """The engine could not load: English only."""
        return self.controller.failed

    def toggle_mode(self) -> None:
        """Chinese/English (a Shift tap), in order with the keys typed before it."""
        self.controller.toggle_mode()

    def set_typing(self, *, comma_period_paging: bool | None = None, layout: str | None = None) -> None:
        """The settings that change what keys mean."""
        self.controller.set_typing(comma_period_paging=comma_period_paging, layout=layout)

    def commit_pending(self) -> None:
        """Commit whatever is being typed as raw letters (before a mode switch, settings, a new file)."""
        self.controller.commit_pending()

    # The SessionPort (the worker, for the controller) -------------------------------------

    @property
    def composing(self) -> bool:
        """Whether input is pending (or may be: an action in flight decides)."""
        return self._composing is not False

    @property
    def composing_state(self) -> bool | None:
        """Whether input is pending; None while an action in flight decides."""
        return self._composing

    @property
    def predicting(self) -> bool:
        return self._predicting

    @property
    def text_pending(self) -> bool:
        """Converted text is on its way to the field: keys the field handles wait for it."""
        return self.answered_seq < self._text_seq

    def send(self, action: Action) -> None:
        """Send ``action`` to the worker, in order with the keys."""
        if self.failed:
            return
        self.sent_seq += 1
        self._sent_at[self.sent_seq] = time.perf_counter()
        self.request.emit(self.sent_seq, action)
        self._predicting = False  # until the answer says so again: a quick digit never picks a stale one
        if action.inserts_text:
            self._text_seq = self.sent_seq
        if action.after in COMPOSING_AFTER:
            self._composing = COMPOSING_AFTER[action.after]
        if isinstance(action, Insert):
            self._echo_insert(action.char)
        elif self._composing is False and self.field.preedit_text:
            # Enter, Esc or punctuation ended the input: clear it now; converted text follows.
            self._show_preedit("", 0)
            self.candidates.hide()

    # The KeyTarget (the focused field, for the controller) ---------------------------------

    def pass_key(self, key: Key) -> None:
        self.field.default_key(key.native)

    def type_text(self, text: str) -> None:
        self.field.insert_text(text)

    def text_before(self) -> str:
        return self.field.text_before_cursor(1)

    def modes_changed(self, chinese: bool, fullwidth: bool) -> None:
        """Emit what changed since the last time (the window relabels its mode indicators)."""
        shown, self._shown_modes = self._shown_modes, (chinese, fullwidth)
        if chinese != shown[0]:
            self.mode_changed.emit(chinese)
        if fullwidth != shown[1]:
            self.punct_changed.emit(fullwidth)

    # Worker signals (slots: Qt delivers them on the GUI thread) -------------------------

    def engine_loaded(self) -> None:
        self.ready = True
        self._cursor_moved()

    def engine_failed(self) -> None:
        """No engine: switch to English for good and hand pending keys to the editor."""
        self.ready = False
        self.answered_seq = self.shown_seq = self.sent_seq  # the worker drops actions: none will answer
        self._composing = False
        typed = self.field.preedit_text  # letters typed while it loaded: keep them as text
        self._show_preedit("", 0, commit=typed)
        self.candidates.hide()
        self.controller.engine_failed()

    @property
    def settled(self) -> bool:
        """Every key sent is drawn, with the candidates of all its letters (no search still going on)."""
        return (self.shown_seq == self.sent_seq and not self.controller.deferred
                and (self.view is None or getattr(self.view, "complete", True)))

    @Slot(int, object)
    def on_snapshot(self, seq: int, view) -> None:
        """A worker snapshot: draw it unless a newer action was sent since."""
        self.answered_seq = max(self.answered_seq, seq)
        self._left = [(s, f) for s, f in self._left if s > seq]  # their commits have all arrived
        if seq < self.sent_seq:
            self.stale_dropped += 1
            self.controller.replay()  # a commit may have arrived: editor keys can go now
            return
        if seq <= self._switch_seq:
            view = None  # it answers the field left (its input ended there): nothing of it shows here
        self.shown_seq, self.view = seq, view
        self._composing = bool(view is not None and view.composing)
        self._predicting = bool(view is not None and not view.composing and view.predictions)
        self._inserts.clear()
        self._draw(view)
        sent_at = self._sent_at.get(seq)
        self._sent_at.clear()
        if view is not None and view.composing and sent_at is not None:
            self.latency_changed.emit(float(view.decode_ms), (time.perf_counter() - sent_at) * 1000)
        self.controller.replay()

    @Slot(int, str)
    def on_committed(self, seq: int, text: str) -> None:
        """Text converted by the worker: insert it at the caret, keep echoing later letters."""
        field = next((f for s, f in self._left if seq <= s), self.field)
        if field is not self.field:  # typed in a field the focus has left since
            if field.alive():
                field.set_preedit("", 0, commit=text)
            return
        echo = "".join(ch for s, ch in self._inserts if s > seq)
        self._show_preedit(echo, len(echo), commit=text)
        self._last_context = None
        if not echo:
            self.candidates.hide()

    @Slot(str)
    def on_problem(self, text: str) -> None:
        self.message.emit(text)

    # Candidate window signals ----------------------------------------------------------

    def _pick(self, index: int) -> None:
        self.send(SelectOnPage(index))

    def _turn_page(self, direction: int) -> None:
        self.send(PageDown() if direction > 0 else PageUp())

    # Keys ----------------------------------------------------------------------------

    def handle_key(self, event: QKeyEvent, field: TextField) -> None:
        """Entry point for every key press in a text field."""
        if field is not self.field:
            self.attach(field)
        if not self.controller.press(key_of(event)):
            self.field.default_key(event)

    def handle_click(self, field: TextField) -> bool:
        """A click in a text field: swallowed while composing there, so the pinyin stays where it is."""
        return field is self.field and self.composing and self.chinese

    # Fields --------------------------------------------------------------------------

    def attach(self, field: TextField) -> None:
        """Type into ``field`` from now on. Input pending in the field left is committed there as
        typed (converted text on its way still goes there); predictions shown there are dropped."""
        if field is self.field:
            self.redraw()  # the focus came back
        else:
            self._switch_to(field, end=CommitRaw())

    def focus_left(self, field: TextField, reason: Qt.FocusReason) -> None:
        """``field`` lost the focus: the candidate window hides; unless the focus only went to a menu
        or another window for a while, the input pending there is committed as typed."""
        if field is not self.field:
            return
        self.candidates.hide()
        if reason in FOCUS_RETURNS:
            return
        if self.composing:
            self.commit_pending()
        elif self._predicting:
            self.send(DismissPredictions())

    def field_gone(self, field: TextField) -> None:
        """``field`` was deleted (its dialog closed): its pending input is dropped, the keys go back
        to the main field."""
        if field is self.field and field is not self.home and self.home.alive():
            self._switch_to(self.home, end=Cancel())

    def field_moved(self, field: TextField) -> None:
        """The caret of ``field`` moved or its text changed."""
        if field is self.field:
            self._cursor_moved()

    def window_moved(self, window) -> None:
        """A window with text fields moved or changed size: the candidate window follows the caret."""
        if self.candidates.isVisible() and self.field.widget.window() is window:
            self.redraw()

    def _switch_to(self, field: TextField, end: Action) -> None:
        """Send the keys to ``field``; the input pending in the field left ends with ``end``."""
        old, self.field = self.field, field
        self.candidates.hide()
        self._inserts.clear()
        if old.alive():
            old.set_preedit("", 0)  # its converted text follows (on_committed)
        if self.composing:
            self.send(end)
        elif self._predicting:
            self.send(DismissPredictions())
        self._left.append((self.sent_seq, old))
        self._switch_seq = self.sent_seq
        self.controller.punctuator.reset()  # quotes opened in another text
        self._last_context = None
        self._cursor_moved()

    # Actions -------------------------------------------------------------------------

    def _echo_insert(self, ch: str) -> None:
        """Show a typed letter before the worker answers: inserted at the preedit caret."""
        self._inserts.append((self.sent_seq, ch))
        text, cur = self.field.preedit_text, self.field.preedit_cursor
        self._show_preedit(text[:cur] + ch + text[cur:], cur + 1)

    def configure(self, page_size: int, overrides: dict) -> None:
        """New engine settings (``frontend.config.engine_overrides``) and page size: a new, empty session."""
        self.commit_pending()
        self.controller.set_typing(layout=overrides.get("layout", FULL_PINYIN))
        self.send(Configure(page_size, dict(overrides)))

    def reload_engine(self) -> None:
        """Load the engine again (e.g. after training a personal model)."""
        self.commit_pending()
        self.send(Reload())

    def clear_history(self) -> None:
        self.send(ClearHistory())

    def request_learned_words(self) -> None:
        """Ask the worker for the learned words (answered by its ``learned_words`` signal)."""
        self.send(ListLearned())

    def forget_words(self, words: list) -> None:
        self.send(ForgetWords(tuple(words)))

    def send_to_engine(self, action: WorkerAction) -> None:
        """A worker action that is no keystroke (:class:`~frontend.actions.UserdictAdd`...), in order with the keys."""
        self.send(action)

    def reset_document(self) -> None:
        """A new or opened document: drop pending input and open quotes."""
        if self.composing:
            self.send(Cancel())
        self.controller.punctuator.reset()
        self._last_context = None

    # Drawing -------------------------------------------------------------------------

    def _draw(self, view) -> None:
        if view is None or not view.composing:
            self._show_preedit("", 0)
        else:
            self._show_preedit(view.preedit, view.preedit_cursor)
        if view is not None and not view.composing and view.predictions:
            self._show_predictions(view.predictions)
            return
        if view is None or not view.composing or not view.candidates:
            self.candidates.hide()
            return
        self.candidates.show_page([c.text for c in view.candidates], view.highlight, view.page, view.page_count)
        self.candidates.place_at(self.field.caret_rect())
        self.candidates.show()

    def _show_predictions(self, words) -> None:
        """The next words after a commit: digits or a click pick one; nothing is highlighted, as
        Space does not pick."""
        self.candidates.show_page(list(words), -1, 0, 1)
        self.candidates.place_at(self.field.caret_rect())
        self.candidates.show()

    def redraw(self) -> None:
        """Draw the newest snapshot again (the window moved or came back to the front)."""
        if self.shown_seq == self.sent_seq:
            self._draw(self.view)

    def _show_preedit(self, text: str, cursor: int, commit: str = "") -> None:
        self._own_edit = True
        try:
            self.field.set_preedit(text, cursor, commit)
        finally:
            self._own_edit = False

    def _cursor_moved(self) -> None:
        """Tell the engine the text before the caret (its context) after the user moved or typed."""
        if self._own_edit or self._composing is not False or not self.ready:
            return
        context = self.field.text_before_cursor(CONTEXT_CHARS)
        if context != self._last_context:
            self._last_context = context
            self.send(SetContext(context))
