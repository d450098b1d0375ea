"""Shuru as an IBus engine (``ibus-engine-shuru``): Chinese input in every application.

A front end beside the window, on the same toolkit-free parts: the key table
(:mod:`ime_app.keytable`), the punctuation rules, and one engine Session per input context
driven by a :class:`~ime_app.session_runner.SessionRunner`. It never loads Qt.

* :mod:`.keys` translates IBus keyvals to the key table's names (no ``gi``);
* :mod:`.composer` is the engine logic without IBus (tests drive it with a fake display);
* :mod:`.engine` and :mod:`.service` are the ``gi`` half: the ``IBus.Engine`` subclass, the
  factory, the background load, the settings watch;
* :mod:`.component` renders ``shuru.xml`` for ibus-daemon;
* :mod:`.private_bus` and :mod:`.bench` run a private ibus-daemon (benchmark, tests).

Run ``python -m ime_app.ibus --help`` for the command line.
"""
