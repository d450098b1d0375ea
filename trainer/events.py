"""Machine-readable progress of a fine-tune, for the window that runs it (``--events``).

One JSON object per line on stdout: ``{"event": "plan" | "phase" | "step" | "eval", ...}``;
the last line is the result (``{"status": ...}``), as without ``--events``. Human progress
lines stay on stderr.
"""
from __future__ import annotations

import json
import math
import sys
from typing import TextIO


class Events:
    """Writes events when enabled; a no-op otherwise (the CLI without ``--events``, tests)."""

    def __init__(self, enabled: bool = False, stream: TextIO | None = None):
        self.enabled = enabled
        self.stream = stream
        self.last: dict[str, dict] = {}  # event name -> its last fields (tests read them)

    def emit(self, event: str, **fields) -> None:
        record = {"event": event, **{k: _plain(v) for k, v in fields.items()}}
        self.last[event] = record
        if self.enabled:
            out = self.stream or sys.stdout
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            out.flush()

    def phase(self, name: str) -> None:
        self.emit("phase", phase=name)


def _plain(v):
    """JSON-safe: NaN and infinity become null."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v
