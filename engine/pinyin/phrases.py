"""Quick phrases: typed triggers that offer fixed text (``dz`` -> an address), and dates.

The user's phrases are a plain UTF-8 text file, one phrase a line::

    # comments and blank lines are ignored
    dz 北京市海淀区中关村大街1号
    yx someone@example.com

The trigger (lower-case letters) comes first, then whitespace, then the text (kept as written,
spaces included). A trigger may have several lines; they are offered in file order. Lines that
break these rules are skipped and reported with their line numbers (:class:`PhraseError`).

Built in: ``rq`` (the date: 2026年12月1日, 2026-12-01), ``sj`` (the time: 14:05, 14点05分) and
``xq`` (the weekday: 星期二, 周二), from an injectable clock. A Session offers a trigger's
phrases beside the normal conversion (after its first candidate), not instead of it.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)

FILE_NAME = "phrases.txt"
TRIGGER = re.compile(r"[a-z]{1,16}")
WEEKDAYS = "一二三四五六日"
BUILTIN_TRIGGERS = ("rq", "sj", "xq")


@dataclass(frozen=True)
class PhraseError:
    """One line of a phrases file that was skipped."""

    line: int  # 1-based
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


def parse_phrases(text: str) -> tuple[dict[str, list[str]], list[PhraseError]]:
    """(trigger -> texts in file order, skipped lines) of a phrases file's text; never raises."""
    phrases: dict[str, list[str]] = {}
    errors: list[PhraseError] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        trigger, value = (line.split(None, 1) + [""])[:2]
        value = value.strip()
        if not TRIGGER.fullmatch(trigger):
            errors.append(PhraseError(n, f"the trigger {trigger!r} must be 1-16 lower-case letters a-z"))
        elif not value:
            errors.append(PhraseError(n, f"the trigger {trigger!r} has no text after it"))
        else:
            phrases.setdefault(trigger, []).append(value)
    return phrases, errors


def builtin_phrases(now: dt.datetime) -> dict[str, list[str]]:
    """The date, time and weekday phrases at ``now``."""
    return {
        "rq": [f"{now.year}年{now.month}月{now.day}日", now.strftime("%Y-%m-%d"), now.strftime("%Y/%m/%d")],
        "sj": [now.strftime("%H:%M"), f"{now.hour}点{now.minute:02d}分"],
        "xq": [f"星期{WEEKDAYS[now.weekday()]}", f"周{WEEKDAYS[now.weekday()]}"],
    }


@dataclass
class QuickPhrases:
    """The user's phrases plus the built-in dates; ``clock`` gives the time (tests inject one)."""

    user: dict[str, list[str]] = field(default_factory=dict)
    errors: list[PhraseError] = field(default_factory=list)
    builtins: bool = True
    clock: Callable[[], dt.datetime] = dt.datetime.now
    path: Path | None = None

    @classmethod
    def load(cls, path: Path | None, builtins: bool = True, clock: Callable[[], dt.datetime] = dt.datetime.now
             ) -> "QuickPhrases":
        """Read ``path`` (missing: no user phrases); skipped lines are logged with their numbers."""
        text = ""
        if path is not None:
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                pass
            except (OSError, UnicodeDecodeError) as e:
                log.warning("quick phrases not read from %s: %s", path, e)
        user, errors = parse_phrases(text)
        for e in errors:
            log.warning("%s, %s skipped", path, e)
        return cls(user, errors, builtins, clock, path)

    def lookup(self, letters: str) -> list[str]:
        """The phrases of trigger ``letters``: the user's first, then a built-in's ([] if none)."""
        out = list(self.user.get(letters, ()))
        if self.builtins and letters in BUILTIN_TRIGGERS:
            out += [t for t in builtin_phrases(self.clock())[letters] if t not in out]
        return out


__all__ = ["BUILTIN_TRIGGERS", "FILE_NAME", "PhraseError", "QuickPhrases", "builtin_phrases", "parse_phrases"]
