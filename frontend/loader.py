"""Loading the Engine with the user's settings, falling back to a clear message (every front end).

:func:`load_engine` never raises: an engine that cannot load becomes a message for the user,
and the front end goes on in English. :class:`EngineLoader` loads on a thread of its own and
hands the result to ``deliver`` (GLib's idle queue in the IBus engine, so it arrives on the main
thread); the window loads on its worker thread. :func:`model_stamp` tells when the personal model
changed (Tools → Personalise… or Models… in the window), so the engine reloads with it.
:func:`engine_options` reads the engine options every front end's command line takes.
"""
from __future__ import annotations

import argparse
import logging
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)

INTERNAL_LOAD_ERROR = ("Shuru's engine could not start because of an internal error (details in the IBus log). "
                       "Chinese input is unavailable; English typing still works.")
WINDOW_LOAD_ERROR = ("The engine could not start because of an internal error; the details are in the log "
                     "on the terminal that started Shuru. Chinese input is unavailable; typing in English still "
                     "works. Reinstalling Shuru may help; otherwise please report the problem with the log.")
MODEL_FILES = ("manifest.json", "model.onnx", "user_lm.npz")  # what fine-tuning writes


def resolved_options(options, overrides: dict):
    """``options`` (None: the defaults) with the fields from the user's settings."""
    from engine import EngineOptions

    return replace(options or EngineOptions(), **overrides)


def load_engine(options, overrides: dict, internal_error: str = INTERNAL_LOAD_ERROR):
    """``(Engine, "")``, or ``(None, message)`` when it cannot load (the message says why and what to do;
    ``internal_error`` for an engine bug)."""
    from engine import Engine
    from engine.errors import ShuruError

    try:
        return Engine.load(resolved_options(options, overrides)), ""
    except ShuruError as e:
        log.error("engine failed to load: %s", e)
        return None, str(e)
    except Exception:  # an engine bug must not take the front end down
        log.exception("engine failed to load")
        return None, internal_error


def add_engine_arguments(p) -> None:
    """The engine options every front end's command line takes (read back by :func:`engine_options`)."""
    p.add_argument("--assets", type=Path, help="assets folder (lexicon.npz, ngram.npz, model/)")
    p.add_argument("--model", type=Path, help="neural model folder (default: personal model, else assets/model)")
    p.add_argument("--no-neural", action="store_true", help="use the statistical scorers only")
    p.add_argument("--history", type=Path, help="learned-words database, user.db (default: user data dir)")


def engine_argv(args: argparse.Namespace) -> list[str]:
    """The engine options of ``args`` as command-line arguments (paths made absolute), for a registered command."""
    out = []
    for flag, value in (("--assets", args.assets), ("--model", args.model), ("--history", args.history)):
        if value is not None:
            out += [flag, str(Path(value).absolute())]
    if args.no_neural:
        out.append("--no-neural")
    return out


def engine_options(args):
    """EngineOptions from a command line's ``--assets``, ``--model``, ``--no-neural``, ``--history``, or None
    for the defaults (the engine, numpy and onnxruntime are imported only when there are options)."""
    if not (args.assets or args.model or args.no_neural or args.history):
        return None
    from engine import EngineOptions

    changes = {}
    if args.assets:
        changes["assets_dir"] = args.assets
    if args.model:
        changes["model_dir"] = args.model
    if args.no_neural:
        changes["use_neural"] = False
    if args.history:
        changes["history_path"] = args.history
    return EngineOptions(**changes)


def model_stamp(options=None) -> tuple:
    """Which personal model is in use and the modification times of its files (None: missing),
    so that choosing another model or fine-tuning again reloads the engine; and the n-gram merged
    with libime's model, so that the engine takes it up once the background merge made it."""
    return _personal_stamp(options) + _merged_stamp(options)


def _merged_stamp(options) -> tuple:
    from engine.core import libime

    if (options is not None and options.libime == "off") or libime.find_lm() is None:
        return ()
    path = (getattr(options, "cache_dir", None) or libime.default_cache_dir()) / libime.MERGED_NAME
    try:
        return (path.stat().st_mtime_ns,)
    except OSError:
        return (None,)


def _personal_stamp(options) -> tuple:
    from engine.models import ACTIVE_FILE, ModelRegistry

    if options is not None and (options.model_dir is not None or not options.personal):
        return ()  # an explicit model (or none): nothing personal to follow
    registry = ModelRegistry(getattr(options, "models_dir", None))
    folder = registry.active_path()
    stamps = [str(folder)]
    for path in [registry.root / ACTIVE_FILE] + [folder / name for name in MODEL_FILES]:
        try:
            stamps.append(path.stat().st_mtime_ns)
        except OSError:
            stamps.append(None)
    return tuple(stamps)


class EngineLoader:
    """Loads an Engine on a background thread; ``deliver(fn)`` must run ``fn`` on the main thread."""

    def __init__(self, options, deliver: Callable[[Callable[[], None]], None]):
        self.options = options
        self._deliver = deliver

    def start(self, overrides: dict, done: Callable[[object, str, float], None]) -> threading.Thread:
        """Load with ``overrides``; ``done(engine or None, error, seconds)`` then runs on the main thread."""
        def run() -> None:
            t0 = time.perf_counter()
            engine, error = load_engine(self.options, overrides)
            seconds = time.perf_counter() - t0
            self._deliver(lambda: done(engine, error, seconds))

        thread = threading.Thread(target=run, name="shuru-engine-load", daemon=True)  # daemon: quit while loading
        thread.start()
        return thread
