"""Read every n-gram of a KenLM binary language model built with one of the *trie* kinds.

The ``kenlm`` module can score but cannot list n-grams; this pure-numpy reader decodes
the binary file directly (asset-build tooling, not used at run time). It reads KenLM
binary format version 5, model types TRIE (2), QUANT_TRIE (3), ARRAY_TRIE (4) and
QUANT_ARRAY_TRIE (5), little-endian, and needs the vocabulary strings that
``build_binary`` stores at the end of the file by default (libime's ``zh_CN.lm`` has them).

Layout, following the KenLM 0.3.0 sources (file offsets; the loader maps the whole file
so in-memory 8-byte alignment equals file-offset alignment):

* header -- ``lm/binary_format.cc`` (``Sanity``, ``TotalHeaderSize``) and
  ``lm/binary_format.hh`` (``FixedWidthParameters``, ``ALIGN8``): magic and test values,
  order, model type, has_vocabulary, search version, then one uint64 count per order;
* ``SortedVocabulary`` -- ``lm/vocab.cc``: uint64 entry count then the sorted word hashes
  (``Size`` = 8 + 8 * counts[0]);
* ``TrieSearch`` -- ``lm/search_trie.hh/.cc`` (``Size``, ``SetupMemory``): quantizer tables
  (``lm/quantize.hh/.cc``, ``SeparatelyQuantize``), unigram records (``lm/trie.hh``,
  ``UnigramValue``: float prob, float backoff, uint64 next; counts[0] + 2 of them), one
  ``BitPackedMiddle`` per middle order and a ``BitPackedLongest`` (``lm/trie.cc``), with
  next pointers either inline (``DontBhiksha``) or split into an offset array plus low
  bits (``ArrayBhiksha``, ``lm/bhiksha.hh/.cc``); bits read as in ``util/bit_packing.hh``;
* vocabulary strings, null-terminated, in word-index order from ``<unk>``, right after the
  search structures (``lm/model.cc``, ``lm/vocab.cc`` ``ReadWords``).

The trie is keyed right to left (``model.cc`` ``ScoreExceptBackoff``): a unigram's children
are the bigrams *ending* in it, keyed by the word before, and "u v w" hangs under "v w".
The reader returns each n-gram's words in text order (context first, predicted word
last); rows stay in trie order (sorted by last word, then the word before it, ...).

The trie also holds the "blank" middle n-grams that KenLM inserts when an ARPA file lacks
the suffix of a higher-order n-gram (``search_trie.cc``, ``BlankManager``); they are
returned like the others. Zero backoffs keep their sign: ``-0.0`` marks an n-gram that is
never extended, ``+0.0`` one that is (``lm/blank.hh``).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["KenlmFormatError", "KenlmTrie", "read_kenlm_trie", "MODEL_NAMES"]

MAGIC = b"mmap lm http://kheafield.com/code format version 5\n\0"  # kMagicBytes (+ implicit NUL)
MAGIC_BEFORE_VERSION = b"mmap lm http://kheafield.com/code format version"
MAGIC_INCOMPLETE = b"mmap lm http://kheafield.com/code incomplete\n"
MODEL_NAMES = {0: "probing hash tables", 1: "probing hash tables with rest costs", 2: "trie",
               3: "trie with quantization", 4: "trie with array-compressed pointers",
               5: "trie with quantization and array-compressed pointers"}
TRIE, QUANT_TRIE, ARRAY_TRIE, QUANT_ARRAY_TRIE = 2, 3, 4, 5
TRIE_SEARCH_VERSION = 1  # TrieSearch::kVersion
QUANT_VERSION = 2  # kSeparatelyQuantizeVersion
BHIKSHA_VERSION = 0  # kArrayBhikshaVersion
UNIGRAM_DTYPE = np.dtype([("prob", "<f4"), ("backoff", "<f4"), ("next", "<u8")])  # UnigramValue
FIXED_PARAMS = struct.Struct("<B3xfIB3xI")  # FixedWidthParameters: order, multiplier, type, has_vocab, version
NON_POSITIVE_SIGN = np.uint32(0x80000000)  # ReadNonPositiveFloat31 sets the sign bit


class KenlmFormatError(ValueError):
    """The file is not a KenLM trie binary this reader can decode (the message says why)."""


@dataclass
class KenlmTrie:
    """Every n-gram of a KenLM trie model, word indices as KenLM numbers them."""
    order: int
    vocab: list[str]            # word index -> string (index 0 is <unk>, as KenLM stores it)
    unigram_prob: np.ndarray    # (V,) float32 log10 P
    unigram_backoff: np.ndarray  # (V,) float32 log10 backoff
    # ngrams[k] for order k+2: {"words": (N, k+2) int32 word indices in text order,
    # "prob": (N,) float32 log10,
    # "backoff": (N,) float32 log10 (absent for the highest order)}
    ngrams: list[dict] = field(default_factory=list)
    model_type: int = QUANT_ARRAY_TRIE

    def counts(self) -> list[int]:
        """Number of n-grams of each order, unigrams first (as the file header counts them)."""
        return [len(self.vocab)] + [len(g["prob"]) for g in self.ngrams]


def align8(n: int) -> int:
    """Round up to a multiple of 8 (binary_format.hh ALIGN8)."""
    return (n + 7) // 8 * 8


def required_bits(max_value: int) -> int:
    """Bits needed to store integers up to max_value (util/bit_packing.cc RequiredBits)."""
    return int(max_value).bit_length()


def sanity_bytes() -> bytes:
    """The reference Sanity struct every format-5 file starts with (binary_format.cc)."""
    magic = MAGIC.ljust(align8(len(MAGIC)), b"\0")
    return magic + struct.pack("<fffIIIQ", 0.0, 1.0, -0.5, 1, 0xFFFFFFFF, 0, 1)


SANITY = sanity_bytes()


class _File:
    """The file's bytes with bounds-checked little-endian reads and bit-packed gathers."""

    def __init__(self, data: bytes, path: str):
        self.data, self.path, self.size = data, path, len(data)
        padded = np.frombuffer(data + b"\0" * 8, dtype=np.uint8)
        # Every byte offset viewed as an unaligned little-endian uint64 (ReadOff)
        self.u64 = np.ndarray(shape=(self.size + 1,), dtype="<u8", buffer=padded, strides=(1,))

    def need(self, end: int, what: str) -> None:
        """Raise KenlmFormatError if the file ends before byte `end`."""
        if end > self.size:
            raise KenlmFormatError(f"{self.path}: truncated file: {what} needs {end} bytes "
                                   f"but the file has {self.size}")

    def array(self, offset: int, dtype, count: int, what: str) -> np.ndarray:
        """`count` items of `dtype` at byte `offset` (a copy)."""
        dtype = np.dtype(dtype)
        self.need(offset + dtype.itemsize * count, what)
        return np.frombuffer(self.data, dtype=dtype, count=count, offset=offset).copy()

    def bits(self, bit_offsets: np.ndarray, length: int) -> np.ndarray:
        """Read `length`-bit little-endian integers (length <= 57) at the given bit offsets."""
        raw = self.u64[bit_offsets >> np.uint64(3)]
        return (raw >> (bit_offsets & np.uint64(7))) & np.uint64((1 << length) - 1)


