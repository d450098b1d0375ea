"""Development commands: ``python -m tools {eval,predict,bench,fuzz}`` (not shipped).

eval      top-1 / top-5 / character accuracy / latency on dev-set JSONL files (default: the dev
          sets beside the checkout); --layout converts each clause's syllables to that
          shuangpin layout's keys first (full-pinyin sets only).
predict   next-word prediction on dev-set JSONL files: how often the clause's first word is
          among the top-k words predicted from the text before it.
bench     per-keystroke latency (p50/p95/max), cold start to first candidates, peak RSS.
fuzz      random Session actions with invariant checks and view() latency.
heldout-words  words typed one at a time cut from held-out text (the dev-words recipe, tools/heldout_words.py).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from engine import Engine
from engine.pinyin import shuangpin
from engine.__main__ import common_options, layout_option, make_engine, run_command
from engine.evaluation import convert_one, evaluate, percentile, type_keys

from .misses import MissAnalyser

DEV_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "dev"
# Pinyin of corpus clauses kept with the tools (python -m tools.build bench-inputs), so the
# benchmark runs where the dev sets are not (a fresh clone).
BENCH_INPUTS = Path(__file__).resolve().parent / "data" / "bench-inputs.txt"
LONG_INPUT_LETTERS = 200
AFTER_PICK_LETTERS = "hao"  # typed on after a partial selection


def dev_sets(with_abbreviated: bool = True) -> list[str]:
    """The dev sets beside a development checkout; a plain error (exit 2) where there are none."""
    files = [str(p) for p in sorted(DEV_DIR.glob("dev-*.jsonl")) if with_abbreviated or "abbrev" not in p.name]
    if not files:
        raise SystemExit(f"no dev sets found in {DEV_DIR}: they are not part of Shuru's repository (they live in "
                         "../shared/data/dev beside a development checkout); pass JSON-lines files of your own, "
                         'one {"pinyin": ..., "hanzi": ...} a line')
    return files


def read_sets(paths: list[str]) -> dict[str, list[dict]]:
    """Dev-set rows by set name; a missing or unreadable file is a clear error (exit 2), not a traceback."""
    out = {}
    for path in paths:
        p = Path(path)
        try:
            out[p.stem] = [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
        except FileNotFoundError:
            hint = " (the dev sets live in ../shared/data/dev beside a development checkout)" if "*" in path or \
                not p.parent.exists() else ""
            raise SystemExit(f"eval: no such dev set: {path}{hint}")
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise SystemExit(f"eval: cannot read {path}: {e}")
    return out


def attach_history(engine: Engine, args) -> None:
    """Decode with a given history (a user.db or version-1 history.json) and/or junk commits,
    held in memory: the files are only read."""
    if not (args.history or args.junk):
        return
    from engine.user.history import UserHistory
    from engine.user.userdb import MEMORY

    history = UserHistory(engine.lexicon, MEMORY)
    if args.history:
        history.import_file(Path(args.history))
    engine.use_history(history)
    if args.junk:
        junk_commits(engine, args.junk, args.seed)
    print(f"history: {history.word_count} words learned", file=sys.stderr)


def junk_commits(engine: Engine, n: int, seed: int = 0) -> None:
    """``n`` hasty commits: random letters (or random syllables), a random candidate picked until done."""
    import random

    from engine.pinyin.syllables import SYLLABLES

    rng = random.Random(seed)
    session = engine.new_session(page_size=5)
    for _ in range(n):
        if rng.random() < 0.5:
            letters = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(1, 8)))
        else:
            letters = "".join(SYLLABLES[rng.randrange(len(SYLLABLES))] for _ in range(rng.randint(1, 3)))
        session.insert(letters)
        for _ in range(len(letters)):
            view = session.view()
            if not view.composing or not view.candidates:
                break
            if session.select_on_page(rng.randrange(len(view.candidates))) is not None:
                break
        session.cancel()


def dev_syllables(row: dict) -> list[str] | None:
    """The syllables of a dev row's space-free pinyin: its hanzi's pypinyin reading where that
    spells the pinyin, else the lattice's reading of it in whole syllables; None if neither."""
    from engine.pinyin.lattice import SegmentKind, parse
    from engine.pinyin.syllables import ALIASES, SYLLABLE_ID

    try:
        from pypinyin import Style, lazy_pinyin

        syls = [ALIASES.get(s, s) for s in lazy_pinyin(row["hanzi"], style=Style.NORMAL)]
        if "".join(syls) == row["pinyin"] and all(s in SYLLABLE_ID for s in syls):
            return syls
    except ImportError:
        pass
    cut = parse(row["pinyin"]).best_cut()
    if cut and all(seg.kind == SegmentKind.FULL for seg in cut):
        return [ALIASES.get(seg.text, seg.text) for seg in cut]
    return None


