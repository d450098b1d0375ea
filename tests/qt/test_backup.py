"""User data: one backup file holds it all, an import adds to what is there, and user.db is
complete on disk once Shuru has quit (no write-ahead log needed beside it)."""
import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from engine import Engine, EngineOptions
from engine.user.backup import BackupError, read_backup
from engine.user.userdict import UserWord
from tests.conftest import TIMEOUT_MS

ROOT = Path(__file__).resolve().parents[2]


def user_engine(folder: Path) -> Engine:
    """An engine whose user data (user.db, phrases.txt) lives in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    return Engine.load(EngineOptions(use_neural=False, history_path=folder / "user.db",
                                     phrases_path=folder / "phrases.txt"))


def type_and_commit(engine: Engine, *inputs: str) -> None:
    for letters in inputs:
        session = engine.new_session()
        session.insert(letters)
        session.view()
        session.commit()


def user_data(engine: Engine, folder: Path) -> tuple:
    """What a user would lose: learned words, dictionary words, the phrases file's text."""
    phrases = folder / "phrases.txt"
    return ({w for w, _, _ in engine.learned_words()}, {(w.word, w.pinyin, w.weight) for w in engine.user_words()},
            phrases.read_text(encoding="utf-8") if phrases.exists() else "")


def a_user_with_data(mine: Path) -> Engine:
    """A user who typed 中国, added 舒如 and has a quick phrase, in ``mine``."""
    mine.mkdir()
    (mine / "phrases.txt").write_text("yx 我的邮箱\n", encoding="utf-8")
    engine = user_engine(mine)
    type_and_commit(engine, "zhongguo")
    engine.add_user_words([UserWord("舒如", ("shu", "ru"))])
    return engine


@pytest.fixture
def backup(tmp_path) -> Path:
    """A backup of a user who typed 你好 and 电脑, added 阔落木 and a quick phrase, had settings."""
    old = tmp_path / "old"
    (old).mkdir()
    (old / "phrases.txt").write_text("dz 地址：北京市海淀区\n", encoding="utf-8")
    engine = user_engine(old)
    type_and_commit(engine, "nihao", "diannao")
    engine.add_user_words([UserWord("阔落木", ("kuo", "luo", "mu"), 2.0)])
    path = tmp_path / "me.shuru-backup"
    engine.export_user_data(path, {"settings.json": b'{"page_size": 7}'})
    engine.close()
    return path


def test_a_backup_moves_everything_to_a_new_machine(backup, tmp_path):
    new = user_engine(tmp_path / "new")
    summary = new.import_user_data(backup)
    assert (summary.learned_words, summary.dictionary_words, summary.phrases) == (2, 1, 1)
    assert summary.files == {"settings.json": b'{"page_size": 7}'}
    learned, words, phrases = user_data(new, tmp_path / "new")
    assert {"你好", "电脑"} <= learned and words == {("阔落木", "kuo'luo'mu", 2.0)}
    assert phrases == "dz 地址：北京市海淀区\n"
    session = new.new_session()
    session.insert("dz")
    assert "地址：北京市海淀区" in [c.text for c in session.view().candidates]  # the phrases are live


def test_an_import_adds_and_removes_nothing(backup, tmp_path):
    mine = tmp_path / "mine"
    engine = a_user_with_data(mine)
    engine.import_user_data(backup)
    engine.import_user_data(backup)  # twice: no duplicate phrase, no duplicate word
    learned, words, phrases = user_data(engine, mine)
    assert {"中国", "你好", "电脑"} <= learned
    assert {w for w, _, _ in words} == {"舒如", "阔落木"}
    assert phrases.splitlines() == ["yx 我的邮箱", "dz 地址：北京市海淀区"]


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buffer.getvalue()


MANIFEST = json.dumps({"format": "shuru-user-data", "version": 1}).encode()
# a file that is not a usable backup -> what the error says
BAD_BACKUPS = [
    (b"\x00\x01binary\xff" * 100, "not a zip archive"),
    ("你好，世界".encode("gb18030"), "not a zip archive"),
    (zipped({"user.db": b""}), "no Shuru manifest"),
    (zipped({"manifest.json": b'{"format": "anki"}', "user.db": b""}), "no Shuru manifest"),
    (zipped({"manifest.json": json.dumps({"format": "shuru-user-data", "version": 2}).encode(), "user.db": b""}),
     "format version 2; this Shuru reads version 1"),
    (zipped({"manifest.json": MANIFEST}), "has no user.db"),
    (zipped({"manifest.json": MANIFEST, "user.db": b"SQLite format 3\x00" + b"\x07" * 4000}), "user.db is unusable"),
    (zipped({"manifest.json": MANIFEST, "user.db": b"not a database at all" * 100}), "user.db is unusable"),
]


@pytest.mark.parametrize("data, reason", BAD_BACKUPS)
def test_a_bad_backup_is_refused_and_changes_nothing(data, reason, tmp_path):
    mine = tmp_path / "mine"
    engine = a_user_with_data(mine)
    before = user_data(engine, mine)
    bad = tmp_path / "bad.shuru-backup"
    bad.write_bytes(data)
    with pytest.raises(BackupError, match=reason):
        engine.import_user_data(bad)
    assert user_data(engine, mine) == before


