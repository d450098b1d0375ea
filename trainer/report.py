"""Before and after a fine-tune: what the user sees in the report.

Two clause sets the fine-tune never trained on are typed as pinyin through the engine, once
with the model in use before and once with the new personal model (its text layer
included), exactly as the window would convert them: held-out clauses of the user's text,
and the general-text check that ships with the replay sample (``general-heldout.jsonl``,
clauses of a whole corpus source that the replay never draws from; trainer.replay). The
same clauses before and after make each figure a paired comparison; engine.finetune_report
turns the per-clause results into the report, with the change and its 95% interval.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from engine.finetune_report import report_text, summarise

from .data import annotate, clause_candidates

REPORT_CLAUSES = 60  # clauses of the user's held-out text (docs/TUNING.md#the-reports-general-text-check)


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


def spread(rows: list[dict], n: int | None) -> list[dict]:
    """``n`` rows spread evenly over ``rows`` (all of them when n is None or not smaller)."""
    if n is None or n >= len(rows):
        return list(rows)
    if n <= 0:
        return []
    return [rows[i * len(rows) // n] for i in range(n)]


def clause_results(model_dir: Path, sets: dict[str, list[dict]]) -> dict[str, list[tuple[bool, float]]]:
    """Per clause of each named set: (first candidate right, characters right 0-1) of the
    engine with this model folder (and its text layer); one engine load for all sets."""
    from engine import Engine, EngineOptions
    from engine.evaluation import convert_one, levenshtein

    engine = Engine.load(EngineOptions(model_dir=Path(model_dir), learning=False, personal=False))
    out = {}
    for name, rows in sets.items():
        results = []
        for r in rows:
            first = (convert_one(engine, r["pinyin"], r.get("context", ""), 1, False)["candidates"] or [""])[0]
            results.append((first == r["hanzi"], max(0.0, 1 - levenshtein(first, r["hanzi"]) / len(r["hanzi"]))))
        out[name] = results
    return out


def before_after(before: Path, after: Path, user_rows: list[dict], general_rows: list[dict],
                 log: Callable[[str], None], general_source: str = "") -> dict:
    """{"user": <set report>, "general": <set report>} (engine.finetune_report.summarise), the
    general one naming its source."""
    sets = {"user": user_rows, "general": general_rows}
    b, a = clause_results(before, sets), clause_results(after, sets)
    report = {name: summarise(b[name], a[name]) for name in sets}
    if general_source:
        report["general"]["source"] = general_source
    for line in report_text(report):
        log(f"report: {line}")
    return report
