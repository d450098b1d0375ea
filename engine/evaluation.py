"""Evaluation as a library: candidates for one input, accuracy on rows of (pinyin, hanzi),
edit distance and percentiles. The development tools (tools/cli.py) and the trainer's
before/after report both measure through it, so their numbers mean the same thing."""
from __future__ import annotations

import time

from .engine import Engine
from .pinyin import script, shuangpin
from .pinyin.candidates import decoder_readings

MISS_RANKS = 50  # candidates searched for the gold's rank


def convert_one(engine: Engine, pinyin: str, context: str, topk: int, keystrokes: bool, idle: bool = False) -> dict:
    """Candidates for one input (pinyin, or keys of the engine's shuangpin layout), timed in-process;
    ``idle``: typed key by key, the session's idle work runs between keys (see :func:`type_keys`)."""
    out: dict = {"input": pinyin}
    lay = shuangpin.layout(engine.options.layout)
    if lay is not None and not keystrokes:
        t0 = time.perf_counter()
        convs = decoder_readings(engine.decoder(context, whole_syllables=True), lay.read(pinyin).pinyin)
        out.update(candidates=[c.text for c in convs[:topk]], ms=round((time.perf_counter() - t0) * 1000, 3))
    elif keystrokes:
        session = engine.new_session(page_size=topk, context=context)
        t_all = time.perf_counter()
        key_ms = [round(ms, 3) for ms in type_keys(session, pinyin, idle)]
        cands = [c.text for c in session.candidates()[:topk]]
        out.update(candidates=cands, ms=round((time.perf_counter() - t_all) * 1000, 3), key_ms=key_ms)
        return out  # the session already shows its script
    else:
        t0 = time.perf_counter()
        convs = decoder_readings(engine.decoder(context), pinyin)
        out.update(candidates=[c.text for c in convs[:topk]], ms=round((time.perf_counter() - t0) * 1000, 3))
    conv = script.converter(engine.options.script)
    if conv is not None:
        out["candidates"] = [conv.convert(c) for c in out["candidates"]]
    return out


def type_keys(session, letters: str, idle: bool = False) -> list[float]:
    """Type ``letters`` key by key; ms from each key to its candidate list. ``idle``: between
    keys, run the session's idle work untimed, as the front ends do while no key waits."""
    out = []
    for ch in letters:
        t0 = time.perf_counter()
        session.insert(ch)
        session.view()
        out.append((time.perf_counter() - t0) * 1000)
        while idle and session.idle():
            pass
    return out


def levenshtein(a: str, b: str) -> int:
    """Edit distance between two strings (insertions, deletions, substitutions)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def percentile(xs: list[float], q: float) -> float:
    """The ``q`` quantile of ``xs`` (nearest rank; NaN if empty)."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def evaluate(engine: Engine, rows: list[dict], use_context: bool, limit: int | None = None,
             misses: list | None = None, analyser=None) -> dict:
    """Top-1, top-5, char accuracy and latency of the engine on dev-set rows; with ``misses`` (a
    list) and ``analyser`` (tools.misses.MissAnalyser), each miss is analysed and appended."""
    rows = rows[:limit] if limit else rows
    top1 = top5 = 0
    acc = 0.0
    ms = []
    by_length: dict[str, list[int]] = {}  # syllable-count group -> [top-1 hits, rows]
    for r in rows:
        context = r.get("context", "") if use_context else ""
        res = convert_one(engine, r["pinyin"], context, 10, False)
        c = res["candidates"] or [""]
        if misses is not None and analyser is not None and c[0] != r["hanzi"]:
            convs = decoder_readings(engine.decoder(context), r["pinyin"])
            misses.append(analyser.analyse(r["hanzi"], [x.text for x in convs[:MISS_RANKS]],
                                           convs[0].tokens if convs else ()))
        top1 += c[0] == r["hanzi"]
        top5 += r["hanzi"] in c[:5]
        group = by_length.setdefault(length_group(r["hanzi"]), [0, 0])
        group[0] += c[0] == r["hanzi"]
        group[1] += 1
        acc += max(0.0, 1 - levenshtein(c[0], r["hanzi"]) / len(r["hanzi"]))
        ms.append(res["ms"])
    n = len(rows)
    return {"n": n, "top1": top1 / n, "top5": top5 / n, "char_acc": acc / n,
            "ms_p50": percentile(ms, 0.5), "ms_p95": percentile(ms, 0.95),
            "by_length": {k: (h / m, m) for k, (h, m) in sorted(by_length.items())}}


# Word sets (every gold at most WORD_SET_CHARS characters) are reported per syllable count too.
WORD_SET_CHARS = 4


def length_group(hanzi: str) -> str:
    """The syllable-count group of a gold: "1", "2", "3-4" or "5+" (one syllable per character)."""
    n = len(hanzi)
    return "1" if n <= 1 else "2" if n == 2 else "3-4" if n <= WORD_SET_CHARS else "5+"
