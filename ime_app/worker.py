"""The worker thread that owns the Engine and the Session: the GUI thread never decodes.

The UI sends actions as ``(seq, action)`` through a queued signal to :meth:`EngineWorker.submit`.
Each action is one of :mod:`frontend.actions`: one a :class:`~frontend.session_runner.SessionRunner`
applies (a :class:`~frontend.actions.SessionAction`, ``CommitAllThen``, ``SetContext``), or a
:class:`~frontend.actions.WorkerAction` (``Configure``, ``Reload``, ``ClearHistory``...), each with
its handler in :meth:`EngineWorker._handlers`. The worker applies them in order and, once its queue is
drained, computes one :class:`~engine.pinyin.session.SessionView` (the beam search) and emits it
with the sequence number of the last action applied; the UI drops snapshots older than
the newest action it sent. Typing faster than the decoder therefore costs one decode per
burst, not one per key.
"""
from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Qt, Signal, Slot

from engine.atomic import write_bytes_atomic

from frontend.actions import (Action, ClearHistory, CommitAllThen, Configure, ForgetWords, LearnedExport, ListLearned,
                              Reload, SessionAction, SetContext, UserDataExport, UserDataImport, UserdictAdd,
                              UserdictExport, UserdictImport, UserdictList, UserdictRemove, WorkerAction)
from frontend.loader import WINDOW_LOAD_ERROR, load_engine, resolved_options
from frontend.session_runner import Outcome, SessionRunner, action_name

__all__ = ["EngineThread", "EngineWorker"]

log = logging.getLogger(__name__)


