"""The before/after report of a personal fine-tune: what it measures and how it reads.

The trainer types the same held-out clauses through the engine before and after a
fine-tune, so each figure is a paired comparison: a clause right before and after says
nothing about the change; only the clauses gained and lost do. The change in first-candidate
accuracy gets a 95% interval from Newcombe's hybrid score method for paired proportions
(Newcombe 1998, method 10: Wilson intervals of both proportions, joined with the correlation
of the pairs), which stays sensible with few clauses and with no clause changed; the change
in characters right, a mean of per-clause differences, gets a normal interval. When the
interval holds 0 the report says "no measurable change (±x)" instead of a gain or a loss.

One definition for both sides: the trainer builds the report with :func:`summarise` and
stores it in the new model's manifest; the window and the trainer's log render it with
:func:`report_rows` and :func:`report_notes`. Pure Python: no Qt, no torch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

Z95 = 1.959964  # two-sided 95% quantile of the normal distribution

SETS = {"user": "Your text (held out)", "general": "General text (held out)"}
MEASURES = {"top1": "first candidate right", "char_acc": "characters right"}
# (set, measure) rows of the report, in order
ROWS = (("user", "top1"), ("user", "char_acc"), ("general", "top1"))


@dataclass(frozen=True)
class Change:
    """A paired change in percentage points (after - before) and its 95% interval."""

    points: float
    low: float
    high: float

    @property
    def measurable(self) -> bool:
        """The interval, as shown (0.1 points), excludes 0: the sample shows a change."""
        return round(self.low, 1) > 0 or round(self.high, 1) < 0

    def describe(self) -> str:
        """'+5.0 (+0.3 to +9.7)', or 'no measurable change (±2.4)' when the interval holds 0."""
        if not self.measurable:
            return f"no measurable change (±{max(abs(self.low), abs(self.high)):.1f})"
        return f"{self.points:+.1f} ({self.low:+.1f} to {self.high:+.1f})"

    def to_dict(self) -> dict:
        return {"points": round(self.points, 2), "low": round(self.low, 2), "high": round(self.high, 2)}


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of the proportion k/n."""
    if n <= 0:
        raise ValueError("a proportion of no trials")
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def paired_proportion_change(both: int, lost: int, gained: int, neither: int, z: float = Z95) -> Change:
    """Change of a proportion measured twice on the same n items (Newcombe 1998, method 10).

    ``both``: right before and after; ``lost``: right before only; ``gained``: right after
    only; ``neither``: right in neither. Points are percentage points of the n items."""
    n = both + lost + gained + neither
    if min(both, lost, gained, neither) < 0 or n == 0:
        raise ValueError(f"not a 2x2 table of counts: {both}, {lost}, {gained}, {neither}")
    p1, p2 = (both + lost) / n, (both + gained) / n
    l1, u1 = wilson(both + lost, n, z)
    l2, u2 = wilson(both + gained, n, z)
    margins = (both + lost) * (gained + neither) * (both + gained) * (lost + neither)
    phi = (both * neither - lost * gained) / math.sqrt(margins) if margins else 0.0
    d = p2 - p1
    low = d - math.sqrt(max(0.0, (p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2))
    high = d + math.sqrt(max(0.0, (u2 - p2) ** 2 - 2 * phi * (u2 - p2) * (p1 - l1) + (p1 - l1) ** 2))
    return Change(100 * d, 100 * low, 100 * high)


def paired_mean_change(mean: float, sd: float, n: int, z: float = Z95) -> Change | None:
    """Change of a mean over n paired items from the mean and standard deviation of the
    per-item differences (normal interval); None for fewer than 2 items."""
    if n < 2:
        return None
    half = z * sd / math.sqrt(n)
    return Change(mean, mean - half, mean + half)


# -- building the report (the trainer) --------------------------------------------------------

def summarise(before: Sequence[tuple[bool, float]], after: Sequence[tuple[bool, float]]) -> dict:
    """The report of one clause set from per-clause (first candidate right, characters right
    0-1) before and after, in the same clause order. Percentages are rounded to 0.1."""
    if len(before) != len(after):
        raise ValueError(f"{len(before)} clauses before but {len(after)} after")
    n = len(before)
    if n == 0:
        return {"clauses": 0, "top1": [None, None], "char_acc": [None, None]}
    pairs = list(zip(before, after))
    counts = {"both": sum(b[0] and a[0] for b, a in pairs), "lost": sum(b[0] and not a[0] for b, a in pairs),
              "gained": sum(a[0] and not b[0] for b, a in pairs), "neither": sum(not (a[0] or b[0]) for b, a in pairs)}
    diffs = [100 * (a[1] - b[1]) for b, a in pairs]
    mean = sum(diffs) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in diffs) / (n - 1)) if n > 1 else 0.0
    report = {"clauses": n,
              "top1": [_pct(sum(b[0] for b in before), n), _pct(sum(a[0] for a in after), n)],
              "char_acc": [round(100 * sum(b[1] for b in before) / n, 1), round(100 * sum(a[1] for a in after) / n, 1)],
              "top1_counts": counts, "char_acc_diff": {"mean": round(mean, 4), "sd": round(sd, 4)}}
    for measure, change in (("top1", top1_change(report)), ("char_acc", char_change(report))):
        if change is not None:
            report[f"{measure}_change"] = change.to_dict()
    return report


