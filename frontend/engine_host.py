"""One engine process's shared state: the Engine (loaded once, in the background), the settings, the input contexts.

Every synchronous front end (the IBus engine, the fcitx5 server) runs one :class:`EngineHost`:
it loads the engine with the user's settings, hands it to each input context's
:class:`~frontend.composer.Composer` as soon as there is one, and follows the settings file, the quick
phrases and the personal model (:meth:`EngineHost.check_for_changes`). How the front end notices a
changed file (a GLib file monitor, a poll) and what it shows besides the composer stay with it.

An input context is any object with a ``composer`` attribute; ``defer(fn)`` runs ``fn`` on the
host's thread (it is also how the loader delivers the engine, from its own thread).
"""
from __future__ import annotations

import logging
import time
from typing import Callable

from .config import PHRASES_FILE, Settings, SettingsStore, engine_overrides, phrases_path, toggled_script
from .loader import EngineLoader, model_stamp

log = logging.getLogger(__name__)


class EngineHost:
    """The Engine, the settings and the input contexts of one engine process; see the module docstring."""

    def __init__(self, options=None, defer: Callable[[Callable[[], None]], None] | None = None,
                 started_at: float | None = None, loader: EngineLoader | None = None):
        self.options = options
        self.started_at = started_at or time.perf_counter()
        self.store = SettingsStore()
        self.settings: Settings = self.store.load()
        self.engine = None  # the loaded Engine
        self.load_error = ""
        self.contexts: set = set()  # objects with a ``composer``
        self.defer = defer
        self._loader = loader or EngineLoader(options, defer)
        self._model_stamp = model_stamp(options)
        self._reloading = False
        self._phrases_stamp = _mtime(phrases_path())  # the engine loads the phrases as they are now

    @property
    def state(self) -> str:
        """``loading``, ``ready`` or ``failed``."""
        return "ready" if self.engine is not None else "failed" if self.load_error else "loading"

    def start_loading(self) -> None:
        """Load the engine in the background (first: it takes longest)."""
        self._loader.start(engine_overrides(self.settings), self._loaded)

    def close(self) -> None:
        """The process ends: the user data complete on disk (user.db's write-ahead log folded in)."""
        if self.engine is not None:
            self.engine.close()

    def _loaded(self, engine, error: str, seconds: float) -> None:
        if engine is None:
            self.load_error = error
            for c in list(self.contexts):
                c.composer.engine_failed(error)
            self.state_changed()
            return
        log.info("engine loaded in %.2f s (%.2f s after start): %s", seconds, time.perf_counter() - self.started_at,
                 engine.status)
        self.engine = engine
        for c in list(self.contexts):
            c.composer.engine_ready(engine)
        self.state_changed()

    def state_changed(self) -> None:
        """The engine loaded or failed (a front end that tells its clients overrides this)."""

    # Input contexts ---------------------------------------------------------------------

    def attach(self, context) -> None:
        """A new input context: it gets the shared Engine as soon as there is one."""
        self.contexts.add(context)
        if self.engine is not None:
            context.composer.engine_ready(self.engine)
        elif self.load_error:
            context.composer.engine_failed(self.load_error)

    def detach(self, context) -> None:
        self.contexts.discard(context)

    # Settings and the personal model ----------------------------------------------------

    def watched_names(self) -> tuple[str, ...]:
        """The file names in the config folder whose change :meth:`check_for_changes` follows."""
        return (self.store.path.name, PHRASES_FILE)

    def check_for_changes(self) -> None:
        """Apply changed settings, and reload when the personal model changed (on focus in, on save)."""
        new = self.store.load()
        old, self.settings = self.settings, new
        if old != new:
            self.apply_settings(old, new)
        self._check_phrases()
        stamp = model_stamp(self.options)
        if stamp != self._model_stamp and self.engine is not None and not self._reloading:
            self._model_stamp = stamp
            self._reload()

    def _check_phrases(self) -> None:
        """Read the quick phrases again when their file changed (the Settings dialog saved them)."""
        stamp = _mtime(phrases_path())
        if stamp == self._phrases_stamp:
            return
        self._phrases_stamp = stamp
        if self.engine is not None:
            self.engine.configure(phrases_path=phrases_path())
            for c in list(self.contexts):
                c.composer.engine_ready(self.engine)

    def apply_settings(self, old: Settings, new: Settings) -> None:
        log.info("settings changed")
        overrides = engine_overrides(new)
        if self.engine is not None and overrides != engine_overrides(old):
            self.engine.configure(**overrides)
            for c in list(self.contexts):
                c.composer.engine_ready(self.engine)  # new sessions decode with the new options
        for c in list(self.contexts):
            self.show_settings(c, new)
            c.composer.apply_settings(old, new)

    def show_settings(self, context, settings: Settings) -> None:
        """What a front end shows of the settings besides the composer (IBus: orientation, script)."""

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
        self.apply_settings(old, self.settings)


def _mtime(path) -> float | None:
    """A file's modification time, None when it is missing."""
    try:
        return path.stat().st_mtime
    except OSError:
        return None
