"""Output script: simplified Chinese as decoded, or traditional through OpenCC.

Decoding, learning and context stay in simplified characters; a :class:`ScriptConverter`
is the stage after the search that turns the chosen text into the script shown and
committed (and turns committed traditional text back into simplified context). For
simplified output there is no converter at all: OpenCC is neither imported nor called.
"""
from __future__ import annotations

import logging
from functools import lru_cache

log = logging.getLogger(__name__)

SIMPLIFIED = "simplified"
# script -> (OpenCC config to it, OpenCC config back to simplified)
SCRIPTS: dict[str, tuple[str, str]] = {
    "traditional": ("s2t", "t2s"),  # OpenCC standard traditional characters
    "tw": ("s2twp", "tw2sp"),  # Taiwan characters and phrases (软件 -> 軟體)
    "hk": ("s2hk", "hk2s"),  # Hong Kong characters
}
SCRIPT_NAMES: tuple[str, ...] = (SIMPLIFIED,) + tuple(SCRIPTS)
LABELS = {SIMPLIFIED: "简", "traditional": "繁", "tw": "繁(台)", "hk": "繁(港)"}


class ScriptConverter:
    """Converts simplified text to one traditional script and back (cached per string)."""

    def __init__(self, script: str):
        import opencc  # only when a traditional script is chosen

        to, back = SCRIPTS[script]
        self.script = script
        self._to = opencc.OpenCC(to)
        self._back = opencc.OpenCC(back)
        self.convert = lru_cache(maxsize=4096)(self._to.convert)
        self.to_simplified = lru_cache(maxsize=256)(self._back.convert)


@lru_cache(maxsize=None)
def converter(script: str) -> ScriptConverter | None:
    """The converter for ``script`` (one of :data:`SCRIPT_NAMES`); None for simplified.

    Raises ValueError for an unknown script; when OpenCC is missing, logs and returns None
    (the output stays simplified rather than failing)."""
    if script in (SIMPLIFIED, "", None):
        return None
    if script not in SCRIPTS:
        raise ValueError(f"unknown script {script!r}; choose one of {', '.join(SCRIPT_NAMES)}")
    try:
        return ScriptConverter(script)
    except ImportError as e:
        log.warning("traditional output needs OpenCC (pip install opencc): %s; output stays simplified", e)
        return None


__all__ = ["SCRIPT_NAMES", "SIMPLIFIED", "ScriptConverter", "converter"]
