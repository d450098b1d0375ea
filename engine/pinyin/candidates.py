"""The candidate list, as one pipeline (librime's translators and filters): why a candidate is
where it is, is answered here.

For an input the list is, in this order:

1. **the decoder's readings** (:func:`decoder_readings`): the best WHOLE_INPUT_FIRST whole-input
   conversions (every one of them for an abbreviated input such as ``bjdx``), then the words and
   prefixes that follow the best conversion's syllables (longest first), then the other
   whole-input conversions, then single characters;
2. filtered by ``dedupe`` (a text is listed once, where it first appears),
   :func:`uncommon_last` (words written with characters outside GB2312, traditional or rare forms,
   go last unless nothing else matches) and ``Decoder.syllable_first`` (an input that is one whole
   syllable lists its first characters before readings that cut it: 很 恨 狠 痕 before 河南 for hen;
   and all of them before readings that keep a letter as Latin text: 诶 誒 欸 before 而i for ei);
3. **the user dictionary's words** (:func:`with_user_words`): those spelling the whole input
   first (heaviest first), those spelling a prefix before the first decoder word or character
   that covers no more letters;
4. **quick phrases** of the whole input (:func:`with_quick_phrases`), right after the first
   candidate.

The output script (traditional, Taiwan, Hong Kong) is applied to what is shown
(:meth:`engine.pinyin.session.Session.view`), never to what is learned.
"""
from __future__ import annotations

import logging

from .decoder import WHOLE_INPUT_FIRST, Conversion, Decoder, dedupe

log = logging.getLogger(__name__)


def decoder_readings(decoder: Decoder, pinyin: str, deadline: float | None = None) -> list[Conversion]:
    """Translator and filters 1-2: the decoder's readings of ``pinyin`` in list order.

    ``deadline`` (a ``time.perf_counter()`` value) bounds the search (Decoder.search); the
    readings are then those of the letters decoded so far (``decoder.text``)."""
    decoder.search(pinyin, deadline)
    if not decoder.text:
        return []
    sentences = decoder.sentences()
    prefixes = decoder.prefix_words(sentences)
    words = [c for c in prefixes if c.kind != "char"]
    chars = [c for c in prefixes if c.kind == "char"]
    # abbreviations (bjdx) have no near-copies: their whole-input readings are all different words
    k = len(sentences) if decoder.abbreviated else WHOLE_INPUT_FIRST
    return decoder.syllable_first(uncommon_last(decoder, dedupe(sentences[:k] + words + sentences[k:] + chars)))


def uncommon_last(decoder: Decoder, convs: list[Conversion]) -> list[Conversion]:
    """Filter: words with characters outside GB2312 after all others, in their order."""
    uncommon = [decoder.uncommon(c) for c in convs]
    return [c for c, u in zip(convs, uncommon) if not u] + [c for c, u in zip(convs, uncommon) if u]


def with_user_words(user_dict, letters: str, convs: list[Conversion]) -> list[Conversion]:
    """Translator 3: ``convs`` (the list for ``letters``) with the user dictionary's words
    (engine.user.userdict.UserDict.matches): whole-input ones first, prefix ones before the
    first decoder word or character covering no more letters; each replaces the same reading."""
    if user_dict is None or not user_dict.words or not letters:
        return convs
    lead = len(letters) - len(letters.lstrip("'"))
    found = [(w, lead + n) for w, n in user_dict.matches(letters)]
    if not found:
        return convs
    mine = {(w.word, n) for w, n in found}
    out = [c for c in convs if (c.text, c.consumed) not in mine]
    whole = [user_dict.conversion(w, n) for w, n in found if n == len(letters)]  # heaviest first
    out[0:0] = whole
    for w, n in found:
        if n < len(letters):
            out.insert(_prefix_slot(out, n, len(whole)), user_dict.conversion(w, n))
    return out


def _prefix_slot(out: list[Conversion], consumed: int, start: int) -> int:
    """Where a word covering ``consumed`` letters goes: before the first word or character the
    decoder found that covers no more letters (after ``start``)."""
    for i in range(start, len(out)):
        if out[i].kind in ("word", "char") and out[i].consumed <= consumed:
            return i
    return len(out)


def with_quick_phrases(phrases, letters: str, consumed: int, convs: list[Conversion]) -> list[Conversion]:
    """Translator 4: the quick phrases of ``letters`` (engine.pinyin.phrases.QuickPhrases) right
    after the first candidate, each covering ``consumed`` letters; a phrase already first is not repeated."""
    found = phrases.lookup(letters) if phrases is not None and letters else []
    if not found:
        return convs
    score = convs[0].score if convs else 0.0
    shown = {c.text for c in convs[:1]}
    extra = [Conversion(t, consumed, score, "phrase") for t in found if t not in shown]
    return convs[:1] + extra + convs[1:]


def candidates(decoder: Decoder, pinyin: str, letters: str, user_dict=None, phrases=None,
               deadline: float | None = None) -> list[Conversion]:
    """The whole pipeline for one input: ``letters`` as typed, ``pinyin`` what they spell."""
    convs = decoder_readings(decoder, pinyin, deadline) if letters else []
    try:
        convs = with_user_words(user_dict, pinyin, convs)
    except Exception:  # the keystroke path never raises: the decoder's list stands
        log.exception("user dictionary lookup failed for %r", pinyin)
    return with_quick_phrases(phrases, letters, len(pinyin), convs)
