"""Routes the keys of the focused text field to the engine worker and draws what comes back.

The GUI-thread half of the input method. It owns the input mode (Chinese/English), the
punctuation width and the candidate window, and never decodes: each key becomes an action
sent with a sequence number to :class:`~ime_app.worker.EngineWorker`. Snapshots older than
the newest action sent are dropped. While a snapshot is on its way the typed letters are
echoed in the preedit at once, so typing never waits for the decoder.

A few keys mean different things while composing and while idle (Space, digits, Enter...).
After an action that may or may not end the composition (a pick, Space, Backspace), such
keys wait in order until the worker's answer says which it is; every other key goes at once.

One controller serves every text field of the window and its dialogs: a
:class:`~ime_app.text_fields.FieldRouter` hands it the field that has the focus. Input pending
in the field left behind is committed there as typed, and text the worker converts for it
still lands there.
"""
from __future__ import annotations

import time

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QKeyEvent
from PySide6.QtCore import Qt

from .candidates import CandidateWindow
from .keymap import MODIFIER_KEYS, key_name
from .keytable import CTRL_TOGGLES, Route, depends_on_composing, dismisses_predictions, layout_keys, route_key
from .punctuation import Punctuator
from .session_runner import CONTEXT_CHARS, punctuation_action
from .text_fields import FieldRouter, TextField, copy_key

CTRL_ALT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.MetaModifier
# After these actions the session may or may not still be composing (None = ask the worker).
COMPOSING_AFTER = {"insert": True, "commit_raw": False, "cancel": False, "commit_all_then": False,
                   "configure": False, "reload": False, "select_on_page": None, "select": None, "commit": None, "backspace": None, "delete": None}
# Actions whose answer may insert text into the editor: keys the editor handles wait for it.
INSERTS_TEXT = frozenset({"select_on_page", "select", "commit", "commit_raw", "commit_all_then"})
TOGGLE = "toggle-mode"  # a Shift tap waiting behind deferred keys
# Focus lost for these reasons comes back to the same field: the input stays pending.
FOCUS_RETURNS = (Qt.FocusReason.PopupFocusReason, Qt.FocusReason.ActiveWindowFocusReason)


