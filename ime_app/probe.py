"""A liveness probe for test harnesses: with ``SHURU_PROBE=<file>`` set, F12 writes a JSON line.

Each F12 press (handled on the GUI thread, like every key) rewrites ``<file>`` with
``{"n": presses so far, "text": the editor's text, "preedit": the pinyin shown}``. A harness
sending random X keys (tests/window_monkey.py) presses F12 and times how long the answer
takes: the window's responsiveness as the user feels it, with the editor text to compare
against what a final Ctrl+S saved. Without the variable nothing is installed.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt

from engine.atomic import write_bytes_atomic

PROBE_ENV = "SHURU_PROBE"


class ProbeFilter(QObject):
    """An application-wide event filter answering F12 with a probe file."""

    def __init__(self, window, path: Path):
        super().__init__(window)
        self.window, self.path, self.count = window, path, 0

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.KeyPress and event.key() == Qt.Key.Key_F12:
            if not event.isAutoRepeat():
                self.count += 1
                self.answer()
            return True
        return False

    def answer(self) -> None:
        """Write the probe file atomically (a harness polling it never reads half a line)."""
        editor = self.window.editor
        state = {"n": self.count, "text": editor.toPlainText(),
                 "preedit": editor.preedit_text}
        write_bytes_atomic(self.path, json.dumps(state, ensure_ascii=False).encode("utf-8"))


def install_probe(app, window) -> ProbeFilter | None:
    """Install the F12 probe when ``SHURU_PROBE`` names a file; else do nothing."""
    target = os.environ.get(PROBE_ENV)
    if not target:
        return None
    probe = ProbeFilter(window, Path(target))
    app.installEventFilter(probe)
    return probe
