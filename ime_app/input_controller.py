"""Routes the editor's keys to the engine worker and draws what comes back.

The GUI-thread half of the input method. It owns the input mode (Chinese/English), the
punctuation width and the candidate window, and never decodes: each key becomes an action
sent with a sequence number to :class:`~ime_app.worker.EngineWorker`. Snapshots older than
the newest action sent are dropped. While a snapshot is on its way the typed letters are
echoed in the preedit at once, so typing never waits for the decoder.

A few keys mean different things while composing and while idle (Space, digits, Enter...).
After an action that may or may not end the composition (a pick, Space, Backspace), such
keys wait in order until the worker's answer says which it is; every other key goes at once.
"""
from __future__ import annotations

import time

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QKeyEvent
from PySide6.QtCore import Qt

from .candidates import CandidateWindow
from .editor import ImeEditor
from .keymap import MODIFIER_KEYS, key_name
from .keytable import Route, depends_on_composing, dismisses_predictions, layout_keys, route_key
from .punctuation import Punctuator
from .session_runner import CONTEXT_CHARS, punctuation_action

CTRL_ALT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.MetaModifier
# After these actions the session may or may not still be composing (None = ask the worker).
COMPOSING_AFTER = {"insert": True, "commit_raw": False, "cancel": False, "commit_all_then": False,
                   "configure": False, "reload": False, "select_on_page": None, "select": None, "commit": None, "backspace": None, "delete": None}
# Actions whose answer may insert text into the editor: keys the editor handles wait for it.
INSERTS_TEXT = frozenset({"select_on_page", "select", "commit", "commit_raw", "commit_all_then"})
TOGGLE = "toggle-mode"  # a Shift tap waiting behind deferred keys


def _copy_key(event: QKeyEvent) -> QKeyEvent:
    return QKeyEvent(event.type(), event.key(), event.modifiers(), event.text(),
                     event.isAutoRepeat(), event.count())


class InputController(QObject):
    """Glue between :class:`ImeEditor`, :class:`CandidateWindow` and the worker's signals."""

    request = Signal(int, object)  # (seq, action) -> EngineWorker.submit
    mode_changed = Signal(bool)  # True = Chinese
    punct_changed = Signal(bool)  # True = full-width
    latency_changed = Signal(float, float)  # decode_ms of the newest snapshot, key-to-screen ms
    message = Signal(str)  # a short status bar message

    def __init__(self, editor: ImeEditor, candidates: CandidateWindow, *, chinese: bool, fullwidth: bool,
                 comma_period_paging: bool = False):
        super().__init__(editor)
        self.editor, self.candidates = editor, candidates
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
        self._own_edit = False  # True while we change the editor (no context update)
        self._last_context: str | None = None
        editor.handler = self
        editor.shift_tapped.connect(self.shift_tapped)
        editor.cursorPositionChanged.connect(self._cursor_moved)
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
        typed = self.editor.preedit_text  # letters typed while it loaded: keep them as text
        self._show_preedit("", 0, commit=typed)
        self.candidates.hide()
        self.set_chinese(False)
        pending, self._deferred = self._deferred, []
        for item in pending:
            if item is not TOGGLE:
                self.editor.default_key(item)

    @property
    def settled(self) -> bool:
        """Every key sent is drawn, with the candidates of all its letters (no search still going on)."""
        return (self.shown_seq == self.sent_seq and not self._deferred
                and (self.view is None or getattr(self.view, "complete", True)))

    @Slot(int, object)
    def on_snapshot(self, seq: int, view) -> None:
        """A worker snapshot: draw it unless a newer action was sent since."""
        self.answered_seq = max(self.answered_seq, seq)
        if seq < self.sent_seq:
            self.stale_dropped += 1
            self._replay_deferred()  # a commit may have arrived: editor keys can go now
            return
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

    def handle_key(self, event: QKeyEvent) -> None:
        """Entry point for every key press in the editor."""
        if self._deferred or self._must_wait(event):
            if event.key() not in MODIFIER_KEYS:
                self._deferred.append(_copy_key(event))
            return
        self._dispatch(event)

    def handle_click(self) -> bool:
        """A click in the editor: swallowed while composing, so the pinyin stays where it is."""
        return self.composing and self.chinese

    def shift_tapped(self) -> None:
        if self._deferred:
            self._deferred.append(TOGGLE)
        else:
            self.set_chinese(not self.chinese)

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
            self.editor.default_key(event)

    def _punctuation(self, route: Route) -> None:
        before = "" if self.composing else self.editor.text_before_cursor(1)
        action = punctuation_action(self.punctuator, route.char, fullwidth=self.fullwidth,
                                    composing=self.composing, before=before)
        if action[0] == "type":
            self.editor.insertPlainText(action[1])
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
        elif self._composing is False and self.editor.preedit_text:
            # Enter, Esc or punctuation ended the input: clear it now; converted text follows.
            self._show_preedit("", 0)
            self.candidates.hide()

    def _echo_insert(self, ch: str) -> None:
        """Show a typed letter before the worker answers: inserted at the preedit caret."""
        self._inserts.append((self.sent_seq, ch))
        text, cur = self.editor.preedit_text, self.editor.preedit_cursor
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
        self.candidates.place_at(self.editor.caret_rect())
        self.candidates.show()

    def _show_predictions(self, words) -> None:
        """The next words after a commit: digits or a click pick one; nothing is highlighted, as
        Space does not pick."""
        self.candidates.show_page(list(words), -1, 0, 1)
        self.candidates.place_at(self.editor.caret_rect())
        self.candidates.show()

    def redraw(self) -> None:
        """Draw the newest snapshot again (the window moved or came back to the front)."""
        if self.shown_seq == self.sent_seq:
            self._draw(self.view)

    def _show_preedit(self, text: str, cursor: int, commit: str = "") -> None:
        self._own_edit = True
        try:
            self.editor.set_preedit(text, cursor, commit)
        finally:
            self._own_edit = False

    def _cursor_moved(self) -> None:
        """Tell the engine the text before the caret (its context) after the user moved or typed."""
        if self._own_edit or self._composing is not False or not self.ready:
            return
        context = self.editor.text_before_cursor(CONTEXT_CHARS)
        if context != self._last_context:
            self._last_context = context
            self._send(("set_context", context))
