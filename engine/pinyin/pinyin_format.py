"""The on-disk format of the pinyin-reading model: one definition for the writer
(trainer.pinyin_export, which documents the run-time contract) and the reader
(engine.pinyin_scorer).

Model dir: encoder.onnx, decoder.onnx, candidates.npz, vocab.txt, syllables.txt and
manifest.json (format "shuru-pinyin-model" v3: the decoder's caches and log-probabilities
are float16, engine.core.model_format.FLOAT16_IO, and it returns the new positions' keys and values
only, as the character model's format 3; v2, still read, returned the past's too, and v1 carried
them as float32).
Syllable token ids (syllables.txt, one token a line): 0 `<pad>` (not typed yet), 1 `<none>`
(no pinyin: <bos>, context chars, punctuation), then engine.syllables.SYLLABLES in order (`v`
for ü), then the 23 consonant initials (INITIALS without a, o, e, which are syllables themselves).
candidates.npz (CSR): `offsets` int64 [n_syllable + 1], `ids` int32, row s =
ids[offsets[s]:offsets[s + 1]] (sorted vocabulary ids), `vocab_sha1`, `syllable_sha1`.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..core.model_format import INPUTS, OUTPUTS, vocab_sha1
from ..errors import PinyinFormatVersionError, PinyinModelError, PinyinModelMismatchError
from .syllables import INITIALS, SYLLABLE_ID, SYLLABLES

FORMAT, FORMAT_VERSION = "shuru-pinyin-model", 3
# what this Shuru reads: 2 is 3 returning the past's keys and values too, 1 is 2 in float32
READ_VERSIONS = (1, 2, 3)
ENCODER_NAME, DECODER_NAME, CANDIDATES_NAME, SYLLABLES_NAME, VOCAB_NAME, MANIFEST_NAME = (
    "encoder.onnx", "decoder.onnx", "candidates.npz", "syllables.txt", "vocab.txt", "manifest.json")
MODEL_FILES = (ENCODER_NAME, DECODER_NAME, CANDIDATES_NAME, VOCAB_NAME, SYLLABLES_NAME)
ENCODER_INPUTS, ENCODER_OUTPUTS = ["syllables"], ["enc"]
DECODER_INPUTS, DECODER_OUTPUTS = list(INPUTS) + ["pinyin"], list(OUTPUTS)  # the CharLM's cached step + pinyin

SYL_PAD, SYL_NONE = 0, 1
MAX_CONTEXT = 32  # characters of context the model reads before a reading (the last ones)
SYL_SPECIALS = ("<pad>", "<none>")
SYL_INITIALS = tuple(i for i in INITIALS if i not in SYLLABLE_ID)  # 23: a, o, e are syllables
SYLLABLE_TOKENS: tuple[str, ...] = SYL_SPECIALS + SYLLABLES + SYL_INITIALS


def tokens_text(tokens) -> str:
    """The bytes (as text) of a syllables.txt or vocab.txt: one token a line."""
    return "".join(t + "\n" for t in tokens)


def text_sha1(text: str) -> str:
    """The sha1 of a token file's text (engine.core.model_format.vocab_sha1 of its bytes)."""
    return vocab_sha1(text.encode("utf-8"))


SYLLABLE_SHA1 = text_sha1(tokens_text(SYLLABLE_TOKENS))


# --- manifest ----------------------------------------------------------------------------


