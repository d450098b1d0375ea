"""Freed heap memory handed back to the system.

A keystroke's search allocates and frees many buffers among objects that live on (the states
of earlier letters). glibc keeps the freed pages between them resident, so the resident set
of a process that decodes long inputs climbs by tens of MB while the memory in use does not
(docs/TUNING.md#freed-heap-memory-between-keystrokes). :func:`release_free_heap` asks glibc to
return them (``malloc_trim``, 0.3-0.7 ms). A session does so once the resident set has grown by
:data:`GROWTH_BYTES` since the last time: after a key, and when its idle work is done. Not after
every key: the next key would fault the pages it reuses back in (+0.5 ms a key). With another C
library it does nothing.
"""
from __future__ import annotations

import ctypes
import os
import sys

GROWTH_BYTES = 8 << 20  # growth of the resident set since the last release that makes a key release


def _libc_function(name: str, restype, argtypes):
    """``name`` from the process's own C library (glibc), or None where it has none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):  # not glibc (musl has neither function)
        return None
    fn.restype, fn.argtypes = restype, argtypes
    return fn


_TRIM = _libc_function("malloc_trim", ctypes.c_int, [ctypes.c_size_t])
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_rss_at_release = 0


def resident_bytes() -> int:
    """This process's resident set (Linux's /proc/self/statm), 0 where it cannot be read."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


def release_free_heap() -> bool:
    """Return the heap's free pages to the system; False where the C library cannot."""
    global _rss_at_release
    if _TRIM is None:
        return False
    _TRIM(0)
    _rss_at_release = resident_bytes()
    return True


def release_if_grown() -> bool:
    """:func:`release_free_heap` if the resident set has grown by GROWTH_BYTES since the last release."""
    if _TRIM is None or resident_bytes() - _rss_at_release < GROWTH_BYTES:
        return False
    return release_free_heap()
