"""The Personalise dialog: fine-tune a model on the user's own text, and choose the model in use.

*Train on my text*: files (or whole folders of .txt / .md) are checked on a background thread
(:func:`engine.textfile.inspect_text_file`) and listed with their characters or the reason
they are refused; the trainer's plan (``--check``) gives the time it will take on this
device. *Start* runs the trainer (``--events``) in its own process: a progress bar, the time
left, a live loss curve and the trainer's own lines; *Cancel* stops it (the trainer keeps a
checkpoint, and starting the same files again resumes into the same folder). At the end a
report compares the model before and after on a held-out part of the user's text and on
general text from a source fine-tuning never trains on, each change with its 95% interval
(engine.finetune_report): *Use it* makes it the active model, *Discard* deletes it.

*Models*: the base model and every personal model, with date, source files, size and
results; *Use*, *Use base model* and *Delete*. Choosing a model emits ``model_changed``; the
window reloads the engine in the background.
"""
from __future__ import annotations

import logging
import math
from html import escape
from pathlib import Path

from PySide6.QtCore import QObject, QPointF, QRectF, QThreadPool, Qt, Signal, Slot
from PySide6.QtGui import QColor, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QDialogButtonBox, QFileDialog, QHBoxLayout, QHeaderView,
                               QLabel, QMessageBox, QPlainTextEdit, QProgressBar, QPushButton, QStackedWidget,
                               QTableWidget, QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget)

from engine.training_events import Eval, Phase, Plan, Step, parse_event

from . import training
from .training import NO_TRAINER, TrainerProcess, finetune_args

log = logging.getLogger(__name__)

FILE_COLUMNS = ("File", "Characters", "Status")
MODEL_COLUMNS = ("Model", "Created", "Trained on", "Size", "Result", "")
MODELS_FLEXIBLE = 2  # the column that takes the room the others leave (the file names)
TEXT_FILTER = "Text files (*.txt *.md);;All files (*)"
PHASES = {"baseline": "Measuring the current model…", "training": "Training…",
          "reader": "Adapting the pinyin-reading model…", "export": "Writing the new model…",
          "report": "Measuring the new model…"}
ERROR_STYLE = "color: #b42318;"


# -- checking files off the GUI thread ------------------------------------------------------

class FileChecker(QObject):
    """Inspects files on a thread of Qt's pool (engine.textfile; never raises); ``checked`` arrives
    on the GUI thread, one TextFileInfo per file."""

    checked = Signal(object)  # TextFileInfo

    def check(self, paths: list) -> None:
        paths = list(paths)
        QThreadPool.globalInstance().start(lambda: self._check(paths))

    def _check(self, paths: list) -> None:  # on the pool's thread
        from engine.textfile import inspect_text_file

        for p in paths:
            self.checked.emit(inspect_text_file(Path(p)))

    def stop(self) -> None:
        """Wait for checks under way (a few file reads)."""
        QThreadPool.globalInstance().waitForDone(10_000)


# -- the loss curve ---------------------------------------------------------------------------

