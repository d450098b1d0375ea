"""Which key does what: a pure function from a key press and the input state to a route.

Kept free of widgets so the whole key table is testable on its own (``tests/test_app_keymap.py``).
A route says where the key goes:

* ``editor``: the editor handles the key as usual (English mode, shortcuts, keys that
  mean nothing to an idle IME);
* ``session``: an engine :class:`~engine.session.Session` action, as a tuple
  ``(method_name, *args)`` applied by the worker;
* ``punct``: an ASCII punctuation key typed in Chinese mode; the caller translates it
  (full-width or not) and, while composing, first commits the highlighted candidate
  (``,`` and ``.`` too, unless the comma/period paging setting makes them turn pages);
* ``swallow``: the key is eaten (a key with no meaning while composing).
"""
from __future__ import annotations

from typing import NamedTuple

from PySide6.QtCore import Qt

from .punctuation import is_punctuation

K = Qt.Key
CURSOR_END = 1 << 16  # move_cursor delta that reaches either end (the engine clamps)

# Keys with a fixed meaning while composing (Chinese mode, no Ctrl/Alt).
COMPOSING_KEYS: dict[int, tuple] = {
    K.Key_Space: ("commit",),
    K.Key_Return: ("commit_raw",), K.Key_Enter: ("commit_raw",),
    K.Key_Escape: ("cancel",),
    K.Key_Backspace: ("backspace",), K.Key_Delete: ("delete",),
    K.Key_Left: ("move_cursor", -1), K.Key_Right: ("move_cursor", 1),
    K.Key_Home: ("move_cursor", -CURSOR_END), K.Key_End: ("move_cursor", CURSOR_END),
    K.Key_Up: ("move_highlight", -1), K.Key_Down: ("move_highlight", 1),
    K.Key_Tab: ("move_highlight", 1), K.Key_Backtab: ("move_highlight", -1),
    K.Key_PageUp: ("page_up",), K.Key_PageDown: ("page_down",),
    K.Key_Minus: ("page_up",), K.Key_Equal: ("page_down",),
}
# With the comma/period paging setting on, these turn pages while composing instead of typing ，。
PUNCT_PAGING_KEYS: dict[int, tuple] = {K.Key_Comma: ("page_up",), K.Key_Period: ("page_down",)}
MODIFIER_KEYS = frozenset({K.Key_Shift, K.Key_Control, K.Key_Alt, K.Key_Meta, K.Key_AltGr,
                           K.Key_CapsLock, K.Key_Super_L, K.Key_Super_R})


class Route(NamedTuple):
    kind: str  # "editor" | "session" | "punct" | "swallow"
    action: tuple = ()  # for "session": (Session method name, *args)
    char: str = ""  # for "punct": the ASCII key


EDITOR = Route("editor")
SWALLOW = Route("swallow")
FORGET = Route("session", ("forget_highlighted",))


def route_key(key: int, text: str, *, ctrl_alt: bool, chinese: bool, composing: bool,
              comma_period_paging: bool = False) -> Route:
    """Route one key press.

    ``text`` is what the key types (``QKeyEvent.text()``), ``ctrl_alt`` whether Ctrl, Alt or
    Meta is held, ``chinese`` the input mode and ``composing`` whether the session has
    pending input. ``comma_period_paging``: ``,`` and ``.`` turn pages while composing
    (otherwise they commit and type punctuation, like every other punctuation key).
    """
    if ctrl_alt and composing and chinese and key == K.Key_Delete:
        return FORGET  # Ctrl+Delete: forget the highlighted candidate, as fcitx5 does
    if ctrl_alt or not chinese:
        return EDITOR
    ch = text if len(text) == 1 else ""
    if composing:
        if comma_period_paging and key in PUNCT_PAGING_KEYS:
            return Route("session", PUNCT_PAGING_KEYS[key])
        return _route_composing(key, ch)
    if "a" <= ch <= "z":  # Shift+letter (uppercase) goes to the editor as typed
        return Route("session", ("insert", ch))
    if is_punctuation(ch):
        return Route("punct", char=ch)
    return EDITOR


def _route_composing(key: int, ch: str) -> Route:
    if ch.isascii() and (ch.isalpha() or ch == "'"):
        return Route("session", ("insert", ch.lower()))
    if "1" <= ch <= "9":
        return Route("session", ("select_on_page", int(ch) - 1))
    if key in COMPOSING_KEYS:
        return Route("session", COMPOSING_KEYS[key])
    if is_punctuation(ch):
        return Route("punct", char=ch)
    return SWALLOW


def depends_on_composing(key: int, text: str, *, ctrl_alt: bool, chinese: bool,
                         comma_period_paging: bool = False) -> bool:
    """Whether the route of this key differs between composing and idle.

    While an action that may end the composition is still on its way to the worker,
    such keys wait for the worker's answer; all others are routed at once.
    """
    kw = dict(ctrl_alt=ctrl_alt, chinese=chinese, comma_period_paging=comma_period_paging)
    return route_key(key, text, composing=True, **kw) != route_key(key, text, composing=False, **kw)
