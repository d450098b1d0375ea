"""X11 key events (a keysym and a modifier state) -> the key table's :class:`~frontend.keytable.Key`.

IBus and fcitx5 both pass X11 keysyms and a modifier mask whose bits agree: X11's Shift, Lock,
Control, Mod1 (Alt) and Mod4 (Super), and the same bits 26-28 for Super, Hyper and Meta (IBus's
``SUPER_MASK``.., fcitx5's ``KeyState::Super2``..). The numbers are written out here so that this
module needs no ``gi`` and no fcitx5; everything a key means lives in the key table. How a
release is told differs (IBus: a state bit; fcitx5: a flag), so :func:`key_press` takes it apart.
"""
from __future__ import annotations

from typing import NamedTuple

from frontend.keytable import KEY_NAMES, Key

# Modifier bits (IBus.ModifierType, fcitx::KeyState)
SHIFT_MASK, LOCK_MASK, CONTROL_MASK, MOD1_MASK = 1 << 0, 1 << 1, 1 << 2, 1 << 3
MOD4_MASK, SUPER_MASK, HYPER_MASK, META_MASK = 1 << 6, 1 << 26, 1 << 27, 1 << 28
CTRL_ALT_MASK = CONTROL_MASK | MOD1_MASK | MOD4_MASK | SUPER_MASK | HYPER_MASK | META_MASK  # Qt's Ctrl|Alt|Meta

SHIFT_KEYVALS = frozenset({0xFFE1, 0xFFE2})  # Shift_L, Shift_R
# Keys that only modify others: Shift, Control, Caps_Lock, Shift_Lock, Meta, Alt, Super, Hyper
# (0xffe1-0xffee), ISO_Level3_Shift (AltGr), ISO_Level5_Shift, Num_Lock.
MODIFIER_KEYVALS = frozenset(range(0xFFE1, 0xFFEF)) | {0xFE03, 0xFE11, 0xFF7F}

KEYSYM_NAMES: dict[int, str] = {
    0x0020: "space", 0xFF80: "space",  # space, KP_Space
    0xFF0D: "return", 0xFF8D: "enter",  # Return, KP_Enter
    0xFF1B: "escape", 0xFF08: "backspace", 0xFFFF: "delete", 0xFF9F: "delete",  # KP_Delete
    0xFF51: "left", 0xFF52: "up", 0xFF53: "right", 0xFF54: "down",
    0xFF96: "left", 0xFF97: "up", 0xFF98: "right", 0xFF99: "down",  # KP_ arrows
    0xFF50: "home", 0xFF95: "home", 0xFF57: "end", 0xFF9C: "end",
    0xFF09: "tab", 0xFF89: "tab", 0xFE20: "backtab",  # Tab, KP_Tab, ISO_Left_Tab (Shift+Tab)
    0xFF55: "page_up", 0xFF9A: "page_up", 0xFF56: "page_down", 0xFF9B: "page_down",  # Prior/Next, KP_
    0x002D: "minus", 0xFFAD: "minus",  # KP_Subtract
    0x003D: "equal", 0xFFBD: "equal",  # KP_Equal
    0x002C: "comma", 0x002E: "period", 0xFFAE: "period",  # KP_Decimal
}
assert set(KEYSYM_NAMES.values()) == KEY_NAMES, "every name of the key table has a keysym"
# Keypad keys that type text (keypad digits pick candidates like the digit row).
KEYPAD_TEXT: dict[int, str] = {0xFF80: " ", 0xFFAA: "*", 0xFFAB: "+", 0xFFAC: ",", 0xFFAD: "-",
                               0xFFAE: ".", 0xFFAF: "/", 0xFFBD: "=",
                               **{0xFFB0 + d: str(d) for d in range(10)}}
UNICODE_KEYVAL = 0x01000000  # keyvals 0x01000100.. are Unicode code points plus this offset


class KeyPress(NamedTuple):
    """One key event in the key table's terms."""

    name: str  # the key table's name, or ""
    text: str  # what the key types ("" for function keys)
    ctrl_alt: bool  # Ctrl, Alt, Super or Meta held
    ctrl_only: bool  # Ctrl held, and no Alt, Super or Meta (Ctrl+Space, Ctrl+.)
    release: bool
    is_shift: bool
    is_modifier: bool  # a key that only modifies others (never routed)

    @property
    def key(self) -> Key:
        """The press as the shared controller takes it."""
        return Key(self.name, self.text, ctrl_alt=self.ctrl_alt, ctrl_only=self.ctrl_only,
                   is_modifier=self.is_modifier)


def keyval_text(keyval: int) -> str:
    """The text a keysym types (X11's Latin-1 and Unicode keysyms, keypad), or ""."""
    if 0x20 <= keyval <= 0x7E or 0xA0 <= keyval <= 0xFF:
        return chr(keyval)
    if keyval in KEYPAD_TEXT:
        return KEYPAD_TEXT[keyval]
    if UNICODE_KEYVAL + 0x100 <= keyval <= UNICODE_KEYVAL + 0x10FFFF:
        return chr(keyval - UNICODE_KEYVAL)
    return ""


def key_press(keyval: int, state: int, release: bool = False) -> KeyPress:
    """Translate a keysym, its modifier state and whether the key went up."""
    return KeyPress(name=KEYSYM_NAMES.get(keyval, ""), text=keyval_text(keyval),
                    ctrl_alt=bool(state & CTRL_ALT_MASK), ctrl_only=state & CTRL_ALT_MASK == CONTROL_MASK,
                    release=release,
                    is_shift=keyval in SHIFT_KEYVALS, is_modifier=keyval in MODIFIER_KEYVALS)
