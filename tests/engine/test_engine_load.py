"""Loading: clear errors for broken statistical assets, graceful fallback for the neural model."""
import logging
import os
import sys

import numpy as np
import pytest

from engine import AssetError, Engine, EngineOptions
from engine.errors import FormatVersionError


def load(assets, **kw):
    return Engine.load(EngineOptions(assets_dir=assets, learning=False, **kw))


def test_missing_neural_model_falls_back_to_statistical(assets_copy):
    e = load(assets_copy)
    assert e.neural is None and "statistical" in e.status
    s = e.new_session()
    s.insert("nihao")
    assert s.view().candidates[0].text == "你好"


@pytest.mark.parametrize("content", [b"", b"\x00" * 100, b"not an onnx model at all"])
def test_corrupt_neural_model_falls_back_with_a_log_message(assets_copy, caplog, content):
    model = assets_copy / "model"
    model.mkdir()
    (model / "manifest.json").write_bytes(content)
    (model / "model.onnx").write_bytes(content)
    with caplog.at_level(logging.WARNING):
        e = load(assets_copy)
    assert e.neural is None and "statistical" in e.status
    assert any("neural" in r.getMessage() for r in caplog.records)
    s = e.new_session()
    s.insert("nihao")
    assert s.view().candidates[0].text == "你好"


def test_no_neural_option(engine):
    assert engine.neural is None and engine.model_name == "none"


def test_missing_lexicon_is_a_clear_error(tmp_path):
    with pytest.raises(AssetError, match="lexicon file .*lexicon.npz is missing"):
        load(tmp_path)


def test_corrupt_lexicon_is_a_clear_error(assets_copy):
    (assets_copy / "lexicon.npz").unlink()
    (assets_copy / "lexicon.npz").write_bytes(b"garbage")
    with pytest.raises(AssetError, match="lexicon file .* is damaged or unreadable"):
        load(assets_copy)


