"""The user's data on disk: one SQLite database, ``user.db`` under the platformdirs user data dir.

It holds what Shuru learns from the words a user commits: decaying word and word-pair
weights (see :mod:`engine.user.history` for the model that reads them), and the user's own
dictionary of words with their pinyin (see :mod:`engine.user.userdict`). Each commit is one
transaction in WAL mode, and every update is computed from the row as it is in the file,
so several processes (the window and the IBus engine) learn at once without losing each
other's updates; crashes and power loss are SQLite's problem, not ours.

Weights decay with the number of words committed since (``half_life`` words halve a
weight), stored as ``(weight, stamp)``: the weight as of the store's word clock ``stamp``.
Layout (format version in ``PRAGMA user_version``, owner in ``PRAGMA application_id``)::

    meta(key TEXT PRIMARY KEY, value)                  clock: words committed so far
    unigram(word TEXT PRIMARY KEY, weight, stamp, used_at)
    bigram(prev TEXT, word TEXT, weight, stamp, PRIMARY KEY (prev, word))
    userdict(word TEXT, pinyin TEXT, weight, added_at, PRIMARY KEY (word, pinyin))   since version 2

Version 1 files (no user dictionary) are upgraded in place when opened.
"""
from __future__ import annotations

import logging
import sqlite3
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserDataError

log = logging.getLogger(__name__)

