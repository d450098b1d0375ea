"""The Personalise dialog's two views a newcomer reads: the loss curve's legend names exactly the
curves drawn, and the Models table shows each model's date and result in full (columns can be
dragged wider, a text cut short is elided in the middle and whole in its tooltip)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHeaderView

from engine.models import ModelRegistry
from ime_app.personalise import MODEL_COLUMNS, LossCurve, ModelsPanel, metrics_summary
from tests.engine.test_models import make_model

BASE = Path(__file__).resolve().parents[2] / "assets" / "model"
TRAIN, USER, GENERAL = "training", "your text (held out)", "general text (held out)"


def color_pixels(image, rect: QRect, color: QColor) -> int:
    """Pixels inside ``rect`` close to ``color`` (antialiased edges included)."""
    n = 0
    for y in range(max(rect.top(), 0), min(rect.bottom(), image.height() - 1) + 1, 1):
        for x in range(max(rect.left(), 0), min(rect.right(), image.width() - 1) + 1, 1):
            c = image.pixelColor(x, y)
            n += abs(c.red() - color.red()) + abs(c.green() - color.green()) + abs(c.blue() - color.blue()) < 60
    return n


# points added (series, step, loss) -> the legend
CURVES = [
    ("nothing yet", [], []),
    ("training only", [(TRAIN, 1, 4.3), (TRAIN, 20, 4.1), (TRAIN, 40, 3.9)], [TRAIN]),
    ("one evaluation so far: a dot", [(TRAIN, 1, 4.3), (TRAIN, 119, 3.9), (USER, 119, 4.2)], [TRAIN, USER]),
    ("an evaluation with no windows is no curve",
     [(TRAIN, 1, 4.3), (TRAIN, 119, 3.9), (GENERAL, 119, math.nan), (USER, 119, 4.2), (USER, 200, 4.0)],
     [TRAIN, USER]),
    ("all three", [(TRAIN, 1, 4.3), (TRAIN, 400, 3.8), (USER, 200, 4.0), (USER, 400, 3.9), (GENERAL, 200, 4.2),
                   (GENERAL, 400, 4.25)], [TRAIN, USER, GENERAL]),
]


@pytest.mark.parametrize("points,legend", [c[1:] for c in CURVES], ids=[c[0] for c in CURVES])
def test_the_legend_lists_the_curves_drawn(qtbot, points, legend):
    curve = LossCurve()
    qtbot.addWidget(curve)
    curve.resize(700, 220)
    for name, step, loss in points:
        curve.add(name, step, loss)
    assert curve.legend() == legend
    image = curve.grab().toImage()
    plot = curve.plot_rect().toAlignedRect().adjusted(-4, -4, 4, 4)
    for name in (TRAIN, USER, GENERAL):
        drawn = color_pixels(image, plot, curve.color(name))
        anywhere = color_pixels(image, image.rect(), curve.color(name))
        assert (drawn > 0) == (name in legend), name
        assert (anywhere > drawn) == (name in legend), name  # the legend's line sample, under the plot


def test_the_legend_fits_the_dialogs_curve(qtbot):
    curve = LossCurve()
    qtbot.addWidget(curve)
    curve.resize(700, 220)
    for name in (TRAIN, USER, GENERAL):
        curve.add(name, 1, 4.0)
        curve.add(name, 2, 3.9)
    image = curve.grab().toImage()
    legend_row = QRect(int(curve.width() * 0.95), curve.height() - curve.LEGEND_H, curve.width(), curve.LEGEND_H)
    assert color_pixels(image, legend_row, curve.palette().text().color()) == 0  # the last name ends before the edge


def personal_with_report(root: Path) -> Path:
    folder = make_model(root, "personal-20261205-0012", exported_at="2026-12-05T00:12:41",
                        texts=("my-long-diary-of-2026-with-a-very-long-name.txt", "letters-to-my-family.md",
                               "notes-from-the-weekly-meetings.txt"))
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["metrics"]["report"] = {"user": {"top1": [61.7, 70.0], "clauses": 60}}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


@pytest.mark.parametrize("width", [720, 1000])  # the panel in the dialog as it opens, and widened
def test_models_show_date_and_result_in_full(qtbot, tmp_path, width):
    registry = ModelRegistry(tmp_path / "models", BASE)
    personal_with_report(registry.root)
    panel = ModelsPanel(registry)
    qtbot.addWidget(panel)
    panel.resize(width, 300)
    panel.show()
    qtbot.waitExposed(panel)
    table, header = panel.table, panel.table.horizontalHeader()
    assert table.item(1, 4).text() == metrics_summary(panel.infos[1].metrics) == "your text top-1 61.7% → 70.0%"
    for column in range(len(MODEL_COLUMNS)):
        assert header.sectionResizeMode(column) == QHeaderView.ResizeMode.Interactive
        for row in range(table.rowCount()):
            item = table.item(row, column)
            assert item.toolTip() in (item.text(), f"{panel.infos[row].id}: {panel.infos[row].path}")
    created, result, trained_on = (MODEL_COLUMNS.index(c) for c in ("Created", "Result", "Trained on"))
    for column in (created, result):
        assert table.columnWidth(column) >= table.sizeHintForColumn(column), MODEL_COLUMNS[column]
    assert header.length() <= table.viewport().width() + 1  # no sideways scrolling to find them
    files = table.item(1, trained_on).text()
    assert table.columnWidth(trained_on) < table.sizeHintForColumn(trained_on)  # the file names give way
    assert table.item(1, trained_on).toolTip() == files and files.startswith("my-long-diary")
    header.resizeSection(trained_on, 400)  # dragged wider by hand
    panel.hide()  # another tab, then this one again
    panel.show()
    assert table.columnWidth(trained_on) == 400
