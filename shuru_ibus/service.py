"""The engine process: connects to ibus-daemon, serves the factory, loads the engine, follows settings.

``python -m shuru_ibus --ibus`` (ibus-daemon starts it from ``shuru.xml``) claims the
component's bus name; without ``--ibus`` it registers the component itself (handy from a
terminal). The Engine loads on a background thread while the bus is set up; keys typed
before it is ready are queued by each composer. The process quits when the bus goes away.
"""
from __future__ import annotations

import logging
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import gi

gi.require_version("IBus", "1.0")
from gi.repository import Gio, GLib, GObject, IBus  # noqa: E402

from frontend.config import Settings, config_dir  # noqa: E402
from frontend.engine_host import EngineHost  # noqa: E402

from .component import COMPONENT_NAME, ENGINE_NAME, engine_command, render_component, settings_command  # noqa: E402
from .engine import ShuruEngine  # noqa: E402

log = logging.getLogger(__name__)

SETTINGS_DEBOUNCE_MS = 200  # a save is a write and a rename: look once they are done


def defer(fn) -> None:
    """Run ``fn`` once, on the main loop, after the events already queued (thread-safe)."""
    def once() -> bool:
        fn()
        return False

    GLib.idle_add(once)


class Service(EngineHost):
    """The shared state of all Shuru engines in this process (:class:`~frontend.engine_host.EngineHost`) on IBus."""

    def __init__(self, options=None, started_at: float | None = None):
        super().__init__(options, defer, started_at)
        self.engines: set[ShuruEngine] = self.contexts  # the input contexts are IBus engines
        self._settings_children: list[subprocess.Popen] = []
        self._check_scheduled = False

    # Start-up ---------------------------------------------------------------------------

    def run(self, exec_by_ibus: bool) -> int:
        """Serve until the bus disconnects; the exit code."""
        self.start_loading()  # first: it takes longest
        IBus.init()
        bus = IBus.Bus()
        if not bus.is_connected():
            log.error("cannot connect to ibus-daemon (is IBus running? `ibus-daemon -drx` starts it)")
            return 1
        loop = GLib.MainLoop()
        bus.connect("disconnected", lambda *_: (log.info("ibus-daemon went away; quitting"), loop.quit()))
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):  # ibus-daemon ends its engines with SIGTERM
            GLib.unix_signal_add(GLib.PRIORITY_HIGH, signum, _quit_on_signal, loop, signum)
        ShuruEngine.service = self
        self.factory = IBus.Factory.new(bus.get_connection())
        self.factory.add_engine(ENGINE_NAME, GObject.type_name(ShuruEngine))
        if exec_by_ibus:
            bus.request_name(COMPONENT_NAME, 0)
        else:
            bus.register_component(_component())
        self._watch_settings()
        log.info("serving %s on the IBus bus (%.2f s after start)", ENGINE_NAME, time.perf_counter() - self.started_at)
        loop.run()
        self.close()
        return 0

    # Settings and the personal model ----------------------------------------------------

    def _watch_settings(self) -> None:
        folder = config_dir()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._monitor = Gio.File.new_for_path(str(folder)).monitor_directory(Gio.FileMonitorFlags.NONE, None)
            self._monitor.connect("changed", self._settings_file_changed)
        except (OSError, GLib.Error) as e:  # settings then apply at the next focus change
            log.warning("not watching %s for settings changes: %s", folder, e)

    def _settings_file_changed(self, monitor, file, other, event) -> None:
        if file.get_basename() in self.watched_names() and not self._check_scheduled:
            self._check_scheduled = True
            GLib.timeout_add(SETTINGS_DEBOUNCE_MS, self.check_for_changes)

    def check_for_changes(self) -> bool:
        """Apply changed settings, and reload when the personal model changed (on focus in, on save)."""
        self._check_scheduled = False
        self._reap_settings_windows()
        super().check_for_changes()
        return False  # as a GLib timeout: once

    def show_settings(self, engine: ShuruEngine, settings: Settings) -> None:
        engine.display.set_orientation(settings.orientation)
        engine.display.script_changed(settings.script == "simplified")

    def open_settings(self) -> None:
        """Open Shuru's settings (a Qt process of its own: this one never loads Qt)."""
        try:
            self._settings_children.append(subprocess.Popen(settings_command(), start_new_session=True,
                                                            stdin=subprocess.DEVNULL))
        except OSError as e:
            log.warning("cannot open Shuru's settings: %s", e)

    def _reap_settings_windows(self) -> None:
        self._settings_children = [p for p in self._settings_children if p.poll() is None]


def _component() -> IBus.Component:
    """This process's component, for registering it without ibus-daemon's registry."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "shuru.xml"
        path.write_text(render_component(engine_command(), setup_argv=settings_command()), encoding="utf-8")
        return IBus.Component.new_from_file(str(path))


def serve(options=None, exec_by_ibus: bool = True, started_at: float | None = None) -> int:
    """Run the engine process; returns its exit code."""
    return Service(options, started_at).run(exec_by_ibus)


def _quit_on_signal(loop, signum) -> bool:
    """End the main loop (the user data is then closed cleanly); GLib's signal source stays."""
    log.info("signal %d; quitting", signum)
    loop.quit()
    return True
