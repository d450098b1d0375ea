"""Hostile text files for fine-tuning and word lists (engine.textfile is the one reader).

Each file is read or refused with a message naming what is wrong; files over
``MAX_FILE_BYTES`` are refused from their size before a byte is read, so a 1 GB file costs
no memory (measured in a subprocess); a fine-tune given a hostile file stops before
training and leaves the installed model as it was.
"""
from __future__ import annotations

import codecs
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.textfile import MAX_FILE_BYTES, TextFileError, inspect_text_file, read_text_file
from tests.trainer.test_trainer_support import dir_snapshot, tiny_model_dir  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[2]
SIMPLE = "银行的利率，今天天气很好。\n"
TRADITIONAL = "銀行的利率，今天天氣很好。\n"


def _write(data: bytes):
    return lambda path: path.write_bytes(data)


def _symlink_loop(path: Path) -> None:
    other = path.with_name("other.txt")
    path.symlink_to(other)
    other.symlink_to(path)


def _sparse(size: int):
    def make(path: Path) -> None:
        with path.open("wb") as fh:  # sparse: no disk used
            fh.truncate(size)
    return make


def _directory(path: Path) -> None:
    path.mkdir()


HOSTILE = [  # (label, make the file at path, the encoding read or the reason refused)
    ("binary", _write(os.urandom(1 << 16)), "refused: binary"),
    ("UTF-16 with BOM", _write(codecs.BOM_UTF16_LE + SIMPLE.encode("utf-16-le")), "utf-16"),
    ("UTF-16 without BOM", _write(SIMPLE.encode("utf-16-le")), "refused: UTF-16 text needs a byte-order mark"),
    ("GB18030", _write(SIMPLE.encode("gb18030")), "gb18030"),
    ("Big5", _write(TRADITIONAL.encode("big5")), "refused: Big5"),
    ("mixed UTF-8 and GB18030", _write(SIMPLE.encode("utf-8") + SIMPLE.encode("gb18030")), "refused: mixed encodings"),
    ("NUL bytes in UTF-8", _write(SIMPLE.encode("utf-8") + b"\x00" + SIMPLE.encode("utf-8")), "refused: NUL bytes"),
    ("empty", _write(b""), "refused: is empty"),
    ("a directory", _directory, "refused: is a folder"),
    ("a symlink loop", _symlink_loop, "refused: link loop"),
    ("over the size limit (sparse)", _sparse(MAX_FILE_BYTES + 1), "refused: too big"),
]


@pytest.mark.parametrize("label,make,expected", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_hostile_file_is_read_or_refused_with_a_reason(tmp_path, label, make, expected):
    path = tmp_path / "mine.txt"
    make(path)
    if expected.startswith("refused: "):
        with pytest.raises(TextFileError, match=expected.removeprefix("refused: ")) as raised:
            read_text_file(path)
        assert str(path) in str(raised.value)
        assert not inspect_text_file(path).ok
    else:
        text, encoding = read_text_file(path)
        assert (text, encoding) == (SIMPLE, expected)


def test_no_read_permission(tmp_path, monkeypatch):
    path = tmp_path / "mine.txt"
    path.write_text(SIMPLE, encoding="utf-8")

    def denied(self):  # as without read permission (the tests run as root, who reads anything)
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(type(path), "read_bytes", denied)
    with pytest.raises(TextFileError, match="cannot read .Permission denied."):
        read_text_file(path)


MEASURE = '''
import json, resource, sys
from engine.textfile import TextFileError, read_text_file
try:
    text, encoding = read_text_file(sys.argv[1])
    outcome = f"read {len(text)} chars ({encoding})"
except TextFileError as e:
    outcome = f"refused: {e}"
# VmHWM: this process's own peak (ru_maxrss also counts the parent's memory at fork, inherited over exec)
hwm = next(int(ln.split()[1]) for ln in open("/proc/self/status") if ln.startswith("VmHWM:"))
print(json.dumps({"outcome": outcome, "max_rss_mb": round(hwm / 1024, 1),
                  "ru_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
'''


def read_in_subprocess(path: Path) -> dict:
    """Read ``path`` in a fresh process: what happened and its peak RSS in MB."""
    p = subprocess.run([sys.executable, "-c", MEASURE, str(path)], cwd=ROOT, capture_output=True, text=True,
                       timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_a_1_gb_file_is_refused_before_reading_it(tmp_path):
    path = tmp_path / "huge.txt"
    _sparse(1 << 30)(path)
    result = read_in_subprocess(path)
    assert result["outcome"].startswith("refused:") and "too big (1024 MiB" in result["outcome"]
    assert result["max_rss_mb"] < 500


def test_a_20_mb_single_line_is_read(tmp_path):
    path = tmp_path / "line.txt"
    path.write_bytes(("今天天气很好" * (20 * 2**20 // 18)).encode("utf-8"))  # 20 MB, no newline
    result = read_in_subprocess(path)
    assert result["outcome"].startswith("read ") and "(utf-8)" in result["outcome"]
    assert result["max_rss_mb"] < 500


@pytest.mark.parametrize("label,data", [("binary", os.urandom(4096)), ("Big5", TRADITIONAL.encode("big5") * 50)])
def test_a_fine_tune_on_a_hostile_file_stops_before_training(tiny_model_dir, tmp_path, label, data):
    from trainer.__main__ import main

    text = tmp_path / "mine.txt"
    text.write_bytes(data)
    before = dir_snapshot(tiny_model_dir)
    code = main(["finetune", "--text", str(text), "--base", str(tiny_model_dir), "--out", str(tmp_path / "out"),
                 "--max_steps=2"])
    assert code != 0
    assert dir_snapshot(tiny_model_dir) == before and not (tmp_path / "out").exists()