class LossCurve(QWidget):
    """Loss against training step, one polyline per series (a dot while a series has one point),
    drawn with QPainter; the legend under the plot names exactly the series drawn."""

    COLORS = {"training": QColor("#2e6fd8"), "your text (held out)": QColor("#d9480f"),
              "general text (held out)": QColor("#2f9e44")}
    LEGEND_H = 22  # the legend's row under the plot
    SWATCH = 14  # width of a legend's line sample

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.series: dict[str, list[tuple[float, float]]] = {}
        self.setMinimumSize(320, 160)

    def add(self, name: str, step: float, loss: float) -> None:
        """One point; a loss that is no number (an evaluation with no windows) is not drawn."""
        if math.isfinite(float(step)) and math.isfinite(float(loss)):
            self.series.setdefault(name, []).append((float(step), float(loss)))
            self.update()

    def clear(self) -> None:
        self.series = {}
        self.update()

    def color(self, name: str) -> QColor:
        return self.COLORS.get(name, QColor("#555555"))

    def legend(self) -> list[str]:
        """The names the legend lists: every series with a point to draw."""
        return [name for name, pts in self.series.items() if pts]

    def plot_rect(self) -> QRectF:
        """Where the curves are drawn (left of it the axis labels, under it the legend)."""
        left = self.fontMetrics().horizontalAdvance("00.00") + 8
        return QRectF(left, 10, max(1, self.width() - left - 10), max(1, self.height() - 20 - self.LEGEND_H))

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), self.palette().base())
        points = [pt for s in self.series.values() for pt in s]
        if not points:
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "The loss curve appears once training starts")
            return
        x0, x1 = min(x for x, _ in points), max(x for x, _ in points)
        y0, y1 = min(y for _, y in points), max(y for _, y in points)
        x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 0.1)
        r = self.plot_rect()

        def at(x: float, y: float) -> QPointF:
            return QPointF(r.left() + (x - x0) / (x1 - x0) * r.width(), r.top() + (y1 - y) / (y1 - y0) * r.height())

        p.setPen(self.palette().text().color())
        p.drawText(2, int(r.top()) + 6, f"{y1:.2f}")
        p.drawText(2, int(r.bottom()), f"{y0:.2f}")
        for name in self.legend():
            pts = [at(x, y) for x, y in self.series[name]]
            p.setPen(QPen(self.color(name), 2))
            if len(pts) == 1:
                p.setBrush(self.color(name))
                p.drawEllipse(pts[0], 3, 3)
            else:
                p.drawPolyline(QPolygonF(pts))
        self._paint_legend(p, r)
        p.end()

    def _paint_legend(self, p: QPainter, plot: QRectF) -> None:
        """A line sample in each series' color, then its name, left to right under the plot."""
        x, y = plot.left(), self.height() - self.LEGEND_H / 2
        metrics = self.fontMetrics()
        for name in self.legend():
            p.setPen(QPen(self.color(name), 2))
            p.drawLine(QPointF(x, y), QPointF(x + self.SWATCH, y))
            p.setPen(self.palette().text().color())
            p.drawText(QPointF(x + self.SWATCH + 4, y + metrics.ascent() / 2 - 1), name)
            x += self.SWATCH + 4 + metrics.horizontalAdvance(name) + 16


# -- the dialog -------------------------------------------------------------------------------

