"""Shuru's main window: editor, candidate window, menus, toolbar and status bar."""
from __future__ import annotations

import logging
import re
import time
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, Slot
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QMessageBox, QPushButton, QToolBar, QWidget

from frontend.actions import (LearnedExport, UserDataExport, UserDataImport, UserdictAdd, UserdictExport,
                              UserdictImport, UserdictList, UserdictRemove)
from frontend.config import (Settings, SettingsStore, add_recent, engine_overrides, read_phrases_text, toggled_script,
                             write_phrases_text)

from . import __version__
from .candidates import CandidateWindow
from .editor import ImeEditor
from .fonts import INSTALL_HINT, pick_cjk_font
from .window_input import WindowInput
from .worker import EngineThread

log = logging.getLogger(__name__)

TEXT_FILTER = "Text files (*.txt);;All files (*)"
WARN_STYLE = "color: #9a5b00;"
ERROR_STYLE = "color: #b42318; font-weight: bold;"
MAX_STATUS_CHARS = 60  # longer status texts are shortened; the whole text is behind "Details…"
LONG_ASIDE = re.compile(r" \([^()]{16,}\)")  # a long "(reason)" inside a status line


class MainWindow(QMainWindow):
    """The window; ``engine_options`` (an EngineOptions) defaults to the shipped assets."""

    def __init__(self, engine_options=None, store: SettingsStore | None = None):
        super().__init__()
        self.store = store or SettingsStore()
        self.settings: Settings = self.store.load()
        self.keep_settings = True  # closing saves the window size and settings (not after --smoke)
        self.path: Path | None = None
        self.engine_status = "loading…"
        self.status_details = ""  # the whole status text (the status bar may show it shortened)
        self.details_box: QMessageBox | None = None
        self.model_name = "none"
        self.model_dir: Path | None = None  # the neural model's folder (None: statistical scorers)
        self.assets_dir = Path(engine_options.assets_dir) if engine_options is not None else default_assets_dir()
        self.keys_dialog = None  # Help → Keys and Shortcuts, made when first opened
        self.registry = model_registry(engine_options)
        self.personalise = None  # the Personalise dialog, made when first opened (it may be training)
        self.editor = ImeEditor(self)
        self.setCentralWidget(self.editor)
        self.candidates = CandidateWindow(self)
        s = self.settings
        self.controller = WindowInput(self.editor, self.candidates, chinese=s.chinese_mode,
                                      fullwidth=s.fullwidth_punct, comma_period_paging=s.comma_period_paging,
                                      layout=s.layout)
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()
        self._show_script()
        self._apply_view_settings()
        self._restore_geometry()
        self._update_title()
        self.editor.document().modificationChanged.connect(self.setWindowModified)
        QGuiApplication.instance().applicationStateChanged.connect(self._app_state_changed)
        self.engine = EngineThread(engine_options, s.page_size, engine_overrides(s))
        self._connect_worker()
        self.engine.start()
        self.editor.setFocus()

    # Building -------------------------------------------------------------------------

    def _action(self, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        action.triggered.connect(slot)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        return action

    def _build_actions(self) -> None:
        Std = QKeySequence.StandardKey
        self.new_action = self._action("&New", self.new_file, Std.New)
        self.open_action = self._action("&Open…", lambda: self.open_file(), Std.Open)
        self.save_action = self._action("&Save", self.save, Std.Save)
        self.save_as_action = self._action("Save &As…", lambda: self.save_as(), Std.SaveAs,
                                           "Save as a UTF-8 .txt file")
        self.quit_action = self._action("&Quit", self.close, Std.Quit)
        self.copy_all_action = self._action("Copy &All", self.copy_all, "Ctrl+Shift+C",
                                            "Copy all the text to the clipboard, to paste into other apps")
        self.settings_action = self._action("&Settings…", self.open_settings, "Ctrl+,")
        self.train_action = self._action("&Personalise…", self.train_on_text, None,
                                         "Fine-tune a personal model on your own writing")
        self.models_action = self._action("&Models…", lambda: self.open_personalise("models"), None,
                                          "Choose the model in use: the base model or one of your own")
        self.userdict_action = self._action("&User Dictionary…", self.open_user_dictionary, None,
                                            "Your own words, offered as candidates; import and export word lists")
        self.export_data_action = self._action("E&xport User Data…", lambda: self.export_user_data(), None,
                                               "Learned words, user dictionary, quick phrases and settings in one "
                                               "file: a backup, or to move to another machine")
        self.import_data_action = self._action("&Import User Data…", lambda: self.import_user_data(), None,
                                               "Add a backup's learned words, dictionary and quick phrases to yours "
                                               "and restore its settings")
        self.about_action = self._action("&About Shuru", self.show_about)
        self.keys_action = self._action("&Keys and Shortcuts…", self.show_keys, Std.HelpContents,
                                        "What every key does while you type")
        # Checkable, named for what they switch; the toolbar shows their state (中/EN, ，。/,., 简/繁)
        self.mode_action = self._toggle("&Chinese Input", lambda checked=False: self.controller.set_chinese(
            not self.controller.chinese), "Ctrl+Space")
        self.punct_action = self._toggle("&Full-width Punctuation", lambda checked=False: self.controller.set_fullwidth(
            not self.controller.fullwidth), "Ctrl+.")
        self.script_action = self._toggle("&Traditional Characters", lambda checked=False: self.toggle_script(),
                                          "Ctrl+Shift+F")

    def _toggle(self, text: str, slot, shortcut: str) -> QAction:
        action = self._action(text, slot, shortcut)
        action.setCheckable(True)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        file.addActions([self.new_action, self.open_action])
        self.recent_menu = file.addMenu("Open &Recent")
        file.addActions([self.save_action, self.save_as_action])
        file.addSeparator()
        file.addActions([self.export_data_action, self.import_data_action])
        file.addSeparator()
        file.addAction(self.quit_action)
        edit = bar.addMenu("&Edit")
        edit.addAction(self._action("&Undo", self.editor.undo, QKeySequence.StandardKey.Undo))
        edit.addAction(self._action("&Redo", self.editor.redo, QKeySequence.StandardKey.Redo))
        edit.addSeparator()
        edit.addAction(self.copy_all_action)
        edit.addAction(self._action("Select A&ll", self.editor.selectAll, QKeySequence.StandardKey.SelectAll))
        tools = bar.addMenu("&Tools")
        tools.addActions([self.mode_action, self.punct_action, self.script_action])
        tools.addSeparator()
        tools.addActions([self.train_action, self.models_action, self.userdict_action])
        tools.addAction(self.settings_action)
        bar.addMenu("&Help").addActions([self.keys_action, self.about_action])
        self._rebuild_recent_menu()

    def _build_toolbar(self) -> None:
        tb = QToolBar("Input", self)
        tb.setObjectName("InputToolBar")
        tb.setMovable(False)
        tb.addActions([self.mode_action, self.punct_action, self.script_action])
        tb.addSeparator()
        tb.addActions([self.copy_all_action, self.settings_action])
        self.addToolBar(tb)
        self.controller.mode_changed.connect(self._show_mode)
        self.controller.punct_changed.connect(self._show_punct)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.status_label = QLabel("Loading the engine…")
        self.mode_label = QLabel()
        self.punct_label = QLabel()
        self.model_label = QLabel("model: –")
        self.latency_label = QLabel("– ms")
        self.latency_label.setToolTip("Decode time of the last keystroke")
        self.details_button = QPushButton("Details…")
        self.details_button.setFlat(True)
        self.details_button.setToolTip("Show the whole message")
        self.details_button.clicked.connect(self.show_status_details)
        self.details_button.hide()
        bar.addWidget(self.status_label)
        bar.addWidget(self.details_button)
        bar.addWidget(QWidget(), 1)  # keeps "Details…" next to the text it explains
        for w in (self.mode_label, self.punct_label, self.model_label, self.latency_label):
            bar.addPermanentWidget(w)
        bar.messageChanged.connect(self._show_details_button)
        self.controller.latency_changed.connect(self._show_latency)
        self.controller.message.connect(self._show_message)
        self._show_mode(self.controller.chinese)

    def _connect_worker(self) -> None:
        """Wire the worker thread to the GUI.

        Every worker signal goes to a slot (``@Slot``) of a QObject living on the GUI thread,
        queued: a lambda has no thread affinity, so Qt would run it on the worker thread,
        and a widget touched there crashes the window later.
        """
        w, c = self.engine.worker, self.controller
        queued = Qt.ConnectionType.QueuedConnection
        c.request.connect(w.submit, queued)
        w.snapshot.connect(c.on_snapshot, queued)
        w.committed.connect(c.on_committed, queued)
        w.problem.connect(c.on_problem, queued)
        w.loaded.connect(self._engine_loaded, queued)
        w.load_failed.connect(self._engine_failed, queued)
        w.history_cleared.connect(self._history_cleared, queued)
        w.forgotten.connect(self._words_forgotten, queued)
        w.user_data_done.connect(self._user_data_done, queued)

    @Slot(str)
    def _show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 6000)

    @Slot()
    def _history_cleared(self) -> None:
        self._show_message("Learned history cleared")

    @Slot(object)
    def _words_forgotten(self, words) -> None:
        self._show_message(f"Forgot {'、'.join(words)} (Ctrl+Delete)")

    # Engine state ---------------------------------------------------------------------

    @Slot(str, str, str)
    def _engine_loaded(self, status: str, model_name: str, model_dir: str) -> None:
        self.engine_status, self.model_name = status, model_name
        self.model_dir = Path(model_dir) if model_dir else None
        self.model_label.setText(f"model: {model_name}")
        fallback = model_name == "none" or status.startswith("statistical")
        text = f"Fallback scorer in use: {status}" if fallback else f"Engine: {status}"
        short = shorten_status(text)
        if self.font_warning:
            text, short = f"{text}\n\n{self.font_warning}", f"{short} — no Chinese font"
        settings_error = getattr(self.store, "error", "")  # a damaged settings file was set aside
        if settings_error:
            text, short = f"{text}\n\n{settings_error}", f"{short} — settings reset"
        self.set_status(text, short, WARN_STYLE if fallback or self.font_warning or settings_error else "")
        self.controller.engine_loaded()

    @Slot(str)
    def _engine_failed(self, message: str) -> None:
        self.engine_status = f"failed to load: {message}"
        self.set_status(message, "Engine failed to load — English only", ERROR_STYLE)
        self.model_label.setText("model: none")
        self.controller.engine_failed()
        box = QMessageBox(QMessageBox.Icon.Critical, "Shuru: engine failed to load", message, parent=self)
        box.open()  # not exec(): the window keeps working (English typing, files)

    def set_status(self, text: str, short: str = "", style: str = "") -> None:
        """Show ``short`` (default: ``text`` shortened) in the status bar; the whole ``text`` is
        its tooltip and, when it does not show in full, opens from the "Details…" button."""
        short = short or shorten_status(text)
        self.status_details = text
        self.status_label.setText(short)
        self.status_label.setToolTip(text)
        self.status_label.setStyleSheet(style)
        self._show_details_button()

    def has_details(self) -> bool:
        """Whether the status bar shows its message shortened (the whole is behind "Details…")."""
        return self.status_label.text() != self.status_details

    @Slot()
    def _show_details_button(self) -> None:
        """"Details…" sits beside the status text it explains: hidden while a temporary message
        covers that text (it would paint over it), and when the text is shown whole."""
        self.details_button.setVisible(self.has_details() and not self.statusBar().currentMessage())

    def show_status_details(self) -> None:
        """The whole status message in a box (not modal: the window keeps working)."""
        box = QMessageBox(QMessageBox.Icon.Information, "Shuru: status", self.status_details, parent=self)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.open()
        self.details_box = box

    def _show_latency(self, decode_ms: float, screen_ms: float) -> None:
        self.latency_label.setText(f"{decode_ms:.1f} ms")
        self.latency_label.setToolTip(f"Last keystroke: decoding {decode_ms:.1f} ms, "
                                      f"key to screen {screen_ms:.1f} ms")

    def toggle_script(self) -> None:
        """简/繁: switch the output between simplified and the traditional script last chosen."""
        self.apply_settings(toggled_script(self.settings))

    def _show_script(self) -> None:
        from engine.pinyin.script import LABELS

        from .settings_dialog import SCRIPT_LABELS

        script = self.settings.script
        other = self.settings.traditional_script if script == "simplified" else "simplified"
        self.script_action.setChecked(script != "simplified")
        _show_state(self.script_action, LABELS[script], f"Characters: {SCRIPT_LABELS[script]}. "
                    f"Click or Ctrl+Shift+F for {SCRIPT_LABELS[other]}.")

    def _show_mode(self, chinese: bool) -> None:
        self.mode_action.setChecked(chinese)
        if chinese:
            _show_state(self.mode_action, "中", "Chinese input (中): letters type pinyin. "
                        "Click, Ctrl+Space or tap Shift for English.")
        else:
            _show_state(self.mode_action, "EN", "English input (EN): letters and punctuation are typed as they are. "
                        "Click, Ctrl+Space or tap Shift for Chinese.")
        self.mode_label.setText("中文" if chinese else "English")
        self._show_punct(self.controller.fullwidth)

    def _show_punct(self, fullwidth: bool) -> None:
        """The punctuation setting (it applies in Chinese mode); the status bar says what is typed now."""
        self.punct_action.setChecked(fullwidth)
        if fullwidth:
            _show_state(self.punct_action, "，。", "Full-width punctuation in Chinese input: ，。？！ "
                        "Click or Ctrl+. for half-width ,.?!")
        else:
            _show_state(self.punct_action, ",.", "Half-width punctuation in Chinese input: ,.?! "
                        "Click or Ctrl+. for full-width ，。？！")
        chinese = self.controller.chinese
        self.punct_label.setText("full-width ，。" if fullwidth and chinese else "half-width ,.")
        self.punct_label.setToolTip("" if chinese else "English input types punctuation as it is; the punctuation "
                                    f"setting ({'full' if fullwidth else 'half'}-width) applies in Chinese input.")

    # Settings -------------------------------------------------------------------------

    def open_settings(self) -> None:
        from engine.pinyin.syllables import FUZZY_PAIR_NAMES
        from .settings_dialog import SettingsDialog

        self.controller.commit_pending()
        dialog = SettingsDialog(self.settings, FUZZY_PAIR_NAMES, self, phrases_text=read_phrases_text())
        dialog.clear_history_requested.connect(self.controller.clear_history)
        dialog.view_learned_requested.connect(lambda: self.open_learned_words(dialog))
        self.engine.worker.learned_words.connect(dialog.show_learned, Qt.ConnectionType.QueuedConnection)
        self.controller.request_learned_words()
        if dialog.exec():
            phrases_changed = dialog.phrases_changed() and write_phrases_text(dialog.phrases_text())
            self.apply_settings(dialog.values(), reconfigure=phrases_changed)
        dialog.deleteLater()  # a child of the window: without this every opening would stay alive

    def open_learned_words(self, parent=None):
        """The learned-words list (Settings → View and remove…); returns the dialog, shown non-modal."""
        from .learned_words import LearnedWordsDialog

        dialog = LearnedWordsDialog(parent or self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.refresh_requested.connect(self.controller.request_learned_words)
        dialog.forget_requested.connect(self.controller.forget_words)
        self.engine.worker.learned_words.connect(dialog.show_words, Qt.ConnectionType.QueuedConnection)
        dialog.open()
        return dialog

    def apply_settings(self, new: Settings, reconfigure: bool = False) -> None:
        """Use and persist ``new``; the engine is reconfigured only when its part changed (or
        ``reconfigure``: the quick phrases were edited)."""
        old, self.settings = self.settings, new
        if reconfigure or old.page_size != new.page_size or engine_overrides(old) != engine_overrides(new):
            self.controller.configure(new.page_size, engine_overrides(new))
        self._show_script()
        if old.fullwidth_punct != new.fullwidth_punct:
            self.controller.set_fullwidth(new.fullwidth_punct)
        self.controller.set_typing(comma_period_paging=new.comma_period_paging)
        self._apply_view_settings()
        self.store.save(self.settings)

    def _apply_view_settings(self) -> None:
        font, found = pick_cjk_font(self.settings.font_family, self.settings.font_size)
        self.editor.setFont(font)
        self.candidates.set_font(font)
        self.candidates.set_vertical(self.settings.orientation == "vertical")
        self.font_warning = "" if found else INSTALL_HINT
        if not found:
            self.set_status(INSTALL_HINT, "No Chinese font found", ERROR_STYLE)

    def _restore_geometry(self) -> None:
        if self.settings.geometry:
            self.restoreGeometry(QByteArray.fromBase64(self.settings.geometry.encode("ascii")))
        else:
            self.resize(900, 600)

    # Files ----------------------------------------------------------------------------

    def new_file(self) -> None:
        if self.confirm_discard():
            self.controller.reset_document()
            self.editor.clear()
            self.editor.document().setModified(False)
            self.path = None
            self._update_title()

    def open_file(self, path: str | None = None) -> bool:
        if not self.confirm_discard():
            return False
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Open", self._dialog_dir(), TEXT_FILTER)
            if not path:
                return False
        try:
            text = read_text(Path(path))
        except OSError as e:
            QMessageBox.warning(self, "Open", f"Could not open {path}:\n{e}")
            return False
        self.controller.reset_document()
        self.editor.setPlainText(text)
        self.editor.moveCursor(self.editor.textCursor().MoveOperation.End)
        self.editor.document().setModified(False)
        self._set_path(Path(path))
        return True

    def save(self) -> bool:
        return self.save_as(str(self.path)) if self.path else self.save_as()

    def save_as(self, path: str | None = None) -> bool:
        """Write the text as UTF-8 (``.txt`` added when the name has no extension)."""
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save As", self._dialog_dir(), TEXT_FILTER)
            if not path:
                return False
            if not Path(path).suffix:
                path += ".txt"
        try:
            write_text_atomic(Path(path), self.editor.toPlainText())
        except OSError as e:
            QMessageBox.warning(self, "Save", f"Could not save {path}:\n{e}")
            return False
        self.editor.document().setModified(False)
        self._set_path(Path(path))
        self.statusBar().showMessage(f"Saved {path}", 4000)
        return True

    def confirm_discard(self) -> bool:
        """True when there are no unsaved changes, or the user saved or discarded them."""
        if not self.editor.document().isModified():
            return True
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(self, "Unsaved changes", "Save your changes first?",
                                      buttons.Save | buttons.Discard | buttons.Cancel)
        if answer == buttons.Save:
            return self.save()
        return answer == buttons.Discard

    def copy_all(self) -> None:
        text = self.editor.toPlainText()
        QGuiApplication.clipboard().setText(text)
        self.statusBar().showMessage(f"Copied {len(text)} characters to the clipboard", 4000)

    def _set_path(self, path: Path) -> None:
        self.path = path
        self.settings.recent_files = add_recent(self.settings.recent_files, str(path.resolve()))
        self.store.save(self.settings)
        self._rebuild_recent_menu()
        self._update_title()

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        for p in self.settings.recent_files:
            self.recent_menu.addAction(p, lambda checked=False, p=p: self.open_file(p))
        self.recent_menu.setEnabled(bool(self.settings.recent_files))

    def _dialog_dir(self) -> str:
        return str(self.path.parent) if self.path else str(Path.home())

    def _update_title(self) -> None:
        self.setWindowTitle(f"{self.path.name if self.path else 'Untitled'}[*] — Shuru")

    # Help and training ----------------------------------------------------------------

    def about_text(self) -> str:
        """The About box's HTML: version, engine, model, data sizes and licences (ime_app.about)."""
        from .about import AboutFacts, about_html

        return about_html(AboutFacts(__version__, self.engine_status, self.model_name, self.model_dir,
                                     self.assets_dir))

    def show_about(self) -> None:
        """Help → About: the summary; "Show Details…" holds the model's whole card."""
        from .about import model_card_text

        box = QMessageBox(QMessageBox.Icon.NoIcon, "About Shuru", self.about_text(), QMessageBox.StandardButton.Ok,
                          self)
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)  # the licences link opens
        card = model_card_text(self.model_dir)
        if card:
            box.setDetailedText(card)
        box.exec()

    def show_keys(self):
        """Help → Keys and Shortcuts: the key reference (frontend.keytable.KEY_REFERENCE), non-modal; returns it."""
        from .key_reference import KeyReferenceDialog

        if self.keys_dialog is None:
            self.keys_dialog = KeyReferenceDialog(self)
        self.keys_dialog.show()
        self.keys_dialog.raise_()
        return self.keys_dialog

    def train_on_text(self) -> None:
        """Tools → Personalise…: the fine-tuning dialog (it explains how to get the trainer if missing)."""
        self.open_personalise("train")

    def open_personalise(self, tab: str = "train"):
        """The Personalise dialog (one, non-modal: training goes on while it is closed); returns it."""
        from .personalise import PersonaliseDialog

        if self.personalise is None:
            self.personalise = PersonaliseDialog(self.registry, self)
            self.personalise.model_changed.connect(self._model_chosen)
        self.personalise.tabs.setCurrentIndex(1 if tab == "models" else 0)
        self.personalise.models.refresh()
        self.personalise.show()
        self.personalise.raise_()
        return self.personalise

    @Slot(str)
    def _model_chosen(self, model_id: str) -> None:
        """Another model was chosen: reload the engine in the background (typing goes on meanwhile)."""
        self.statusBar().showMessage(f"Switching to the {model_id} model…", 8000)
        self.controller.reload_engine()

    def open_user_dictionary(self):
        """Tools → User Dictionary…: the user's words, edited through the engine's worker; returns the dialog."""
        from .user_dictionary import UserDictionaryDialog

        dialog = UserDictionaryDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        c, w, queued = self.controller, self.engine.worker, Qt.ConnectionType.QueuedConnection
        dialog.refresh_requested.connect(lambda: c.send_to_engine(UserdictList()))
        dialog.add_requested.connect(lambda line: c.send_to_engine(UserdictAdd(line)))
        dialog.remove_requested.connect(lambda words: c.send_to_engine(UserdictRemove(tuple(words))))
        dialog.import_requested.connect(lambda path: c.send_to_engine(UserdictImport(path)))
        dialog.export_requested.connect(lambda path: c.send_to_engine(UserdictExport(path)))
        dialog.export_learned_requested.connect(lambda path: c.send_to_engine(LearnedExport(path)))
        w.user_words.connect(dialog.show_words, queued)
        w.userdict_message.connect(dialog.show_message, queued)
        dialog.open()
        return dialog

    # Keeping the candidate window with the editor -------------------------------------

    def _app_state_changed(self, state) -> None:
        """Hide the candidate window while another application is in front."""
        if state == Qt.ApplicationState.ApplicationActive:
            self.controller.redraw()
        else:
            self.candidates.hide()

    # User data ------------------------------------------------------------------------

    def export_user_data(self, path: str | None = None) -> None:
        """Write all user data and the settings to one backup file (asked for when ``path`` is None)."""
        from engine.user.backup import SUFFIX

        if path is None:
            default = str(Path(self._dialog_dir()) / f"shuru-{time.strftime('%Y-%m-%d')}{SUFFIX}")
            path, _ = QFileDialog.getSaveFileName(self, "Export User Data", default, f"Shuru backup (*{SUFFIX})")
            if not path:
                return
        self.store.save(self.settings)
        self.controller.send_to_engine(UserDataExport(path, self.store.file_contents()))

    def import_user_data(self, path: str | None = None, confirm: bool = True) -> None:
        """Add a backup's user data to this user's and restore its settings."""
        from engine.user.backup import SUFFIX

        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Import User Data", self._dialog_dir(),
                                                  f"Shuru backup (*{SUFFIX});;All files (*)")
            if not path:
                return
        if confirm and QMessageBox.question(
                self, "Import User Data", "Add the backup's learned words, dictionary words and quick phrases to "
                "yours (nothing of yours is removed) and replace your settings with the backup's?") \
                != QMessageBox.StandardButton.Yes:
            return
        self.controller.send_to_engine(UserDataImport(path))

    @Slot(str, object)
    def _user_data_done(self, message: str, files) -> None:
        """An export or import finished: restore the settings it carried, say what happened."""
        files = files or {}
        problem = self.store.restore(files)
        if problem:
            message += f"; {problem}"
        elif self.store.path.name in files:
            self.apply_settings(self.store.load(), reconfigure=True)
        if message.startswith("Not "):
            QMessageBox.warning(self, "User Data", message)
        else:
            self.statusBar().showMessage(message, 10_000)

    # Closing --------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.confirm_discard():
            event.ignore()
            return
        self.candidates.hide()
        if self.keep_settings:
            self.settings.geometry = bytes(self.saveGeometry().toBase64()).decode("ascii")
            self.store.save(self.settings)
        if self.personalise is not None:
            self.personalise.shutdown()  # a training run stops, keeping its checkpoint
        self.engine.stop()
        event.accept()