@pytest.mark.parametrize("name,damage", [
    ("ngram.npz", lambda real: os.urandom(4096)),  # numpy would suggest allow_pickle
    ("ngram.npz", lambda real: real[: len(real) // 2]),  # truncated
    ("ngram.npz", lambda real: real[:100] + os.urandom(len(real) - 200) + real[-100:]),  # scrambled inside
    ("ngram.npz", lambda real: b""),
    ("lexicon.npz", lambda real: os.urandom(4096)),
    ("lexicon.npz", lambda real: real[: len(real) // 3]),
    ("lexicon.npz", lambda real: real[:2000] + os.urandom(4096) + real[6096:]),  # scrambled inside (memory-mapped)
])
def test_a_damaged_asset_says_what_is_broken_and_what_to_do(assets_copy, caplog, name, damage):
    path = assets_copy / name
    real = path.read_bytes()
    path.unlink()
    path.write_bytes(damage(real))
    with caplog.at_level(logging.WARNING), pytest.raises(AssetError) as raised:
        load(assets_copy)
    message = str(raised.value)
    assert str(path) in message and "damaged" in message
    assert "typing in English still works" in message and "git checkout assets/" in message
    assert "allow_pickle" not in message and "rebuild" not in message.lower()
    assert any(name in r.getMessage() for r in caplog.records)  # the technical detail is in the log


def rewrite_meta(path, **changes):
    """Replace an asset file (a symlink in assets_copy) by a copy whose manifest has ``changes``."""
    import json

    import numpy as np

    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["meta"] = np.array(json.dumps({**json.loads(str(arrays["meta"])), **changes}))
    path.unlink()
    np.savez(path, **arrays)


@pytest.mark.parametrize("version", [1, 2, 999])  # 1: Shuru 0.1-0.2; 2: 0.3.0-0.3.4 (UTF-8 token text)
def test_wrong_format_version_is_rejected(assets_copy, version):
    rewrite_meta(assets_copy / "lexicon.npz", version=version)
    with pytest.raises(FormatVersionError, match=f"another version of Shuru: format version {version}, "
                                                 "this Shuru reads version 3"):
        load(assets_copy)


def test_the_lexicon_is_memory_mapped(engine):
    import numpy as np

    lex = engine.lexicon
    for array in (lex.full.keys, lex.entry_token, lex.initials.order, lex.entry_logp):
        assert isinstance(array.base, np.memmap) and not array.flags.writeable  # a read-only view of the file


@pytest.mark.parametrize("block", [1, 2, 3, 256])  # runs of equal hashes cross blocks at every size
def test_every_token_is_found_by_its_text(engine, monkeypatch, block):
    import random

    from engine.core import lexicon as lexicon_module
    from engine.core.lexicon import Lexicon

    monkeypatch.setattr(lexicon_module, "HASH_BLOCK", block)
    lex = Lexicon.load(engine.options.assets_dir / "lexicon.npz")
    keys = lex._hash_keys.read(0, len(lex._hash_keys))
    ids = lex._hash_ids.read(0, len(keys)).tolist()
    tied = [ids[i] for i in np.flatnonzero(keys[1:] == keys[:-1]) for i in (i, i + 1)]  # top-32-bit ties
    assert tied
    sample = random.Random(block).sample(range(lex.n_tokens), 2000)
    for tid in [*tied, *ids[:3], *ids[-3:], *sample]:
        assert lex.token_id(lex.text(tid)) == tid
    for text in ("", "x", "北京大学北京大学", "☃"):
        assert lex.token_id(text) is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_the_text_to_token_table_is_read_not_mapped(engine):
    """Its lookups are few and scattered: mapped, each would bring 64 KB of neighbours into the
    resident set, and the whole 8 MB table stayed resident after a few hundred."""
    from engine.core.lexicon import Lexicon

    lex = Lexicon.load(engine.options.assets_dir / "lexicon.npz")
    for tid in range(3, lex.n_tokens, 997):
        assert lex.token_id(lex.text(tid)) == tid
    page = os.sysconf("SC_PAGE_SIZE")  # a neighbour's map may share the pages at the table's two ends
    table = [(-(-a.offset // page) * page, (a.offset + len(a) * a.dtype.itemsize) // page * page)
             for a in (lex._hash_keys, lex._hash_ids)]
    name = str((engine.options.assets_dir / "lexicon.npz").resolve())
    for line in open("/proc/self/maps"):
        parts = line.split()
        if len(parts) >= 6 and parts[5] == name:
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            start = int(parts[2], 16)
            assert all(start + (hi - lo) <= a or start >= b for a, b in table), line


def test_ngram_built_for_another_lexicon_is_rejected(assets_copy):
    rewrite_meta(assets_copy / "ngram.npz", token_hash="0" * 16)
    with pytest.raises(AssetError, match="another lexicon"):
        load(assets_copy)


def test_load_is_fast(engine):
    assert engine.load_ms < 3000  # generous: real numbers are in the benchmark


@pytest.mark.parametrize("reader_weight, context, first", [
    (None, "我爱吃", "食品"),  # the shipped weight: the model reads the syllables after the text
    (0.0, "我爱吃", "视频"),   # the search alone
    (None, "", "视频"),        # no text before: the model is not asked
])
def test_the_shipped_pinyin_reading_model_breaks_near_ties_after_text(reader_weight, context, first):
    import json

    from engine.paths import ASSETS_DIR

    e = Engine.load(EngineOptions(learning=False, personal=False, libime="off", reader_weight=reader_weight))
    assert e.reader is not None and "pinyin-reading model" in e.status
    reader = json.loads((ASSETS_DIR / "pinyin-model" / "manifest.json").read_text())
    chars = json.loads((ASSETS_DIR / "model" / "manifest.json").read_text())
    assert reader["vocab_sha1"] == chars["vocab_sha1"]  # both models read one token list
    s = e.new_session(context=context)
    s.insert("shipin")
    assert s.view().candidates[0].text == first
