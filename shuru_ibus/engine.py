"""The ``IBus.Engine`` subclass: IBus callbacks -> :class:`~shuru_ibus.composer.IBusComposer`.

One object per input context (ibus-daemon asks the factory for them); all share the
service's Engine. :class:`IBusDisplay` implements the composer's Display with IBus calls.

Where the application supports it (``IBus.Capabilite.SURROUNDING_TEXT``), its text before the
caret is the context of the next input: asked for on enable and focus in (the client sends it
from then on), taken again whenever it changes, never read in password or PIN fields, never
learned from, never logged. Elsewhere the context is what the engine committed itself.
"""
from __future__ import annotations

import logging

import gi

gi.require_version("IBus", "1.0")
from gi.repository import IBus  # noqa: E402

from frontend.actions import MoveHighlight, PageDown, PageUp, SelectOnPage, Toggle  # noqa: E402

from .composer import IBusComposer  # noqa: E402

log = logging.getLogger(__name__)

ORIENTATIONS = {"horizontal": IBus.Orientation.HORIZONTAL, "vertical": IBus.Orientation.VERTICAL}
MODE_LABELS = {True: ("中", "Chinese (tap Shift or Ctrl+Space for English)"),
               False: ("英", "English (tap Shift or Ctrl+Space for Chinese)")}
PUNCT_LABELS = {True: ("，。", "Full-width punctuation (Ctrl+. for half-width)"),
                False: (",.", "Half-width punctuation (Ctrl+. for full-width)")}
PROPERTY_TOGGLES = {"mode": Toggle.MODE, "punctuation": Toggle.PUNCTUATION}  # property name -> what it toggles
SCRIPT_LABELS = {True: ("简", "Simplified characters (click for traditional)"),
                 False: ("繁", "Traditional characters (click for simplified)")}
PRIVATE_PURPOSES = (IBus.InputPurpose.PASSWORD, IBus.InputPurpose.PIN)  # fields whose text is never read


def _text(s: str) -> IBus.Text:
    return IBus.Text.new_from_string(s)


class IBusDisplay:
    """The composer's Display (:class:`frontend.composer.Display`) on an IBus.Engine: preedit, lookup table, properties."""

    def __init__(self, engine: IBus.Engine, orientation: str, simplified: bool = True):
        self.engine = engine
        self.orientation = ORIENTATIONS.get(orientation, IBus.Orientation.HORIZONTAL)
        self.mode = self._property("mode", *MODE_LABELS[True])
        self.script = self._property("script", *SCRIPT_LABELS[simplified])
        self.punct = self._property("punctuation", *PUNCT_LABELS[True])
        self.settings = self._property("settings", "Settings…", "Open Shuru's settings")
        self.properties = IBus.PropList()
        for prop in (self.mode, self.punct, self.script, self.settings):
            self.properties.append(prop)

    def commit(self, text: str) -> None:
        self.engine.commit_text(_text(text))

    def show_preedit(self, text: str, cursor: int) -> None:
        t = _text(text)
        attrs = IBus.AttrList()
        attrs.append(IBus.attr_underline_new(IBus.AttrUnderline.SINGLE, 0, len(text)))
        t.set_attributes(attrs)
        # COMMIT: if the application loses focus or resets, it keeps what is shown
        self.engine.update_preedit_text_with_mode(t, cursor, True, IBus.PreeditFocusMode.COMMIT)

    def hide_preedit(self) -> None:
        self.engine.update_preedit_text_with_mode(_text(""), 0, False, IBus.PreeditFocusMode.CLEAR)

    def show_candidates(self, texts: list[str], cursor: int, page_size: int) -> None:
        """One or more pages of candidates; ``cursor`` < 0: nothing highlighted (predicted next words)."""
        table = IBus.LookupTable.new(page_size, max(0, cursor), cursor >= 0, False)
        table.set_orientation(self.orientation)
        for i in range(page_size):
            table.set_label(i, _text(str(i + 1)))
        for t in texts:
            table.append_candidate(_text(t))
        table.set_cursor_pos(max(0, cursor))
        self.engine.update_lookup_table(table, True)

    def hide_candidates(self) -> None:
        self.engine.hide_lookup_table()

    def modes_changed(self, chinese: bool, fullwidth: bool) -> None:
        self._relabel(self.mode, *MODE_LABELS[chinese])
        self._relabel(self.punct, *PUNCT_LABELS[fullwidth])

    def script_changed(self, simplified: bool) -> None:
        """The output script changed (the 简/繁 entry, or Settings)."""
        self._relabel(self.script, *SCRIPT_LABELS[simplified])

    def problem(self, text: str) -> None:
        log.warning("%s", text)
        self.mode.set_tooltip(_text(text))
        self.engine.update_property(self.mode)

    def set_orientation(self, orientation: str) -> None:
        self.orientation = ORIENTATIONS.get(orientation, IBus.Orientation.HORIZONTAL)

    def _property(self, key: str, label: str, tooltip: str) -> IBus.Property:
        prop = IBus.Property.new(key, IBus.PropType.NORMAL, _text(label), None, _text(tooltip), True, True,
                                 IBus.PropState.UNCHECKED, None)
        prop.set_symbol(_text(label[:2]))
        return prop

    def _relabel(self, prop: IBus.Property, label: str, tooltip: str) -> None:
        prop.set_label(_text(label))
        prop.set_symbol(_text(label[:2]))
        prop.set_tooltip(_text(tooltip))
        self.engine.update_property(prop)