def shuangpin_rows(rows: list[dict], layout_name: str) -> tuple[list[dict], int]:
    """Dev rows with the pinyin typed in a shuangpin layout; (rows, how many were left out)."""
    lay = shuangpin.layout(layout_name)
    out = []
    for r in rows:
        syls = dev_syllables(r)
        if syls is not None:
            out.append({**r, "pinyin": lay.encode_all(syls)})
    return out, len(rows) - len(out)


def cmd_eval(args) -> int:
    sets = read_sets(args.sets or dev_sets())
    engine = make_engine(args)
    attach_history(engine, args)
    full = []
    for name, rows in sets.items():
        if args.layout and args.layout != shuangpin.FULL_PINYIN:
            if "abbrev" in name:
                continue  # abbreviations are typed differently in shuangpin
            rows, left_out = shuangpin_rows(rows[:args.limit] if args.limit else rows, args.layout)
            if left_out:
                print(f"{name}: {left_out} clauses left out (no syllable reading)", file=sys.stderr)
        misses = [] if args.errors else None
        r = evaluate(engine, rows, args.context, args.limit, misses, MissAnalyser(engine.lexicon) if misses is not None else None)
        if "abbrev" not in name:
            full.append(r["top1"])
        print(f"{name:24s} n={r['n']:4d} top1={r['top1']:.3f} top5={r['top5']:.3f} char={r['char_acc']:.3f} "
              f"ms50={r['ms_p50']:.2f} ms95={r['ms_p95']:.2f}", flush=True)
        if "5+" not in r["by_length"]:  # a set of words: top-1 per syllable count
            print("  top-1 by syllables: " + ", ".join(f"{k}: {acc:.3f} (n={m})" for k, (acc, m) in r["by_length"].items())
                  + (" (with context)" if args.context else " (no context)"), flush=True)
        if misses is not None:
            print_misses(name, misses, args.errors)
    if full:
        print(f"mean top-1 over {len(full)} full-pinyin sets: {sum(full) / len(full):.3f}")
    return 0


def first_word(lexicon, text: str, max_chars: int = 4) -> str:
    """The longest lexicon word that ``text`` starts with (its first character if none)."""
    for k in range(min(max_chars, len(text)), 1, -1):
        t = lexicon.token_id(text[:k])
        if t is not None and not lexicon.open_domain(t):
            return text[:k]
    return text[:1]


def cmd_predict(args) -> int:
    from engine.pinyin.prediction import Predictor

    sets = read_sets(args.sets or dev_sets(with_abbreviated=False))
    engine = make_engine(args)
    predictor = Predictor(engine.lexicon, engine.ngram)
    rates = []
    for name, rows in sets.items():
        rows = rows[:args.limit] if args.limit else rows
        hit = prefix = with_ctx = hit_ctx = 0
        ms = []
        for r in rows:
            t0 = time.perf_counter()
            words = predictor.predict(r.get("context", "") or "", args.topk)
            ms.append((time.perf_counter() - t0) * 1000)
            gold = first_word(engine.lexicon, r["hanzi"])
            ok = gold in words
            hit += ok
            prefix += any(r["hanzi"].startswith(w) for w in words)
            if r.get("context"):
                with_ctx += 1
                hit_ctx += ok
        n = len(rows)
        rates.append(hit / n)
        print(f"{name:24s} n={n:4d} top{args.topk}={hit / n:.3f} (with context {hit_ctx}/{with_ctx}) "
              f"any-prefix={prefix / n:.3f} ms50={percentile(ms, 0.5):.2f} ms95={percentile(ms, 0.95):.2f}", flush=True)
    print(f"mean top-{args.topk} next-word hit rate over {len(rates)} sets: {sum(rates) / len(rates):.3f}")
    return 0


def print_misses(name: str, misses: list, n: int) -> None:
    from .misses import CATEGORIES, NOT_PROPOSED, summary

    for m in misses[:n]:
        print("  " + m.line())
    counts = summary(misses)
    print(f"  {name} misses: {len(misses)}; " + ", ".join(f"{c} {counts[c]}" for c in CATEGORIES)
          + f"; {NOT_PROPOSED} {counts[NOT_PROPOSED]}", flush=True)


