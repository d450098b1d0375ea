"""IBus key events -> the key table's :class:`~frontend.keytable.Key`: :mod:`frontend.keysyms` with IBus's release bit.

IBus passes X11 keysyms (``keyval``) and a modifier mask (``state``) that holds the release as a
bit; the keysym table and the modifier bits are shared with the fcitx5 front end in :mod:`frontend.keysyms`.
"""
from __future__ import annotations

from frontend.keysyms import (CONTROL_MASK, CTRL_ALT_MASK, HYPER_MASK, KEYPAD_TEXT, KEYSYM_NAMES,
                              LOCK_MASK, META_MASK, MOD1_MASK, MOD4_MASK, MODIFIER_KEYVALS, SHIFT_KEYVALS,
                              SHIFT_MASK, SUPER_MASK, UNICODE_KEYVAL, KeyPress, keyval_text)
from frontend.keysyms import key_press as _key_press

RELEASE_MASK = 1 << 30  # IBus.ModifierType.RELEASE_MASK
IBUS_KEY_NAMES = KEYSYM_NAMES  # the keysyms IBus passes are X11's

__all__ = ["CONTROL_MASK", "CTRL_ALT_MASK", "HYPER_MASK", "IBUS_KEY_NAMES", "KEYPAD_TEXT", "LOCK_MASK", "META_MASK",
           "MOD1_MASK", "MOD4_MASK", "MODIFIER_KEYVALS", "RELEASE_MASK", "SHIFT_KEYVALS", "SHIFT_MASK", "SUPER_MASK",
           "UNICODE_KEYVAL", "KeyPress", "key_press", "keyval_text"]


def key_press(keyval: int, state: int) -> KeyPress:
    """Translate ``do_process_key_event``'s keyval and modifier state (the release is a bit of it)."""
    return _key_press(keyval, state, release=bool(state & RELEASE_MASK))
