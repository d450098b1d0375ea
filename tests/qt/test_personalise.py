"""The Personalise dialog and the model manager, offscreen, with a stand-in trainer.

tests/fixtures/fake_trainer.py speaks the trainer's JSON-lines protocol (plan, phases, steps,
evals, the result with its report) and writes a loadable model folder, in well under a
second; SIGTERM leaves a checkpoint that the same command resumes from.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from engine.models import ModelRegistry
from ime_app import training
from engine.training_events import Phase, Step, parse_event
from ime_app.personalise import (LossCurve, PersonaliseDialog, describe_plan, format_duration, metrics_summary,
                                 report_html)
from tests.conftest import TIMEOUT_MS
from tests.trainer.test_trainer_support import tiny_model_dir  # noqa: F401 (fixture)

FAKE_TRAINER = Path(__file__).parents[1] / "fixtures" / "fake_trainer.py"
BASE = Path(__file__).resolve().parents[2] / "assets" / "model"
PAGE_SETUP, PAGE_PROGRESS, PAGE_REPORT = 0, 1, 2


@pytest.fixture
def fake_trainer(monkeypatch):
    monkeypatch.setattr(training, "trainer_command", lambda: [sys.executable, str(FAKE_TRAINER)])
    monkeypatch.setenv("FAKE_TRAINER_STEPS", "6")
    monkeypatch.setenv("FAKE_TRAINER_STEP_S", "0.01")


@pytest.fixture
def texts(tmp_path) -> dict[str, Path]:
    """One usable file and one of each kind the dialog refuses."""
    d = tmp_path / "texts"
    d.mkdir()
    files = {
        "good": ("notes.txt", "我们今天讨论深度学习的模型。\n合同的解除应当书面通知对方。\n".encode("utf-8") * 20),
        "binary": ("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))),
        "empty": ("empty.md", b"  \n"),
        "undecodable": ("broken.txt", b"\xef\xbb\xbf\xe4\xbd\xa0\xff\xfe\xfd good"),
        "english": ("english.txt", b"only English words here\n"),
    }
    out = {}
    for key, (name, data) in files.items():
        (d / name).write_bytes(data)
        out[key] = d / name
    return out


@pytest.fixture
def make_dialog(qtbot, tmp_path):
    """Dialogs on a registry in tmp_path; shut down (runs stopped) at the end."""
    made = []

    def make() -> PersonaliseDialog:
        dialog = PersonaliseDialog(ModelRegistry(tmp_path / "models", BASE))
        qtbot.addWidget(dialog)
        made.append(dialog)
        dialog.show()
        return dialog

    yield make
    for dialog in made:
        dialog.shutdown()


def rows(dialog) -> dict[str, tuple[str, str]]:
    t = dialog.file_table
    return {t.item(r, 0).text(): (t.item(r, 1).text(), t.item(r, 2).text()) for r in range(t.rowCount())}


def wait_plan(qtbot, dialog) -> None:
    qtbot.waitUntil(lambda: not dialog.checking() and dialog.plan is not None, timeout=TIMEOUT_MS)


# file -> part of the reason in its row
REFUSALS = [
    ("binary", "binary"),
    ("empty", "is empty"),
    ("undecodable", "damaged"),
    ("english", "no Chinese"),
]


def test_files_are_checked_and_refused_with_a_reason(qtbot, make_dialog, tmp_path, texts, fake_trainer):
    dialog = make_dialog()
    dialog.add_folder(texts["good"].parent)  # the whole folder: .txt and .md
    wait_plan(qtbot, dialog)
    listed = rows(dialog)
    assert len(listed) == len(texts)
    for key, reason in REFUSALS:
        chars, status = listed[texts[key].name]
        assert chars == "" and reason in status, (key, status)
    good = texts["good"].read_text(encoding="utf-8")
    assert listed["notes.txt"] == (f"{len(good):,}", "ok (utf-8)")
    assert dialog.usable_files() == [str(texts["good"].resolve())]
    assert f"{len(good):,} characters" in dialog.summary_label.text() and "4 refused" in dialog.summary_label.text()
    assert dialog.plan_label.text() == ("Estimated time on Fake CPU (2 threads): about 2 min "
                                        "(6 steps, with general text mixed in).")
    assert dialog.start_button.isEnabled()
    dialog.file_table.selectRow(0)
    dialog.remove_selected()
    assert len(rows(dialog)) == len(texts) - 1


def test_without_the_trainer_the_dialog_says_how_to_get_it(qtbot, make_dialog, tmp_path, texts, monkeypatch):
    monkeypatch.setattr(training, "trainer_command", lambda: None)
    dialog = make_dialog()
    dialog.add_files([texts["good"]])
    qtbot.waitUntil(lambda: not dialog.checking(), timeout=TIMEOUT_MS)
    text = dialog.message_label.text()
    assert "shuru-trainer" in text and "./dev.sh app" in text
    assert not dialog.start_button.isEnabled()


def test_train_use_it_and_revert_in_the_window(qtbot, make_window, tmp_path, texts, fake_trainer, monkeypatch):
    """Add a file, start, watch progress, read the report, Use it (the engine reloads with the new
    model), then Use base model and Delete in the model manager."""
    models = tmp_path / "models"
    w = make_window(models_dir=models, use_neural=True)
    qtbot.waitUntil(lambda: w.model_label.text() == "model: base", timeout=TIMEOUT_MS)
    dialog = w.open_personalise()
    dialog.add_files([texts["good"]])
    wait_plan(qtbot, dialog)
    dialog.start_button.click()
    assert dialog.pages.currentIndex() == PAGE_PROGRESS
    qtbot.waitUntil(lambda: dialog.pages.currentIndex() == PAGE_REPORT, timeout=TIMEOUT_MS)
    assert dialog.progress_bar.value() == 1000
    assert [x for x, _ in dialog.curve.series["training"]] == [1, 2, 3, 4, 5, 6]
    assert [x for x, _ in dialog.curve.series["your text (held out)"]] == [2, 4, 6]
    assert len(dialog.curve.series["general text (held out)"]) == 3
    assert "step 6/6" in dialog.details.toPlainText() and "not json" not in dialog.details.toPlainText()
    report = dialog.report_label.text()
    for shown in ("60.0%", "75.0%", "+15.0 (+3.8 to +25.8)", "88.0%", "92.1%", "+4.1 (+1.8 to +6.4)", "80.0%",
                  "79.3%", "no measurable change (±3.2)", "6 became right and 8 became wrong",
                  "Zhihu question titles (2020-2024), a source that fine-tuning never trains on"):
        assert shown in report, shown
    new_id = dialog.new_model_id
    assert new_id.startswith("personal-") and (models / new_id / "manifest.json").is_file()
    assert ModelRegistry(models, BASE).active_id() is None  # not in use until chosen
    assert ModelRegistry(models, BASE).get(new_id).metrics["report"]["user"]["top1"] == [60.0, 75.0]

    dialog.use_button.click()
    qtbot.waitUntil(lambda: w.model_label.text() == f"model: {new_id}", timeout=TIMEOUT_MS)
    assert w.engine.worker._engine.model_dir == models / new_id
    assert dialog.models.active_label.text() == f"In use: {new_id}"

    w.open_personalise("models")
    assert dialog.tabs.currentIndex() == 1
    table = dialog.models.table
    assert [table.item(r, 0).text() for r in range(table.rowCount())] == ["base", new_id]
    assert table.item(1, 2).text() == "notes.txt" and table.item(1, 5).text() == "in use"
    assert table.item(1, 4).text() == "your text top-1 60.0% → 75.0%: +15.0 (+3.8 to +25.8)"
    dialog.models.base_button.click()
    qtbot.waitUntil(lambda: w.model_label.text() == "model: base", timeout=TIMEOUT_MS)
    assert ModelRegistry(models, BASE).active_id() is None

    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))
    table.selectRow(1)
    dialog.models.delete_selected()
    assert not (models / new_id).exists() and table.rowCount() == 1


def test_cancel_leaves_the_model_in_use_and_the_same_files_resume(qtbot, make_dialog, tmp_path, texts, fake_trainer,
                                                                   monkeypatch):
    monkeypatch.setenv("FAKE_TRAINER_STEP_S", "0.25")
    registry = ModelRegistry(tmp_path / "models", BASE)
    dialog = make_dialog()
    dialog.add_files([texts["good"]])
    wait_plan(qtbot, dialog)
    dialog.start_button.click()
    first_dir = dialog.run_dir
    qtbot.waitUntil(lambda: dialog.progress_bar.value() > 0, timeout=TIMEOUT_MS)
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: not dialog.running(), timeout=TIMEOUT_MS)
    assert dialog.pages.currentIndex() == PAGE_SETUP
    assert "model in use is unchanged" in dialog.message_label.text()
    assert registry.active_id() is None and [m.id for m in registry.list_models()] == ["base"]
    stopped_at = int((first_dir.with_name(f".{first_dir.name}-finetune") / "step.txt").read_text())
    assert 0 < stopped_at < 6

    monkeypatch.setenv("FAKE_TRAINER_STEP_S", "0.01")
    dialog.start_button.click()
    assert dialog.run_dir == first_dir  # the same files: the same folder, so the trainer resumes
    qtbot.waitUntil(lambda: dialog.pages.currentIndex() == PAGE_REPORT, timeout=TIMEOUT_MS)
    assert f"resuming from step {stopped_at}" in dialog.details.toPlainText()
    assert [x for x, _ in dialog.curve.series["training"]][0] == stopped_at + 1
    dialog.discard_button.click()
    assert not first_dir.exists() and registry.active_id() is None and registry.pending() is None


def test_a_failing_trainer_is_reported(qtbot, make_dialog, tmp_path, texts, fake_trainer):
    dialog = make_dialog()
    dialog.add_files([texts["good"]])
    wait_plan(qtbot, dialog)
    texts["good"].unlink()  # gone before Start: the trainer refuses
    dialog.start_button.click()
    qtbot.waitUntil(lambda: not dialog.running(), timeout=TIMEOUT_MS)
    assert dialog.pages.currentIndex() == PAGE_SETUP
    assert dialog.message_label.text().startswith("Training failed: no such file")


# (trainer process output lines) -> what TrainerProcess passes on
def test_trainer_lines_are_parsed_robustly(qtbot):
    script = ("import sys\n"
              "print('{\"event\": \"step\", \"step\": 1}')\n"
              "print('progress 10%', file=sys.stderr)\n"
              "print('[1, 2]'); print('{broken'); print('plain text')\n"
              "print('{\"event\": \"phase\"}')\n"
              "sys.stdout.write('{\"status\": \"ok\", \"out\": \"x\"}')\n")  # the last line without a newline
    run = training.TrainerProcess([], command=[sys.executable, "-c", script])
    events, results = [], []
    run.event.connect(events.append)
    run.finished.connect(results.append)
    run.start()
    qtbot.waitUntil(lambda: bool(results), timeout=TIMEOUT_MS)
    assert events == [Step(step=1), Phase()]  # typed (engine.training_events)
    assert results == [{"status": "ok", "out": "x"}]
    assert run.stderr_lines == ["progress 10%"]


# a plan (keys may be missing) -> its sentence
PLANS = [
    ({"device": {"kind": "cuda", "name": "NVIDIA H200"}, "steps": 400, "estimate_s": 300, "replay": False},
     "Estimated time on NVIDIA H200: about 5 min (400 steps)."),
    ({"device": {"kind": "mps"}, "estimate_s": 7200}, "Estimated time on mps: about 2.0 h."),
    ({}, "Training runs on this computer."),
]


@pytest.mark.parametrize("plan, sentence", PLANS)
def test_describe_plan(plan, sentence):
    assert describe_plan(parse_event({"event": "plan", **plan})) == sentence


@pytest.mark.parametrize("seconds, text", [(42, "42 s"), (150, "2 min"), (5400, "1.5 h")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


# a report (as a manifest holds it) -> what its table and summary say
REPORTS = [
    ("an unchanged model", {"user": {"clauses": 60, "top1": [80.0, 80.0], "char_acc": [95.0, 95.0],
                                     "top1_counts": {"both": 48, "lost": 0, "gained": 0, "neither": 12},
                                     "char_acc_diff": {"mean": 0.0, "sd": 0.0}},
                            "general": {"clauses": 300, "top1": [80.0, 80.0], "char_acc": [94.0, 94.0],
                                        "top1_counts": {"both": 240, "lost": 0, "gained": 0, "neither": 60},
                                        "char_acc_diff": {"mean": 0.0, "sd": 0.0}}},
     ["no measurable change (±", "0 became right and 0 became wrong"],
     "your text top-1 80.0% → 80.0%: no measurable"),
    ("a report written before the counts were kept",
     {"user": {"top1": [85.0, 100.0], "char_acc": [97.2, 98.7], "clauses": 60},
      "general": {"top1": [68.3, 71.7], "char_acc": [90.0, 90.1], "clauses": 60}},
     ["85.0%", "100.0%", "68.3%", "71.7%", "<td>–</td>"], "your text top-1 85.0% → 100.0%"),
    ("a damaged report", {"user": [1, 2], "general": None}, ["<td>–</td>"], ""),
]


@pytest.mark.parametrize("what,report,shown,summary", REPORTS, ids=[r[0] for r in REPORTS])
def test_the_report_renders(what, report, shown, summary):
    html = report_html(report, 8.5, "personal-20261205-1000")
    assert "personal-20261205-1000 is ready in 8 min" in html and "95% interval" in html
    for text in shown:
        assert text in html, text
    assert metrics_summary({"report": report}).startswith(summary)


def test_loss_curve_draws(qtbot):
    curve = LossCurve()
    qtbot.addWidget(curve)
    curve.resize(400, 200)
    empty = curve.grab().toImage()
    for step, loss in [(1, 4.0), (2, 3.5), (3, 3.2)]:
        curve.add("training", step, loss)
    curve.add("your text (held out)", 2, 3.8)
    drawn = curve.grab().toImage()
    assert drawn != empty and len(curve.series["training"]) == 3


def test_the_real_trainer_through_the_dialog(qtbot, make_dialog, tmp_path, tiny_model_dir, monkeypatch):
    """``python -m trainer`` itself, on a tiny model with a few steps: plan, progress, report, Use it."""
    from tests.trainer.test_trainer_support import TINY_TEXT

    monkeypatch.setattr(training, "trainer_command", lambda: [sys.executable, "-m", "trainer"])
    mine = tmp_path / "mine.txt"
    mine.write_text(TINY_TEXT.read_text(encoding="utf-8"), encoding="utf-8")
    dialog = make_dialog()
    dialog.trainer_options = ["--base", str(tiny_model_dir), "--report-clauses", "1", "--max_steps=4",
                              "--batch_size=4", "--seq_len=32", "--eval_windows=2", "--warmup_steps=2",
                              "--eval_every=2"]
    dialog.add_files([mine])
    qtbot.waitUntil(lambda: dialog.plan is not None, timeout=60_000)
    assert dialog.plan.steps == 4 and "Estimated time on" in dialog.plan_label.text()
    dialog.start_button.click()
    qtbot.waitUntil(lambda: not dialog.running(), timeout=120_000)
    assert dialog.pages.currentIndex() == PAGE_REPORT, dialog.message_label.text()
    assert dialog.progress_bar.value() == 1000 and dialog.curve.series["training"][-1][0] == 4
    assert "your text (held out)" in dialog.curve.series
    assert "%" in dialog.report_label.text()
    dialog.use_button.click()
    registry = dialog.registry
    assert registry.active_id() == dialog.models.infos[1].id and registry.active_model().metrics["report"]


def test_the_model_in_use_cannot_be_deleted(qtbot, tmp_path, monkeypatch):
    from ime_app.personalise import ModelsPanel
    from tests.engine.test_models import make_model

    registry = ModelRegistry(tmp_path / "models", BASE)
    folder = make_model(registry.root, "personal-20261201-1530")
    registry.set_active(folder.name)
    panel = ModelsPanel(registry)
    qtbot.addWidget(panel)
    warnings = []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda parent, title, text: warnings.append(text)))
    panel.table.selectRow(1)
    assert not panel.delete_button.isEnabled() and not panel.use_button.isEnabled()
    panel.delete_selected()
    assert folder.exists() and "in use" in warnings[0]
    panel.use_base()
    assert registry.active_id() is None and panel.delete_button.isEnabled()
