"""A full disk: writing the history, the settings or the edited document fails with a message,
and the file written before stays whole.

The disk is a real 1 MiB tmpfs, filled up with a filler file (the tests run as root; where
``mount`` is refused, the writes fail the same way by an injected ENOSPC instead).
"""
from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import uuid
from pathlib import Path

import pytest

from engine import Engine, EngineOptions
from frontend.config import Settings, SettingsStore
from ime_app.window import write_text_atomic


class SmallDisk:
    """A folder on its own small filesystem that :meth:`fill` makes full."""

    def __init__(self, folder: Path, monkeypatch):
        self.folder, self.monkeypatch = folder, monkeypatch
        folder.mkdir()
        self.tmpfs = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
                                    capture_output=True).returncode == 0

    def fill(self) -> None:
        """Use up every free byte (or, without tmpfs, make every write under the folder fail)."""
        if self.tmpfs:
            fd = os.open(self.folder / f"filler-{uuid.uuid4().hex}", os.O_WRONLY | os.O_CREAT)
            try:
                while os.write(fd, b"\0" * 512):
                    pass
            except OSError as e:
                assert e.errno == errno.ENOSPC
            finally:
                os.close(fd)
            return
        self._inject_enospc()

    def _inject_enospc(self) -> None:
        real_write = os.write

        def write(fd, data):
            if os.path.realpath(f"/proc/self/fd/{fd}").startswith(str(self.folder)):
                raise OSError(errno.ENOSPC, "No space left on device")
            return real_write(fd, data)

        self.monkeypatch.setattr(os, "write", write)

    def close(self) -> None:
        if self.tmpfs:
            subprocess.run(["umount", "-l", str(self.folder)], check=True)


@pytest.fixture
def disk(tmp_path, monkeypatch):
    d = SmallDisk(tmp_path / "disk", monkeypatch)
    yield d
    d.close()


def typed(engine: Engine, letters: str) -> str:
    s = engine.new_session()
    s.insert(letters)
    return s.commit()


def test_the_history_on_a_full_disk_keeps_typing_and_what_was_learned(disk, monkeypatch):
    db = disk.folder / "user.db"
    e = Engine.load(EngineOptions(use_neural=False, history_path=db))
    first = typed(e, "yinhang")
    e.history.store.close()
    e = Engine.load(EngineOptions(use_neural=False, history_path=db))
    disk.fill()
    if not disk.tmpfs:  # SQLite writes from C: inject its full-disk error where it would surface
        def full(*a, **k):
            raise sqlite3.OperationalError("database or disk is full")
        monkeypatch.setattr(e.history.store, "learn", full)
    for letters in ("nihao", "shijie", "women", "xuexi") * 50:
        assert typed(e, letters)
    assert "learned words not saved" in e.history.error and "full" in e.history.error
    again = Engine.load(EngineOptions(use_neural=False, history_path=db))
    assert again.history.error == "" and "".join(again.learned_parts(first)) == first


def test_settings_on_a_full_disk_fail_with_a_message_and_stay_whole(disk, caplog):
    store = SettingsStore(disk.folder)
    store.save(Settings(page_size=7, recent_files=["a.txt"]))
    disk.fill()
    store.save(Settings(page_size=3, recent_files=["b.txt"] * 8))
    assert any("could not save settings" in r.getMessage() for r in caplog.records)
    assert store.load() == Settings(page_size=7, recent_files=["a.txt"]) and store.error == ""
    assert sorted(p.name for p in disk.folder.iterdir() if not p.name.startswith("filler")) == ["settings.json"]


def test_the_document_on_a_full_disk_fails_and_the_saved_file_stays_whole(disk):
    doc = disk.folder / "doc.txt"
    write_text_atomic(doc, "银行的利率\n")
    disk.fill()
    with pytest.raises(OSError) as raised:
        write_text_atomic(doc, "今天天气很好" * 50_000)
    assert raised.value.errno == errno.ENOSPC
    assert doc.read_text(encoding="utf-8") == "银行的利率\n"
    assert sorted(p.name for p in disk.folder.iterdir() if not p.name.startswith("filler")) == ["doc.txt"]


def test_the_window_says_the_document_was_not_saved(make_window, disk, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    doc = disk.folder / "doc.txt"
    w = make_window()
    w.editor.setPlainText("银行的利率")
    assert w.save_as(str(doc))
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: shown.append(text))
    disk.fill()
    w.editor.insertPlainText("今天天气很好" * 50_000)
    assert not w.save_as(str(doc))
    assert shown and "Could not save" in shown[0] and "No space left" in shown[0]
    assert doc.read_text(encoding="utf-8") == "银行的利率" and w.editor.document().isModified()
