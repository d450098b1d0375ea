"""Freed heap memory goes back to the system once the resident set has grown: a session asks
after each key and when its idle work is done (engine.memory)."""
import sys
from pathlib import Path

import numpy as np
import pytest

from engine import memory
from engine.pinyin import session as session_module

glibc = pytest.mark.skipif(memory._TRIM is None, reason="malloc_trim is glibc's (Linux)")


@pytest.fixture
def no_trim_on_free():
    """free() never hands the heap's top back on its own (it may, where earlier objects left the
    blocks below at the top): only malloc_trim returns freed pages. The engine's setting after."""
    import ctypes

    mallopt = ctypes.CDLL(None).mallopt
    mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD
    yield
    mallopt(-1, 1 << 20)  # engine.loader's


@glibc
def test_freed_pages_among_live_objects_go_back_to_the_system(no_trim_on_free):
    # 64 KB blocks with a small live array after each: freeing the blocks leaves holes that
    # glibc keeps resident (numpy keeps small arrays itself: these are not), as a keystroke's buffers among the states that live on
    blocks, keep = [], []
    for _ in range(400):
        blocks.append(np.ones(16_000, dtype=np.float32))
        keep.append(np.ones(1024, dtype=np.float32))
    del blocks
    before = memory.resident_bytes()
    assert memory.release_free_heap()
    assert before - memory.resident_bytes() >= 8 << 20  # of the 25 MB freed
    assert len(keep) == 400


def test_the_resident_set_is_read_where_linux_gives_it():
    if sys.platform.startswith("linux"):
        assert memory.resident_bytes() > 10 << 20
    else:
        assert memory.resident_bytes() == 0


@pytest.fixture
def checks(monkeypatch):
    """Each time a session asks whether to give the heap back (engine.memory.release_if_grown)."""
    calls = []
    monkeypatch.setattr(session_module, "release_if_grown", lambda: calls.append(1) and False)
    return calls


def _idle_until_done(s, limit=100):
    steps = 0
    while s.idle():
        steps += 1
        assert steps < limit
    return steps


def test_a_session_asks_after_each_key_and_once_its_idle_work_is_done(engine, checks):
    s = engine.new_session(page_size=5)
    _idle_until_done(s)
    assert not checks  # nothing decoded: nothing to give back
    for n, ch in enumerate("nihao", 1):
        s.insert(ch)
        s.view()
        assert len(checks) == n
    _idle_until_done(s)
    assert len(checks) == 6
    assert not s.idle() and len(checks) == 6  # not again until a view decodes


def test_after_a_partial_pick_it_asks_once_the_undo_is_prepared(engine, checks):
    s = engine.new_session(page_size=5)
    s.insert("nihaoshijie")
    s.view()
    idx = next(i for i, c in enumerate(s.candidates()) if c.text == "你好")
    s.select(idx)
    for ch in "women":
        s.insert(ch)
        s.view()
    keys = len(checks)
    assert s.idle()  # the undo is one letter behind per key: work remains
    assert len(checks) == keys
    _idle_until_done(s)
    assert len(checks) == keys + 1


@glibc
def test_a_key_gives_back_the_heap_only_once_the_resident_set_has_grown(monkeypatch):
    trims = []
    monkeypatch.setattr(memory, "_TRIM", lambda pad: trims.append(pad) or 1)
    rss = [100 << 20]
    monkeypatch.setattr(memory, "resident_bytes", lambda: rss[0])
    memory.release_free_heap()
    rss[0] += memory.GROWTH_BYTES - 1
    assert not memory.release_if_grown() and len(trims) == 1
    rss[0] += 1
    assert memory.release_if_grown() and len(trims) == 2
    assert not memory.release_if_grown()  # measured again at the release


@pytest.mark.parametrize("data", [b"", "北京大学".encode(), bytes(range(256)) * 3])
def test_the_engines_digests_are_hashlibs(data):
    import hashlib

    from engine.core.digests import blake2b, sha1

    assert sha1(data).hexdigest() == hashlib.sha1(data).hexdigest()
    assert blake2b(data, digest_size=8).digest() == hashlib.blake2b(data, digest_size=8).digest()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_typing_does_not_load_openssl():
    """hashlib would map OpenSSL's libcrypto (3.7 MB resident) for two digests (engine.core.digests)."""
    import subprocess

    code = ("from engine import Engine, EngineOptions\n"
            "e = Engine.load(EngineOptions(learning=False, personal=False, libime='off'))\n"
            "s = e.new_session(); s.insert('nihaoshijie'); s.view()\n"
            "print('libcrypto' in open('/proc/self/maps').read())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.split()[-1] == "False"