def bench_inputs(paths: list[str]) -> tuple[list[str], str]:
    """Pinyin strings to type: the given sets, else the dev sets beside a checkout, else the shipped inputs."""
    if paths:
        files = [Path(p) for p in paths]
    else:
        files = sorted(DEV_DIR.glob("dev-*.jsonl"))
        if not files:
            return BENCH_INPUTS.read_text(encoding="utf-8").split(), f"{BENCH_INPUTS.name} (corpus clauses kept with the tools)"
    rows = []
    for f in files:
        if "abbrev" in f.name:
            continue
        try:
            rows += [json.loads(line)["pinyin"] for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
        except FileNotFoundError:
            raise SystemExit(f"bench: no such input file: {f}")
    return rows, ", ".join(f.name for f in files if "abbrev" not in f.name)


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def partial_pick_keys(engine: Engine, pinyin: str, idle: bool = True) -> list[float]:
    """The keys around a partial selection: pick the first word, type 3 letters, then undo the pick.

    ``idle``: the session's idle work runs between keys (untimed), as in the front ends, where
    a person's typing leaves the worker idle between keys; without it the keys come back to back."""
    session = engine.new_session(page_size=9)
    type_keys(session, pinyin)
    index = next((i for i, c in enumerate(session.candidates()) if c.kind == "word" and c.consumed < len(pinyin)), None)
    if index is None:
        return []
    out = [timed(lambda: (session.select(index), session.view()))]
    while idle and session.idle():
        pass
    out += type_keys(session, AFTER_PICK_LETTERS, idle)
    session.set_cursor(0)
    out.append(timed(lambda: (session.backspace(), session.view())))
    return out


def long_input_keys(engine: Engine, rows: list[str], n_inputs: int = 8, idle: bool = True) -> list[float]:
    """Keys 150-200 of inputs of LONG_INPUT_LETTERS letters (clauses typed without a break);
    ``idle`` as in :func:`partial_pick_keys`."""
    text = "".join(rows)
    out = []
    for k in range(n_inputs):
        letters = text[k * LONG_INPUT_LETTERS: (k + 1) * LONG_INPUT_LETTERS]
        if len(letters) < LONG_INPUT_LETTERS:
            break
        session = engine.new_session()
        out += type_keys(session, letters, idle)[150:]
    return out


def latency(ms: list[float]) -> dict:
    return {"keys": len(ms), "p50": round(percentile(ms, 0.5), 2), "p95": round(percentile(ms, 0.95), 2),
            "max": round(max(ms), 2) if ms else None}


def cmd_bench(args) -> int:
    t0 = time.perf_counter()
    cold = _cold_start(args)
    # only the pinyin strings, read before the engine loads: the harness should not inflate the RSS
    rows, source = bench_inputs(args.sets)
    rows = rows[:: max(1, len(rows) // args.inputs)][: args.inputs]
    engine = make_engine(args)
    key_ms, firsts = [], []
    for pinyin in rows:
        out = convert_one(engine, pinyin, "", 10, True, idle=True)
        key_ms += out["key_ms"]
        firsts.append(out["candidates"][0] if out["candidates"] else "")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # the same inputs typed after text, as in a document: each after the text committed for the two before
    after_ms = [ms for k, pinyin in enumerate(rows)
                for ms in convert_one(engine, pinyin, "".join(firsts[max(k - 2, 0):k]), 10, True, idle=True)["key_ms"]]
    pick_ms = [ms for pinyin in rows for ms in partial_pick_keys(engine, pinyin)]
    undo_ms = [keys[-1] for pinyin in rows[::3] if (keys := partial_pick_keys(engine, pinyin, idle=False))]
    long_ms = long_input_keys(engine, rows)
    long_b2b_ms = long_input_keys(engine, rows, 4, idle=False)
    report = {"inputs": len(rows), "source": source, "keystrokes": len(key_ms),
              "key_ms_p50": percentile(key_ms, 0.5), "key_ms_p95": percentile(key_ms, 0.95),
              "key_ms_max": max(key_ms), "after_text_key_ms": latency(after_ms), "partial_pick_ms": latency(pick_ms),
              "undo_pick_back_to_back_ms": latency(undo_ms),
              f"long_{LONG_INPUT_LETTERS}_letters_ms": latency(long_ms),
              f"long_{LONG_INPUT_LETTERS}_letters_back_to_back_ms": latency(long_b2b_ms),
              "cold_start_ms": cold, "load_ms": engine.load_ms, "peak_rss_mb": round(rss_mb, 1),
              "peak_rss_mb_with_long_inputs": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
              "status": engine.status, "beam": engine.beam_width, "per_state": engine.per_state,
              "host": host_summary(), "wall_s": round(time.perf_counter() - t0, 1)}
    print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0


SIMD_FLAGS = ("avx2", "f16c", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")  # what moves numpy and onnxruntime


def host_summary(cpuinfo: str | None = None) -> dict:
    """The CPU a benchmark ran on (figures differ by instruction set: docs/RESULTS.md): its model
    name, the CPUs this process may use and the SIMD_FLAGS it has (``cpuinfo``: /proc/cpuinfo's text)."""
    from trainer.device import cpu_name, cpu_threads, read_cpuinfo

    cpuinfo = read_cpuinfo() if cpuinfo is None else cpuinfo
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), [])
    return {"cpu": cpu_name(cpuinfo), "cpus": cpu_threads(), "simd": [f for f in SIMD_FLAGS if f in flags]}


def _cold_start(args) -> float:
    """A fresh process: import, load, first candidates for one input (ms, in that process).

    Shuru's bytecode is compiled first, by an untimed start, as an installed Shuru's is (the
    packages ship it, a checkout caches it at its first start), even where PYTHONDONTWRITEBYTECODE
    would make every start compile the sources again (about 0.1 s)."""
    code = ("import time;t=time.perf_counter();from engine import Engine,EngineOptions;"
            f"e=Engine.load(EngineOptions(learning=False,personal=False,use_neural={not args.no_neural},"
            f"libime={getattr(args, 'libime', 'wait')!r},"
            f"pinyin_model={str(args.pinyin_model) if getattr(args, 'pinyin_model', None) else None!r}));"
            "s=e.new_session();s.insert('nihao');s.view();print((time.perf_counter()-t)*1000)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for _ in range(2):  # the first start writes the bytecode the second reads
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parents[1], env=env)
    try:
        return round(float(out.stdout.strip().splitlines()[-1]), 1)
    except (ValueError, IndexError):
        print(out.stderr, file=sys.stderr)
        return float("nan")


def cmd_fuzz(args) -> int:
    from engine.pinyin.session import DECODE_BUDGET_MS

    from .fuzz import fuzz

    budget = None if args.unbounded else DECODE_BUDGET_MS
    report = fuzz(make_engine(args), args.actions, args.seed, budget_ms=budget).summary()
    print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0 if not report["exceptions"] and not report["broken_invariants"] else 1


def cmd_heldout_words(args) -> int:
    from trainer.corpus import DEFAULT_DATA_DIR

    from .heldout_words import DEFAULT_TEXT, main_args

    return main_args(args.text or DEFAULT_TEXT, args.data or DEFAULT_DATA_DIR, args.out, args.count, args.seed)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("eval", help="accuracy on dev-set JSONL files")
    p.add_argument("sets", nargs="*", help="dev-set JSONL files (default: the dev sets beside the checkout)")
    p.add_argument("--context", action="store_true")
    layout_option(p)
    p.add_argument("--limit", type=int, help="first N rows of each set")
    p.add_argument("--history", help="decode with this learned history (user.db or history.json; read only)")
    p.add_argument("--junk", type=int, default=0, help="first make N random hasty commits (in memory)")
    p.add_argument("--seed", type=int, default=0, help="seed of --junk")
    p.add_argument("--errors", type=int, default=0, metavar="N",
                   help="list up to N misses per set with the gold's rank and a category, and count the categories")
    common_options(p)
    p.set_defaults(fn=cmd_eval)
    p = sub.add_parser("predict", help="next-word prediction hit rate on dev-set JSONL files")
    p.add_argument("sets", nargs="*", help="dev-set JSONL files (default: the full-pinyin dev sets)")
    p.add_argument("--limit", type=int, help="first N rows of each set")
    p.add_argument("--topk", type=int, default=5)
    common_options(p)
    p.set_defaults(fn=cmd_predict)
    p = sub.add_parser("bench", help="latency, cold start, memory")
    p.add_argument("--inputs", type=int, default=300, help="dev inputs typed key by key")
    p.add_argument("sets", nargs="*")
    common_options(p)
    p.set_defaults(fn=cmd_bench)
    p = sub.add_parser("fuzz", help="random Session actions with invariant checks")
    p.add_argument("--actions", type=int, default=5000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--unbounded", action="store_true",
                   help="no search budget per view (every view decodes all the letters)")
    common_options(p)
    p.set_defaults(fn=cmd_fuzz)
    p = sub.add_parser("heldout-words", help="words typed one at a time, cut from held-out text")
    p.add_argument("--out", type=Path, required=True, help="JSON-lines file to write")
    p.add_argument("--text", type=Path, help="text to cut (.txt or .txt.xz; default: the replay sample's held-out lines)")
    p.add_argument("--data", type=Path, help="shared data folder with lexicons/jieba/dict.txt "
                                              "(default: ../shared/data beside the checkout)")
    p.add_argument("--count", type=int, default=5000, help="words to draw")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(fn=cmd_heldout_words)
    return run_command("python -m tools", ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
