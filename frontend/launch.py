"""How a front end starts Shuru's other processes: the settings window, from a checkout or frozen.

The IBus engine (its property menu and its component's ``<setup>``) and the fcitx5 engine
process (fcitx5's configuration entry) open the same settings window with :func:`settings_command`.
"""
from __future__ import annotations

import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
APP_EXECUTABLE = "shuru"  # the window, next to the frozen front ends' executables


def frozen() -> bool:
    """Whether this is the frozen app (PyInstaller), not a checkout or a pip install."""
    return bool(getattr(sys, "frozen", False))


def settings_command(python: str | None = None, checkout: Path = CHECKOUT) -> list[str]:
    """argv that opens Shuru's settings window.

    Frozen: the window executable beside this one's (``/opt/shuru/shuru --settings``)."""
    if frozen() and python is None:
        return [str(Path(sys.executable).absolute().parent / APP_EXECUTABLE), "--settings"]
    python = python or str(Path(sys.executable).absolute())
    return ["/usr/bin/env", f"PYTHONPATH={Path(checkout).absolute()}", python, "-m", "ime_app", "--settings"]
