"""engine.textfile: which user files are read, in which encoding, and why others are refused."""
import codecs
import pytest

from engine.textfile import TextFileError, decode_text, inspect_text_file, read_text_file, text_files_in

TEXT = "银行的利率\n今天天气很好"

ENCODED = [  # (label, bytes, encoding found)
    ("utf-8", TEXT.encode("utf-8"), "utf-8"),
    ("utf-8 with BOM", codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8"),
    ("utf-16-le with BOM", codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), "utf-16"),
    ("utf-16-be with BOM", codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), "utf-16"),
    ("gb18030", TEXT.encode("gb18030"), "gb18030"),
]


@pytest.mark.parametrize("label,data,encoding", ENCODED, ids=[e[0] for e in ENCODED])
def test_encodings_are_detected(label, data, encoding):
    assert decode_text(data, "f") == (TEXT, encoding)


REFUSED = [  # (label, bytes, reason)
    ("binary", bytes(range(256)) * 8, "binary"),
    ("control characters", b"\x01\x02\x03\x04" * 100, "not a plain text file"),
    ("utf-16 without BOM", TEXT.encode("utf-16-le"), "binary"),
    ("damaged utf-16", codecs.BOM_UTF16_LE + b"\x00\xd8\x41", "damaged"),
    ("empty", b"", "is empty"),
    ("blank", b"  \n\n", "is empty"),
    ("no Chinese", b"hello world\n", "no Chinese characters"),
]


@pytest.mark.parametrize("label,data,reason", REFUSED, ids=[r[0] for r in REFUSED])
def test_unusable_files_are_refused_with_a_reason(tmp_path, label, data, reason):
    path = tmp_path / "f.txt"
    path.write_bytes(data)
    with pytest.raises(TextFileError, match=reason):
        read_text_file(path)
    info = inspect_text_file(path)
    assert not info.ok and reason in info.reason and str(path) not in info.reason


def test_folder_missing_and_unreadable(tmp_path, monkeypatch):
    assert "is a folder" in inspect_text_file(tmp_path).reason
    assert "no such file" in inspect_text_file(tmp_path / "nope.txt").reason
    locked = tmp_path / "locked.txt"
    locked.write_text(TEXT, encoding="utf-8")

    def denied(self):  # as without read permission (the tests may run as root, who reads anything)
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(type(locked), "read_bytes", denied)
    assert inspect_text_file(locked).reason == "cannot read (Permission denied)"


def test_inspect_counts_characters(tmp_path):
    path = tmp_path / "a.md"
    path.write_text("# 标题\n银行 bank", encoding="utf-8")
    info = inspect_text_file(path)
    assert (info.ok, info.encoding, info.han_chars, info.chars) == (True, "utf-8", 4, len("# 标题\n银行 bank"))


def test_folder_scan_finds_txt_and_md_and_survives_a_symlink_loop(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("a.txt", "sub/b.MD", "sub/c.pdf", "d.md"):
        (tmp_path / name).write_text(TEXT, encoding="utf-8")
    (tmp_path / "sub" / "loop").symlink_to(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in text_files_in(tmp_path)] == ["a.txt", "d.md", "sub/b.MD"]
