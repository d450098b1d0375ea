"""Before and after a fine-tune: what the user sees in the report.

Clauses drawn from text the model never trained on (the held-out slice of the user's text,
and the held-out replay sample for general text) are typed as pinyin through the engine,
once with the model in use before and once with the new personal model (its text layer
included), exactly as the window would convert them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from .data import annotate, clause_candidates

REPORT_CLAUSES = 60  # per set: ~1 s of decoding per 3 clauses and model on a 2-core CPU


def clause_set(lines: list[str], n: int = REPORT_CLAUSES) -> list[dict]:
    """Up to ``n`` typeable clauses {"pinyin", "hanzi", "context"} spread evenly over the lines."""
    candidates = list(clause_candidates(lines, min_chars=2, max_chars=20))
    step = max(1, len(candidates) // max(n, 1))
    out = []
    for clause, context in candidates[::step]:
        syllables = annotate(clause)
        if "?" not in syllables:
            out.append({"pinyin": "".join(syllables), "hanzi": clause, "context": context})
        if len(out) == n:
            break
    return out


def accuracy(model_dir: Path, sets: dict[str, list[dict]]) -> dict[str, dict]:
    """Top-1 and character accuracy (%) of the engine with this model folder (and its text
    layer) on each named clause set; one engine load for all of them."""
    from engine import Engine, EngineOptions
    from engine.__main__ import evaluate

    engine = Engine.load(EngineOptions(model_dir=Path(model_dir), learning=False, personal=False))
    out = {}
    for name, rows in sets.items():
        r = evaluate(engine, rows, use_context=True) if rows else None
        out[name] = ({"top1": round(100 * r["top1"], 1), "char_acc": round(100 * r["char_acc"], 1)} if r
                     else {"top1": None, "char_acc": None})
    return out


def before_after(before: Path, after: Path, user_rows: list[dict], general_rows: list[dict],
                 log: Callable[[str], None]) -> dict:
    """{"user": {"top1": [b, a], "char_acc": [b, a], "clauses": n}, "general": {...}}."""
    sets = {"user": user_rows, "general": general_rows}
    b, a = accuracy(before, sets), accuracy(after, sets)
    report = {}
    for name, rows in sets.items():
        report[name] = {"top1": [b[name]["top1"], a[name]["top1"]],
                        "char_acc": [b[name]["char_acc"], a[name]["char_acc"]], "clauses": len(rows)}
        log(f"report: {name} text, {len(rows)} clauses: top-1 {b[name]['top1']} -> {a[name]['top1']}, "
            f"characters {b[name]['char_acc']} -> {a[name]['char_acc']}")
    return report