class PersonaliseDialog(QDialog):
    """Train on my text + Models; ``model_changed(id)`` ("base" for the base model) after a switch."""

    model_changed = Signal(str)

    def __init__(self, registry, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Personalise Shuru")
        self.resize(760, 560)
        self.registry = registry
        self.files: dict[str, object] = {}  # path -> TextFileInfo, or None while it is checked
        self.plan: Plan | None = None
        self.plan_run: TrainerProcess | None = None
        self.run: TrainerProcess | None = None
        self.run_dir: Path | None = None
        self.new_model_id = ""
        self.trainer_options: list[str] = []  # more trainer arguments (--base, --key=value overrides)
        self.checker = FileChecker(self)
        self.checker.checked.connect(self._file_checked, Qt.ConnectionType.QueuedConnection)
        self.tabs = QTabWidget()
        self.pages = QStackedWidget()
        self.pages.addWidget(self._setup_page())
        self.pages.addWidget(self._progress_page())
        self.pages.addWidget(self._report_page())
        self.tabs.addTab(self.pages, "Train on my text")
        self.models = ModelsPanel(registry)
        self.models.model_changed.connect(self.model_changed)
        self.tabs.addTab(self.models, "Models")
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.hide)
        layout.addWidget(buttons)
        self._update_setup()

    # -- pages ----------------------------------------------------------------------------
    def _setup_page(self) -> QWidget:
        page = QWidget()
        v = QVBoxLayout(page)
        v.addWidget(QLabel("Shuru learns your vocabulary and style from your own writing (.txt and .md files). "
                           "Training runs on this computer; nothing leaves it."))
        self.file_table = _table(FILE_COLUMNS)
        self.file_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.file_table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        v.addWidget(self.file_table)
        row = QHBoxLayout()
        self.add_files_button = _button("Add files…", self.choose_files, row)
        self.add_folder_button = _button("Add folder…", self.choose_folder, row)
        self.remove_button = _button("Remove", self.remove_selected, row)
        row.addStretch(1)
        v.addLayout(row)
        self.summary_label = QLabel()
        self.plan_label = QLabel()
        self.plan_label.setWordWrap(True)
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        for w in (self.summary_label, self.plan_label, self.message_label):
            v.addWidget(w)
        row = QHBoxLayout()
        row.addStretch(1)
        self.start_button = _button("Start training", self.start, row)
        v.addLayout(row)
        if training.trainer_command() is None:
            self.message_label.setText(NO_TRAINER)
        return page

    def _progress_page(self) -> QWidget:
        page = QWidget()
        v = QVBoxLayout(page)
        self.phase_label = QLabel("Starting the trainer…")
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.eta_label = QLabel()
        self.curve = LossCurve()
        self.last_line = QLabel()
        self.last_line.setWordWrap(True)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setMaximumBlockCount(2000)
        self.details.hide()
        for w in (self.phase_label, self.progress_bar, self.eta_label, self.curve, self.last_line, self.details):
            v.addWidget(w)
        row = QHBoxLayout()
        self.details_button = _button("Show details", self._toggle_details, row)
        row.addStretch(1)
        self.cancel_button = _button("Cancel", self.cancel, row)
        v.addLayout(row)
        return page

    def _report_page(self) -> QWidget:
        page = QWidget()
        v = QVBoxLayout(page)
        self.report_label = QLabel()
        self.report_label.setTextFormat(Qt.TextFormat.RichText)
        self.report_label.setWordWrap(True)
        v.addWidget(self.report_label)
        v.addStretch(1)
        row = QHBoxLayout()
        row.addStretch(1)
        self.discard_button = _button("Discard", self.discard_new, row)
        self.use_button = _button("Use it", self.use_new, row)
        v.addLayout(row)
        return page

    # -- files ----------------------------------------------------------------------------
    def choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Add text files", str(Path.home()), TEXT_FILTER)
        self.add_files([Path(p) for p in paths])

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of text files", str(Path.home()))
        if folder:
            self.add_folder(Path(folder))

    def add_folder(self, folder: Path) -> None:
        """Add every .txt and .md file under ``folder`` (engine.textfile.text_files_in)."""
        from engine.textfile import text_files_in

        found = text_files_in(folder)
        if not found:
            self.message_label.setText(f"No .txt or .md files in {folder}")
        self.add_files(found)

    def add_files(self, paths: list[Path]) -> None:
        """List the files (each once) and check them on the background thread."""
        new = [str(Path(p).resolve()) for p in paths]
        new = [p for p in dict.fromkeys(new) if p not in self.files]
        for p in new:
            self.files[p] = None
        if new:
            self.checker.check(new)
        self._update_setup()

    def remove_selected(self) -> None:
        rows = sorted({i.row() for i in self.file_table.selectedIndexes()})
        for path in [self.file_table.item(r, 0).data(Qt.ItemDataRole.UserRole) for r in rows]:
            self.files.pop(path, None)
        self._update_setup()

    @Slot(object)
    def _file_checked(self, info) -> None:
        key = str(info.path)
        if key in self.files:
            self.files[key] = info
            self._update_setup()

    def usable_files(self) -> list[str]:
        return [p for p, info in self.files.items() if info is not None and info.ok]

    def checking(self) -> bool:
        return any(info is None for info in self.files.values())

    def _update_setup(self) -> None:
        self._fill_files()
        usable = self.usable_files()
        infos = [self.files[p] for p in usable]
        chars, han = sum(i.chars for i in infos), sum(i.han_chars for i in infos)
        refused = sum(1 for i in self.files.values() if i is not None and not i.ok)
        text = (f"{len(usable)} {'file' if len(usable) == 1 else 'files'} to learn from: {chars:,} characters "
                f"({han:,} Chinese)") if usable else "Add the files Shuru should learn from."
        if refused:
            text += f"; {refused} refused (see the list)"
        self.summary_label.setText(("Checking files… " if self.checking() else "") + text)
        self.remove_button.setEnabled(bool(self.files))
        if not self.checking():
            self._request_plan(usable)
        self._update_start()

    def _fill_files(self) -> None:
        self.file_table.setRowCount(len(self.files))
        for r, (path, info) in enumerate(self.files.items()):
            status = "checking…" if info is None else (f"ok ({info.encoding})" if info.ok else info.reason)
            chars = "" if info is None or not info.ok else f"{info.chars:,}"
            cells = (Path(path).name, chars, status)
            for c, value in enumerate(cells):
                item = QTableWidgetItem(value)
                item.setToolTip(path if c == 0 else value)
                if c == 0:
                    item.setData(Qt.ItemDataRole.UserRole, path)
                if info is not None and not info.ok:
                    item.setForeground(QColor("#b42318"))
                self.file_table.setItem(r, c, item)

    # -- the plan -------------------------------------------------------------------------
    def _request_plan(self, usable: list[str]) -> None:
        """Ask the trainer (``--check``) how long ``usable`` takes on this device."""
        key = sorted(usable)
        if self.plan_run is not None and self.plan_run.property("files") == key:
            return
        self._stop_plan()
        self.plan = None
        if not usable or training.trainer_command() is None:
            self.plan_label.setText("")
            return
        pending = self.registry.pending()
        out = pending["dir"] if pending and sorted(pending["files"]) == key else self.registry.new_model_dir()
        self.plan_label.setText("Estimating the training time…")
        run = TrainerProcess(finetune_args(usable, str(out), "--check") + self.trainer_options, self)
        run.setProperty("files", key)
        run.finished.connect(self._plan_ready)
        self.plan_run = run
        run.start()

    @Slot(object)
    def _plan_ready(self, result: dict) -> None:
        if self.sender() is not self.plan_run:
            return  # a plan for files no longer listed
        if result.get("status") == "ok" and isinstance(result.get("plan"), dict):
            self.plan = parse_event({**result["plan"], "event": "plan"})
            self.plan_label.setText(describe_plan(self.plan))
        else:
            self.plan_label.setText(f"The trainer cannot use these files: {result.get('message', 'unknown error')}")
        self._update_start()

    def _stop_plan(self) -> None:
        if self.plan_run is not None:
            self.plan_run.finished.disconnect(self._plan_ready)
            self.plan_run.kill()
            self.plan_run.deleteLater()
            self.plan_run = None

    def _update_start(self) -> None:
        ok = bool(self.usable_files()) and not self.checking() and training.trainer_command() is not None
        self.start_button.setEnabled(ok and self.run is None)

    # -- the run --------------------------------------------------------------------------
    def start(self) -> None:
        """Run the fine-tune; the same files as a cancelled run resume into its folder."""
        files = self.usable_files()
        if not files or self.run is not None:
            return
        self.run_dir = self.registry.dir_for_files([Path(f) for f in files])
        self.curve.clear()
        self.details.clear()
        self.progress_bar.setValue(0)
        self.eta_label.setText("")
        self.last_line.setText("")
        self.phase_label.setText("Starting the trainer…")
        self.message_label.setText("")
        self.run = TrainerProcess(finetune_args(files, str(self.run_dir), "--events") + self.trainer_options,
                                   self)
        self.run.event.connect(self._event)
        self.run.progress.connect(self._progress_line)
        self.run.finished.connect(self._run_finished)
        self.cancel_button.setEnabled(True)
        self.pages.setCurrentIndex(1)
        self._update_start()
        self.run.start()

    def cancel(self) -> None:
        """Stop the run (the trainer saves a checkpoint; the model in use is untouched)."""
        if self.run is not None:
            self.cancel_button.setEnabled(False)
            self.phase_label.setText("Stopping (saving a checkpoint)…")
            self.run.cancel()

    def running(self) -> bool:
        return self.run is not None

    @Slot(object)
    def _event(self, ev) -> None:
        """One engine.training_events event from the trainer."""
        if isinstance(ev, Plan):
            self.eta_label.setText(describe_plan(ev))
        elif isinstance(ev, Phase):
            self.phase_label.setText(PHASES.get(str(ev.phase), str(ev.phase)))
        elif isinstance(ev, Step):
            self._step(ev)
        elif isinstance(ev, Eval) and ev.step is not None:
            for key, name in (("user", "your text (held out)"), ("general", "general text (held out)")):
                if key in ev.losses:
                    self.curve.add(name, ev.step, ev.losses[key])

    def _step(self, ev: Step) -> None:
        progress = ev.progress
        if progress is None and ev.step is not None and ev.steps:
            progress = ev.step / ev.steps
        if progress is not None:
            self.progress_bar.setValue(int(max(0.0, min(1.0, progress)) * 1000))
        if ev.step is not None and ev.loss is not None:
            self.curve.add("training", ev.step, ev.loss)
        parts = [f"step {ev.step}" + (f" of {ev.steps}" if ev.steps else "")] if ev.step is not None else []
        if ev.loss is not None:
            parts.append(f"loss {ev.loss:.3f}")
        if ev.eta_s is not None:
            parts.append(f"about {format_duration(ev.eta_s)} left")
        self.eta_label.setText(" · ".join(parts))

    @Slot(str)
    def _progress_line(self, line: str) -> None:
        self.last_line.setText(line)
        self.details.appendPlainText(line)

    def _toggle_details(self) -> None:
        self.details.setVisible(not self.details.isVisible())
        self.details_button.setText("Hide details" if self.details.isVisible() else "Show details")

    @Slot(object)
    def _run_finished(self, result: dict) -> None:
        run, self.run = self.run, None
        if run is not None:
            run.deleteLater()
        status = result.get("status")
        if status == "ok":
            self._show_report(result)
            return
        self.pages.setCurrentIndex(0)
        if status == "interrupted":
            self.message_label.setStyleSheet("")
            self.message_label.setText("Training stopped; the model in use is unchanged. Start again with the "
                                       "same files to continue where it stopped.")
        else:
            self.message_label.setStyleSheet(ERROR_STYLE)
            self.message_label.setText(f"Training failed: {result.get('message', 'unknown error')}")
        self._update_start()

    # -- the report -----------------------------------------------------------------------
    def _show_report(self, result: dict) -> None:
        out = Path(result.get("out") or self.run_dir)
        self.new_model_id = out.name
        self.registry.clear_pending()
        report = result.get("report") if isinstance(result.get("report"), dict) else {}
        self.report_label.setText(report_html(report, result.get("minutes"), self.new_model_id))
        self.use_button.setEnabled(True)
        self.discard_button.setEnabled(True)
        self.pages.setCurrentIndex(2)
        self.models.refresh()
        self._update_start()

    def use_new(self) -> None:
        """Make the new model the one in use (the window reloads the engine)."""
        if _refused(self, lambda: self.registry.set_active(self.new_model_id)):
            return
        self.model_changed.emit(self.new_model_id)
        self._after_report(f"Now using {self.new_model_id}.")

    def discard_new(self) -> None:
        """Delete the new model; the model in use stays."""
        if not _refused(self, lambda: self.registry.discard(self.new_model_id)):
            self._after_report(f"Discarded {self.new_model_id}; the model in use is unchanged.")

    def _after_report(self, message: str) -> None:
        self.new_model_id = ""
        self.message_label.setStyleSheet("")
        self.message_label.setText(message)
        self.pages.setCurrentIndex(0)
        self.models.refresh()
        self._update_setup()

    # -- closing --------------------------------------------------------------------------
    def shutdown(self) -> None:
        """The window closes: stop a run (it keeps its checkpoint), the plan and the checker."""
        if self.run is not None:
            self.run.cancel()
            self.run.process.waitForFinished(10_000)
        self._stop_plan()
        self.checker.stop()


