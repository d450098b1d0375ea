"""Two processes learning into one user.db at once: ``python -m tests.two_writers --commits 10000``.

As the window and the IBus engine do: each process loads an Engine on the same SQLite store
and commits one word ``--commits`` times. Afterwards the store's clock must count every
commit once and the two words' weights must sum to what that many commits give (each
decayed since): no update lost, none counted twice. Prints one JSON report.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

WORDS = ("你好", "誓言")


def learn_in_process(path: str, word: str, n: int) -> None:
    from engine import Engine, EngineOptions

    e = Engine.load(EngineOptions(use_neural=False, history_path=Path(path)))
    tok = e.lexicon.token_id(word)
    for _ in range(n):
        e.history.learn([tok])


def run(commits: int, folder: Path) -> dict:
    """Both processes to the end; the report of what the store holds."""
    from engine import Engine, EngineOptions
    from engine import history as history_mod

    path = folder / "user.db"
    Engine.load(EngineOptions(use_neural=False, history_path=path)).history.store.close()  # create it
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=learn_in_process, args=(str(path), w, commits)) for w in WORDS]
    t0 = time.monotonic()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    seconds = time.monotonic() - t0
    with sqlite3.connect(path) as db:
        clock = float(db.execute("SELECT value FROM meta WHERE key = 'clock'").fetchone()[0])
    words = {w: c for w, c, _ in Engine.load(EngineOptions(use_neural=False, history_path=path)).history.words()}
    total = 2 * commits
    expected = sum(0.5 ** (k / history_mod.HALF_LIFE) for k in range(total))
    return {"commits_per_process": commits, "exit_codes": [p.exitcode for p in procs], "clock": clock,
            "clock_expected": total, "weight_sum": round(sum(words.values()), 6), "weight_expected": round(expected, 6),
            "words": sorted(words), "lost_updates": total - clock, "seconds": round(seconds, 1)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.two_writers", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--commits", type=int, default=10000)
    args = p.parse_args(argv)
    report = run(args.commits, Path(tempfile.mkdtemp(prefix="shuru-two-writers-")))
    print(json.dumps(report, ensure_ascii=False, indent=1))
    ok = (report["exit_codes"] == [0, 0] and report["lost_updates"] == 0
          and abs(report["weight_sum"] - report["weight_expected"]) < 1e-6 * report["weight_expected"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
