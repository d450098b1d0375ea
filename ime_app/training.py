"""Finding the trainer and running it (``<trainer_command()> finetune ...``) in a QProcess.

The GUI never imports the trainer (or torch): it only runs it. :func:`trainer_command` is the
one place that decides how: ``python -m trainer`` in a checkout or a pip install with the
``trainer`` extra, else the separately packaged ``shuru-trainer``
(``shuru-trainer_<version>_amd64.deb``) beside the frozen app. The trainer speaks JSON lines on stdout:

* ``finetune ... --check``: one line, ``{"status": "ok", "plan": {...}}`` or ``{"status": "error", ...}``;
* ``finetune ... --events``: ``{"event": "plan" | "phase" | "step" | "eval", ...}`` lines while it
  runs, and last the result ``{"status": "ok" | "error" | "interrupted", ...}``;

and human progress lines on stderr. Lines that are not JSON objects are ignored and missing
keys tolerated: :class:`TrainerProcess` passes on what it can read.
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

from engine.training_events import parse_event

MAX_STDERR_LINES = 400  # kept for the details box
TRAINER_EXECUTABLE = "shuru-trainer"
SYSTEM_TRAINER = Path("/opt/shuru-trainer") / TRAINER_EXECUTABLE  # the .deb's
NO_TRAINER = ("Training needs Shuru's trainer, which is not installed. It is a separate download because "
              "it carries PyTorch: install the shuru-trainer package (sudo apt install ./shuru-trainer_"
              f"{__version__}_amd64.deb), then open Tools → Personalise… again. In a source checkout, ./dev.sh app "
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


def parse_json_line(line: str) -> dict | None:
    """A stdout line as a JSON object, or None (blank, not JSON, or not an object)."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def finetune_args(text_files: list[str], out: str, mode: str) -> list[str]:
    """Arguments of a fine-tune: ``mode`` is "--check" (the plan only) or "--events" (the run)."""
    return ["finetune", "--text", *[str(f) for f in text_files], "--out", str(out), mode]


class TrainerProcess(QObject):
    """One trainer process: ``event`` per JSON event line, ``progress`` per stderr line, and
    ``finished`` once with the result dict (always with a "status")."""

    event = Signal(object)  # an engine.training_events event (Plan, Phase, Step, Eval)
    progress = Signal(str)  # one stderr line
    finished = Signal(object)  # {"status": "ok" | "error" | "interrupted", ...}

    def __init__(self, args: list[str], parent: QObject | None = None, command: list[str] | None = None):
        super().__init__(parent)
        self.command = command if command is not None else trainer_command()
        self.stderr_lines: list[str] = []
        self.result: dict | None = None
        self.cancelled = False
        self._done = False
        self._out = b""
        self._err = b""
        self.process = QProcess(self)
        if self.command:
            self.process.setProgram(self.command[0])
            self.process.setArguments([*self.command[1:], *args])
        self.process.readyReadStandardOutput.connect(self._read_stdout)
        self.process.readyReadStandardError.connect(self._read_stderr)
        self.process.finished.connect(self._finished)
        self.process.errorOccurred.connect(self._error)

    def start(self) -> None:
        if not self.command:
            self._finish({"status": "error", "message": NO_TRAINER})
            return
        self.process.start()

    def running(self) -> bool:
        return self.process.state() != QProcess.ProcessState.NotRunning

    def cancel(self) -> None:
        """Ask the trainer to stop (SIGTERM: it saves a resumable checkpoint and exits)."""
        if self.running():
            self.cancelled = True
            self.process.terminate()

    def kill(self) -> None:
        """Stop at once (a plan nobody waits for any more)."""
        if self.running():
            self.cancelled = True
            self.process.kill()
            self.process.waitForFinished(2000)

    def _read_stdout(self) -> None:
        self._out += bytes(self.process.readAllStandardOutput())
        *lines, self._out = self._out.split(b"\n")
        for raw in lines:
            self._stdout_line(raw.decode("utf-8", "replace"))

    def _stdout_line(self, line: str) -> None:
        obj = parse_json_line(line)
        if obj is None:
            return
        if "event" in obj:
            event = parse_event(obj)
            if event is not None:
                self.event.emit(event)
        elif "status" in obj:
            self.result = obj

    def _read_stderr(self) -> None:
        self._err += bytes(self.process.readAllStandardError())
        *lines, self._err = self._err.replace(b"\r", b"\n").split(b"\n")
        for raw in lines:
            line = raw.decode("utf-8", "replace").strip()
            if line:
                self.stderr_lines = (self.stderr_lines + [line])[-MAX_STDERR_LINES:]
                self.progress.emit(line)

    def _finished(self, code: int, status) -> None:
        self._read_stdout()
        self._read_stderr()
        self._out, self._err = self._out + b"\n", self._err + b"\n"  # a last line without its newline
        self._read_stdout()
        self._read_stderr()
        self._finish(self.result or self._fallback_result(code))

    def _fallback_result(self, code: int) -> dict:
        """The result of a trainer that printed none (killed, crashed, an old trainer)."""
        if self.cancelled:
            return {"status": "interrupted", "message": "cancelled"}
        if code == 0:
            return {"status": "ok"}
        tail = "\n".join(self.stderr_lines[-5:])
        return {"status": "error", "message": tail or f"the trainer exited with code {code}"}

    def _error(self, error) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._finish({"status": "error", "message": "could not start the trainer: " + self.process.errorString()})

    def _finish(self, result: dict) -> None:
        if not self._done:
            self._done = True
            self.finished.emit(result)
