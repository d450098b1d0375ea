"""Finds the trainer, runs ``<trainer> finetune --text FILE`` in a QProcess and reports its progress.

The trainer prints progress lines on stderr and one JSON line on stdout when done (see
``trainer/__main__.py``). The GUI never imports the trainer (or torch): it only runs it:
``python -m trainer`` in a checkout or a pip install with the ``trainer`` extra, the separately
packaged ``shuru-trainer`` (``shuru-trainer_<version>_amd64.deb``) beside the frozen app.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, QProcess, Signal

from . import __version__

TRAINER_EXECUTABLE = "shuru-trainer"
SYSTEM_TRAINER = Path("/opt/shuru-trainer") / TRAINER_EXECUTABLE  # the .deb's
NO_TRAINER = ("Training needs Shuru's trainer, which is not installed. It is a separate download because "
              "it carries PyTorch: install the shuru-trainer package (sudo apt install ./shuru-trainer_"
              f"{__version__}_amd64.deb), then choose Train on My Text again. In a source checkout, ./dev.sh setup "
              "installs it.")


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def trainer_command(*, frozen: bool | None = None, executable: str | None = None, importable: bool | None = None,
                    home: Path | None = None, which: Callable[[str], str | None] = shutil.which,
                    is_executable: Callable[[Path], bool] = _executable) -> list[str] | None:
    """The argv that runs the trainer (``+ ["finetune", ...]``), or None when there is none.

    Not frozen, with the ``trainer`` package importable: ``python -m trainer``. Frozen (or not
    importable): a ``shuru-trainer`` installed beside the app (``/opt/shuru-trainer`` next to
    ``/opt/shuru``, or ``~/.local/opt/shuru-trainer``), the .deb's, or one on PATH."""
    frozen = bool(getattr(sys, "frozen", False)) if frozen is None else frozen
    executable = executable or sys.executable
    if importable is None:
        importable = importlib.util.find_spec("trainer") is not None
    if importable and not frozen:
        return [executable, "-m", "trainer"]
    home = home or Path.home()
    beside = Path(executable).parent.parent / TRAINER_EXECUTABLE / TRAINER_EXECUTABLE
    for candidate in (beside, SYSTEM_TRAINER, home / ".local/opt" / TRAINER_EXECUTABLE / TRAINER_EXECUTABLE):
        if is_executable(candidate):
            return [str(candidate)]
    found = which(TRAINER_EXECUTABLE)
    return [found] if found else None


def trainer_available() -> bool:
    """Whether a trainer is installed (see :func:`trainer_command`)."""
    return trainer_command() is not None


class FinetuneRun(QObject):
    """One fine-tuning run; emits each progress line and, at the end, success and a summary."""

    progress = Signal(str)  # one stderr line
    finished = Signal(bool, str)  # ok, summary (the JSON result or the error's last lines)

    def __init__(self, text_files: list[str], parent: QObject | None = None, command: list[str] | None = None):
        super().__init__(parent)
        program, *args = command or trainer_command() or [TRAINER_EXECUTABLE]
        self._stdout = b""
        self._tail: list[str] = []
        self._buffer = b""
        self.process = QProcess(self)
        self.process.setProgram(program)
        self.process.setArguments([*args, "finetune", "--text", *text_files])
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