class ModelsPanel(QWidget):
    """The models (base and personal) with Use / Use base model / Delete."""

    model_changed = Signal(str)

    def __init__(self, registry, parent: QWidget | None = None):
        super().__init__(parent)
        self.registry = registry
        self.infos = []
        self._fit_pending = True
        v = QVBoxLayout(self)
        self.active_label = QLabel()
        v.addWidget(self.active_label)
        self.table = _table(MODEL_COLUMNS)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)  # every column can be dragged wider
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # a cut text keeps both ends; its tooltip all
        self.table.setWordWrap(False)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        v.addWidget(self.table)
        row = QHBoxLayout()
        self.base_button = _button("Use base model", self.use_base, row)
        row.addStretch(1)
        self.delete_button = _button("Delete", self.delete_selected, row)
        self.use_button = _button("Use", self.use_selected, row)
        v.addLayout(row)
        self.refresh()

    def refresh(self) -> None:
        self.infos = self.registry.list_models()
        active = self.registry.active_id() or "base"
        self.active_label.setText(f"In use: {active}")
        self.table.setRowCount(len(self.infos))
        for r, m in enumerate(self.infos):
            cells = (m.id, m.created, ", ".join(m.source_files) or ("shipped with Shuru" if m.kind == "base" else ""),
                     format_size(m.size_bytes), metrics_summary(m.metrics), "in use" if m.id == active else "")
            for c, value in enumerate(cells):
                item = QTableWidgetItem(value)
                item.setToolTip(f"{m.id}: {m.path}" if c == 0 else value)
                self.table.setItem(r, c, item)
        self._fit_pending = not self.isVisible()  # hidden, the table's width is not known yet
        if not self._fit_pending:
            fit_columns(self.table, MODELS_FLEXIBLE)
        self._update_buttons()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._fit_pending:  # once: columns the user dragged stay as they are when the tab comes back
            self._fit_pending = False
            fit_columns(self.table, MODELS_FLEXIBLE)

    def selected(self):
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        return self.infos[rows[0]] if rows else None

    def _update_buttons(self) -> None:
        m, active = self.selected(), self.registry.active_id() or "base"
        self.use_button.setEnabled(m is not None and m.id != active)
        self.delete_button.setEnabled(m is not None and m.kind == "personal" and m.id != active)
        self.base_button.setEnabled(active != "base")

    def use(self, model_id: str) -> None:
        """Make ``model_id`` ("base" or a personal model) the model in use."""
        refused = _refused(self, lambda: self.registry.set_active(model_id))
        self.refresh()
        if not refused:
            self.model_changed.emit(model_id)

    def use_base(self) -> None:
        self.use("base")

    def use_selected(self) -> None:
        m = self.selected()
        if m is not None:
            self.use(m.id)

    def delete_selected(self) -> None:
        m = self.selected()
        if m is None:
            return
        answer = QMessageBox.question(self, "Delete model", f"Delete {m.id} ({format_size(m.size_bytes)})?")
        if answer == QMessageBox.StandardButton.Yes:
            _refused(self, lambda: self.registry.discard(m.id))
            self.refresh()