def default_assets_dir() -> Path:
    from engine.paths import ASSETS_DIR

    return ASSETS_DIR


def model_registry(engine_options):
    """The model registry the engine resolves its model through (engine.models)."""
    from engine.models import ModelRegistry

    if engine_options is None:
        return ModelRegistry()
    return ModelRegistry(engine_options.models_dir, Path(engine_options.assets_dir) / "model")


def read_text(path: Path) -> str:
    """A text file as UTF-8 (with or without BOM), else GB18030, the usual Chinese legacy encoding."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030", errors="replace")


def write_text_atomic(path: Path, text: str) -> None:
    """Write UTF-8 text atomically: on a full disk the old file stays whole and no temporary is left."""
    from engine.atomic import write_bytes_atomic

    write_bytes_atomic(path, text.encode("utf-8"))


def shorten_status(text: str, max_chars: int = MAX_STATUS_CHARS) -> str:
    """The first line of ``text`` without long parenthesised reasons, cut to ``max_chars``."""
    line = LONG_ASIDE.sub("", text.split("\n", 1)[0])
    return line if len(line) <= max_chars else line[:max_chars - 1].rstrip() + "…"


def _show_state(action: QAction, label: str, tip: str) -> None:
    """A toggle's toolbar label (its state, e.g. 中 or EN) and the tooltip saying what a click does."""
    action.setIconText(label)
    action.setToolTip(tip)
    action.setStatusTip(tip)
