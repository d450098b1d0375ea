"""``shuru --export-user-data FILE`` / ``--import-user-data FILE``: the backup, without a window.

The same engine calls as File → Export / Import User Data… (engine.backup), with the settings
file beside them; no display is needed (a backup over SSH, or before the first start).
"""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from frontend.config import SettingsStore, phrases_path


def _engine(options):
    """The user's engine without the neural model (a backup needs only the user data)."""
    from engine import Engine, EngineOptions

    return Engine.load(replace(options or EngineOptions(), use_neural=False, phrases_path=phrases_path()))


def export_to(path: Path, options=None, store: SettingsStore | None = None) -> int:
    """Write the backup; the exit code (a reason on stderr when it failed)."""
    from engine.errors import ShuruError

    store = store or SettingsStore()
    engine = _engine(options)
    try:
        contents = engine.export_user_data(path, store.file_contents())["contents"]
    except ShuruError as e:
        print(f"shuru: not exported: {e}", file=sys.stderr)
        return 1
    finally:
        engine.close()
    print(f"exported {contents['learned_words']} learned words, {contents['dictionary_words']} dictionary words "
          f"and {', '.join(contents['files'])} to {path}")
    return 0


def import_from(path: Path, options=None, store: SettingsStore | None = None) -> int:
    """Add the backup's data and restore its settings; the exit code."""
    from engine.errors import ShuruError

    store = store or SettingsStore()
    engine = _engine(options)
    try:
        summary = engine.import_user_data(path)
    except ShuruError as e:
        print(f"shuru: not imported (nothing was changed): {e}", file=sys.stderr)
        return 1
    finally:
        engine.close()
    problem = store.restore(summary.files)
    note = f"; {problem}" if problem else ""
    print(f"imported {path}: {summary.describe()}{note}")
    return 0
