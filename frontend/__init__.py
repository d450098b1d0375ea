"""What every Shuru front end shares, free of any toolkit (no Qt, no GObject).

The window (:mod:`ime_app`), the IBus engine (:mod:`shuru_ibus`), the fcitx5 server (:mod:`shuru_fcitx5`)
and any later front end are thin adapters over these parts:

* :mod:`.keytable`: which key does what (:class:`~frontend.keytable.Key` -> a route);
* :mod:`.keysyms`: X11 keysyms and modifier bits (IBus's and fcitx5's) -> Keys;
* :mod:`.actions`: the typed actions a key, a click or a menu asks of the engine;
* :mod:`.controller`: the input controller (mode, punctuation width, predictions, typing order);
* :mod:`.composer`: an input context whose session runs on the caller's thread (IBus, fcitx5);
* :mod:`.engine_host`: one engine process's shared Engine, settings and input contexts (IBus, fcitx5);
* :mod:`.session_runner`: the actions applied to an engine Session, and their outcome;
* :mod:`.punctuation`: full-width punctuation; :mod:`.config`: the user's settings;
* :mod:`.loader`: loading the engine with a fallback message, and when to reload it.

``frontend`` imports ``engine``; it never imports ``ime_app``, ``shuru_ibus``, ``shuru_fcitx5`` or ``tools``.
"""
from importlib import metadata


def _version() -> str:
    try:
        return metadata.version("shuru")
    except metadata.PackageNotFoundError:
        return "0.4.9"


__version__ = _version()
