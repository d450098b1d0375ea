"""``emit(signal, *args)``: emit a Qt signal from Python without PySide6 6.12.0's refcount bug.

In PySide6 6.12.0 ``SignalInstance.emit`` returns ``True`` without taking a reference, so
every emit from Python code drops one reference to ``True``; after a few hundred emits
CPython (3.11) aborts with "bool_dealloc: deallocating True or False". Every signal this
app emits from Python goes through :func:`emit`, which gives the reference back when the
bug is present (detected once at import, so fixed PySide6 versions pay nothing). Signals
emitted by Qt itself (clicked, triggered...) are not affected.
"""
from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal


class _Probe(QObject):
    ping = Signal()


def _emit_drops_a_reference() -> bool:
    probe = _Probe()
    before = sys.getrefcount(True)
    probe.ping.emit()  # result discarded on purpose
    leaked = sys.getrefcount(True) < before
    if leaked:
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))
    return leaked


_LEAKS = _emit_drops_a_reference()
_incref = ctypes.pythonapi.Py_IncRef
_true = ctypes.py_object(True)


def emit(signal, *args) -> None:
    """``signal.emit(*args)``, repairing ``True``'s reference count where PySide6 drops one."""
    signal.emit(*args)
    if _LEAKS:
        _incref(_true)