# -- text -------------------------------------------------------------------------------------

def describe_plan(plan: Plan) -> str:
    """"Estimated time on <device>: about N minutes (S steps)" from a trainer plan (fields optional)."""
    name = plan.device or "this computer"
    parts = []
    if plan.estimate_s is not None:
        parts.append(f"Estimated time on {name}: about {format_duration(plan.estimate_s)}")
    else:
        parts.append(f"Training runs on {name}")
    if plan.steps is not None:
        parts.append(f" ({plan.steps} steps")
        parts.append(", with general text mixed in)" if plan.replay else ")")
    return "".join(parts) + "."


def report_html(report: dict, minutes, model_id: str) -> str:
    """The before/after table of a finished fine-tune (rows and wording: engine.finetune_report)."""
    from engine.finetune_report import report_notes, report_rows

    report = report if isinstance(report, dict) else {}
    cells = "".join(f"<tr><td>{escape(r.label)}</td><td align=right>{_pct(r.before)}</td>"
                    f"<td align=right>{_pct(r.after)}</td><td>{escape(r.change) or '–'}</td>"
                    f"<td align=right>{'' if r.clauses is None else r.clauses}</td></tr>" for r in report_rows(report))
    notes = "".join(f"<p>{escape(note)}</p>" for note in report_notes(report))
    took = f" in {format_duration(float(minutes) * 60)}" if _number(minutes) is not None else ""
    return (f"<h3>{escape(model_id)} is ready{took}</h3><table cellpadding=4><tr><th></th><th>Before</th>"
            f"<th>After</th><th align=left>Change (points, 95% interval)</th><th>Clauses</th></tr>{cells}</table>"
            f"{notes}<p>Use it to type with the new model now; you can switch back to the base model any time "
            "under Models.</p>")


