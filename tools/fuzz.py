"""Random Session actions with invariant checks: ``python -m tools fuzz --actions N --seed S``.

Letters, apostrophes, junk characters, Backspace/Delete, cursor moves, paging, highlight
moves, picks by number, commit, commit-raw, cancel, idle work (as front ends run between keys)
and very long inputs, in random order.
After every action the view must be consistent (see :func:`check_view`); view() latency is
reported as p50/p95/p99/max, with the slowest action and the longest whole keystroke. The
session bounds each view's search as the front ends' do (``DECODE_BUDGET_MS``): a long
search goes on in idle steps, each timed, and how long the longest took to its end is reported.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from engine.pinyin.session import DECODE_BUDGET_MS, Session, SessionView

LETTERS = "abcdefghijklmnopqrstuvwxyz"
SYLLABLES = ("ni", "hao", "wo", "xiang", "hui", "jia", "zhong", "guo", "shi", "jie", "de", "le", "a", "e", "er")
LONG_INPUT = 120  # letters of a "very long input" action


@dataclass
class FuzzReport:
    actions: int = 0
    exceptions: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)
    view_ms: list[float] = field(default_factory=list)
    action_ms_max: float = 0.0  # the longest action plus its view(): a whole keystroke's work
    idle_step_ms_max: float = 0.0  # the longest single idle step (front ends run them between keys)
    idle_ms_max: float = 0.0  # the longest idle work to its end (finishing a paste's search, say)
    partial_views: int = 0  # views showing the candidates of part of the letters (the search went on idle)
    slowest: str = ""  # the action (with the ones before it) whose view() took longest
    slowest_ms: float = 0.0

    def summary(self) -> dict:
        ms = sorted(self.view_ms)
        q = (lambda f: round(ms[min(len(ms) - 1, int(f * len(ms)))], 2)) if ms else (lambda f: None)
        return {"actions": self.actions, "exceptions": len(self.exceptions), "broken_invariants": len(self.broken),
                "view_ms_p50": q(0.5), "view_ms_p95": q(0.95), "view_ms_p99": q(0.99),
                "view_ms_max": round(ms[-1], 2) if ms else None, "slowest_after": self.slowest,
                "action_ms_max": round(self.action_ms_max, 2), "idle_step_ms_max": round(self.idle_step_ms_max, 2),
                "idle_ms_max": round(self.idle_ms_max, 2), "partial_views": self.partial_views,
                "first_problems": (self.exceptions + self.broken)[:5]}


def check_view(session: Session, view: SessionView) -> list[str]:
    """What is wrong with a view (empty when it is consistent)."""
    bad = []
    n = len(view.letters)
    if not 0 <= view.cursor <= n:
        bad.append(f"cursor {view.cursor} outside 0..{n}")
    for c in view.candidates:
        if not 1 <= c.consumed <= max(1, n):
            bad.append(f"candidate {c.text!r} consumes {c.consumed} of {n} letters")
    if not 0 <= view.page < max(1, view.page_count):
        bad.append(f"page {view.page} of {view.page_count}")
    if view.candidates and not 0 <= view.highlight < len(view.candidates):
        bad.append(f"highlight {view.highlight} of {len(view.candidates)}")
    if not view.preedit.startswith(view.chosen):
        bad.append(f"preedit {view.preedit!r} does not start with the chosen {view.chosen!r}")
    if view.preedit[len(view.chosen):].replace("'", "") != view.letters.replace("'", ""):
        bad.append(f"preedit {view.preedit!r} does not show the letters {view.letters!r}")
    if not 0 <= view.preedit_cursor <= len(view.preedit):
        bad.append(f"preedit cursor {view.preedit_cursor} outside {view.preedit!r}")
    if view.composing != bool(view.letters or view.chosen):
        bad.append("composing flag disagrees with the input")
    return bad


def random_action(rng: random.Random, session: Session):
    """One random action as (name, callable)."""
    r = rng.random()
    if r < 0.35:
        ch = rng.choice(LETTERS)
        return f"insert {ch}", lambda: session.insert(ch)
    if r < 0.45:
        syl = rng.choice(SYLLABLES)
        return f"insert {syl}", lambda: session.insert(syl)
    if r < 0.48:
        junk = rng.choice(["'", "''", "1", "中", " ", "A", "-", "\x00", "é"])
        return f"insert {junk!r}", lambda: session.insert(junk)
    if r < 0.49:
        text = "".join(rng.choice(SYLLABLES) for _ in range(LONG_INPUT // 3))[:LONG_INPUT]
        return "insert long", lambda: session.insert(text)
    table = [
        ("backspace", session.backspace), ("delete", session.delete),
        ("left", lambda: session.move_cursor(-1)), ("right", lambda: session.move_cursor(1)),
        ("home", lambda: session.set_cursor(0)), ("end", lambda: session.set_cursor(1 << 16)),
        ("page_down", session.page_down), ("page_up", session.page_up),
        ("highlight+", lambda: session.move_highlight(1)), ("highlight-", lambda: session.move_highlight(-1)),
        ("commit", session.commit), ("commit_raw", session.commit_raw), ("cancel", session.cancel),
        ("idle", None),  # run by fuzz() itself, which times each step
    ]
    if rng.random() < 0.3:
        k = rng.randrange(9)
        return f"pick {k + 1}", lambda: session.select_on_page(k)
    return rng.choice(table)


def _idle(session: Session, report: FuzzReport) -> None:
    """The idle work a front end runs between keys, to its end, each step timed."""
    total = 0.0
    while True:
        t0 = time.perf_counter()
        more = session.idle()
        ms = (time.perf_counter() - t0) * 1000
        report.idle_step_ms_max = max(report.idle_step_ms_max, ms)
        total += ms
        if not more:
            break
    report.idle_ms_max = max(report.idle_ms_max, total)


def fuzz(engine, actions: int, seed: int = 0, page_size: int = 5,
         budget_ms: float | None = DECODE_BUDGET_MS) -> FuzzReport:
    """Run ``actions`` random actions on one Session, checking every view; the session bounds
    each view's search by ``budget_ms``, as the front ends' sessions do."""
    rng = random.Random(seed)
    session = engine.new_session(page_size=page_size, budget_ms=budget_ms)
    report = FuzzReport()
    recent: list[str] = []
    for _ in range(actions):
        name, act = random_action(rng, session)
        recent = (recent + [name])[-8:]
        report.actions += 1
        try:
            t_act = time.perf_counter()
            if act is None:
                _idle(session, report)
            else:
                act()
            t0 = time.perf_counter()
            view = session.view()
            ms = (time.perf_counter() - t0) * 1000
            if act is not None:
                report.action_ms_max = max(report.action_ms_max, (time.perf_counter() - t_act) * 1000)
            report.partial_views += not view.complete
            if ms > report.slowest_ms:
                report.slowest_ms, report.slowest = ms, f"{ms:.1f} ms after {recent[-3:]}"
            report.view_ms.append(ms)
        except Exception as e:  # the fuzzer's job: record, start afresh, go on
            report.exceptions.append(f"{type(e).__name__}: {e} after {recent}")
            session = engine.new_session(page_size=page_size, budget_ms=budget_ms)
            continue
        for problem in check_view(session, view):
            report.broken.append(f"{problem} after {recent}")
    return report