@dataclass
class _Header:
    """Fixed-width parameters and counts of the file header."""
    order: int
    model_type: int
    has_vocabulary: bool
    search_version: int
    counts: list[int]
    size: int  # TotalHeaderSize


def read_header(f: _File) -> _Header:
    """Check the Sanity block and read FixedWidthParameters and counts (binary_format.cc)."""
    head = f.data[:len(SANITY)]
    if head.startswith(MAGIC_INCOMPLETE):
        raise KenlmFormatError(f"{f.path}: KenLM binary did not finish building (incomplete magic)")
    if not head.startswith(MAGIC_BEFORE_VERSION):
        raise KenlmFormatError(f"{f.path}: not a KenLM binary file (no 'mmap lm' magic)")
    version = head[len(MAGIC_BEFORE_VERSION):].split(b"\n")[0].strip()
    if version != b"5":
        raise KenlmFormatError(f"{f.path}: KenLM binary format version {version.decode('ascii', 'replace')}, "
                               "this reader expects version 5")
    f.need(len(SANITY) + FIXED_PARAMS.size, "the header")
    if head != SANITY:
        raise KenlmFormatError(f"{f.path}: KenLM header test values do not match "
                               "(built on another architecture or by another KenLM revision?)")
    order, _multiplier, model_type, has_vocab, search_version = FIXED_PARAMS.unpack_from(f.data, len(SANITY))
    counts_at = len(SANITY) + FIXED_PARAMS.size
    counts = [int(c) for c in f.array(counts_at, "<u8", order, "the n-gram counts")]
    return _Header(order, model_type, bool(has_vocab), search_version, counts,
                   align8(counts_at + 8 * order))


