"""What a fine-tune reports while it runs: the trainer writes these events as JSON lines
(``python -m trainer finetune ... --events``), the window reads them. One definition for both.

Every field may be missing or malformed in a line (another version of the trainer, a broken
pipe): :func:`parse_event` keeps what is well formed (finite numbers, strings) as the typed
fields and ignores the rest, so the window reads attributes, not untyped JSON.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Plan:
    """The checks passed; what the run will do (``details``: every field the trainer sent)."""

    steps: int | None = None
    estimate_s: float | None = None  # the whole run, wall clock
    device: str | None = None  # the device's name (or kind)
    replay: bool = False  # general text is mixed into the user's
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Phase:
    """A stage of the run begins: "baseline", "training", "reader", "export", "report"."""

    phase: str | None = None


@dataclass(frozen=True)
class Step:
    """Training progress (at most a few a second)."""

    step: int | None = None
    steps: int | None = None
    progress: float | None = None  # 0..1
    loss: float | None = None
    eta_s: float | None = None


@dataclass(frozen=True)
class Eval:
    """Held-out losses at a step: ``losses`` maps a text's name ("user", "general") to its loss."""

    step: int | None = None
    losses: dict[str, float] = field(default_factory=dict)


Event = Plan | Phase | Step | Eval
NAMES: dict[type, str] = {Plan: "plan", Phase: "phase", Step: "step", Eval: "eval"}


def event_record(name: str, fields: dict) -> dict:
    """The JSON object of an event the trainer emits (NaN and infinity become null)."""
    return {"event": name, **{k: _plain(v) for k, v in fields.items()}}


def event_line(name: str, fields: dict) -> str:
    """One line of the trainer's --events output."""
    return json.dumps(event_record(name, fields), ensure_ascii=False)


def parse_event(obj: object) -> Event | None:
    """The typed event of a parsed JSON line; None if it is not one (see the module doc)."""
    if not isinstance(obj, dict):
        return None
    kind = obj.get("event")
    if kind == "plan":
        device = obj.get("device") if isinstance(obj.get("device"), dict) else {}
        name = device.get("name") or device.get("kind")
        return Plan(_int(obj.get("steps")), _num(obj.get("estimate_s")), name if isinstance(name, str) else None,
                    bool(obj.get("replay")), dict(obj))
    if kind == "phase":
        return Phase(obj.get("phase") if isinstance(obj.get("phase"), str) else None)
    if kind == "step":
        return Step(_int(obj.get("step")), _int(obj.get("steps")), _num(obj.get("progress")), _num(obj.get("loss")),
                    _num(obj.get("eta_s")))
    if kind == "eval":
        losses = {k[: -len("_loss")]: v for k, v in obj.items() if k.endswith("_loss") and _num(v) is not None}
        return Eval(_int(obj.get("step")), losses)
    return None


def _num(v) -> float | None:
    """A finite number, else None (bools are not numbers here)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return float(v)


def _int(v) -> int | None:
    n = _num(v)
    return int(n) if n is not None else None


def _plain(v):
    """JSON-safe: NaN and infinity become null."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v