class EngineWorker(QObject):
    """Loads the engine and applies session actions; lives on its own QThread."""

    loaded = Signal(str, str, str)  # engine.status, engine.model_name, the model's folder ("" for none)
    load_failed = Signal(str)  # message for the user
    snapshot = Signal(int, object)  # seq of the last applied action, SessionView (None after an error)
    committed = Signal(int, str)  # seq, text to insert into the editor
    problem = Signal(str)  # a handled per-keystroke failure, for the status bar
    history_cleared = Signal()
    learned_words = Signal(object)  # [(word, weight, last used Unix time)], most weight first
    forgotten = Signal(object)  # words forgotten with Ctrl+Delete
    user_words = Signal(object)  # the user dictionary: [engine.user.userdict.UserWord]
    userdict_message = Signal(str)  # what an add / import / export did, for the dictionary dialog
    user_data_done = Signal(str, object)  # what a backup export / import did; the front end's files it restored
    _drain_requested = Signal()
    _idle_requested = Signal()

    def __init__(self, options, page_size: int, overrides: dict | None = None):
        """``options``: EngineOptions, or None for the defaults (the engine is imported on the
        worker thread); ``overrides``: EngineOptions fields from the user's settings."""
        super().__init__()
        self._options = options
        self._overrides = overrides or {}
        self._page_size = page_size
        self._engine = None
        self._runner: SessionRunner | None = None
        self._pending: deque[tuple[int, Action]] = deque()
        self._drain_scheduled = False
        self._last_seq = 0  # of the last action applied (a view finished in idle time carries it)
        self._drain_requested.connect(self._drain, Qt.ConnectionType.QueuedConnection)
        self._idle_requested.connect(self._idle, Qt.ConnectionType.QueuedConnection)

    @Slot()
    def start(self) -> None:
        """Load the engine (runs on the worker thread when it starts: numpy/onnxruntime load off the GUI thread)."""
        t0 = time.perf_counter()
        self._options = resolved_options(self._options, self._overrides)
        self._engine, error = load_engine(self._options, {}, internal_error=WINDOW_LOAD_ERROR)
        if self._engine is None:
            self.load_failed.emit(error)
            return
        try:
            self._runner = SessionRunner(self._engine, self._page_size)
        except Exception:  # an engine bug must not take the window down
            log.exception("engine failed to start a session")
            self._engine = None
            self.load_failed.emit(WINDOW_LOAD_ERROR)
            return
        log.info("engine loaded in %.2f s: %s", time.perf_counter() - t0, self._engine.status)
        self.loaded.emit(self._engine.status, self._engine.model_name, self._model_dir())

    def close(self) -> None:
        """Close the engine's user data (after the thread has stopped: nothing else uses it)."""
        if self._engine is not None:
            self._engine.close()

    @Slot(int, object)
    def submit(self, seq: int, action: Action) -> None:
        """Queue one action; the queue is drained once the events already posted are handled."""
        self._pending.append((seq, action))
        if not self._drain_scheduled:
            self._drain_scheduled = True
            self._drain_requested.emit()

    @Slot()
    def _drain(self) -> None:
        self._drain_scheduled = False
        if not self._pending:
            return
        if self._runner is None:  # the engine failed to load; the UI is in English mode
            self._pending.clear()
            return
        seq = 0
        while self._pending:
            seq, action = self._pending.popleft()
            self._apply(seq, action)
        self._last_seq = seq
        self._emit_view(seq)
        self._idle_requested.emit()

    @Slot()
    def _idle(self) -> None:
        """One step of the session's idle work, then the next, while no action waits (each step is
        about one keystroke's work, and actions queued meanwhile go first)."""
        if self._pending or self._runner is None:
            return
        was_decoding = self._runner.decoding
        more = self._runner.idle()
        if was_decoding and not self._runner.decoding:
            self._emit_view(self._last_seq)  # the search a key's view left unfinished is done
        if more:
            self._idle_requested.emit()

    def _apply(self, seq: int, action: Action) -> None:
        if isinstance(action, (SessionAction, CommitAllThen, SetContext)):
            self._report(seq, self._runner.apply(action))
            return
        try:
            handler = self._handlers().get(type(action)) if isinstance(action, WorkerAction) else None
            if handler is None:
                raise ValueError(f"not a worker action: {action!r}")
            handler(action)
        except Exception as e:  # never raise on the keystroke path: log, tell, go on
            log.exception("action %r failed", action)
            self.problem.emit(f"{action_name(action)} failed: {e}")

    def _handlers(self) -> dict:
        """Each worker action's handler."""
        return {Configure: self._configure, Reload: self._reload, ClearHistory: self._clear_history,
                ListLearned: self._list_learned, ForgetWords: self._forget_words, UserdictList: self._userdict_list,
                UserdictAdd: self._userdict_add, UserdictRemove: self._userdict_remove,
                UserdictImport: self._userdict_import, UserdictExport: self._userdict_export,
                LearnedExport: self._learned_export, UserDataExport: self._user_data_export,
                UserDataImport: self._user_data_import}

    def _report(self, seq: int, outcome: Outcome) -> None:
        """Emit what an action or decode produced: text to insert, forgotten words, a problem."""
        if outcome.committed:
            self.committed.emit(seq, outcome.committed)
        if outcome.forgotten:
            self.forgotten.emit(list(outcome.forgotten))
        if outcome.error:
            self.problem.emit(outcome.error)

    def _emit_view(self, seq: int) -> None:
        view, outcome = self._runner.view()
        self._report(seq, outcome)
        self.snapshot.emit(seq, view)

    # Worker actions (besides the runner's) ---------------------------------------------

    def _configure(self, action: Configure) -> None:
        """Apply new settings (``frontend.config.engine_overrides``: fuzzy pairs, learning, layout, script) and
        the page size: a new, empty session."""
        self._page_size = action.page_size
        self._options = replace(self._options, **action.overrides)
        if hasattr(self._engine, "configure"):
            self._engine.configure(**action.overrides)
        else:
            from engine import Engine
            self._engine = Engine.load(self._options)
        self._runner.use_engine(self._engine, action.page_size)

    def _reload(self, action: Reload) -> None:
        """Load the engine again (a personal model was just trained); the old one stays on failure."""
        from engine import Engine

        self._engine = Engine.load(self._options)
        self._runner.use_engine(self._engine)
        self.loaded.emit(self._engine.status, self._engine.model_name, self._model_dir())

    def _clear_history(self, action: ClearHistory) -> None:
        self._engine.clear_history()
        self.history_cleared.emit()
        self.learned_words.emit([])

    def _list_learned(self, action: ListLearned) -> None:
        self.learned_words.emit(self._engine.learned_words())

    def _forget_words(self, action: ForgetWords) -> None:
        """Forget words chosen in the learned-words list; the input in progress is ranked again."""
        self._engine.forget_words(list(action.words))
        self._runner.session.rerank()
        self.learned_words.emit(self._engine.learned_words())

    # The user dictionary ------------------------------------------------------------------

    def _userdict_list(self, action: UserdictList) -> None:
        self.user_words.emit(self._engine.user_words())

    def _userdict_add(self, action: UserdictAdd) -> None:
        """Add one typed entry ("word [pinyin] [weight]"); a refused one is explained."""
        from engine.user.userdict import parse_line

        try:
            word = parse_line(action.line, self._engine.lexicon)
        except ValueError as e:
            self.userdict_message.emit(f"Not added: {e}")
            return
        self._userdict_changed(lambda: self._engine.add_user_words([word]), f"Added {word.word} ({word.pinyin})")

    def _userdict_remove(self, action: UserdictRemove) -> None:
        words = list(action.words)
        self._userdict_changed(lambda: self._engine.remove_user_words(words), f"Removed {'、'.join(words)}")

    def _userdict_import(self, action: UserdictImport) -> None:
        """Import a word list; the message names each refused line by number."""
        from engine.textfile import TextFileError
        from engine.user.userdict import read_word_list

        from .user_dictionary import import_report

        path = action.path
        try:
            words, problems = read_word_list(Path(path), self._engine.lexicon)
        except TextFileError as e:
            self.userdict_message.emit(f"Not imported: {e}")
            return
        self._userdict_changed(lambda: self._engine.add_user_words(words) if words else None,
                               import_report(Path(path).name, len(words), problems))

    def _userdict_export(self, action: UserdictExport) -> None:
        from engine.user.userdict import format_word_list

        words = self._engine.user_words()
        self._export(Path(action.path), format_word_list(words), f"Exported {len(words)} words to {action.path}")

    def _learned_export(self, action: LearnedExport) -> None:
        """The learned words as a word list (the lexicon's readings; weights rounded, at least 1)."""
        from engine.user.userdict import format_word_list, learned_word_entries

        words = learned_word_entries(self._engine.learned_words(), self._engine.lexicon)
        self._export(Path(action.path), format_word_list(words),
                     f"Exported {len(words)} learned words to {action.path}")

    def _user_data_export(self, action: UserDataExport) -> None:
        """All user data in one backup file (engine.user.backup), with the front end's ``files``."""
        from engine.errors import ShuruError

        path, files = action.path, action.files
        try:
            contents = self._engine.export_user_data(Path(path), files)["contents"]
        except ShuruError as e:
            self.user_data_done.emit(f"Not exported: {e}", None)
            return
        self.user_data_done.emit(f"Exported {contents['learned_words']} learned words and "
                                 f"{contents['dictionary_words']} dictionary words to {path}", None)

    def _user_data_import(self, action: UserDataImport) -> None:
        """Add a backup's user data; its other files (settings) go back to the window."""
        from engine.errors import ShuruError

        path = action.path
        try:
            summary = self._engine.import_user_data(Path(path))
        except ShuruError as e:
            self.user_data_done.emit(f"Not imported (nothing was changed): {e}", None)
            return
        self._runner.session.rerank()
        self.user_words.emit(self._engine.user_words())
        self.user_data_done.emit(f"Imported {Path(path).name}: {summary.describe()}", summary.files)

    def _userdict_changed(self, change, message: str) -> None:
        try:
            change()
        except Exception as e:  # the store unusable: say so in the dialog
            log.exception("user dictionary change failed")
            message = f"The user dictionary could not be changed: {e}"
        self._runner.session.rerank()  # the input in progress sees the change at once
        self.user_words.emit(self._engine.user_words())
        self.userdict_message.emit(message)

    def _export(self, path: Path, text: str, message: str) -> None:
        try:
            write_bytes_atomic(path, text.encode("utf-8"))
        except OSError as e:
            message = f"Could not write {path}: {e.strerror or e}"
        self.userdict_message.emit(message)

    # -------------------------------------------------------------------------------------

    def _model_dir(self) -> str:
        """Folder of the loaded neural model (the About box reads its manifest and card), or ""."""
        folder = getattr(self._engine, "model_dir", None)
        return str(folder) if folder is not None else ""


class EngineThread:
    """A started :class:`EngineWorker` on its own QThread; :meth:`stop` joins it."""

    def __init__(self, options, page_size: int, overrides: dict | None = None):
        self.thread = QThread()
        self.thread.setObjectName("shuru-engine")
        self.worker = EngineWorker(options, page_size, overrides)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.start)

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout_ms: int = 10_000) -> None:
        """Finish the current action and stop (called when the window closes)."""
        if self.thread.isRunning():
            self.thread.quit()
            self.thread.wait(timeout_ms)
        self.worker.close()