def check_trie_header(h: _Header, path: str) -> None:
    """Reject models this reader cannot decode, with the reason."""
    if h.model_type not in (TRIE, QUANT_TRIE, ARRAY_TRIE, QUANT_ARRAY_TRIE):
        name = MODEL_NAMES.get(h.model_type, f"unknown type {h.model_type}")
        raise KenlmFormatError(f"{path}: model type {h.model_type} ({name}) is not a trie; "
                               "only types 2-5 (trie kinds) are supported")
    if h.search_version != TRIE_SEARCH_VERSION:
        raise KenlmFormatError(f"{path}: trie search version {h.search_version}, expected {TRIE_SEARCH_VERSION}")
    if h.order < 2 or h.order > 57 or len(h.counts) != h.order or h.counts[0] < 1:
        raise KenlmFormatError(f"{path}: implausible order {h.order} / counts {h.counts}")
    if not h.has_vocabulary:
        raise KenlmFormatError(f"{path}: no vocabulary strings stored (built with build_binary -v); "
                               "word indices cannot be mapped to words")


@dataclass
class _Quant:
    """SeparatelyQuantize tables, or None tables for unquantized models (lm/quantize.hh)."""
    prob_bits: int
    backoff_bits: int
    middle: list  # per middle order: (prob table, backoff table)
    longest: np.ndarray | None
    size: int

    @property
    def middle_bits(self) -> int:
        """Bits of weights per middle entry (MiddleBits)."""
        return self.prob_bits + self.backoff_bits if self.longest is not None else 63

    @property
    def longest_bits(self) -> int:
        """Bits of weights per longest entry (LongestBits)."""
        return self.prob_bits if self.longest is not None else 31


def read_quant(f: _File, at: int, order: int, quantized: bool) -> _Quant:
    """Read the quantizer header and tables at byte `at` (SeparatelyQuantize::SetupMemory)."""
    if not quantized:
        return _Quant(0, 0, [], None, 0)
    f.need(at + 3, "the quantizer header")
    version, pb, bb = f.data[at], f.data[at + 1], f.data[at + 2]
    if version != QUANT_VERSION:
        raise KenlmFormatError(f"{f.path}: quantization version {version}, expected {QUANT_VERSION}")
    if not (1 <= pb <= 25 and 1 <= bb <= 25):
        raise KenlmFormatError(f"{f.path}: implausible quantization bits prob={pb} backoff={bb}")
    pos, middle = at + 8, []
    for _ in range(order - 2):
        prob = f.array(pos, "<f4", 1 << pb, "the quantizer tables")
        backoff = f.array(pos + 4 * (1 << pb), "<f4", 1 << bb, "the quantizer tables")
        middle.append((prob, backoff))
        pos += 4 * ((1 << pb) + (1 << bb))
    longest = f.array(pos, "<f4", 1 << pb, "the quantizer tables")
    size = (order - 2) * 4 * ((1 << pb) + (1 << bb)) + 4 * (1 << pb) + 8  # SeparatelyQuantize::Size
    return _Quant(pb, bb, middle, longest, size)


def chop_bits(max_offset: int, max_next: int, config_bits: int) -> int:
    """Bits of the next pointer moved into the offset array (bhiksha.cc ChopBits)."""
    required = required_bits(max_next)
    best, lowest = 0, None
    for chop in range(min(required, config_bits) + 1):
        change = (max_next >> (required - chop)) * 64 - max_offset * chop
        if lowest is None or change < lowest:
            best, lowest = chop, change
    return best


def base_size(entries: int, max_vocab: int, remaining_bits: int) -> int:
    """Bytes of a bit-packed array with one extra entry and 8 bytes of slack (BitPacked::BaseSize)."""
    return ((1 + entries) * (required_bits(max_vocab) + remaining_bits) + 7) // 8 + 8


