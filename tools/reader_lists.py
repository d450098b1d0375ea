"""The engine's candidate lists for held-out corpus clauses: what `python -m trainer pinyin-rank`
fine-tunes the pinyin-reading model on.

    python -m tools.reader_lists --data PINYIN_DATA --out LISTS.jsonl [--skip K] [--limit N] [--no-context]

Clauses come from pinyin-prepare's held-out shards after the rounds pretraining evaluates on
(every 100th line of each corpus source, which the pinyin model never trains on), typed in full
pinyin as pypinyin reads them, with the text before them on their line as context. The n-gram's counts do include these lines, so the engine ranks them better than
unseen text: the lists' own top-1 is printed to show by how much. Each is decoded once without
the pinyin model; its whole-input readings among the first LIST_DEPTH candidates are kept with
their totals and what was typed for each character (tools.reader_grid reads dev sets the same way).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from engine.core.model_format import BOS
from engine.pinyin.candidates import decoder_readings
from engine.pinyin.decoder import typed_syllables

from .reader_grid import LIST_DEPTH

MIN_CHARS, MAX_CHARS = 2, 12  # clause lengths kept
CONTEXT_CHARS = 32


def heldout_clauses(data_dir: Path, limit: int | None = None) -> list[dict]:
    """Rows {pinyin, hanzi, context} of the held-out clauses of a pinyin data dir, in order: runs of
    characters typed as full syllables between punctuation, MIN_CHARS to MAX_CHARS long."""
    from trainer.pinyin_data import data_tables, load_rounds, read_meta
    from trainer.pinyin_train import PinyinTrainConfig

    eval_rounds = PinyinTrainConfig().eval_rounds  # the rounds pretraining evaluates on

    vocab, table = data_tables(data_dir)
    rounds = read_meta(data_dir, vocab, table)["rounds"]
    tokens, syllables = load_rounds(data_dir, "heldout", rounds, start=min(eval_rounds, rounds - 1))
    full = table.is_full(syllables)
    rows, line, clause = [], "", []

    def close() -> None:
        if MIN_CHARS <= len(clause) <= MAX_CHARS:
            rows.append({"pinyin": "".join(table.tokens[s] for _, s in clause),
                         "hanzi": "".join(c for c, _ in clause), "context": line[-CONTEXT_CHARS:]})

    for tok, syl, is_full in zip(tokens.tolist(), syllables.tolist(), full.tolist()):
        if is_full:
            clause.append((vocab.tokens[tok], syl))
            continue
        close()
        line = "" if tok == BOS else line + "".join(c for c, _ in clause) + "，"
        clause = []
        if limit is not None and len(rows) >= limit:
            break
    return rows[:limit]


def candidate_lists(engine, rows: list[dict], use_context: bool = True) -> list[dict]:
    """Per row: its whole-input readings [{text, total, typed}] in list order and the gold's index
    among them (-1 if the gold is not one)."""
    out = []
    for r in rows:
        context = r["context"] if use_context else ""
        convs = decoder_readings(engine.decoder(context), r["pinyin"])[:LIST_DEPTH]
        n = len(r["pinyin"])
        readings = [{"text": c.text, "total": round(float(c.score), 4), "typed": typed_syllables(c.segments, c.text)}
                    for c in convs if c.kind == "sentence" and c.consumed == n]
        readings = [x for x in readings if x["typed"]]
        gold = next((k for k, x in enumerate(readings) if x["text"] == r["hanzi"]), -1)
        out.append({"context": context, "pinyin": r["pinyin"], "gold": r["hanzi"], "gold_index": gold,
                    "readings": readings})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.reader_lists", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="pinyin-prepare's output dir")
    ap.add_argument("--out", type=Path, required=True, help="JSON lines to write")
    ap.add_argument("--limit", type=int, default=5000, help="clauses")
    ap.add_argument("--skip", type=int, default=0, help="first skip this many clauses (those of an earlier run)")
    ap.add_argument("--no-context", dest="context", action="store_false", help="decode without the text before")
    args = ap.parse_args(argv)
    from engine import Engine, EngineOptions

    engine = Engine.load(EngineOptions(learning=False, personal=False, quick_phrases=False, libime="wait"))
    print(f"engine: {engine.status}", file=sys.stderr)
    rows = heldout_clauses(args.data, args.skip + args.limit)[args.skip:]
    lists = candidate_lists(engine, rows, args.context)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lists), encoding="utf-8")
    tmp.replace(args.out)
    gold = np.array([x["gold_index"] for x in lists])
    print(f"{len(lists)} lists: the engine's first reading is the gold in {np.mean(gold == 0):.1%}, "
          f"another reading in {np.mean(gold > 0):.1%}, none in {np.mean(gold < 0):.1%}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
