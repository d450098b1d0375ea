"""How the pinyin-reading model would re-order the candidate lists of dev sets, for a grid of weights.

    python -m tools.reader_grid --pinyin-model DIR [--context] [--limit N] [--features OUT.jsonl] SETS...
    python -m tools.reader_grid --from FEATURES.jsonl...

Each input is decoded once without the model; its whole-input readings among the first LIST_DEPTH
candidates get the model's score (engine.pinyin.pinyin_scorer.PinyinScorer.score_readings, what the
engine asks after the search). The grid then re-orders them as engine.pinyin.decoder._read_order
does (the first READ_TOP readings within READ_MARGIN of the best, by total + weight x score) and
reports top-1 (top-5 for abbreviated sets) per set; ``char_off`` also takes a share of the character
model's log P out (the reader as a replacement for it rather than a second opinion). One extraction
serves every weight; the chosen weights are then checked with ``python -m tools eval --pinyin-model DIR --reader-weight W``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.pinyin.candidates import decoder_readings
from engine.pinyin.decoder import typed_syllables

from .cli import read_sets

LIST_DEPTH = 12  # candidates looked at per input
WEIGHTS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)
TOPS = (3, 5, 8)
MARGINS = (3.0, 6.0, 99.0)
CHAR_OFF = (0.0, 0.1, 0.2, 0.35)  # share of the character model's log P taken out (the engine's weight: 0.35)


def features(engine, reader, rows: list[dict], use_context: bool, free_context: str = "") -> list[dict]:
    """Per input: the gold, the list's first LIST_DEPTH texts, and its whole-input readings as
    [slot, text, total, reader score, character model's log P, the reader's first-character term]
    (the character model's 0 without one). ``free_context``: what the model reads before an input
    without context."""
    out = []
    for r in rows:
        context = r.get("context", "") if use_context else ""
        convs = decoder_readings(engine.decoder(context), r["pinyin"])[:LIST_DEPTH]
        context = context or free_context
        n = len(r["pinyin"])
        readings = [(k, c) for k, c in enumerate(convs)
                    if c.kind == "sentence" and c.consumed == n and typed_syllables(c.segments, c.text)]
        scores, char_lm, firsts = [], [0.0] * len(readings), []
        if len(readings) > 1 and all(reader.fits(context, len(c.text)) for _, c in readings):
            texts = [c.text for _, c in readings]
            totals, first = reader.read_readings(context, texts,
                                                 [typed_syllables(c.segments, c.text) for _, c in readings])
            scores, firsts = totals.tolist(), first.tolist()
            if engine.neural is not None:
                char_lm = engine.neural.score([engine.neural.start(context)] * len(texts), texts).tolist()
        out.append({"gold": r["hanzi"], "list": [c.text for c in convs],
                    "c": [[k, c.text, c.score, s, n, f] for (k, c), s, n, f in zip(readings, scores, char_lm, firsts)]})
    return out


def reorder(row: dict, weight: float, top: int, margin: float, char_off: float = 0.0) -> list[str]:
    """The list after the model re-ordered its first ``top`` readings within ``margin`` of the best,
    by total + weight x reader - char_off x the character model's log P."""
    lst = list(row["list"])
    c = row["c"][:top]
    if len(c) < 2 or not weight:
        return lst
    c = [x for x in c if x[2] >= c[0][2] - margin]
    for slot, x in zip([x[0] for x in c],
                       sorted(c, key=lambda x: -(x[2] + weight * x[3] - char_off * (x[4] if len(x) > 4 else 0)))):
        lst[slot] = x[1]
    return lst


def grid(feats: dict[str, list[dict]]) -> list[dict]:
    """Top-1 (top-5 for abbreviated sets) per set and their mean, for every weight, top and margin."""
    out = []
    for w in WEIGHTS:
        for top in (TOPS if w else TOPS[-1:]):
            for margin in (MARGINS if w else MARGINS[-1:]):
                for off in (CHAR_OFF if w else CHAR_OFF[:1]):
                    acc = {}
                    for name, rows in feats.items():
                        k = 5 if "abbrev" in name else 1
                        acc[name] = round(100 * sum(r["gold"] in reorder(r, w, top, margin, off)[:k] for r in rows)
                                          / max(len(rows), 1), 2)
                    out.append({"weight": w, "top": top, "margin": margin, "char_off": off, **acc,
                                "mean": round(sum(acc.values()) / len(acc), 2)})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.reader_grid", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sets", nargs="*")
    ap.add_argument("--pinyin-model", dest="pinyin_model")
    ap.add_argument("--model", help="character model folder (default: the installed one), with its text layer")
    ap.add_argument("--context", action="store_true")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--free-context", dest="free_context", default="",
                    help="what the model reads before an input without context (default: nothing)")
    ap.add_argument("--features", help="write the features here (JSON lines, one set per line)")
    ap.add_argument("--from", dest="from_", nargs="*", default=[], help="grid over features written before")
    args = ap.parse_args(argv)
    feats: dict[str, list[dict]] = {}
    for path in args.from_:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            d = json.loads(line)
            feats[d["set"]] = d["rows"]
    if args.sets:
        if not args.pinyin_model:
            ap.error("--pinyin-model is needed to score dev sets")
        from engine import Engine, EngineOptions
        from engine.pinyin.pinyin_scorer import PinyinScorer

        engine = Engine.load(EngineOptions(learning=False, personal=False, quick_phrases=False, libime="wait",
                                           model_dir=Path(args.model) if args.model else None,
                                           reader_weight=0.0))  # the lists as the search alone orders them
        reader = PinyinScorer.load(Path(args.pinyin_model))
        print(f"engine: {engine.status}; reader: {args.pinyin_model}", file=sys.stderr)
        for name, rows in read_sets(args.sets).items():
            feats[name] = features(engine, reader, rows[: args.limit], args.context, args.free_context)
            if args.features:
                with open(args.features, "a", encoding="utf-8") as f:
                    f.write(json.dumps({"set": name, "rows": feats[name]}, ensure_ascii=False) + "\n")
    for rec in grid(feats):
        print(json.dumps(rec, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