class ShuruEngine(IBus.Engine):
    """Created by the IBus factory for each input context; ``service`` is set before that."""

    __gtype_name__ = "ShuruEngine"
    service = None  # the running Service (shared engine, settings)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        service = type(self).service
        self.display = IBusDisplay(self, service.settings.orientation, service.settings.script == "simplified")
        self.composer = IBusComposer(self.display, service.defer, service.settings)
        service.attach(self)

    def do_process_key_event(self, keyval: int, keycode: int, state: int) -> bool:
        try:
            return self.composer.process_key(keyval, state)
        except Exception:  # a bug must not eat the user's keys: log, let the application have it
            log.exception("key %#x (state %#x) failed", keyval, state)
            return False

    def do_focus_in(self) -> None:
        self.register_properties(self.display.properties)
        self.display.modes_changed(self.composer.chinese_active, self.composer.fullwidth)
        type(self).service.check_for_changes()
        self._read_surrounding_text()

    def do_enable(self) -> None:
        self._read_surrounding_text()

    def do_focus_out(self) -> None:
        self.composer.reset()

    def do_reset(self) -> None:
        self.composer.reset()
        self._read_surrounding_text()  # what the application sent last; it sends it again when it changes

    def do_set_capabilities(self, caps: int) -> None:
        self.composer.surrounding = bool(caps & IBus.Capabilite.SURROUNDING_TEXT)

    def do_set_content_type(self, purpose: int, hints: int) -> None:
        self.composer.set_private(purpose in PRIVATE_PURPOSES)

    def do_set_surrounding_text(self, text: IBus.Text, cursor_pos: int, anchor_pos: int) -> None:
        IBus.Engine.do_set_surrounding_text(self, text, cursor_pos, anchor_pos)  # kept for get_surrounding_text
        self.composer.set_surrounding_text(text.get_text(), cursor_pos, anchor_pos)

    def _read_surrounding_text(self) -> None:
        """Take the application's text before the caret, as it sent it last; asking for it makes the
        client send it from now on, whenever it changes (``do_set_surrounding_text``)."""
        if self.composer.private:
            return
        text, cursor_pos, anchor_pos = self.get_surrounding_text()
        self.composer.set_surrounding_text(text.get_text(), cursor_pos, anchor_pos)

    def do_disable(self) -> None:
        self.composer.reset()

    def do_page_up(self) -> None:
        self.composer.send(PageUp())

    def do_page_down(self) -> None:
        self.composer.send(PageDown())

    def do_cursor_up(self) -> None:
        self.composer.send(MoveHighlight(-1))

    def do_cursor_down(self) -> None:
        self.composer.send(MoveHighlight(1))

    def do_candidate_clicked(self, index: int, button: int, state: int) -> None:
        self.composer.send(SelectOnPage(index))  # the panel counts on the page shown

    def do_property_activate(self, name: str, state: int) -> None:
        if name in PROPERTY_TOGGLES:
            self.composer.toggle(PROPERTY_TOGGLES[name])
        elif name == "script":
            type(self).service.toggle_script()
        elif name == "settings":
            type(self).service.open_settings()

    def do_destroy(self) -> None:
        type(self).service.detach(self)
        IBus.Engine.do_destroy(self)
