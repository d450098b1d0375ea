"""The lexicon: words with their pinyin readings and prior frequencies.

Loaded from ``assets/lexicon.npz`` (written by ``python -m tools.build lexicon``;
layout in assets/FORMATS.md). Every word is a *token* (an id shared with the n-gram
model); a token may have several *entries*, one per reading (行 xing / hang).
The archive is stored uncompressed and its arrays are memory-mapped: ~1M tokens load in
milliseconds, and only the pages a search touches are read. The text -> token table is read
from the file 2 KB at a time instead (:class:`OnDisk`): its lookups are few and scattered, and a
mapped page brings 64 KB of neighbours into the resident set with it.

Two sorted indexes find entries from syllables: by full syllables (9 bits per
syllable, 7 syllables in an int64) and by initial groups (5 bits each), so that
``bjdx`` finds 北京大学 without enumerating every syllable b-j-d-x could stand for.
"""
from __future__ import annotations

import json
import logging
import os
import zipfile
import zlib
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import AssetError, FormatVersionError, asset_problem
from .digests import blake2b, sha1

log = logging.getLogger(__name__)

FORMAT = "shuru-lexicon"
FORMAT_VERSION = 3  # 3: token text in UTF-16 (2 bytes a Han character, not 3)
TEXT_ENCODING = "utf-16-le"
MAX_WORD_SYLLABLES = 7
SYLLABLE_BITS = 9
INITIAL_BITS = 5
UNK, BOS, EOS = 0, 1, 2
UNCOMMON, OPEN_DOMAIN = 1, 2  # token_flags bits


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
    order: np.ndarray | None  # entry ids in key order (ties: most frequent first); None: the entries' own order
    bits: int

    def entries(self, lo: int, hi: int) -> np.ndarray:
        """Entry ids of index rows [lo, hi)."""
        return np.arange(lo, hi, dtype=np.int32) if self.order is None else np.asarray(self.order[lo:hi])

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
        self._blob = arrays["token_blob"]
        self._offsets = arrays["token_offsets"]
        # entries are stored in full-syllable key order (ties: most frequent first), so the full
        # index is the entries themselves and an entry's syllables are read from its key
        self.entry_token = arrays["entry_token"]
        self.entry_logp = arrays["entry_logp"]
        self.entry_reading_logp = arrays["entry_reading_logp"]
        self.full = _Index(arrays["entry_keys"], None, SYLLABLE_BITS)
        self.initials = _Index(arrays["initial_keys"], arrays["initial_order"], INITIAL_BITS)
        self.n_tokens = int(meta["tokens"])
        self.n_chars = int(meta["chars"])
        # Sorted top 32 bits of blake2b-64 hashes of token texts -> token ids: text -> id without a
        # dict of a million strings (token_id checks the text on every hit); read, not mapped (ON_DISK)
        self._hash_keys = _on_disk(arrays["token_hash_keys"])
        self._hash_ids = _on_disk(arrays["token_hash_ids"])
        self._hash_sample = self._hash_keys.sample(HASH_BLOCK).tolist()  # every HASH_BLOCK-th key
        self._char_ids: dict[str, int | None] = {}  # single characters looked up so far
        self.token_flags = arrays["token_flags"]  # UNCOMMON | OPEN_DOMAIN per token, memory-mapped

    def uncommon(self, tokens):
        """Whether tokens (an id or an array) have a character outside GB2312: a traditional or rare form."""
        return (self.token_flags[tokens] & UNCOMMON) != 0

    def open_domain(self, tokens):
        """Whether tokens (an id or an array) are open-domain words (Wikipedia titles, word lists) the
        corpus counts never segmented: text is never cut into them (user text, context), as the corpus was not."""
        return (self.token_flags[tokens] & OPEN_DOMAIN) != 0

    def entry_syllables(self, entries: np.ndarray, depth: int) -> np.ndarray:
        """(N, depth) syllable ids of the first ``depth`` syllables of each entry (-1 = none)."""
        keys = self.full.keys[entries]
        shifts = SYLLABLE_BITS * (MAX_WORD_SYLLABLES - 1 - np.arange(depth))
        return ((keys[:, None] >> shifts) & ((1 << SYLLABLE_BITS) - 1)) - 1

    @classmethod
    def load(cls, path: Path) -> "Lexicon":
        """Load (memory-map) and check a compiled lexicon; raises :class:`AssetError` with a clear message."""
        what = "lexicon"
        try:
            meta, arrays = read_mapped_npz(path, on_disk=ON_DISK)
        except FileNotFoundError:
            log.warning("lexicon not found at %s (developers: `python -m tools.build lexicon`)", path)
            raise AssetError(asset_problem(what, path, "is missing")) from None
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as e:
            log.warning("lexicon %s unreadable: %s: %s", path, type(e).__name__, e)
            raise AssetError(asset_problem(what, path, "is damaged or unreadable")) from None
        if meta is None:
            raise AssetError(asset_problem(what, path, "is damaged: its manifest is missing"))
        if meta.get("format") != FORMAT:
            log.warning("%s has format %r, not %r", path, meta.get("format"), FORMAT)
            raise AssetError(asset_problem(what, path, "is not a Shuru lexicon"))
        if meta.get("version") != FORMAT_VERSION:
            raise FormatVersionError(asset_problem(
                what, path, f"is from another version of Shuru: format version {meta.get('version')}, "
                            f"this Shuru reads version {FORMAT_VERSION}"))
        if not isinstance(meta.get("token_hash"), str):
            raise AssetError(asset_problem(what, path, "is damaged: its manifest lacks the token-list hash"))
        missing = [k for k in ARRAYS if k not in arrays]
        if missing:
            log.warning("lexicon %s lacks %s", path, missing)
            raise AssetError(asset_problem(what, path, "is damaged: some of its tables are missing"))
        n_tok, n_ent = int(meta["tokens"]), int(meta["entries"])
        sizes = {"token_offsets": n_tok + 1, "token_flags": n_tok, "token_hash_keys": n_tok, "token_hash_ids": n_tok,
                 "entry_token": n_ent, "entry_keys": n_ent, "entry_logp": n_ent, "entry_reading_logp": n_ent,
                 "initial_keys": n_ent, "initial_order": n_ent}
        if any(len(arrays[k]) != n for k, n in sizes.items()) or len(arrays["token_blob"]) != int(arrays["token_offsets"][-1]):
            log.warning("lexicon %s: table sizes disagree with its manifest %s", path, meta)
            raise AssetError(asset_problem(what, path, "is damaged: its tables disagree with its manifest"))
        return cls(arrays, meta)

    def token_hash(self) -> str:
        """Fingerprint of the token list (an n-gram model must be built for the same one), recorded in
        the manifest by the build so loading need not read the whole token table."""
        return self.meta["token_hash"]

    def text(self, token: int) -> str:
        """The characters of a token."""
        return self._blob[self._offsets[token]: self._offsets[token + 1]].tobytes().decode(TEXT_ENCODING)

    def first_chars(self) -> np.ndarray:
        """Each token's first character as a token id, -1 where it is none (<s>, ...): read from the
        whole text table, for asset builds rather than the engine's start."""
        off = np.asarray(self._offsets, dtype=np.int64)
        blob = np.asarray(self._blob, dtype=np.uint8)
        start, some = off[:-1], np.diff(off) >= 2
        # the first UTF-16 unit; a character beyond the BMP starts with a surrogate, which no character token is
        unit = np.full(len(start), -1, dtype=np.int64)
        unit[some] = blob[start[some]].astype(np.int64) | (blob[start[some] + 1].astype(np.int64) << 8)
        chars = np.arange(EOS + 1, EOS + 1 + self.n_chars)
        char_unit = unit[chars]
        order = np.argsort(char_unit, kind="stable")
        at = np.clip(np.searchsorted(char_unit, unit, sorter=order), 0, len(order) - 1)
        return np.where(char_unit[order[at]] == unit, chars[order[at]], -1)

    def token_id(self, text: str) -> int | None:
        """Token id of a word or character, or None.

        A sorted table of text hashes (the top 32 bits of blake2b-64) instead of a dict of a
        million strings: 8 bytes a token, on disk. The in-memory sample of every HASH_BLOCK-th
        hash names the block to read; single characters are remembered once looked up."""
        if len(text) == 1 and text in self._char_ids:
            return self._char_ids[text]
        tid = self._lookup(text_hash(text.encode("utf-8")) >> 32, text)
        if len(text) == 1:
            self._char_ids[text] = tid
        return tid

    def _lookup(self, h: int, text: str) -> int | None:
        """The token with hash ``h`` whose text is ``text``: the hashes from the sample's block on."""
        lo = max(bisect_left(self._hash_sample, h) - 1, 0) * HASH_BLOCK
        n = len(self._hash_keys)
        while lo < n:
            hi = min(n, lo + 2 * HASH_BLOCK)
            keys = memoryview(self._hash_keys.read(lo, hi))
            i = bisect_left(keys, h)
            j = bisect_right(keys, h, i)
            for tid in self._hash_ids.read(lo + i, lo + j).tolist():
                if self.text(tid) == text:
                    return tid
            if j < len(keys):  # the run of equal hashes ended inside this block
                return None
            lo = hi  # it may go on (or begin) in the next one
        return None