def test_a_truncated_backup_is_refused(backup, tmp_path):
    cut = tmp_path / "cut.shuru-backup"
    cut.write_bytes(backup.read_bytes()[:-200])
    with pytest.raises(BackupError, match="not a zip archive|damaged"):
        read_backup(cut)


def test_an_export_that_cannot_be_written_leaves_no_file(tmp_path):
    engine = user_engine(tmp_path / "u")
    target = tmp_path / "missing-folder" / "x.shuru-backup"
    with pytest.raises(BackupError, match="could not write"):
        engine.export_user_data(target)
    assert not target.exists()


# -- user.db alone is complete after a normal quit ----------------------------------------------

def wal_is_folded(db: Path) -> bool:
    wal = db.with_name(db.name + "-wal")
    return not wal.exists() or wal.stat().st_size == 0


def learned_in_a_copy_of(db: Path, tmp_path: Path) -> set[str]:
    """The learned words of ``db`` copied alone (no -wal, no -shm), as a backup by hand would be."""
    alone = tmp_path / "copied"
    alone.mkdir()
    shutil.copy(db, alone / "user.db")
    return {w for w, _, _ in Engine.load(EngineOptions(use_neural=False, history_path=alone / "user.db")).learned_words()}


def test_closing_the_engine_folds_the_log_into_user_db(tmp_path):
    engine = user_engine(tmp_path / "u")
    type_and_commit(engine, "nihao", "zhongguo")
    engine.add_user_words([UserWord("阔落木", ("kuo", "luo", "mu"))])
    assert not wal_is_folded(tmp_path / "u" / "user.db")  # while it runs, the log holds the commits
    engine.close()
    assert wal_is_folded(tmp_path / "u" / "user.db")
    assert {"你好", "中国"} <= learned_in_a_copy_of(tmp_path / "u" / "user.db", tmp_path)


def test_a_process_that_exits_normally_leaves_user_db_complete(tmp_path):
    """Any entry point: the store is closed at interpreter exit, checkpoint included."""
    db = tmp_path / "u" / "user.db"
    code = (f"from pathlib import Path\nfrom tests.qt.test_backup import user_engine, type_and_commit\n"
            f"type_and_commit(user_engine(Path({str(db.parent)!r})), 'nihao')\n")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120)
    assert wal_is_folded(db) and "你好" in learned_in_a_copy_of(db, tmp_path)


def test_the_window_leaves_user_db_complete_when_it_closes(make_window, qtbot, tmp_path):
    from tests.qt.test_app import typed
    from PySide6.QtTest import QTest
    from PySide6.QtCore import Qt

    w = make_window()
    qtbot.waitUntil(lambda: w.controller.ready, timeout=TIMEOUT_MS)
    typed(qtbot, w, "nihao")
    QTest.keyClick(w.editor, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: w.editor.toPlainText() == "你好", timeout=TIMEOUT_MS)
    w.editor.document().setModified(False)
    w.close()
    db = tmp_path / "history.db"  # the fixture's history path is history.json, kept as history.db
    assert wal_is_folded(db) and "你好" in learned_in_a_copy_of(db, tmp_path)


def test_the_window_exports_and_imports_user_data(make_window, qtbot, tmp_path):
    """File → Export User Data… then, in another user's window, Import: words, settings restored."""
    from frontend.config import Settings
    from tests.qt.test_app import typed
    from PySide6.QtTest import QTest
    from PySide6.QtCore import Qt

    w = make_window(Settings(page_size=6))
    qtbot.waitUntil(lambda: w.controller.ready, timeout=TIMEOUT_MS)
    typed(qtbot, w, "diannao")
    QTest.keyClick(w.editor, Qt.Key.Key_Space)
    path = tmp_path / "mine.shuru-backup"
    w.export_user_data(str(path))
    qtbot.waitUntil(path.exists, timeout=TIMEOUT_MS)
    manifest, members = read_backup(path)
    assert json.loads(members["settings.json"])["page_size"] == 6 and manifest["contents"]["learned_words"] >= 1

    other = make_window(Settings(page_size=9), history_path=tmp_path / "other" / "user.db")
    qtbot.waitUntil(lambda: other.controller.ready, timeout=TIMEOUT_MS)
    other.import_user_data(str(path), confirm=False)
    qtbot.waitUntil(lambda: other.settings.page_size == 6, timeout=TIMEOUT_MS)
    assert other.store.load().page_size == 6


def test_the_command_line_exports_and_imports(backup, tmp_path):
    """`shuru --import-user-data` / `--export-user-data`: no display needed; user.db complete after."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT),
           "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    run = subprocess.run([sys.executable, "-m", "ime_app", "--import-user-data", str(backup)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "added 2 learned words, 1 dictionary words and 1 quick phrases" in run.stdout
    assert json.loads((tmp_path / "config/shuru/settings.json").read_text())["page_size"] == 7
    db = tmp_path / "data/shuru/user.db"
    assert wal_is_folded(db) and {"你好", "电脑"} <= learned_in_a_copy_of(db, tmp_path)
    again = tmp_path / "again.shuru-backup"
    run = subprocess.run([sys.executable, "-m", "ime_app", "--export-user-data", str(again)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert sorted(read_backup(again)[1]) == ["phrases.txt", "settings.json", "user.db"]
    run = subprocess.run([sys.executable, "-m", "ime_app", "--import-user-data", str(tmp_path / "nothing")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and "nothing was changed" in run.stderr
