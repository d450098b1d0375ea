"""Counts + lexicon sources -> ``assets/lexicon.npz`` (format: assets/FORMATS.md).

Entries are (word, reading) pairs. A word's reading comes from pypinyin at phrase
level (the same annotator as the dev sets); a character gets every reading pypinyin
lists, weighted by how often that reading occurs inside counted words.
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from engine.core.lexicon import (FORMAT, FORMAT_VERSION, MAX_WORD_SYLLABLES, TEXT_ENCODING, pack_initials, pack_syllables,
                       reading_logp, token_hash_table, token_list_hash, write_aligned_npz)
from engine.pinyin.syllables import ALIASES, SYLLABLE_ID, SYLLABLE_INITIAL
from engine.text import is_han_code

from .counts import SPECIALS
from .words import phrase_words

MIN_WORD_COUNT = 2  # corpus occurrences for a word to enter the lexicon...
MIN_LISTED_COUNT = 1  # ...or this many for words in the curated phrase lists
UNSEEN_CHAR_COUNT = 0.05  # pseudo-count of characters the corpus never shows (ranked last)
# Interjection readings no keyboard syllable spells, as IMEs type them (libime, RIME and libpinyin list
# 嗯 for en); used only where a character or a word's character has no other reading.
INTERJECTION_SPELLING = {"n": "en", "ng": "en"}
# A character alone under a reading other than pypinyin's default (docs/TUNING.md#a-characters-readings-when-typed-alone):
ALONE_PER_WORD_USE = 0.5  # at most this share of the reading's uses inside the lexicon's words...
RARE_READING_COUNT = 1000.0  # ...or, where words use it less, this many occurrences;
NO_WORD_READING_COUNT = 0.5  # a reading no word uses (是 ti, 年 ning: archaic): less than one use
MAX_TOKENS = (1 << 20) - 1  # token ids are 20 bits in the n-gram keys (ngram.BITS)

# Priors of open-domain words (Wikipedia titles, wordfreq, RIME essay) the segmenter does not use,
# as pseudo-counts in corpus-token units (measurements: docs/RESULTS.md, "Lexicon v2"; assets/FORMATS.md):
OCCURRENCE_SHARE = 0.5  # per corpus occurrence as a substring (some are parts of longer words)
MAX_OCCURRENCE_COUNT = 500.0  # a frequent substring is not thereby a frequent word
# Shorter strings occur mostly across word boundaries (子发 in 孩子发烧): their occurrences say nothing
OCCURRENCE_MIN_CHARS = 4
LIST_SHARE = 0.5  # of the frequency the lists give (wordfreq share, essay weight share) times corpus tokens
# A title with no other evidence: low, higher for longer titles (they collide less with other readings)
# (a two-character title with no other evidence is left out: it would mostly shadow common words)
TITLE_COUNT = {2: 0.0, 3: 0.1, 4: 0.3, 5: 0.3, 6: 0.3, 7: 0.3}


def _syllable(p: str) -> int | None:
    p = ALIASES.get(p, p)
    return SYLLABLE_ID.get(p)


def _keyboard_syllable(p: str) -> int | None:
    """The syllable a keyboard types for pypinyin's reading ``p``: 嗯's n or ng is typed en."""
    return _syllable(INTERJECTION_SPELLING.get(p, p))


def char_readings() -> dict[str, list[int]]:
    """Every Han char pypinyin knows -> its syllable ids, most common reading first."""
    from pypinyin.contrib.tone_convert import to_normal
    from pypinyin.pinyin_dict import pinyin_dict

    out: dict[str, list[int]] = {}
    for cp, readings in pinyin_dict.items():
        if not is_han_code(cp):
            continue
        normal = [to_normal(r).replace("ü", "v") for r in readings.split(",")]
        sids: list[int] = []
        for r in normal:
            s = _syllable(r)
            if s is not None and s not in sids:
                sids.append(s)
        if not sids:  # only interjection readings (嗯: n, ng): the spelling keyboards use
            sids = list(dict.fromkeys(s for s in map(_keyboard_syllable, normal) if s is not None))
        if sids:
            out[chr(cp)] = sids
    return out


def word_reading(word: str) -> list[int] | None:
    from pypinyin import lazy_pinyin

    sids = [_keyboard_syllable(p) for p in lazy_pinyin(word)]
    return None if any(s is None for s in sids) or len(sids) != len(word) else sids


def build_lexicon(counts_path: Path, assets: Path, data_dir: Path, log=print, open_domain=None) -> None:
    """``open_domain``: an :class:`~tools.build.words.OpenDomainWords` (None: no open-domain words)."""
    d = np.load(counts_path)
    vocab = [str(x) for x in d["vocab"]]
    uni = d["unigram"]
    listed = phrase_words(data_dir)
    readings = char_readings()

    # Vocabulary: specials, every typeable character, then the kept words.
    chars = sorted(readings)
    words: list[tuple[str, list[int], float]] = []
    low: dict[str, float] = {}  # segmenter words below the count threshold: open-domain lists may keep them
    for i, w in enumerate(vocab):
        if len(w) < 2 or w in SPECIALS or len(w) > MAX_WORD_SYLLABLES:
            continue
        c = int(uni[i])
        if c >= MIN_WORD_COUNT or (w in listed and c >= MIN_LISTED_COUNT):
            r = word_reading(w)
            if r is not None:
                words.append((w, r, c))
        else:
            low[w] = float(c)
    log(f"chars {len(chars)}, words {len(words)}")
    if open_domain is not None:
        extra = dict(zip((str(w) for w in d["extra_words"]), d["extra_counts"].astype(np.float64))) \
            if "extra_words" in d.files else {}
        budget = MAX_TOKENS - len(SPECIALS) - len(chars) - len(words)
        added = open_domain_entries(open_domain, extra, low, float(uni.sum()), budget)
        log(f"open-domain words: {len(added)} of {len(open_domain.all_words())} listed")
    else:
        added = []
    first_open_domain = len(SPECIALS) + len(chars) + len(words)
    words += added
    old_id = {w: i for i, w in enumerate(vocab)}
    tokens = list(SPECIALS) + chars + [w for w, _, _ in words]

    # How often each character is read each way inside words (for polyphones).
    reading_counts: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for w, r, c in words:
        for ch, s in zip(w, r):
            reading_counts[ch][s] += c

    entries: list[tuple[int, list[int], float]] = []  # (token id, syllables, count)
    total = float(uni.sum() - uni[1] - uni[2])
    for ci, ch in enumerate(chars):
        tid = len(SPECIALS) + ci
        i = old_id.get(ch)
        count = float(uni[i]) if i is not None and uni[i] > 0 else UNSEEN_CHAR_COUNT
        for s, c in _reading_counts(count, readings[ch], reading_counts.get(ch, {})).items():
            entries.append((tid, [s], c))
    for wi, (w, r, c) in enumerate(words):
        entries.append((len(SPECIALS) + len(chars) + wi, r, float(c)))

    _write(assets / "lexicon.npz", tokens, entries, total, len(chars), log, first_open_domain)


def open_domain_prior(word: str, lists, occurrences: float, corpus_tokens: float) -> float:
    """Pseudo-count of an open-domain word: the strongest of its corpus occurrences, the lists'
    frequencies, and (for a title with nothing else) a low length-aware floor."""
    p = min(OCCURRENCE_SHARE * occurrences, MAX_OCCURRENCE_COUNT) if len(word) >= OCCURRENCE_MIN_CHARS else 0.0
    p = max(p, LIST_SHARE * lists.wordfreq.get(word, 0.0) * corpus_tokens,
            LIST_SHARE * lists.essay.get(word, 0.0) * corpus_tokens)
    if word in lists.titles:
        p = max(p, TITLE_COUNT.get(len(word), 0.0))
    return p


def open_domain_entries(lists, occurrences: dict[str, float], low: dict[str, float], corpus_tokens: float,
                        budget: int) -> list[tuple[str, list[int], float]]:
    """(word, reading, prior count) of the open-domain words not yet in the lexicon, best ``budget``."""
    scored = []
    for w in lists.all_words():
        if w not in occurrences and w not in low:
            continue  # already in the lexicon
        p = max(low.get(w, 0.0), open_domain_prior(w, lists, occurrences.get(w, 0.0), corpus_tokens))
        if p > 0:
            scored.append((p, w))
    scored.sort(key=lambda x: (-x[0], x[1]))
    out = []
    for p, w in scored:
        if len(out) >= budget:
            break
        r = word_reading(w)
        if r is not None:
            out.append((w, r, p))
    return out


def _reading_counts(count: float, sids: list[int], in_words: dict[int, float]) -> dict[int, float]:
    """Pseudo-count of a character typed alone under each reading: mostly pypinyin's default reading,
    the rest by word usage. A reading other than the default is used alone at most ALONE_PER_WORD_USE
    times as often as inside words (or RARE_READING_COUNT times), and one that no word uses at most
    NO_WORD_READING_COUNT times."""
    if len(sids) == 1:
        return {sids[0]: count}
    tot = sum(in_words.get(s, 0.0) for s in sids)
    out = {}
    for k, s in enumerate(sids):
        usage = in_words.get(s, 0.0) / tot if tot > 0 else (1.0 / len(sids))
        c = count * max(0.6 * (k == 0) + 0.4 * usage, 0.02)
        if k > 0:  # 的 di (目的), 都 du (首都), 是 ti: bound or archaic readings of frequent characters
            used = in_words.get(s, 0.0)
            c = min(c, max(ALONE_PER_WORD_USE * used, RARE_READING_COUNT) if used > 0 else NO_WORD_READING_COUNT)
        out[s] = c
    return out


def _write(path: Path, tokens: list[str], entries, total: float, n_chars: int, log,
           first_open_domain: int | None = None) -> None:
    """Write lexicon format 3 (assets/FORMATS.md): an uncompressed npz whose arrays are memory-mapped."""
    blob = bytearray()
    offsets = [0]
    for t in tokens:
        blob += t.encode(TEXT_ENCODING)
        offsets.append(len(blob))
    n = len(entries)
    token = np.array([e[0] for e in entries], dtype=np.int32)
    syl = np.full((n, MAX_WORD_SYLLABLES), -1, dtype=np.int16)
    for k, (_, r, _) in enumerate(entries):
        syl[k, : len(r)] = r
    logp = np.log(np.array([max(e[2], 1e-3) for e in entries]) / total).astype(np.float32)
    full_keys = pack_syllables(syl)
    ini = np.where(syl >= 0, np.asarray(SYLLABLE_INITIAL, dtype=np.int16)[np.maximum(syl, 0)], -1)
    ini_keys = pack_initials(ini)
    # entries in full-key order, most frequent reading first: the full index is the entries themselves
    order = np.lexsort((-logp, full_keys))
    token, logp, full_keys, ini_keys = token[order], logp[order], full_keys[order], ini_keys[order]
    ini_order = np.lexsort((-logp, ini_keys)).astype(np.int32)
    flags = np.array([_token_flags(t) for t in tokens], dtype=np.uint8)
    if first_open_domain is not None:
        flags[first_open_domain:] |= 2  # open-domain words: not in the corpus counts
    offsets_arr = np.array(offsets, dtype=np.int32)
    hash_keys, hash_ids = token_hash_table(tokens)
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "tokens": len(tokens), "chars": n_chars,
            "entries": n, "total_count": total, "token_hash": token_list_hash(tokens)}
    tmp = path.with_suffix(".tmp.npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_aligned_npz(tmp, dict(
        meta=np.array(json.dumps(meta)), token_blob=np.frombuffer(bytes(blob), dtype=np.uint8),
        token_offsets=offsets_arr, token_flags=flags, token_hash_keys=hash_keys, token_hash_ids=hash_ids,
        entry_token=token, entry_keys=full_keys, entry_logp=logp.astype(np.float16),
        entry_reading_logp=reading_logp(token, logp).astype(np.float16),
        initial_keys=ini_keys[ini_order], initial_order=ini_order))
    tmp.replace(path)
    log(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB): {len(tokens)} tokens, {n} entries")


def _token_flags(token: str) -> int:
    """Bit 0: the token has a character outside GB2312 (traditional or rare forms)."""
    try:
        token.encode("gb2312")
        return 0
    except UnicodeEncodeError:
        return 1
