"""What one IBus input context does with a key event: :class:`~frontend.composer.Composer` fed with IBus keyvals.

Everything a key means lives in :mod:`frontend` (the key table, the input controller, the
session runner); this only translates ``(keyval, state)`` (:mod:`.keys`) and the application's
surrounding text. Tests drive it with a fake Display and no bus; :mod:`.engine` implements the
Display with IBus calls.
"""
from __future__ import annotations

from frontend.composer import Composer

from .keys import key_press


class IBusComposer(Composer):
    """A Composer that takes IBus key events and IBus's surrounding text.

    ``surrounding``: the client sends its text around the caret (IBus.Capabilite.SURROUNDING_TEXT);
    ``private``: a password or PIN field, whose text is never read."""

    surrounding = False
    private = False

    def process_key(self, keyval: int, state: int) -> bool:
        """One key event from IBus; whether it was consumed (else the application gets it)."""
        press = key_press(keyval, state)
        return self.key_event(press.key, release=press.release, is_shift=press.is_shift)

    @property
    def reads_surrounding(self) -> bool:
        """Whether the application's text is read: it sends it, and the field is no password field."""
        return self.surrounding and not self.private

    def set_surrounding_text(self, text: str, cursor: int, anchor: int) -> None:
        """The application's text around the caret (``cursor``, ``anchor``: character offsets in it).

        What comes before the caret (before the selection, which typing replaces) is the context of
        the next input; nothing is learned from it (:meth:`~frontend.composer.Composer.set_context`)."""
        if self.reads_surrounding:
            self.set_context(text[:max(0, min(cursor, anchor))])

    def set_private(self, private: bool) -> None:
        """The field is a password or PIN field (IBus's input purpose): its text is never read."""
        self.private = private
        if private:
            self.forget_context()
