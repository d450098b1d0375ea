"""The neural character model's format: the one definition the engine's reader
(engine.core.neural) and the trainer's exporter (trainer/export.py) share.

A model dir holds ``manifest.json`` (``format`` FORMAT, ``format_version`` FORMAT_VERSION,
``config``, ``vocab_size``, ``vocab_sha1``), ``vocab.txt`` (one token a line, SPECIAL_TOKENS
first), and ``model.onnx`` (or ``model.int8.onnx``) with the INPUTS and OUTPUTS below::

    tokens    int64    [B, T]             positions int64   [B, T]
    past_k    float16  [L, B, H, P, Dh]   past_v    float16 [L, B, H, P, Dh]
    past_mask float32  [B, P]             (1 = valid past slot, 0 = padding)
    -> logprobs float16 [B, T, V], present_k / present_v float16 [L, B, H, T, Dh]

present_k / present_v are the keys and values of the T new positions (format version 3). Versions
1 and 2, still read, returned the past's as well ([L, B, H, P+T, Dh], the new positions last); version
2 carries FLOAT16_IO as float16 (the engine keeps them so), version 1 carried them as float32.

Text becomes tokens one character each: a Han character (engine.text) is its token or
``<unk>``; each run of other characters is one ``<p>``; a text starts with ``<bos>``.
"""
from __future__ import annotations

import unicodedata

from ..text import is_han
from .digests import sha1

FORMAT = "shuru-neural-lm"
FORMAT_VERSION = 3
# what this Shuru reads: 2 is 3 with the past's keys and values returned too, 1 is 2 in float32
READ_VERSIONS = (1, 2, 3)
MANIFEST_NAME, VOCAB_NAME, ONNX_NAME, INT8_NAME = "manifest.json", "vocab.txt", "model.onnx", "model.int8.onnx"
MODEL_FILES = (INT8_NAME, ONNX_NAME)  # the engine runs the first one present
MANIFEST_KEYS = ("config", "vocab_size", "vocab_sha1")  # what every manifest of the format has

PAD, UNK, BOS, PUNCT = 0, 1, 2, 3
SPECIAL_TOKENS: dict[str, int] = {"<pad>": PAD, "<unk>": UNK, "<bos>": BOS, "<p>": PUNCT}

INPUTS = ("tokens", "positions", "past_k", "past_v", "past_mask")
OUTPUTS = ("logprobs", "present_k", "present_v")
FLOAT16_IO = ("past_k", "past_v", "logprobs", "present_k", "present_v")  # float16 from format version 2


def encode_text(token_id: dict[str, int], text: str) -> list[int]:
    """Characters -> token ids (NFKC; runs of non-Han characters become one <p>; no <bos>)."""
    out: list[int] = []
    for ch in unicodedata.normalize("NFKC", text):
        if is_han(ch):
            out.append(token_id.get(ch, UNK))
        elif not out or out[-1] != PUNCT:
            out.append(PUNCT)
    return out


def vocab_sha1(raw: bytes) -> str:
    """The sha1 a manifest records for the bytes of its vocab.txt."""
    return sha1(raw).hexdigest()


def manifest_problem(manifest: object) -> tuple[str, str] | None:
    """What is wrong with a parsed manifest, as (kind, words): kind "format" (not this format),
    "version" (another format version) or "damaged" (a key missing); None if it is sound."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        return "format", "is not a Shuru model manifest"
    if manifest.get("format_version") not in READ_VERSIONS:
        return "version", (f"is from another version of Shuru: format version {manifest.get('format_version')}, "
                           f"this Shuru reads versions {READ_VERSIONS[0]} to {READ_VERSIONS[-1]}")
    for key in MANIFEST_KEYS:
        if key not in manifest:
            return "damaged", f"is damaged: it lacks {key!r}"
    return None
