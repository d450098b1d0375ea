"""Machine-readable progress of a fine-tune, for the window that runs it (``--events``).

One JSON object per line on stdout: ``{"event": "plan" | "phase" | "step" | "eval", ...}``
(engine.training_events defines them, and how the window reads them); the last line is the
result (``{"status": ...}``), as without ``--events``. Human progress lines stay on stderr.
"""
from __future__ import annotations

import sys
from typing import TextIO

from engine.training_events import NAMES, event_line, event_record


class Events:
    """Writes events when enabled; a no-op otherwise (the CLI without ``--events``, tests)."""

    def __init__(self, enabled: bool = False, stream: TextIO | None = None):
        self.enabled = enabled
        self.stream = stream
        self.last: dict[str, dict] = {}  # event name -> its last fields (tests read them)

    def emit(self, event: str, **fields) -> None:
        """Write one event (a name of engine.training_events.NAMES) with its fields."""
        if event not in NAMES.values():
            raise ValueError(f"unknown event {event!r}")
        self.last[event] = event_record(event, fields)
        if self.enabled:
            out = self.stream or sys.stdout
            out.write(event_line(event, fields) + "\n")
            out.flush()

    def phase(self, name: str) -> None:
        self.emit("phase", phase=name)
