"""engine.core.kenlm_trie: KenLM trie binaries read back to exactly the ARPA they were built from.

Fixtures (tests/fixtures/kenlm/README.md): tiny.arpa compiled by KenLM's build_binary into
each trie kind.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.core.kenlm_trie import KenlmFormatError, read_kenlm_trie

FIXTURES = Path(__file__).parents[1] / "fixtures" / "kenlm"
ARPA = FIXTURES / "tiny.arpa"
# (fixture, KenLM model type, quantized): build_binary trie [-q 8 -b 8] [-a 22]
KINDS = [("tiny.trie.bin", 2, False), ("tiny.quant_trie.bin", 3, True),
         ("tiny.array_trie.bin", 4, False), ("tiny.quant_array_trie.bin", 5, True)]
# 256 bins outnumber the fixture's distinct values, so KenLM's bin centres are the values
# themselves; allow float noise only
QUANT_TOL = 1e-5


def read_arpa(path: Path) -> list[dict]:
    """ARPA n-grams by order: [{words tuple: (log10 prob, log10 backoff or 0.0)}, ...]."""
    orders, current = [], None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.endswith("-grams:"):
            current = {}
            orders.append(current)
        elif line.strip() and current is not None and not line.startswith("\\"):
            fields = line.split("\t")
            backoff = float(fields[2]) if len(fields) > 2 else 0.0
            current[tuple(fields[1].split(" "))] = (float(fields[0]), backoff)
    return orders


def as_table(lm) -> list[dict]:
    """The reader's n-grams in read_arpa's shape, words as strings."""
    table = [{(w,): (p, b) for w, p, b in zip(lm.vocab, lm.unigram_prob, lm.unigram_backoff)}]
    for gram in lm.ngrams:
        backoff = gram.get("backoff", np.zeros_like(gram["prob"]))
        table.append({tuple(lm.vocab[i] for i in row): (p, b)
                      for row, p, b in zip(gram["words"], gram["prob"], backoff)})
    return table


@pytest.mark.parametrize("name, model_type, quantized", KINDS)
def test_reader_returns_the_arpa_ngrams(name, model_type, quantized):
    lm = read_kenlm_trie(FIXTURES / name)
    arpa, got = read_arpa(ARPA), as_table(lm)
    assert (lm.order, lm.model_type, lm.vocab[0]) == (3, model_type, "<unk>")
    assert lm.counts() == [len(a) for a in arpa]
    for order, (want, have) in enumerate(zip(arpa, got), start=1):
        assert set(have) == set(want), f"order {order} n-grams differ"
        exact = order == 1 or not quantized  # unigrams are never quantized
        for words, (prob, backoff) in want.items():
            values = np.array(have[words], dtype=np.float32)
            expected = np.array([prob, backoff], dtype=np.float32)
            if exact:
                assert np.array_equal(values, expected), (words, values, expected)
            else:
                assert np.allclose(values, expected, rtol=0, atol=QUANT_TOL), (words, values, expected)


@pytest.mark.parametrize("name, _type, _quantized", KINDS)
def test_arrays_have_the_documented_shapes(name, _type, _quantized):
    lm = read_kenlm_trie(FIXTURES / name)
    assert lm.unigram_prob.dtype == lm.unigram_backoff.dtype == np.float32
    assert lm.unigram_prob.shape == (len(lm.vocab),)
    for k, gram in enumerate(lm.ngrams):
        assert gram["words"].dtype == np.int32 and gram["words"].shape[1] == k + 2
        assert gram["prob"].dtype == np.float32 and len(gram["prob"]) == len(gram["words"])
        assert ("backoff" in gram) == (k + 2 < lm.order)


def patched(data: bytes, offset: int, new: bytes) -> bytes:
    """data with the bytes at offset replaced."""
    return data[:offset] + new + data[offset + len(new):]


GOOD = (FIXTURES / "tiny.quant_array_trie.bin").read_bytes()
VOCAB_AT = GOOD.index(b"<unk>\0")  # the strings start the file's tail
# (case, file bytes, expected words in the error message)
BAD_FILES = [
    ("arpa text", ARPA.read_bytes(), "not a KenLM binary"),
    ("empty", b"", "not a KenLM binary"),
    ("incomplete build", b"mmap lm http://kheafield.com/code incomplete\n" + b"\0" * 200, "did not finish"),
    ("format version 4", patched(GOOD, GOOD.index(b"version 5") + 8, b"4"), "version 4"),
    ("probing model", patched(GOOD, 88 + 8, (0).to_bytes(4, "little")), "not a trie"),
    ("no vocabulary flag", patched(GOOD, 88 + 12, b"\0"), "no vocabulary strings"),
    ("truncated in header", GOOD[:100], "truncated"),
    ("truncated in trie", GOOD[:VOCAB_AT // 2], "truncated"),
    ("strings cut off", GOOD[:VOCAB_AT], "no vocabulary strings"),
    ("strings truncated", GOOD[:VOCAB_AT + 12], "truncated"),
]


@pytest.mark.parametrize("case, data, message", BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_bad_files_raise_a_clear_format_error(tmp_path, case, data, message):
    path = tmp_path / "model.bin"
    path.write_bytes(data)
    with pytest.raises(KenlmFormatError, match=message) as raised:
        read_kenlm_trie(path)
    assert isinstance(raised.value, ValueError) and str(path) in str(raised.value)
