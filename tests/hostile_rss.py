"""Peak memory reading big user text files: ``python -m tests.hostile_rss``.

Makes, in a temporary folder that is deleted afterwards, a 1 GB sparse file, a 50 MB
single line of Chinese, and a file of exactly MAX_FILE_BYTES, reads each with
engine.textfile in a fresh process and prints what happened and its peak RSS (MB).
"""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

from engine.textfile import MAX_FILE_BYTES
from tests.trainer.test_hostile_text import read_in_subprocess

LINE = "今天天气很好"  # 18 bytes of UTF-8


def make_files(folder: Path) -> dict[str, Path]:
    files = {"1 GB (sparse)": folder / "huge.txt", "50 MB single line": folder / "line.txt",
             "100 MiB (the limit)": folder / "limit.txt"}
    with files["1 GB (sparse)"].open("wb") as fh:
        fh.truncate(1 << 30)
    files["50 MB single line"].write_bytes((LINE * (50_000_000 // 18)).encode("utf-8"))
    chunk = (LINE * 1000 + "\n").encode("utf-8")
    with files["100 MiB (the limit)"].open("wb") as fh:
        for _ in range(MAX_FILE_BYTES // len(chunk)):
            fh.write(chunk)
    return files


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="shuru-hostile-"))
    try:
        report = {label: read_in_subprocess(path) for label, path in make_files(folder).items()}
    finally:
        shutil.rmtree(folder)
    for r in report.values():
        r["outcome"] = r["outcome"].replace(str(folder), "<tmp>")
    print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0 if all(r["max_rss_mb"] <= 500 for r in report.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
