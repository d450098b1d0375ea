"""What one IBus input context does with a key event: :class:`~frontend.composer.Composer` fed with IBus keyvals.

Everything a key means lives in :mod:`frontend` (the key table, the input controller, the
session runner); this only translates ``(keyval, state)`` (:mod:`.keys`). Tests drive it with a
fake Display and no bus; :mod:`.engine` implements the Display with IBus calls.
"""
from __future__ import annotations

from frontend.composer import Composer

from .keys import key_press


class IBusComposer(Composer):
    """A Composer that takes IBus key events."""

    def process_key(self, keyval: int, state: int) -> bool:
        """One key event from IBus; whether it was consumed (else the application gets it)."""
        press = key_press(keyval, state)
        return self.key_event(press.key, release=press.release, is_shift=press.is_shift)
