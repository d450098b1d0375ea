"""sha1 and blake2b for the engine's file checks and token hashes, without OpenSSL.

``hashlib`` loads OpenSSL's libcrypto for its constructors when it is imported, 3.7 MB of the
engine's resident memory for two digests. CPython's own implementations (``_sha1``,
``_blake2``, which hashlib itself falls back to) give the same digests; a Python built without
them gets hashlib's.
"""
from __future__ import annotations

try:
    from _blake2 import blake2b
    from _sha1 import sha1
except ImportError:  # pragma: no cover - a Python built with OpenSSL's hashes only
    from hashlib import blake2b, sha1

__all__ = ["blake2b", "sha1"]
