"""A guard against PySide6 6.12.0's reference-count bug on CPython 3.11.

PySide6 6.12.0 returns ``None`` (from every ``void`` Qt method), ``True`` (from
``Signal.emit``) and ``False`` without taking a reference: correct on CPython 3.12+, where
these singletons are immortal, but on 3.11 each call drops one reference, and after a few
thousand calls the interpreter aborts ("none_dealloc: deallocating None"). The fix is a
PySide6 that does not have the bug (``PySide6-Essentials<6.12`` on Python < 3.12, as the
project's requirements say); this guard keeps a window opened with the broken version
alive by making the three singletons effectively immortal, as CPython 3.12 does. It does
nothing on 3.12+ or when the bug is absent.
"""
from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)

HEADROOM = 1 << 40  # references added to each singleton: far more than any run can drop
PROBE_CALLS = 32


def _drops_none_references() -> bool:
    from PySide6.QtCore import QObject

    obj = QObject()
    before = sys.getrefcount(None)
    for _ in range(PROBE_CALLS):
        obj.setObjectName("probe")  # a void method: returns None
    return sys.getrefcount(None) <= before - PROBE_CALLS // 2


def protect_singletons() -> bool:
    """Apply the guard if this PySide6 drops references; returns whether it was applied."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    if not _drops_none_references():
        return False
    for singleton in (None, True, False):
        ctypes.c_ssize_t.from_address(id(singleton)).value += HEADROOM
    import PySide6

    log.warning("PySide6 %s drops references to None/True/False on Python %d.%d; guarded. "
                "Install PySide6-Essentials<6.12 (./dev.sh setup) for a clean fix.",
                PySide6.__version__, *sys.version_info[:2])
    return True