def read_pinyin_manifest(model_dir: Path, vocab_sha1: str | None = None, syllable_sha1: str | None = None) -> dict:
    """Read and check a pinyin model dir: format and version, every file present, vocab.txt
    and syllables.txt matching the manifest's sha1s (and the ones given), candidates.npz
    written for both and with a row per syllable token. Raises PinyinModelError (missing or
    unreadable), PinyinModelMismatchError (files that do not belong together) or
    PinyinFormatVersionError, each saying what is wrong."""
    model_dir = Path(model_dir)
    m = _read_json(model_dir)
    for name in MODEL_FILES:
        if not (model_dir / name).is_file():
            raise PinyinModelError(f"{model_dir} is missing {name}: re-export the model dir")
    _check_sha1(model_dir / VOCAB_NAME, m.get("vocab_sha1"), vocab_sha1)
    _check_sha1(model_dir / SYLLABLES_NAME, m.get("syllable_sha1"), syllable_sha1)
    offsets, _, written_for = read_candidates(model_dir / CANDIDATES_NAME)
    rows = len(offsets) - 1
    if written_for != (m.get("vocab_sha1"), m.get("syllable_sha1")) or rows != m.get("n_syllable"):
        raise PinyinModelMismatchError(f"{model_dir / CANDIDATES_NAME} was written for another vocab.txt / "
                                       f"syllables.txt ({rows} rows, manifest n_syllable {m.get('n_syllable')})")
    if (m.get("config") or {}).get("vocab_size") != m.get("vocab_size"):
        raise PinyinModelMismatchError(f"{model_dir / MANIFEST_NAME}: config vocab_size differs from vocab_size")
    return m


def _read_json(model_dir: Path) -> dict:
    path = model_dir / MANIFEST_NAME
    if not path.is_file():
        raise PinyinModelError(f"{model_dir} has no {MANIFEST_NAME}: not a Shuru model dir (re-export it)")
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as e:
        raise PinyinModelError(f"{path} is not valid JSON: {e}") from None
    if not isinstance(m, dict):
        raise PinyinModelError(f"{path} is not a JSON object")
    found = f"{path}: format {m.get('format')!r} v{m.get('format_version')}, expected {FORMAT!r} v{FORMAT_VERSION}"
    if m.get("format") != FORMAT:
        raise PinyinModelMismatchError(f"{found}: not a pinyin model dir")
    if m.get("format_version") not in READ_VERSIONS:
        raise PinyinFormatVersionError(f"{found}: written by another version of Shuru (re-export it with this one)")
    return m


def _check_sha1(path: Path, manifest_sha1: str | None, wanted: str | None) -> None:
    """A tokens file (vocab.txt, syllables.txt) must match the manifest's sha1 (and `wanted`)."""
    try:
        actual = vocab_sha1(path.read_bytes())
    except OSError as e:
        raise PinyinModelError(f"{path} is unreadable: {e}") from None
    if actual != manifest_sha1 or (wanted is not None and actual != wanted):
        raise PinyinModelMismatchError(f"{path.parent}: {path.name} sha1 {actual} does not match the manifest "
                                       f"({manifest_sha1}){'' if wanted is None else ' / ' + wanted}")


# --- candidates ----------------------------------------------------------------------------


def read_candidates(path: Path) -> tuple[np.ndarray, np.ndarray, tuple[str, str]]:
    """candidates.npz -> (offsets int64, ids int32, (vocab_sha1, syllable_sha1) written for)."""
    try:
        with np.load(path) as z:
            offsets, ids = z["offsets"].astype(np.int64), z["ids"].astype(np.int32)
            written_for = (str(z["vocab_sha1"]), str(z["syllable_sha1"]))
    except (OSError, ValueError, KeyError) as e:
        raise PinyinModelError(f"{path} is unreadable: {e}") from None
    if len(offsets) < 1 or offsets[0] != 0 or offsets[-1] != len(ids) or np.any(np.diff(offsets) < 0):
        raise PinyinModelError(f"{path} is damaged: its offsets do not index its ids")
    return offsets, ids, written_for


def candidates_dense(offsets: np.ndarray, ids: np.ndarray, vocab_size: int) -> np.ndarray:
    """CSR rows -> the dense bool [n_syllable, vocab_size] matrix."""
    dense = np.zeros((len(offsets) - 1, vocab_size), dtype=bool)
    dense[np.repeat(np.arange(len(offsets) - 1), np.diff(offsets)), ids] = True
    return dense
