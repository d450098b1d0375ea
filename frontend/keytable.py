"""Which key does what: a pure function from a key press and the input state to a route.

The one key table of every front end (the window, the IBus engine). It knows no toolkit:
keys are symbolic names (``"space"``, ``"page_down"``; see :data:`KEY_NAMES`), and each
front end only translates its own key events into a :class:`Key` (``ime_app/keymap.py`` for Qt,
``shuru_ibus/keys.py`` for IBus).
The whole table is tested on its own (``tests/frontend/test_keytable.py``).
A route says where the key goes:

* ``EDITOR``: the editor handles the key as usual (English mode, shortcuts, keys that
  mean nothing to an idle IME);
* ``SESSION``: a :class:`~frontend.actions.SessionAction` for the engine Session;
* ``PUNCT``: an ASCII punctuation key typed in Chinese mode; the caller translates it
  (full-width or not) and, while composing, first commits the highlighted candidate
  (``,`` and ``.`` too, unless the comma/period paging setting makes them turn pages);
* ``SWALLOW``: the key is eaten (a key with no meaning while composing).

Tapping Shift alone toggles Chinese/English (:class:`ShiftTap`), and Ctrl+Space and Ctrl+.
toggle the mode and the punctuation width (:data:`CTRL_TOGGLES`), in every front end.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple

from engine.pinyin.shuangpin import layout as shuangpin_layout

from .actions import (Backspace, Cancel, Commit, CommitRaw, Delete, DismissPredictions, ForgetHighlighted, Insert,
                      MoveCursor, MoveHighlight, PageDown, PageUp, SelectOnPage, SessionAction, Toggle)
from .punctuation import is_punctuation

CURSOR_END = 1 << 16  # move_cursor delta that reaches either end (the engine clamps)

# Keys with a fixed meaning while composing (Chinese mode, no Ctrl/Alt).
COMPOSING_KEYS: dict[str, SessionAction] = {
    "space": Commit(),
    "return": CommitRaw(), "enter": CommitRaw(),
    "escape": Cancel(),
    "backspace": Backspace(), "delete": Delete(),
    "left": MoveCursor(-1), "right": MoveCursor(1),
    "home": MoveCursor(-CURSOR_END), "end": MoveCursor(CURSOR_END),
    "up": MoveHighlight(-1), "down": MoveHighlight(1),
    "tab": MoveHighlight(1), "backtab": MoveHighlight(-1),
    "page_up": PageUp(), "page_down": PageDown(),
    "minus": PageUp(), "equal": PageDown(),
}
# With the comma/period paging setting on, these turn pages while composing instead of typing ，。
PUNCT_PAGING_KEYS: dict[str, SessionAction] = {"comma": PageUp(), "period": PageDown()}
# Every name a front end may pass; any other key is "" (it routes by the text it types).
KEY_NAMES = frozenset(COMPOSING_KEYS) | frozenset(PUNCT_PAGING_KEYS)
# Ctrl+key -> what it toggles (menu shortcuts of the window, routed in its dialogs' fields and by the IBus engine).
CTRL_TOGGLES: dict[str, Toggle] = {"space": Toggle.MODE, "period": Toggle.PUNCTUATION}


@dataclass(frozen=True)
class Key:
    """One key press in the key table's terms, whatever toolkit delivered it."""

    name: str  # the key table's name (KEY_NAMES), or ""
    text: str  # what the key types ("" for function keys)
    ctrl_alt: bool = False  # Ctrl, Alt, Super or Meta held
    ctrl_only: bool = False  # Ctrl held, and no Alt, Super or Meta (Ctrl+Space, Ctrl+.)
    is_modifier: bool = False  # a key that only modifies others: never routed
    native: object = field(default=None, compare=False)  # the front end's own event (the window replays it)


class RouteKind(Enum):
    """Where a key goes."""

    EDITOR = "editor"
    SESSION = "session"
    PUNCT = "punct"
    SWALLOW = "swallow"


class Route(NamedTuple):
    kind: RouteKind
    action: SessionAction | None = None  # for SESSION
    char: str = ""  # for PUNCT: the ASCII key


EDITOR = Route(RouteKind.EDITOR)
SWALLOW = Route(RouteKind.SWALLOW)
FORGET = Route(RouteKind.SESSION, ForgetHighlighted())
DISMISS = Route(RouteKind.SESSION, DismissPredictions())


def to_session(action: SessionAction) -> Route:
    """The route of a key that makes ``action``."""
    return Route(RouteKind.SESSION, action)


def dismisses_predictions(route: Route) -> bool:
    """Whether a key routed so, while predictions are shown, first hides them (it is not a pick)."""
    return route.kind in (RouteKind.EDITOR, RouteKind.PUNCT)


def layout_keys(layout: str) -> str:
    """Keys besides letters that a shuangpin layout types while composing (``;`` is ing in Microsoft
    and Sogou); "" for full pinyin."""
    lay = shuangpin_layout(layout)
    return "".join(sorted(k for k in lay.keys if not k.isalpha() and k != "'")) if lay is not None else ""


