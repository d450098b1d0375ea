"""The lexicon: words with their pinyin readings and prior frequencies.

Loaded from ``assets/lexicon.npz`` (written by ``python -m engine.build lexicon``;
layout in assets/FORMATS.md). Every word is a *token* (an id shared with the n-gram
model); a token may have several *entries*, one per reading (行 xing / hang).

Two sorted indexes find entries from syllables: by full syllables (9 bits per
syllable, 7 syllables in an int64) and by initial groups (5 bits each), so that
``bjdx`` finds 北京大学 without enumerating every syllable b-j-d-x could stand for.
"""
from __future__ import annotations

import hashlib
import json
import logging
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import AssetError, FormatVersionError, asset_problem

log = logging.getLogger(__name__)

FORMAT = "shuru-lexicon"
FORMAT_VERSION = 1
MAX_WORD_SYLLABLES = 7
SYLLABLE_BITS = 9
INITIAL_BITS = 5
UNK, BOS, EOS = 0, 1, 2


def pack_syllables(syl: np.ndarray) -> np.ndarray:
    """(N, 7) syllable ids (-1 = none) -> int64 keys sorted like their prefixes."""
    return _pack(syl, SYLLABLE_BITS)


def pack_initials(ini: np.ndarray) -> np.ndarray:
    """(N, 7) initial-group ids (-1 = none) -> int64 keys."""
    return _pack(ini, INITIAL_BITS)


def _pack(a: np.ndarray, bits: int) -> np.ndarray:
    a = np.asarray(a, dtype=np.int64) + 1  # 0 means "no syllable here"
    keys = np.zeros(a.shape[0], dtype=np.int64)
    for k in range(MAX_WORD_SYLLABLES):
        keys |= a[:, k] << (bits * (MAX_WORD_SYLLABLES - 1 - k))
    return keys


def key_step(bits: int, depth: int) -> int:
    """Multiplier of the symbol at ``depth`` (0-based) in a packed key."""
    return 1 << (bits * (MAX_WORD_SYLLABLES - 1 - depth))


@dataclass
class _Index:
    keys: np.ndarray  # sorted packed keys
    order: np.ndarray  # entry ids in key order (ties: most frequent first)
    bits: int

    def ranges(self, keys: np.ndarray, depth: np.ndarray):
        """For prefix keys of ``depth`` symbols: exact-match [lo, mid) and whether longer ones exist."""
        span = np.left_shift(1, self.bits * (MAX_WORD_SYLLABLES - depth)).astype(np.int64)
        lo = np.searchsorted(self.keys, keys, "left")
        mid = np.searchsorted(self.keys, keys, "right")
        hi = np.searchsorted(self.keys, keys + span - 1, "right")
        return lo, mid, hi > mid