ARRAYS = ("token_blob", "token_offsets", "token_flags", "token_hash_keys", "token_hash_ids", "entry_token",
          "entry_keys", "entry_logp", "entry_reading_logp", "initial_keys", "initial_order")


def token_hash_table(tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(sorted top 32 bits of the UTF-8 text hashes, token ids) for :meth:`Lexicon.token_id`."""
    hashes = np.fromiter((text_hash(t.encode("utf-8")) for t in tokens), dtype=np.int64, count=len(tokens))
    top = (hashes >> 32).astype(np.int32)
    ids = np.argsort(top, kind="stable").astype(np.int32)
    return top[ids], ids


def token_list_hash(tokens: list[str]) -> str:
    """sha1 prefix of the token list, as n-gram models and user layers record it: of the UTF-8 texts
    and their int32 offsets, whatever encoding the file stores (format 2's hashes stay valid)."""
    utf8 = [t.encode("utf-8") for t in tokens]
    offsets = np.cumsum([0] + [len(b) for b in utf8]).astype(np.int32)
    return sha1(b"".join(utf8) + offsets.tobytes()).hexdigest()[:16]


HASH_BLOCK = 256  # hashes per block of the text -> token table: a lookup reads two (2 KB); 4k blocks sampled
# read as needed (OnDisk), not mapped, where the system has pread (Linux and the other Unixes)
ON_DISK = ("token_hash_keys", "token_hash_ids") if hasattr(os, "pread") else ()


class OnDisk:
    """A 1-D array of a file read slice by slice with ``pread``: its pages are never mapped into
    the process, so lookups scattered over it cost no resident memory."""

    def __init__(self, path: Path, offset: int, dtype: np.dtype, length: int):
        self.path, self.offset, self.dtype, self.length = Path(path), offset, np.dtype(dtype), length
        self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))

    def __len__(self) -> int:
        return self.length

    def __del__(self):
        fd, self._fd = getattr(self, "_fd", None), None
        if fd is not None:
            os.close(fd)

    def read(self, lo: int, hi: int) -> np.ndarray:
        """Elements [lo, hi) (clipped to the array)."""
        lo, hi = max(0, lo), min(self.length, hi)
        if hi <= lo:
            return np.zeros(0, self.dtype)
        size = self.dtype.itemsize
        data = os.pread(self._fd, (hi - lo) * size, self.offset + lo * size)
        if len(data) != (hi - lo) * size:
            raise OSError(f"{self.path} was cut short while in use")
        return np.frombuffer(data, dtype=self.dtype)

    def sample(self, step: int) -> np.ndarray:
        """Every ``step``-th element, read once (the whole array passes through memory briefly)."""
        return self.read(0, self.length)[::step].copy()


