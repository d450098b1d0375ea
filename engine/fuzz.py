"""Random Session actions with invariant checks: ``python -m engine fuzz --actions N --seed S``.

Letters, apostrophes, junk characters, Backspace/Delete, cursor moves, paging, highlight
moves, picks by number, commit, commit-raw, cancel, idle work (as front ends run between keys)
and very long inputs, in random order.
After every action the view must be consistent (see :func:`check_view`); view() latency is
reported as p50/p95/p99/max, with the slowest action and the longest whole keystroke.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from .session import Session, SessionView

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
    slowest: str = ""  # the action (with the ones before it) whose view() took longest
    slowest_ms: float = 0.0

    def summary(self) -> dict:
        ms = sorted(self.view_ms)
        q = (lambda f: round(ms[min(len(ms) - 1, int(f * len(ms)))], 2)) if ms else (lambda f: None)
        return {"actions": self.actions, "exceptions": len(self.exceptions), "broken_invariants": len(self.broken),
                "view_ms_p50": q(0.5), "view_ms_p95": q(0.95), "view_ms_p99": q(0.99),
                "view_ms_max": round(ms[-1], 2) if ms else None, "slowest_after": self.slowest,
                "action_ms_max": round(self.action_ms_max, 2),
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
        ("idle", lambda: _idle(session)),
    ]
    if rng.random() < 0.3:
        k = rng.randrange(9)
        return f"pick {k + 1}", lambda: session.select_on_page(k)
    return rng.choice(table)


def _idle(session: Session) -> None:
    """The idle work a front end runs between keys, to its end."""
    while session.idle():
        pass


def fuzz(engine, actions: int, seed: int = 0, page_size: int = 5) -> FuzzReport:
    """Run ``actions`` random actions on one Session, checking every view."""
    rng = random.Random(seed)
    session = engine.new_session(page_size=page_size)
    report = FuzzReport()
    recent: list[str] = []
    for _ in range(actions):
        name, act = random_action(rng, session)
        recent = (recent + [name])[-8:]
        report.actions += 1
        try:
            t_act = time.perf_counter()
            act()
            t0 = time.perf_counter()
            view = session.view()
            ms = (time.perf_counter() - t0) * 1000
            report.action_ms_max = max(report.action_ms_max, (time.perf_counter() - t_act) * 1000)
            if ms > report.slowest_ms:
                report.slowest_ms, report.slowest = ms, f"{ms:.1f} ms after {recent[-3:]}"
            report.view_ms.append(ms)
        except Exception as e:  # the fuzzer's job: record, start afresh, go on
            report.exceptions.append(f"{type(e).__name__}: {e} after {recent}")
            session = engine.new_session(page_size=page_size)
            continue
        for problem in check_view(session, view):
            report.broken.append(f"{problem} after {recent}")
    return report