class Lexicon:
    """Tokens (words and characters), their readings and priors, and the two indexes."""

    def __init__(self, arrays: dict[str, np.ndarray], meta: dict):
        self.meta = meta
        self._blob = arrays["token_blob"].tobytes()
        self._offsets = arrays["token_offsets"]
        self.entry_token = arrays["entry_token"]
        # entry -> its row in the full-syllable index; syllables are read back from the packed
        # key there (saves the 3.4 MB `entry_syllables` table at run time)
        self._full_row = np.empty(len(self.entry_token), dtype=np.int32)
        self._full_row[arrays["full_order"]] = np.arange(len(self.entry_token), dtype=np.int32)
        self.entry_length = arrays["entry_length"]
        self.entry_logp = arrays["entry_logp"].astype(np.float16)  # priors need no more precision
        self.full = _Index(arrays["full_keys"], arrays["full_order"], 9)
        self.initials = _Index(arrays["initial_keys"], arrays["initial_order"], 5)
        self.n_tokens = int(meta["tokens"])
        self.n_chars = int(meta["chars"])
        # Sorted 64-bit hashes of token texts -> token ids (precomputed by the build).
        # (kept as their top 32 bits: half the memory; token_id checks the text on every hit)
        keys = arrays.get("token_hash_keys")
        self._hash_keys: np.ndarray | None = None if keys is None else (keys >> 32).astype(np.int32)
        self._hash_ids: np.ndarray | None = arrays.get("token_hash_ids")
        self.entry_reading_logp = _reading_logp(self.entry_token, arrays["entry_logp"]).astype(np.float16)
        flags = arrays.get("token_flags")
        self.token_uncommon = (flags & 1).astype(bool) if flags is not None else np.zeros(self.n_tokens, bool)

    def entry_syllables(self, entries: np.ndarray, depth: int) -> np.ndarray:
        """(N, depth) syllable ids of the first ``depth`` syllables of each entry (-1 = none)."""
        keys = self.full.keys[self._full_row[entries]]
        shifts = SYLLABLE_BITS * (MAX_WORD_SYLLABLES - 1 - np.arange(depth))
        return ((keys[:, None] >> shifts) & ((1 << SYLLABLE_BITS) - 1)) - 1

    @classmethod
    def load(cls, path: Path) -> "Lexicon":
        """Load and check a compiled lexicon; raises :class:`AssetError` with a clear message."""
        what = "lexicon"
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files if k != "entry_syllables"}
        except FileNotFoundError:
            log.warning("lexicon not found at %s (developers: `python -m engine.build lexicon`)", path)
            raise AssetError(asset_problem(what, path, "is missing")) from None
        except (OSError, ValueError, zipfile.BadZipFile, EOFError, zlib.error) as e:
            log.warning("lexicon %s unreadable: %s: %s", path, type(e).__name__, e)
            raise AssetError(asset_problem(what, path, "is damaged or unreadable")) from None
        try:
            meta = json.loads(str(arrays["meta"]))
        except (KeyError, ValueError) as e:
            log.warning("lexicon %s has no readable manifest: %s: %s", path, type(e).__name__, e)
            raise AssetError(asset_problem(what, path, "is damaged: its manifest is missing")) from None
        if meta.get("format") != FORMAT:
            log.warning("%s has format %r, not %r", path, meta.get("format"), FORMAT)
            raise AssetError(asset_problem(what, path, "is not a Shuru lexicon"))
        if meta.get("version") != FORMAT_VERSION:
            raise FormatVersionError(asset_problem(
                what, path, f"is from another version of Shuru: format version {meta.get('version')}, "
                            f"this Shuru reads version {FORMAT_VERSION}"))
        return cls(arrays, meta)

    def token_hash(self) -> str:
        """Fingerprint of the token list (an n-gram model must be built for the same one)."""
        return hashlib.sha1(self._blob + self._offsets.tobytes()).hexdigest()[:16]

    def text(self, token: int) -> str:
        """The characters of a token."""
        return self._blob[self._offsets[token]: self._offsets[token + 1]].decode("utf-8")

    def token_id(self, text: str) -> int | None:
        """Token id of a word or character, or None.

        A sorted table of text hashes (the top 32 bits of blake2b-64; built on first use if
        the file lacks it) instead of a dict of 235k strings: ~2 MB instead of ~40 MB of RSS."""
        if self._hash_keys is None:
            keys, self._hash_ids = token_hash_table(self._blob, self._offsets)
            self._hash_keys = (keys >> 32).astype(np.int32)
        h = np.int32(text_hash(text.encode("utf-8")) >> 32)  # same dtype: no array conversion
        i = int(np.searchsorted(self._hash_keys, h))
        while i < len(self._hash_keys) and self._hash_keys[i] == h:
            tid = int(self._hash_ids[i])
            if self.text(tid) == text:
                return tid
            i += 1
        return None


def token_hash_table(blob: bytes, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted hashes, token ids) for :meth:`Lexicon.token_id`."""
    hashes = np.fromiter((text_hash(blob[a:b]) for a, b in zip(offsets[:-1], offsets[1:])),
                         dtype=np.int64, count=len(offsets) - 1)
    ids = np.argsort(hashes, kind="stable").astype(np.int32)
    return hashes[ids], ids


def text_hash(data: bytes) -> int:
    """A stable signed 64-bit hash of UTF-8 bytes."""
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little", signed=True)


def _reading_logp(token: np.ndarray, logp: np.ndarray) -> np.ndarray:
    """log P(reading | token) of each entry: its prior relative to all readings of its token."""
    order = np.argsort(token, kind="stable")
    t, lp = token[order], logp[order].astype(np.float64)
    starts = np.flatnonzero(np.r_[True, t[1:] != t[:-1]])
    peak = np.maximum.reduceat(lp, starts)
    gid = np.cumsum(np.r_[False, t[1:] != t[:-1]])
    total = np.log(np.add.reduceat(np.exp(lp - peak[gid]), starts)) + peak
    out = np.empty(len(token), dtype=np.float32)
    out[order] = lp - total[gid]
    return out