class _InMemory:
    """An array in memory with :class:`OnDisk`'s interface (a compressed or unaligned member)."""

    def __init__(self, a: np.ndarray):
        self.a = a

    def __len__(self) -> int:
        return len(self.a)

    def read(self, lo: int, hi: int) -> np.ndarray:
        return self.a[max(0, lo): max(0, hi)]

    def sample(self, step: int) -> np.ndarray:
        return np.asarray(self.a[::step]).copy()


def _on_disk(a) -> "OnDisk | _InMemory":
    return a if isinstance(a, OnDisk) else _InMemory(np.asarray(a))


def read_mapped_npz(path: Path, check_crc: bool = True,
                    on_disk: tuple[str, ...] = ()) -> tuple[dict | None, dict[str, np.ndarray]]:
    """An uncompressed ``.npz`` as (its JSON ``meta``, memory-mapped arrays).

    ``np.savez`` stores each array as a ``.npy`` member without compression; its data sit at a
    fixed offset in the file, so each is mapped read-only in place (numpy's own .npy header
    parser reads the dtype and shape). A compressed member is read into memory instead.
    ``check_crc``: read each member once to check its CRC-32, as unzipping would (damage inside
    the file is refused at load, not met as nonsense while typing). The 1-D members named in
    ``on_disk`` come back as :class:`OnDisk` readers instead of maps."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    meta = None
    with zipfile.ZipFile(path) as zf, open(path, "rb") as fh:
        for info in zf.infolist():
            name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            if name == "meta":
                meta = json.loads(str(np.load(zf.open(info), allow_pickle=False)))
                continue
            if info.compress_type != zipfile.ZIP_STORED:
                arrays[name] = np.load(zf.open(info), allow_pickle=False)
                continue
            fh.seek(info.header_offset)
            local = fh.read(30)
            if local[:4] != b"PK\x03\x04":
                raise ValueError(f"bad local header for {info.filename}")
            start = info.header_offset + 30 + int.from_bytes(local[26:28], "little") + int.from_bytes(local[28:30], "little")
            fh.seek(start)
            version = np.lib.format.read_magic(fh)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(fh)
            if dtype.hasobject:
                raise ValueError(f"{info.filename} holds Python objects")
            offset = fh.tell()
            if offset % max(1, dtype.alignment):  # not written by write_aligned_npz: read it, don't map it
                arrays[name] = np.load(zf.open(info), allow_pickle=False)
                continue
            if offset + dtype.itemsize * int(np.prod(shape)) > start + info.file_size:
                raise ValueError(f"{info.filename} is truncated")
            if check_crc and _crc(fh, start, info.file_size) != info.CRC:
                raise ValueError(f"{info.filename} fails its CRC check")
            if name in on_disk and len(shape) == 1:
                arrays[name] = OnDisk(path, offset, dtype, int(shape[0]))
                continue
            # a plain ndarray view of the map: arithmetic on np.memmap objects is slower
            arrays[name] = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape,
                                     order="F" if fortran else "C").view(np.ndarray) if np.prod(shape) \
                else np.zeros(shape, dtype)
    return meta, arrays


def text_hash(data: bytes) -> int:
    """A stable signed 64-bit hash of UTF-8 bytes."""
    return int.from_bytes(blake2b(data, digest_size=8).digest(), "little", signed=True)


ALIGN = 64  # array data start on 64-byte boundaries in the file (mapped arrays must be aligned)
PADDING_EXTRA_ID = 0xD935  # zip "extra field" id used for alignment padding (as Android's zipalign)


def write_aligned_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like ``np.savez`` (uncompressed; ``np.load`` reads it), but each array's data start on an
    ALIGN-byte boundary of the file, padded in the zip headers' extra field, so that
    :func:`read_mapped_npz` maps them in place. Fixed timestamps: the same arrays give the same bytes."""
    import io
    import struct

    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for name, array in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(array), allow_pickle=False)
            data = buf.getvalue()
            buf.seek(0)
            version = np.lib.format.read_magic(buf)
            (np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0)(buf)
            header_len = buf.tell()
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            base = zf.fp.tell() + 30 + len(info.filename.encode("utf-8")) + 4
            pad = -(base + header_len) % ALIGN
            info.extra = struct.pack("<HH", PADDING_EXTRA_ID, pad) + bytes(pad)
            zf.writestr(info, data)


def _crc(fh, start: int, size: int, block: int = 1 << 22) -> int:
    crc = 0
    fh.seek(start)
    while size > 0:
        data = fh.read(min(block, size))
        if not data:
            break
        crc = zlib.crc32(data, crc)
        size -= len(data)
    return crc


def reading_logp(token: np.ndarray, logp: np.ndarray) -> np.ndarray:
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