def route_key(key: str, text: str, *, ctrl_alt: bool, chinese: bool, composing: bool,
              comma_period_paging: bool = False, layout_keys: str = "", predicting: bool = False) -> Route:
    """Route one key press.

    ``key`` is the key's symbolic name (or ""), ``text`` what it types, ``ctrl_alt`` whether Ctrl, Alt or
    Meta is held, ``chinese`` the input mode and ``composing`` whether the session has
    pending input. ``comma_period_paging``: ``,`` and ``.`` turn pages while composing
    (otherwise they commit and type punctuation, like every other punctuation key).
    ``layout_keys``: keys of the shuangpin layout that are input while composing (:func:`layout_keys`).
    ``predicting``: next-word predictions are shown (idle, after a commit): digits pick one and Esc
    hides them; every other key means what it means idle (the front end hides them first, see
    :func:`dismisses_predictions`), so Space and Enter never commit a prediction.
    """
    if ctrl_alt and composing and chinese and key == "delete":
        return FORGET  # Ctrl+Delete: forget the highlighted candidate, as fcitx5 does
    if ctrl_alt or not chinese:
        return EDITOR
    ch = text if len(text) == 1 else ""
    if composing:
        if comma_period_paging and key in PUNCT_PAGING_KEYS:
            return to_session(PUNCT_PAGING_KEYS[key])
        if ch and ch in layout_keys:
            return to_session(Insert(ch))
        return _route_composing(key, ch)
    if predicting and "1" <= ch <= "9":
        return to_session(SelectOnPage(int(ch) - 1))
    if predicting and key == "escape":
        return DISMISS
    if "a" <= ch <= "z":  # Shift+letter (uppercase) goes to the editor as typed
        return to_session(Insert(ch))
    if is_punctuation(ch):
        return Route(RouteKind.PUNCT, char=ch)
    return EDITOR


def _route_composing(key: str, ch: str) -> Route:
    if ch.isascii() and (ch.isalpha() or ch == "'"):
        return to_session(Insert(ch.lower()))
    if "1" <= ch <= "9":
        return to_session(SelectOnPage(int(ch) - 1))
    if key in COMPOSING_KEYS:
        return to_session(COMPOSING_KEYS[key])
    if is_punctuation(ch):
        return Route(RouteKind.PUNCT, char=ch)
    return SWALLOW


def depends_on_composing(key: str, text: str, *, ctrl_alt: bool, chinese: bool,
                         comma_period_paging: bool = False, layout_keys: str = "", predicting: bool = False) -> bool:
    """Whether the route of this key differs between composing and idle.

    While an action that may end the composition is still on its way to the worker,
    such keys wait for the worker's answer; all others are routed at once.
    """
    kw = dict(ctrl_alt=ctrl_alt, chinese=chinese, comma_period_paging=comma_period_paging, layout_keys=layout_keys,
              predicting=predicting)
    return route_key(key, text, composing=True, **kw) != route_key(key, text, composing=False, **kw)


class ShiftTap:
    """Detects a tap of Shift alone: pressed and released with no other key, modifier or click
    in between (a tap toggles Chinese/English). Front ends feed it every key press and release."""

    def __init__(self) -> None:
        self._alone = False

    def press(self, is_shift: bool, *, other_modifiers: bool = False, auto_repeat: bool = False) -> None:
        """A key went down; ``other_modifiers``: Ctrl, Alt or Meta was held with it."""
        if not is_shift:
            self._alone = False
        elif not auto_repeat:
            self._alone = not other_modifiers

    def release(self, is_shift: bool, *, auto_repeat: bool = False) -> bool:
        """A key went up: whether this was the release of a Shift tap."""
        if not is_shift or auto_repeat:
            return False
        tapped, self._alone = self._alone, False
        return tapped

    def interrupt(self) -> None:
        """A click (or anything else that is not typing) ends a tap in progress."""
        self._alone = False


# The key reference a user reads: Help → Keys and Shortcuts in the window, and the table under
# "Using the app" in README.md (a test keeps that table equal to key_reference_markdown()).
# Each row: (keys, what they do), in Markdown (`code` spans).
KEY_REFERENCE: tuple[tuple[str, str], ...] = (
    ("letters, `'`", "type pinyin (`'` forces a syllable break: `xi'an`); Shift+letter types a capital when idle"),
    ("Space", "commit the highlighted candidate"),
    ("1-9, mouse click", "pick a candidate on the page"),
    ("`-` `=`, PageUp/PageDown, wheel, ◀ ▶",
     'turn pages (also `,` `.` while composing, when Settings → "Comma and period turn pages" is on)'),
    ("Up/Down, Tab/Shift+Tab", "move the highlight (crossing a page edge turns the page)"),
    ("Left/Right, Home/End", "move inside the pinyin"),
    ("Backspace / Delete", "edit the pinyin; Backspace at its start undoes a partial pick"),
    ("Enter", "commit the raw letters"),
    ("Esc", "cancel"),
    ("Ctrl+Delete", "forget what was learned of the highlighted candidate (it is ranked as if never typed)"),
    ("Shift alone, Ctrl+Space", "toggle Chinese / English"),
    ("Ctrl+.", "toggle full-width / half-width punctuation"),
    ("Ctrl+Shift+F, toolbar 简/繁", "toggle simplified / traditional characters"),
    ("punctuation", "full-width in Chinese mode: ，。？！：；“”‘’《》、……——（）【】～￥ (quotes alternate open/close; "
                    "`,` `.` right after a digit stay ASCII: 3.14); typed while composing, it first commits the "
                    "highlighted candidate (`nihao!` → 你好！, `nihao,wohenhao.` → 你好，我很好。)"),
    ("digits (idle), Ctrl/Alt shortcuts", "go to the editor"),
)
KEY_REFERENCE_HEADER = ("key", "what it does")


def key_reference_markdown() -> str:
    """:data:`KEY_REFERENCE` as the Markdown table README.md shows."""
    head, rule = "| {} | {} |".format(*KEY_REFERENCE_HEADER), "|---|---|"
    return "\n".join([head, rule, *(f"| {keys} | {what} |" for keys, what in KEY_REFERENCE)])