def _pct(k: int, n: int) -> float:
    return round(100 * k / n, 1)


# -- reading the report (the window, the trainer's log) -----------------------------------------

def top1_change(entry: dict) -> Change | None:
    """The paired change of first-candidate accuracy of one set's report, or None when the
    report does not hold the clause counts (reports written before they were kept)."""
    counts = entry.get("top1_counts")
    keys = ("both", "lost", "gained", "neither")
    if not isinstance(counts, dict) or not all(_count(counts.get(k)) for k in keys):
        return None
    if sum(counts[k] for k in keys) == 0:
        return None
    return paired_proportion_change(*(counts[k] for k in keys))


def char_change(entry: dict) -> Change | None:
    """The paired change of characters right of one set's report, or None without its data."""
    diff, n = entry.get("char_acc_diff"), entry.get("clauses")
    if not isinstance(diff, dict) or not _count(n) or any(_number(diff.get(k)) is None for k in ("mean", "sd")):
        return None
    return paired_mean_change(float(diff["mean"]), float(diff["sd"]), int(n))


@dataclass(frozen=True)
class Row:
    """One line of the report: what, before and after (percentages or None), the change in
    words ('' when the report cannot tell), and the clauses measured."""

    label: str
    before: float | None
    after: float | None
    change: str
    clauses: int | None


def change_text(entry: dict, measure: str) -> str:
    """The change of one measure of one set's report in words ('' without its data)."""
    if measure == "char_acc" and entry.get("clauses") == 1 and isinstance(entry.get("char_acc_diff"), dict):
        return "too few clauses to tell"
    change = top1_change(entry) if measure == "top1" else char_change(entry)
    return change.describe() if change is not None else ""


def report_rows(report: dict) -> list[Row]:
    """The report's rows; any part missing from an older or damaged report reads as None or ''."""
    rows = []
    for set_name, measure in ROWS:
        entry = _entry(report, set_name)
        pair = entry.get(measure)
        before, after = (pair[0], pair[1]) if isinstance(pair, list) and len(pair) == 2 else (None, None)
        clauses = entry.get("clauses") if _count(entry.get("clauses")) else None
        rows.append(Row(f"{SETS[set_name]}: {MEASURES[measure]}", _number(before), _number(after),
                        change_text(entry, measure), clauses))
    return rows


def report_notes(report: dict) -> list[str]:
    """Sentences under the table: how many clauses changed, and where the general text comes from."""
    notes = []
    for set_name, what in (("user", "your text"), ("general", "general text")):
        entry = _entry(report, set_name)
        counts = entry.get("top1_counts")
        if isinstance(counts, dict) and _count(counts.get("gained")) and _count(counts.get("lost")):
            notes.append(f"Of {entry.get('clauses')} clauses of {what}, {counts['gained']} became right "
                         f"and {counts['lost']} became wrong.")
    source = _entry(report, "general").get("source")
    if isinstance(source, str) and source:
        notes.append(f"General text: {source}, a source that fine-tuning never trains on.")
    if any(row.change for row in report_rows(report)):
        notes.append("Changes are in percentage points with a 95% interval; \"no measurable change (±x)\" "
                     "means that on this many clauses the change cannot be told from chance.")
    return notes


def report_text(report: dict) -> list[str]:
    """The report as plain lines (the trainer's log)."""
    lines = []
    for row in report_rows(report):
        figures = " -> ".join("-" if v is None else f"{v:.1f}%" for v in (row.before, row.after))
        lines.append(f"{row.label}: {figures}" + (f", {row.change}" if row.change else "")
                     + (f" ({row.clauses} clauses)" if row.clauses is not None else ""))
    return lines + report_notes(report)


def _entry(report: dict, set_name: str) -> dict:
    entry = report.get(set_name) if isinstance(report, dict) else None
    return entry if isinstance(entry, dict) else {}


def _number(x):
    return x if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def _count(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0