def read_next_pointers(f: _File, base: int, entries: int, max_next: int, array: bool,
                       config_bits: int, weight_bits: int, vocab_size: int, what: str):
    """Decode a middle order's next pointers for entries 0..entries (entries + 1 values).

    Returns (next pointers as int64, byte offset of the bit-packed array, its total bits,
    bytes the whole middle takes) -- BitPackedMiddle and DontBhiksha/ArrayBhiksha.
    """
    word_bits = required_bits(vocab_size)
    if array:
        required = required_bits(max_next)
        inline = required - chop_bits(entries + 1, max_next, config_bits)
        count = (max_next >> inline) + 1  # ArrayCount
        offsets = f.array(align8(base) + 8, "<u8", count, what + " offset array")
        bhiksha_size = 8 * (1 + count) + 7
    else:
        inline, offsets, bhiksha_size = required_bits(max_next), None, 0
    packed = base + bhiksha_size
    total = word_bits + weight_bits + inline
    f.need(packed + base_size(entries, vocab_size, weight_bits + inline), what)
    idx = np.arange(entries + 1, dtype=np.uint64)
    low = f.bits(idx * np.uint64(total) + np.uint64(8 * packed + word_bits + weight_bits), inline).astype(np.int64)
    if offsets is not None:
        # high part: last offset-array slot whose first index is <= the entry (ArrayBhiksha::ReadNext)
        high = np.searchsorted(offsets, idx, side="right").astype(np.int64) - 1
        low |= high << inline
    return low, packed, total, bhiksha_size + base_size(entries, vocab_size, weight_bits + inline)


def check_pointers(nxt: np.ndarray, children: int, path: str, what: str) -> None:
    """Next pointers must start at 0, never decrease, and end at the child count."""
    if len(nxt) and (nxt[0] != 0 or nxt[-1] != children or np.any(np.diff(nxt) < 0)):
        raise KenlmFormatError(f"{path}: corrupt {what} next pointers (first {nxt[0]}, last {nxt[-1]}, "
                               f"expected 0..{children} non-decreasing)")


def decode_weights(f: _File, bit_at: np.ndarray, quant: _Quant, level: int | None):
    """Probabilities (and backoffs for a middle `level`) of entries whose weights start at bit_at."""
    if quant.longest is None:
        prob_bits = f.bits(bit_at, 31).astype(np.uint32) | NON_POSITIVE_SIGN  # ReadNonPositiveFloat31
        prob = prob_bits.view(np.float32)
        if level is None:
            return prob, None
        backoff = f.bits(bit_at + np.uint64(31), 32).astype(np.uint32).view(np.float32)  # ReadFloat32
        return prob, backoff
    if level is None:
        return quant.longest[f.bits(bit_at, quant.prob_bits)], None
    prob_table, backoff_table = quant.middle[level]
    backoff = backoff_table[f.bits(bit_at, quant.backoff_bits)]  # backoff in the low bits
    prob = prob_table[f.bits(bit_at + np.uint64(quant.backoff_bits), quant.prob_bits)]
    return prob, backoff


def parents_of(nxt: np.ndarray) -> np.ndarray:
    """For child entries, the index of the parent whose [next[i], next[i+1]) range holds them."""
    return np.repeat(np.arange(len(nxt) - 1, dtype=np.int64), np.diff(nxt))


def read_vocab_strings(f: _File, at: int, vocab_size: int) -> list[str]:
    """Null-terminated words from byte `at`, <unk> first (vocab.cc ReadWords)."""
    if at >= f.size:
        raise KenlmFormatError(f"{f.path}: truncated file or no vocabulary strings after byte {at}")
    words = f.data[at:].split(b"\0")
    if words and words[-1] == b"":
        words.pop()
    if not words or words[0] != b"<unk>":
        raise KenlmFormatError(f"{f.path}: vocabulary strings missing or misplaced (expected '<unk>' at byte {at})")
    if len(words) != vocab_size:
        raise KenlmFormatError(f"{f.path}: {len(words)} vocabulary strings but the header counts "
                               f"{vocab_size} words (truncated file?)")
    return [w.decode("utf-8", "surrogateescape") for w in words]


def read_vocab_table(f: _File, at: int, vocab_size: int) -> int:
    """Check the SortedVocabulary hash-count and return the byte after the table (vocab.cc)."""
    f.need(at + 8, "the vocabulary table")
    stored = int(f.array(at, "<u8", 1, "the vocabulary table")[0])
    if stored + 1 != vocab_size:  # <unk> is not in the hash table
        raise KenlmFormatError(f"{f.path}: vocabulary table holds {stored} hashes, header counts {vocab_size} words")
    return at + 8 + 8 * vocab_size  # SortedVocabulary::Size


