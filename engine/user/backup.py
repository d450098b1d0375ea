"""All of a user's Shuru data in one file: to back it up, or to move to another machine.

A backup is a zip archive (``*.shuru-backup``)::

    manifest.json   {"format": "shuru-user-data", "version": 1, "created": ..., "contents": {...}}
    user.db         a consistent copy of the user store: learned words and the user dictionary
    phrases.txt     the quick phrases (when the user has any)
    settings.json   and any other file the front end adds (its settings)

Export copies the live store with SQLite's backup API (other processes may keep learning) and
writes the archive atomically. Import checks the whole file first (format, version, that
``user.db`` is a Shuru store), then *adds* to what is there: learned weights are added as an
import of another history is, dictionary words are added (the backup's weight wins for a word
already there), quick phrases missing from the current file are appended. Nothing is deleted.
The front end gets the other files back (settings) to apply as it sees fit.
"""
from __future__ import annotations

import io
import json
import sqlite3
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import write_bytes_atomic
from ..errors import ShuruError
from .history import HALF_LIFE
from .userdb import MEMORY, UserStore

FORMAT, VERSION = "shuru-user-data", 1
SUFFIX = ".shuru-backup"
STORE_MEMBER, PHRASES_MEMBER, MANIFEST_MEMBER = "user.db", "phrases.txt", "manifest.json"
MAX_BACKUP_BYTES = 1 << 30  # far above any real user's data; refuses a wrong file before reading it


class BackupError(ShuruError):
    """A backup file that cannot be read or written (the reason, and nothing was changed)."""


@dataclass
class ImportSummary:
    """What an import added, and the front end's files it carried (name -> bytes)."""

    learned_words: int = 0
    dictionary_words: int = 0
    phrases: int = 0
    files: dict[str, bytes] = field(default_factory=dict)

    def describe(self) -> str:
        """One line for the user."""
        return (f"added {self.learned_words} learned words, {self.dictionary_words} dictionary words and "
                f"{self.phrases} quick phrases" + (f"; restored {', '.join(sorted(self.files))}" if self.files else ""))


def export_user_data(engine, dest: Path, files: dict[str, bytes] | None = None) -> dict:
    """Write ``engine``'s user data and ``files`` (the front end's, e.g. settings.json) to ``dest``."""
    dest = Path(dest)
    with tempfile.TemporaryDirectory(prefix="shuru-export-") as tmp:
        copy = Path(tmp) / STORE_MEMBER
        _copy_store(engine, copy)
        store = UserStore(copy, HALF_LIFE)
        try:
            contents = {"learned_words": len(store.snapshot().unigrams), "dictionary_words": len(store.dict_entries())}
        finally:
            store.close()
        members = {STORE_MEMBER: copy.read_bytes(), **(files or {})}
    phrases = engine.options.phrases_path
    if phrases is not None and Path(phrases).is_file():
        members[PHRASES_MEMBER] = Path(phrases).read_bytes()
    contents["files"] = sorted(members)
    manifest = {"format": FORMAT, "version": VERSION, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "contents": contents}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(MANIFEST_MEMBER, json.dumps(manifest, ensure_ascii=False, indent=1))
        for name, data in members.items():
            z.writestr(name, data)
    try:
        write_bytes_atomic(dest, buffer.getvalue())
    except OSError as e:
        raise BackupError(f"could not write {dest}: {e.strerror or e}") from None
    return manifest


def _copy_store(engine, copy: Path) -> None:
    """A consistent copy of the store holding the user's data (SQLite's online backup)."""
    store = engine.history.store
    if store.path == MEMORY and engine.dict_store is not None:
        store = engine.dict_store  # learning off: the file still holds the dictionary
    store.copy_to(copy)


def read_backup(src: Path) -> tuple[dict, dict[str, bytes]]:
    """(manifest, members) of a backup file, checked; BackupError saying what is wrong."""
    src = Path(src)
    try:
        if src.stat().st_size > MAX_BACKUP_BYTES:
            raise BackupError(f"{src} is not a Shuru backup (it is larger than any backup)")
        with zipfile.ZipFile(src) as z:
            bad = z.testzip()
            if bad is not None:
                raise BackupError(f"{src} is damaged ({bad} does not match its checksum)")
            members = {name: z.read(name) for name in z.namelist()}
    except (zipfile.BadZipFile, EOFError):
        raise BackupError(f"{src} is not a Shuru backup (not a zip archive)") from None
    except OSError as e:
        raise BackupError(f"could not read {src}: {e.strerror or e}") from None
    try:
        manifest = json.loads(members.pop(MANIFEST_MEMBER).decode("utf-8"))
        assert isinstance(manifest, dict) and manifest.get("format") == FORMAT
    except (KeyError, ValueError, AssertionError):
        raise BackupError(f"{src} is not a Shuru backup (no Shuru manifest)") from None
    if manifest.get("version") != VERSION:
        raise BackupError(f"{src} has format version {manifest.get('version')}; this Shuru reads version {VERSION}")
    if STORE_MEMBER not in members:
        raise BackupError(f"{src} is damaged (it has no {STORE_MEMBER})")
    return manifest, members


def import_user_data(engine, src: Path) -> ImportSummary:
    """Add the user data of backup ``src`` to ``engine``'s (checked whole before anything changes)."""
    from .userdict import UserWord

    _, members = read_backup(src)
    with tempfile.TemporaryDirectory(prefix="shuru-import-") as tmp:
        copy = Path(tmp) / STORE_MEMBER
        copy.write_bytes(members.pop(STORE_MEMBER))
        try:
            other = UserStore(copy, HALF_LIFE)
            try:
                learned, entries = len(other.snapshot().unigrams), other.dict_entries()
            finally:
                other.close()
        except (ShuruError, sqlite3.Error) as e:
            raise BackupError(f"{src} is damaged: its {STORE_MEMBER} is unusable ({e})") from None
        phrases = _new_phrases(engine, members.pop(PHRASES_MEMBER, None))
        engine.history.import_file(copy)
    if entries:
        engine.add_user_words([UserWord(w, tuple(p.split("'")), x) for w, p, x in entries])
    if phrases:
        _append_phrases(engine, phrases)
    return ImportSummary(learned, len(entries), len(phrases), members)


def _new_phrases(engine, data: bytes | None) -> list[str]:
    """The backup's quick-phrase lines that the current file lacks."""
    if not data:
        return []
    try:
        lines = data.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError:
        raise BackupError(f"the backup's {PHRASES_MEMBER} is not UTF-8 text") from None
    path = engine.options.phrases_path
    have = set(Path(path).read_text(encoding="utf-8").splitlines()) if path and Path(path).is_file() else set()
    return [ln for ln in lines if ln.strip() and ln not in have]


def _append_phrases(engine, lines: list[str]) -> None:
    """Append ``lines`` to the quick-phrases file (atomically) and reload the phrases."""
    path = engine.options.phrases_path
    if path is None:
        raise BackupError("the backup has quick phrases but this Shuru keeps none (no phrases file)")
    path = Path(path)
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, (old + ("" if not old or old.endswith("\n") else "\n") + "\n".join(lines) + "\n").encode("utf-8"))
    engine.configure(phrases_path=path)