def metrics_summary(metrics: dict) -> str:
    """One short line about a model's results (the report, else its held-out losses)."""
    from engine.finetune_report import change_text

    report = metrics.get("report") if isinstance(metrics.get("report"), dict) else {}
    user = report.get("user") if isinstance(report.get("user"), dict) else {}
    top1 = user.get("top1")
    if isinstance(top1, list) and len(top1) == 2:
        change = change_text(user, "top1")
        return f"your text top-1 {_pct(top1[0])} → {_pct(top1[1])}" + (f": {change}" if change else "")
    before, after = metrics.get("before"), metrics.get("after")
    if isinstance(before, dict) and isinstance(after, dict) and "user_loss" in after:
        return f"your-text loss {before.get('user_loss', '?')} → {after['user_loss']}"
    last = metrics.get("last_eval")
    if isinstance(last, dict) and "heldout_loss" in last:
        return f"held-out loss {last['heldout_loss']}"
    return ""


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(float(seconds))))
    if seconds < 90:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 90 else f"{minutes / 60:.1f} h"


def format_size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


def _pct(value) -> str:
    return f"{value:.1f}%" if _number(value) is not None else "–"  # the trainer reports percentages


def _number(x):
    return x if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def _refused(parent: QWidget, change) -> bool:
    """Run a registry change; a refusal (ModelError) or a file error is shown, and True returned."""
    from engine.models import ModelError

    try:
        change()
    except (ModelError, OSError) as e:
        QMessageBox.warning(parent, "Models", str(e))
        return True
    return False


def fit_columns(table: QTableWidget, flexible: int, min_width: int = 120) -> None:
    """Size every column to its contents; column ``flexible`` then takes the room left: wider to
    fill the table, or narrower (down to ``min_width``; its texts elided, whole in their tooltips)."""
    table.resizeColumnsToContents()
    header = table.horizontalHeader()
    room = table.viewport().width() if table.isVisible() else table.width() - 2 * table.frameWidth()
    others = header.length() - header.sectionSize(flexible)
    header.resizeSection(flexible, max(min_width, room - others))


def _table(columns) -> QTableWidget:
    t = QTableWidget(0, len(columns))
    t.setHorizontalHeaderLabels(columns)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.verticalHeader().setVisible(False)
    return t


def _button(text: str, slot, row: QHBoxLayout) -> QPushButton:
    b = QPushButton(text)
    b.clicked.connect(slot)
    row.addWidget(b)
    return b
