"""Runs ``python -m trainer finetune --text FILE`` in a QProcess and reports its progress.

The trainer prints progress lines on stderr and one JSON line on stdout when done (see
``trainer/__main__.py``). The GUI never imports the trainer (or torch): it only runs it.
"""
from __future__ import annotations

import importlib.util
import json
import sys

from PySide6.QtCore import QObject, QProcess, Signal



def trainer_available() -> bool:
    """Whether the trainer package is installed next to the app."""
    return importlib.util.find_spec("trainer") is not None


class FinetuneRun(QObject):
    """One fine-tuning run; emits each progress line and, at the end, success and a summary."""

    progress = Signal(str)  # one stderr line
    finished = Signal(bool, str)  # ok, summary (the JSON result or the error's last lines)

    def __init__(self, text_files: list[str], parent: QObject | None = None):
        super().__init__(parent)
        self._stdout = b""
        self._tail: list[str] = []
        self._buffer = b""
        self.process = QProcess(self)
        self.process.setProgram(sys.executable)
        self.process.setArguments(["-m", "trainer", "finetune", "--text", *text_files])
        self.process.readyReadStandardError.connect(self._read_stderr)
        self.process.readyReadStandardOutput.connect(self._read_stdout)
        self.process.finished.connect(self._finished)
        self.process.errorOccurred.connect(self._error)

    def start(self) -> None:
        self.process.start()

    def cancel(self) -> None:
        """Interrupt the run; the trainer saves a resumable checkpoint on SIGINT-like termination."""
        self.process.terminate()

    def _read_stderr(self) -> None:
        self._buffer += bytes(self.process.readAllStandardError())
        *lines, self._buffer = self._buffer.replace(b"\r", b"\n").split(b"\n")
        for raw in lines:
            line = raw.decode("utf-8", "replace").strip()
            if line:
                self._tail = (self._tail + [line])[-5:]
                self.progress.emit(line)

    def _read_stdout(self) -> None:
        self._stdout += bytes(self.process.readAllStandardOutput())

    def _finished(self, code: int, status) -> None:
        self._read_stderr()
        self._read_stdout()
        if code == 0:
            lines = self._stdout.decode("utf-8", "replace").strip().splitlines()
            try:
                result = json.loads(lines[-1]) if lines else {}
                summary = ", ".join(f"{k}: {v}" for k, v in result.items()) if isinstance(result, dict) else str(result)
            except ValueError:
                summary = lines[-1] if lines else "done"
            self.finished.emit(True, summary)
        else:
            self.finished.emit(False, "\n".join(self._tail) or f"trainer exited with code {code}")

    def _error(self, error) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.finished.emit(False, "could not start the trainer: " + self.process.errorString())
