"""What every Shuru front end shares, free of any toolkit (no Qt, no GObject).

The window (:mod:`ime_app`), the IBus engine (:mod:`shuru_ibus`) and any later front end are thin
adapters over these parts:

* :mod:`.keytable`: which key does what (:class:`~frontend.keytable.Key` -> a route);
* :mod:`.actions`: the typed actions a key, a click or a menu asks of the engine;
* :mod:`.controller`: the input controller (mode, punctuation width, predictions, typing order);
* :mod:`.composer`: an input context whose session runs on the caller's thread (IBus);
* :mod:`.session_runner`: the actions applied to an engine Session, and their outcome;
* :mod:`.punctuation`: full-width punctuation; :mod:`.config`: the user's settings;
* :mod:`.loader`: loading the engine with a fallback message, and when to reload it.

``frontend`` imports ``engine``; it never imports ``ime_app``, ``shuru_ibus`` or ``tools``.
"""
from importlib import metadata


def _version() -> str:
    try:
        return metadata.version("shuru")
    except metadata.PackageNotFoundError:
        return "0.3.8"


__version__ = _version()