class InputController(QObject):
    """Glue between the focused :class:`~ime_app.text_fields.TextField`, the :class:`CandidateWindow`
    and the worker's signals. ``editor`` is the window's main text field, the first to get the keys."""

    request = Signal(int, object)  # (seq, action) -> EngineWorker.submit
    mode_changed = Signal(bool)  # True = Chinese
    punct_changed = Signal(bool)  # True = full-width
    latency_changed = Signal(float, float)  # decode_ms of the newest snapshot, key-to-screen ms
    message = Signal(str)  # a short status bar message

    def __init__(self, editor, candidates: CandidateWindow, *, chinese: bool, fullwidth: bool,
                 comma_period_paging: bool = False):
        super().__init__(editor)
        self.candidates = candidates
        self.home = TextField.of(editor)  # where the keys go when the focused field is gone
        self.field = self.home  # the text field the keys go to now
        self.chinese, self.fullwidth = chinese, fullwidth
        self.comma_period_paging = comma_period_paging  # , and . turn pages while composing
        self.layout_keys = ""  # shuangpin keys besides letters (keytable.layout_keys)
        self.ready = False  # engine loaded
        self.failed = False  # engine could not load: English only
        self.punctuator = Punctuator()
        self.sent_seq = 0  # newest action sent
        self.shown_seq = 0  # action the drawn snapshot answers
        self.answered_seq = 0  # newest action the worker has answered (drawn or dropped as stale)
        self._text_seq = 0  # newest action sent that may insert text (INSERTS_TEXT)
        self._sent_at: dict[int, float] = {}  # seq -> perf_counter() when sent (key-to-screen latency)
        self.stale_dropped = 0  # snapshots dropped as stale (for tests and the curious)
        self.view = None  # newest SessionView drawn
        self._composing: bool | None = False  # None: an action in flight decides
        self._predicting = False  # next-word predictions are shown (from the drawn snapshot, until a send)
        self._deferred: list = []  # QKeyEvent copies (and TOGGLE) waiting for the worker
        self._inserts: list[tuple[int, str]] = []  # letters sent after the drawn snapshot
        self._own_edit = False  # True while we change the field (no context update)
        self._last_context: str | None = None
        self._left: list[tuple[int, TextField]] = []  # (newest seq sent while it had the keys, field left)
        self._switch_seq = 0  # newest action sent before the keys went to another field
        self.router = FieldRouter(self, editor)
        candidates.picked.connect(self._pick)
        candidates.page_requested.connect(self._turn_page)

    @property
    def composing(self) -> bool:
        """Whether input is pending (or may be: an action in flight decides)."""
        return self._composing is not False

    # Worker signals (slots: Qt delivers them on the GUI thread) -------------------------

    def engine_loaded(self) -> None:
        self.ready = True
        self._cursor_moved()

    def engine_failed(self) -> None:
        """No engine: switch to English for good and hand pending keys to the editor."""
        self.failed, self.ready = True, False
        self.answered_seq = self.shown_seq = self.sent_seq  # the worker drops actions: none will answer
        self._composing = False
        typed = self.field.preedit_text  # letters typed while it loaded: keep them as text
        self._show_preedit("", 0, commit=typed)
        self.candidates.hide()
        self.set_chinese(False)
        pending, self._deferred = self._deferred, []
        for item in pending:
            if item is not TOGGLE:
                self.field.default_key(item)

    @property
    def settled(self) -> bool:
        """Every key sent is drawn, with the candidates of all its letters (no search still going on)."""
        return (self.shown_seq == self.sent_seq and not self._deferred
                and (self.view is None or getattr(self.view, "complete", True)))

    @Slot(int, object)
    def on_snapshot(self, seq: int, view) -> None:
        """A worker snapshot: draw it unless a newer action was sent since."""
        self.answered_seq = max(self.answered_seq, seq)
        self._left = [(s, f) for s, f in self._left if s > seq]  # their commits have all arrived
        if seq < self.sent_seq:
            self.stale_dropped += 1
            self._replay_deferred()  # a commit may have arrived: editor keys can go now
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
        self._replay_deferred()

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
        self._send(("select_on_page", index))

    def _turn_page(self, direction: int) -> None:
        self._send(("page_down",) if direction > 0 else ("page_up",))

    # Keys ----------------------------------------------------------------------------

    def handle_key(self, event: QKeyEvent, field: TextField) -> None:
        """Entry point for every key press in a text field."""
        if field is not self.field:
            self.attach(field)
        if self._ctrl_toggle(event):
            return
        if self._deferred or self._must_wait(event):
            if event.key() not in MODIFIER_KEYS:
                self._deferred.append(copy_key(event))
            return
        self._dispatch(event)

    def handle_click(self, field: TextField) -> bool:
        """A click in a text field: swallowed while composing there, so the pinyin stays where it is."""
        return field is self.field and self.composing and self.chinese

    def toggle_mode(self) -> None:
        """Chinese/English (a Shift tap), in order with the keys typed before it."""
        if self._deferred:
            self._deferred.append(TOGGLE)
        else:
            self.set_chinese(not self.chinese)

    def _ctrl_toggle(self, event: QKeyEvent) -> bool:
        """Ctrl+Space and Ctrl+. (the window's menu shortcuts, which a dialog does not have)."""
        if event.modifiers() & CTRL_ALT != Qt.KeyboardModifier.ControlModifier:
            return False
        toggle = CTRL_TOGGLES.get(key_name(event.key()))
        if toggle == "mode":
            self.toggle_mode()
        elif toggle == "punctuation":
            self.set_fullwidth(not self.fullwidth)
        return toggle is not None

    # Fields --------------------------------------------------------------------------

    def attach(self, field: TextField) -> None:
        """Type into ``field`` from now on. Input pending in the field left is committed there as
        typed (converted text on its way still goes there); predictions shown there are dropped."""
        if field is self.field:
            self.redraw()  # the focus came back
        else:
            self._switch_to(field, end=("commit_raw",))

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
            self._send(("dismiss_predictions",))

    def field_gone(self, field: TextField) -> None:
        """``field`` was deleted (its dialog closed): its pending input is dropped, the keys go back
        to the main field."""
        if field is self.field and field is not self.home and self.home.alive():
            self._switch_to(self.home, end=("cancel",))

    def field_moved(self, field: TextField) -> None:
        """The caret of ``field`` moved or its text changed."""
        if field is self.field:
            self._cursor_moved()

    def window_moved(self, window) -> None:
        """A window with text fields moved or changed size: the candidate window follows the caret."""
        if self.candidates.isVisible() and self.field.widget.window() is window:
            self.redraw()

    def _switch_to(self, field: TextField, end: tuple) -> None:
        """Send the keys to ``field``; the input pending in the field left ends with ``end``."""
        old, self.field = self.field, field
        self.candidates.hide()
        self._inserts.clear()
        if old.alive():
            old.set_preedit("", 0)  # its converted text follows (on_committed)
        if self.composing:
            self._send(end)
        elif self._predicting:
            self._send(("dismiss_predictions",))
        self._left.append((self.sent_seq, old))
        self._switch_seq = self.sent_seq
        self.punctuator.reset()  # quotes opened in another text
        self._last_context = None
        self._cursor_moved()

    def _must_wait(self, event: QKeyEvent) -> bool:
        """Whether the key must wait for the worker to keep the text in typing order."""
        ctrl_alt = bool(event.modifiers() & CTRL_ALT)
        if self._composing is None and depends_on_composing(key_name(event.key()), event.text(), ctrl_alt=ctrl_alt,
                                                            chinese=self._chinese_active(),
                                                            comma_period_paging=self.comma_period_paging,
                                                            layout_keys=self.layout_keys,
                                                            predicting=self._predicting):
            return True  # its meaning depends on the answer
        if self.answered_seq < self._text_seq:  # converted text is on its way to the editor
            route = self._route(event)
            return route.kind == "editor" or (route.kind == "punct" and not self.composing)
        return False

    def _route(self, event: QKeyEvent) -> Route:
        return route_key(key_name(event.key()), event.text(), ctrl_alt=bool(event.modifiers() & CTRL_ALT),
                         chinese=self._chinese_active(), composing=self.composing,
                         comma_period_paging=self.comma_period_paging, layout_keys=self.layout_keys,
                         predicting=self._predicting)

    def _chinese_active(self) -> bool:
        return self.chinese and not self.failed

    def _dispatch(self, event: QKeyEvent) -> None:
        route = self._route(event)
        if self._predicting and dismisses_predictions(route):
            self._send(("dismiss_predictions",))  # not a pick: the key does what it does idle
        if route.kind == "session":
            self._send(route.action)
        elif route.kind == "punct":
            self._punctuation(route)
        elif route.kind == "editor":
            self.field.default_key(event)

    def _punctuation(self, route: Route) -> None:
        before = "" if self.composing else self.field.text_before_cursor(1)
        action = punctuation_action(self.punctuator, route.char, fullwidth=self.fullwidth,
                                    composing=self.composing, before=before)
        if action[0] == "type":
            self.field.insert_text(action[1])
        else:
            self._send(action)

    def _replay_deferred(self) -> None:
        while self._deferred:
            item = self._deferred[0]
            if item is not TOGGLE and self._must_wait(item):
                break  # still waiting for the worker's answer
            self._deferred.pop(0)
            if item is TOGGLE:
                self.set_chinese(not self.chinese)
            else:
                self._dispatch(item)

    # Actions -------------------------------------------------------------------------

    def _send(self, action: tuple) -> None:
        if self.failed:
            return
        self.sent_seq += 1
        self._sent_at[self.sent_seq] = time.perf_counter()
        self.request.emit(self.sent_seq, action)
        self._predicting = False  # until the answer says so again: a quick digit never picks a stale one
        name = action[0]
        if name in INSERTS_TEXT:
            self._text_seq = self.sent_seq
        if name in COMPOSING_AFTER:
            self._composing = COMPOSING_AFTER[name]
        if name == "insert":
            self._echo_insert(action[1])
        elif self._composing is False and self.field.preedit_text:
            # Enter, Esc or punctuation ended the input: clear it now; converted text follows.
            self._show_preedit("", 0)
            self.candidates.hide()

    def _echo_insert(self, ch: str) -> None:
        """Show a typed letter before the worker answers: inserted at the preedit caret."""
        self._inserts.append((self.sent_seq, ch))
        text, cur = self.field.preedit_text, self.field.preedit_cursor
        self._show_preedit(text[:cur] + ch + text[cur:], cur + 1)

    def commit_pending(self) -> None:
        """Commit whatever is being typed as raw letters (before a mode switch, settings, a new file)."""
        if self.composing:
            self._send(("commit_raw",))

    def set_chinese(self, chinese: bool) -> None:
        chinese = chinese and not self.failed
        if chinese != self.chinese:
            if not chinese:
                self.commit_pending()
            self.chinese = chinese
            self.mode_changed.emit(chinese)

    def set_fullwidth(self, fullwidth: bool) -> None:
        if fullwidth != self.fullwidth:
            self.fullwidth = fullwidth
            self.punct_changed.emit(fullwidth)

    def configure(self, page_size: int, overrides: dict) -> None:
        """New engine settings (``config.engine_overrides``) and page size: a new, empty session."""
        self.commit_pending()
        self.layout_keys = layout_keys(overrides.get("layout", "full"))
        self._send(("configure", page_size, dict(overrides)))

    def reload_engine(self) -> None:
        """Load the engine again (e.g. after training a personal model)."""
        self.commit_pending()
        self._send(("reload",))

    def clear_history(self) -> None:
        self._send(("clear_history",))

    def request_learned_words(self) -> None:
        """Ask the worker for the learned words (answered by its ``learned_words`` signal)."""
        self._send(("list_learned",))

    def forget_words(self, words: list) -> None:
        self._send(("forget_words", list(words)))

    def send_to_engine(self, *action) -> None:
        """A worker action that is no keystroke (``("userdict_add", line)``...), in order with the keys."""
        self._send(tuple(action))

    def reset_document(self) -> None:
        """A new or opened document: drop pending input and open quotes."""
        if self.composing:
            self._send(("cancel",))
        self.punctuator.reset()
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
            self._send(("set_context", context))
