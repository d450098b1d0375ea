"""Running the trainer (``<trainer_command()> finetune ...``) in a QProcess and reading what it says.

The GUI never imports the trainer (or torch): it only runs it. :func:`trainer_command` is the
one place that decides how. The trainer speaks JSON lines on stdout:

* ``finetune ... --check``: one line, ``{"status": "ok", "plan": {...}}`` or ``{"status": "error", ...}``;
* ``finetune ... --events``: ``{"event": "plan" | "phase" | "step" | "eval", ...}`` lines while it
  runs, and last the result ``{"status": "ok" | "error" | "interrupted", ...}``;

and human progress lines on stderr. Lines that are not JSON objects are ignored and missing
keys tolerated: :class:`TrainerProcess` passes on what it can read.
"""
from __future__ import annotations

import importlib.util
import json
import sys

from PySide6.QtCore import QObject, QProcess, Signal

MAX_STDERR_LINES = 400  # kept for the details box
TRAINER_MISSING = ("Personal fine-tuning needs Shuru's trainer, which is not installed. Install the "
                   "shuru-trainer package (pip install shuru-trainer), or, in a source checkout, start Shuru "
                   "with ./dev.sh app, which installs the trainer extra.")


def trainer_command() -> list[str] | None:
    """The command line that runs the trainer, or None when it is not installed."""
    if importlib.util.find_spec("trainer") is None:
        return None
    return [sys.executable, "-m", "trainer"]


def trainer_available() -> bool:
    """Whether the trainer can be run."""
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

    event = Signal(object)  # {"event": ..., ...}
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
            self._finish({"status": "error", "message": TRAINER_MISSING})
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
            self.event.emit(obj)
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
