"""Shuru as an IBus engine (``ibus-engine-shuru``): Chinese input in every application.

A front end beside the window, a thin adapter over the toolkit-free front-end core
(:mod:`frontend`): one :class:`~frontend.composer.Composer` per input context (the shared input
controller over its own engine Session). It never loads Qt.

* :mod:`.keys` translates IBus keyvals to the key table's keys (no ``gi``);
* :mod:`.composer` feeds them to the Composer (tests drive it with a fake display);
* :mod:`.engine` and :mod:`.service` are the ``gi`` half: the ``IBus.Engine`` subclass, the
  factory, the background load, the settings watch;
* :mod:`.component` renders ``shuru.xml`` for ibus-daemon;
* :mod:`.private_bus` and :mod:`.bench` run a private ibus-daemon (benchmark, tests).

Run ``python -m shuru_ibus --help`` for the command line.
"""
