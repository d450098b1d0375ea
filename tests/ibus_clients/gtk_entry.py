"""A GTK 3 application with one Gtk.Entry, typed into through IBus by the end-to-end test.

It prints one JSON line when it has the keyboard focus (``{"ready": ...}``) and one whenever
its text or its preedit changes (``{"text": ..., "preedit": ...}``). The entry starts with the
text in ``SHURU_E2E_TEXT`` (if set), the cursor at its end.
"""
import json
import os
import sys

import gi

gi.require_version("Gtk", "3.0")
from gi.repository import GLib, Gtk  # noqa: E402

state = {"text": "", "preedit": ""}


def report(**changes) -> None:
    state.update(changes)
    print(json.dumps(state, ensure_ascii=False), flush=True)


def main() -> int:
    Gtk.Settings.get_default().props.gtk_entry_select_on_focus = False  # else typing would replace the text
    window = Gtk.Window(title="shuru-e2e-gtk")
    entry = Gtk.Entry()
    window.add(entry)
    window.connect("destroy", Gtk.main_quit)
    entry.connect("changed", lambda e: report(text=e.get_text()))
    entry.connect("preedit-changed", lambda e, preedit: report(preedit=preedit))
    entry.set_text(os.environ.get("SHURU_E2E_TEXT", ""))
    entry.set_position(-1)
    window.show_all()

    def focus() -> bool:
        """Until the entry has the keyboard focus (no window manager gives it): then say so, once."""
        window.present()
        entry.grab_focus()
        if window.is_active() and entry.has_focus():
            print(json.dumps({"ready": True}), flush=True)
            return False
        return True

    GLib.timeout_add(100, focus)
    Gtk.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