APPLICATION_ID = 0x53485255  # "SHRU"
SCHEMA_VERSION = 2
UPGRADABLE = (1,)  # older versions opened and upgraded in place (the tables they lack are added)
BUSY_TIMEOUT_S = 10.0  # another process holds the write lock at most one commit long
MEMORY = ":memory:"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value);
CREATE TABLE IF NOT EXISTS unigram(word TEXT PRIMARY KEY, weight REAL NOT NULL, stamp REAL NOT NULL,
                                   used_at REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bigram(prev TEXT NOT NULL, word TEXT NOT NULL, weight REAL NOT NULL,
                                  stamp REAL NOT NULL, PRIMARY KEY (prev, word)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS bigram_word ON bigram(word);
CREATE TABLE IF NOT EXISTS userdict(word TEXT NOT NULL, pinyin TEXT NOT NULL, weight REAL NOT NULL,
                                    added_at REAL NOT NULL, PRIMARY KEY (word, pinyin)) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class Snapshot:
    """Every learned weight, decayed to ``clock``."""

    clock: float
    unigrams: dict[str, float]
    bigrams: dict[tuple[str, str], float]
    used_at: dict[str, float]


class UserStore:
    """Reads and writes the learned weights; ``path`` may be ``":memory:"`` (nothing on disk)."""

    def __init__(self, path: Path | str, half_life: float):
        self.path = path
        self.half_life = float(half_life)
        self._db = self._open()
        self._version = self._data_version()
        # at close, garbage collection or interpreter exit: the WAL folded back into user.db
        self._closer = weakref.finalize(self, _checkpoint_and_close, self._db, self.path)

    # -- opening --------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        if self.path != MEMORY:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            db = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                 check_same_thread=False)
            db.create_function("decayed", 3, self._decayed, deterministic=True)
            app_id, version, tables = _identity(db)
        except sqlite3.OperationalError:
            raise  # cannot open (no permission, disk full, locked): the file itself may be fine
        except sqlite3.DatabaseError as e:
            raise UserDataError(f"{self.path} is not a Shuru user database ({e})") from None
        if tables and app_id != APPLICATION_ID:
            db.close()
            raise UserDataError(f"{self.path} is an SQLite file of another program")
        if version in UPGRADABLE:
            log.info("upgrading %s from user-data version %d to %d", self.path, version, SCHEMA_VERSION)
        elif tables and version != SCHEMA_VERSION:
            db.close()
            raise UserDataError(f"{self.path} has user-data version {version}, this Shuru reads {SCHEMA_VERSION}")
        if self.path != MEMORY:
            _use_wal(db)
            db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoints, never corrupt
        if tables and version == SCHEMA_VERSION:  # opening a current store writes nothing (works on a full disk)
            return db
        with _transaction(db):
            for stmt in filter(str.strip, SCHEMA.split(";")):
                db.execute(stmt)
            db.execute(f"PRAGMA application_id={APPLICATION_ID}")
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES('clock', 0)")
        return db

    def copy_to(self, path: Path) -> None:
        """A consistent copy of the whole store in ``path`` (SQLite's online backup: other
        processes may go on writing)."""
        target = sqlite3.connect(str(path))
        try:
            self._db.backup(target)
        finally:
            target.close()

    def close(self) -> None:
        """Fold the write-ahead log into the file (so ``user.db`` alone is complete) and close."""
        self._closer()

    def _decayed(self, weight: float, stamp: float, now: float) -> float:
        return weight * 0.5 ** ((now - stamp) / self.half_life)

    # -- writing --------------------------------------------------------------------------
    def learn(self, words: list[str], pairs: list[tuple[str, str]]) -> float:
        """Add one commit's words and word pairs (one transaction); returns the new clock."""
        now_s = time.time()
        with _transaction(self._db):
            clock = self._clock() + len(words)
            self._db.executemany(
                "INSERT INTO unigram(word, weight, stamp, used_at) VALUES(?, 1, ?, ?) ON CONFLICT(word) DO UPDATE "
                "SET weight = decayed(weight, stamp, excluded.stamp) + 1, stamp = excluded.stamp, "
                "used_at = excluded.used_at", [(w, clock, now_s) for w in words])
            self._db.executemany(
                "INSERT INTO bigram(prev, word, weight, stamp) VALUES(?, ?, 1, ?) ON CONFLICT(prev, word) DO UPDATE "
                "SET weight = decayed(weight, stamp, excluded.stamp) + 1, stamp = excluded.stamp",
                [(a, b, clock) for a, b in pairs])
            self._db.execute("UPDATE meta SET value = ? WHERE key = 'clock'", (clock,))
        return clock

    def add_counts(self, unigrams: dict[str, float], bigrams: dict[tuple[str, str], float]) -> None:
        """Add weights as of the current clock (importing an older history)."""
        with _transaction(self._db):
            clock, now_s = self._clock(), time.time()
            self._db.executemany(
                "INSERT INTO unigram(word, weight, stamp, used_at) VALUES(?, ?, ?, ?) ON CONFLICT(word) DO UPDATE "
                "SET weight = decayed(weight, stamp, excluded.stamp) + excluded.weight, stamp = excluded.stamp",
                [(w, float(c), clock, now_s) for w, c in unigrams.items()])
            self._db.executemany(
                "INSERT INTO bigram(prev, word, weight, stamp) VALUES(?, ?, ?, ?) ON CONFLICT(prev, word) DO UPDATE "
                "SET weight = decayed(weight, stamp, excluded.stamp) + excluded.weight, stamp = excluded.stamp",
                [(a, b, float(c), clock) for (a, b), c in bigrams.items()])

    def remove(self, words: list[str]) -> int:
        """Forget these words and every pair they are part of; returns how many words were known."""
        with _transaction(self._db):
            n = 0
            for w in words:
                n += self._db.execute("DELETE FROM unigram WHERE word = ?", (w,)).rowcount
                self._db.execute("DELETE FROM bigram WHERE prev = ? OR word = ?", (w, w))
        return n

    def clear(self) -> None:
        """Forget everything (the clock keeps running)."""
        with _transaction(self._db):
            self._db.execute("DELETE FROM unigram")
            self._db.execute("DELETE FROM bigram")

    def prune(self, min_weight: float, max_unigrams: int, max_bigrams: int) -> int:
        """Drop weights decayed below ``min_weight`` and the weakest beyond the caps; returns rows dropped."""
        with _transaction(self._db):
            clock = self._clock()
            dropped = 0
            for table, cap in (("unigram", max_unigrams), ("bigram", max_bigrams)):
                dropped += self._db.execute(f"DELETE FROM {table} WHERE decayed(weight, stamp, ?) < ?",
                                            (clock, min_weight)).rowcount
                excess = self._db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] - cap
                if excess > 0:
                    key = "word" if table == "unigram" else "prev, word"
                    dropped += self._db.execute(
                        f"DELETE FROM {table} WHERE ({key}) IN (SELECT {key} FROM {table} "
                        f"ORDER BY decayed(weight, stamp, ?) LIMIT ?)", (clock, excess)).rowcount
        return dropped

    # -- the user dictionary --------------------------------------------------------------
    def dict_entries(self) -> list[tuple[str, str, float]]:
        """(word, pinyin as "shen'du", weight) of every user dictionary entry, in the order added."""
        return self._db.execute("SELECT word, pinyin, weight FROM userdict ORDER BY added_at, word").fetchall()

    def dict_add(self, entries: list[tuple[str, str, float]]) -> None:
        """Add or update (same word and pinyin: the new weight) dictionary entries."""
        now_s = time.time()
        with _transaction(self._db):
            self._db.executemany(
                "INSERT INTO userdict(word, pinyin, weight, added_at) VALUES(?, ?, ?, ?) "
                "ON CONFLICT(word, pinyin) DO UPDATE SET weight = excluded.weight",
                [(w, p, float(x), now_s + i * 1e-6) for i, (w, p, x) in enumerate(entries)])

    def dict_remove(self, words: list[str]) -> int:
        """Remove these words (every pinyin of each); returns how many entries went."""
        with _transaction(self._db):
            return sum(self._db.execute("DELETE FROM userdict WHERE word = ?", (w,)).rowcount for w in words)

    # -- reading --------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """All weights decayed to the current clock (read in one transaction)."""
        with _transaction(self._db, "BEGIN"):
            clock = self._clock()
            uni = self._db.execute("SELECT word, decayed(weight, stamp, ?), used_at FROM unigram", (clock,)).fetchall()
            bi = self._db.execute("SELECT prev, word, decayed(weight, stamp, ?) FROM bigram", (clock,)).fetchall()
        self._version = self._data_version()
        return Snapshot(clock, {w: c for w, c, _ in uni}, {(a, b): c for a, b, c in bi}, {w: t for w, _, t in uni})

    def changed_elsewhere(self) -> bool:
        """Whether another connection (another process) committed since this one last looked."""
        version = self._data_version()
        changed, self._version = version != self._version, version
        return changed

    def _clock(self) -> float:
        return float(self._db.execute("SELECT value FROM meta WHERE key = 'clock'").fetchone()[0])

    def _data_version(self) -> int:
        return self._db.execute("PRAGMA data_version").fetchone()[0]


class _transaction:
    """``with _transaction(db):`` BEGIN IMMEDIATE (the write lock up front) ... COMMIT, or ROLLBACK."""

    def __init__(self, db: sqlite3.Connection, begin: str = "BEGIN IMMEDIATE"):
        self.db, self.begin = db, begin

    def __enter__(self):
        self.db.execute(self.begin)
        return self.db

    def __exit__(self, exc_type, exc, tb):
        self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")
        return False


def _identity(db: sqlite3.Connection) -> tuple[int, int, int]:
    """(application_id, user_version, tables) read in one transaction: another process creating
    the store at the same moment is seen before or after its creation, never half-way."""
    with _transaction(db, "BEGIN"):
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    return app_id, version, tables


def _use_wal(db: sqlite3.Connection) -> None:
    """``PRAGMA journal_mode=WAL``, retried for up to BUSY_TIMEOUT_S: switching a new file to WAL
    needs it exclusively, and SQLite answers "database is locked" at once, without its busy
    handler, while another process is reading or creating the same file."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _checkpoint_and_close(db: sqlite3.Connection, path: Path | str) -> None:
    """``PRAGMA wal_checkpoint(TRUNCATE)`` then close; a busy checkpoint (another process is
    reading) is left to the last connection that closes, as SQLite does."""
    try:
        if path != MEMORY:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error as e:
        log.warning("could not checkpoint %s: %s", path, e)
    finally:
        db.close()
