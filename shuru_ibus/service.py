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

from frontend.config import (PHRASES_FILE, Settings, SettingsStore, config_dir, engine_overrides,  # noqa: E402
                             phrases_path, toggled_script)
from frontend.loader import EngineLoader, model_stamp  # noqa: E402

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


class Service:
    """The shared state of all Shuru engines in this process."""

    def __init__(self, options=None, started_at: float | None = None):
        self.options = options
        self.started_at = started_at or time.perf_counter()
        self.store = SettingsStore()
        self.settings: Settings = self.store.load()
        self.engine = None  # the loaded Engine
        self.load_error = ""
        self.engines: set[ShuruEngine] = set()
        self.defer = defer
        self._loader = EngineLoader(options, defer)
        self._model_stamp = model_stamp(options)
        self._reloading = False
        self._settings_children: list[subprocess.Popen] = []
        self._check_scheduled = False
        self._phrases_stamp = _mtime(phrases_path())  # the engine loads the phrases as they are now

    # Start-up ---------------------------------------------------------------------------

    def run(self, exec_by_ibus: bool) -> int:
        """Serve until the bus disconnects; the exit code."""
        self._loader.start(engine_overrides(self.settings), self._loaded)  # first: it takes longest
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
        if self.engine is not None:
            self.engine.close()  # user.db complete on disk (its write-ahead log folded in)
        return 0

    def _loaded(self, engine, error: str, seconds: float) -> None:
        if engine is None:
            self.load_error = error
            for e in list(self.engines):
                e.composer.engine_failed(error)
            return
        log.info("engine loaded in %.2f s (%.2f s after start): %s", seconds, time.perf_counter() - self.started_at,
                 engine.status)
        self.engine = engine
        for e in list(self.engines):
            e.composer.engine_ready(engine)

    # Engines ---------------------------------------------------------------------------

    def attach(self, engine: ShuruEngine) -> None:
        """A new input context's engine: it gets the shared Engine as soon as there is one."""
        self.engines.add(engine)
        if self.engine is not None:
            engine.composer.engine_ready(self.engine)
        elif self.load_error:
            engine.composer.engine_failed(self.load_error)

    def detach(self, engine: ShuruEngine) -> None:
        self.engines.discard(engine)

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
        if file.get_basename() in (self.store.path.name, PHRASES_FILE) and not self._check_scheduled:
            self._check_scheduled = True
            GLib.timeout_add(SETTINGS_DEBOUNCE_MS, self.check_for_changes)

    def check_for_changes(self) -> bool:
        """Apply changed settings, and reload when the personal model changed (on focus in, on save)."""
        self._check_scheduled = False
        self._reap_settings_windows()
        new = self.store.load()
        old, self.settings = self.settings, new
        if old != new:
            self._apply_settings(old, new)
        self._check_phrases()
        stamp = model_stamp(self.options)
        if stamp != self._model_stamp and self.engine is not None and not self._reloading:
            self._model_stamp = stamp
            self._reload()
        return False  # as a GLib timeout: once

    def _check_phrases(self) -> None:
        """Read the quick phrases again when their file changed (the Settings dialog saved them)."""
        stamp = _mtime(phrases_path())
        if stamp == self._phrases_stamp:
            return
        self._phrases_stamp = stamp
        if self.engine is not None:
            self.engine.configure(phrases_path=phrases_path())
            for e in list(self.engines):
                e.composer.engine_ready(self.engine)

    def _apply_settings(self, old: Settings, new: Settings) -> None:
        log.info("settings changed")
        overrides = engine_overrides(new)
        if self.engine is not None and overrides != engine_overrides(old):
            self.engine.configure(**overrides)
            for e in list(self.engines):
                e.composer.engine_ready(self.engine)  # new sessions decode with the new options
        for e in list(self.engines):
            e.display.set_orientation(new.orientation)
            e.display.script_changed(new.script == "simplified")
            e.composer.apply_settings(old, new)

    def _reload(self) -> None:
        log.info("the personal model or the merged n-gram changed: reloading the engine")
        self._reloading = True

        def done(engine, error: str, seconds: float) -> None:
            self._reloading = False
            if engine is None:
                log.warning("reload failed, keeping the engine in use: %s", error)
                return
            self._loaded(engine, "", seconds)

        self._loader.start(engine_overrides(self.settings), done)

    def toggle_script(self) -> None:
        """The 简/繁 menu entry: simplified <-> the traditional script last chosen, saved for the window too."""
        old, self.settings = self.settings, toggled_script(self.settings)
        self.store.save(self.settings)
        self._apply_settings(old, self.settings)

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


def _mtime(path) -> float | None:
    """A file's modification time, None when it is missing."""
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _quit_on_signal(loop, signum) -> bool:
    """End the main loop (the user data is then closed cleanly); GLib's signal source stays."""
    log.info("signal %d; quitting", signum)
    loop.quit()
    return True
