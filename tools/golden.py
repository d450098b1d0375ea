"""Candidate lists before and after a refactoring: ``python -m tools.golden snap OUT`` stores the
top 10 of ``engine convert`` for every row of the dev sets (and dev-words, with and without its
context); ``python -m tools.golden diff OLD NEW`` lists the rows whose lists differ.

A refactoring commit keeps them byte-identical unless it says which behaviour it changes and why.
The engine is the shipped one with libime's model off (the system package must not move the
baseline) and no user data, as ``tools eval`` runs it."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEV_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "dev"


def snap(out: Path, limit: int | None, sets: list[str]) -> int:
    from engine import Engine, EngineOptions
    from engine.evaluation import convert_one

    engine = Engine.load(EngineOptions(learning=False, personal=False, quick_phrases=False, libime="off"))
    files = [Path(s) for s in sets] or sorted(DEV_DIR.glob("dev-*.jsonl"))
    if not files:
        raise SystemExit(f"no dev sets in {DEV_DIR}")
    n = 0
    with open(out, "w", encoding="utf-8") as f:
        for path in files:
            rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
            contexts = (False, True) if path.name == "dev-words.jsonl" else (False,)
            for use in contexts:
                for k, r in enumerate(rows[:limit] if limit else rows):
                    ctx = r.get("context", "") if use else ""
                    cands = convert_one(engine, r["pinyin"], ctx, 10, False)["candidates"]
                    f.write(json.dumps([path.stem, use, k, r["pinyin"], cands], ensure_ascii=False) + "\n")
                    n += 1
    print(f"{n} candidate lists written to {out}", file=sys.stderr)
    return 0


def diff(old: Path, new: Path) -> int:
    a = old.read_text(encoding="utf-8").splitlines()
    b = new.read_text(encoding="utf-8").splitlines()
    if len(a) != len(b):
        print(f"different row counts: {len(a)} / {len(b)}")
        return 1
    changed = [(x, y) for x, y in zip(a, b) if x != y]
    for x, y in changed[:20]:
        print(f"- {x}\n+ {y}")
    print(f"{len(changed)} of {len(a)} candidate lists differ")
    return 1 if changed else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.golden", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("snap")
    s.add_argument("out", type=Path)
    s.add_argument("--limit", type=int, help="first N rows of each set")
    s.add_argument("sets", nargs="*", help="dev-set files (default: all beside the checkout)")
    d = sub.add_parser("diff")
    d.add_argument("old", type=Path)
    d.add_argument("new", type=Path)
    args = p.parse_args(argv)
    return snap(args.out, args.limit, args.sets) if args.cmd == "snap" else diff(args.old, args.new)


if __name__ == "__main__":
    sys.exit(main())