def read_unigrams(f: _File, at: int, counts: list[int]):
    """Unigram records at byte `at`: (records, next pointers 0..V, byte after them) (trie.hh)."""
    vocab_size = counts[0]
    unigrams = f.array(at, UNIGRAM_DTYPE, vocab_size + 2, "the unigram records")
    nxt = unigrams["next"][:vocab_size + 1].astype(np.int64)
    check_pointers(nxt, counts[1], f.path, "unigram")
    return unigrams[:vocab_size], nxt, at + UNIGRAM_DTYPE.itemsize * (vocab_size + 2)  # Unigram::Size


def read_bhiksha_bits(f: _File, at: int) -> int:
    """pointer_bhiksha_bits from the first middle's ArrayBhiksha header (bhiksha.cc)."""
    f.need(at + 2, "the array-pointer header")
    if f.data[at] != BHIKSHA_VERSION:
        raise KenlmFormatError(f"{f.path}: array compression version {f.data[at]}, expected {BHIKSHA_VERSION}")
    return f.data[at + 1]


def read_order(f: _File, at: int, n: int, counts: list[int], quant: _Quant, array: bool, config_bits: int):
    """The n-gram array at byte `at`: (last words, probs, backoffs, next pointers, bytes used).

    Backoffs and next pointers are None for the highest order (BitPackedLongest).
    """
    entries, vocab_size, what = counts[n - 1], counts[0], f"the {n}-gram array"
    word_bits = required_bits(vocab_size)
    if n == len(counts):
        total, child_next, packed = word_bits + quant.longest_bits, None, at
        size = base_size(entries, vocab_size, quant.longest_bits)
        f.need(at + size, what)
    else:
        child_next, packed, total, size = read_next_pointers(
            f, at, entries, counts[n], array, config_bits, quant.middle_bits, vocab_size, what)
        check_pointers(child_next, counts[n], f.path, f"{n}-gram")
    start = np.arange(entries, dtype=np.uint64) * np.uint64(total) + np.uint64(8 * packed)
    word = f.bits(start, word_bits).astype(np.int32)
    if entries and int(word.max()) >= vocab_size:
        raise KenlmFormatError(f"{f.path}: {n}-gram word index out of range (corrupt file?)")
    level = None if child_next is None else n - 2
    prob, backoff = decode_weights(f, start + np.uint64(word_bits), quant, level)
    return word, prob, backoff, child_next, size


def extend_paths(paths: np.ndarray, nxt: np.ndarray, word: np.ndarray) -> np.ndarray:
    """Trie paths (last word first) of the children: parent's path plus the child's word."""
    out = np.empty((len(word), paths.shape[1] + 1), dtype=np.int32)
    out[:, :-1] = paths[parents_of(nxt)]
    out[:, -1] = word
    return out


def read_kenlm_trie(path) -> KenlmTrie:
    """Read all n-grams of a KenLM trie binary (types 2-5); raise KenlmFormatError if it is not one."""
    f = _File(Path(path).read_bytes(), str(path))
    header = read_header(f)
    check_trie_header(header, f.path)
    counts, mtype = header.counts, header.model_type
    pos = read_vocab_table(f, header.size, counts[0])
    quant = read_quant(f, pos, header.order, mtype in (QUANT_TRIE, QUANT_ARRAY_TRIE))
    unigrams, nxt, pos = read_unigrams(f, pos + quant.size, counts)
    array = mtype in (ARRAY_TRIE, QUANT_ARRAY_TRIE)
    config_bits = read_bhiksha_bits(f, pos) if array and header.order > 2 else 0
    ngrams, paths = [], np.arange(counts[0], dtype=np.int32)[:, None]
    for n in range(2, header.order + 1):
        word, prob, backoff, child_next, size = read_order(f, pos, n, counts, quant, array, config_bits)
        paths = extend_paths(paths, nxt, word)
        gram = {"words": paths[:, ::-1].copy(), "prob": np.asarray(prob, dtype=np.float32)}  # text order
        if backoff is not None:
            gram["backoff"] = np.asarray(backoff, dtype=np.float32)
        ngrams.append(gram)
        nxt, pos = child_next, pos + size
    return KenlmTrie(order=header.order, vocab=read_vocab_strings(f, pos, counts[0]),
                     unigram_prob=unigrams["prob"].astype(np.float32),
                     unigram_backoff=unigrams["backoff"].astype(np.float32),
                     ngrams=ngrams, model_type=mtype)
