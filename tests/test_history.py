"""Learning: committed words are boosted, persisted atomically, capped, clearable, switchable."""
import json

from engine import Engine, EngineOptions
from engine.history import UserHistory


def commit(session, letters, pick_text):
    for ch in letters:
        session.insert(ch)
    idx = next(i for i, c in enumerate(session.candidates()) if c.text == pick_text)
    return session.select(idx)


def test_committed_word_is_boosted_next_time(learning_engine):
    s = learning_engine.new_session()
    before = [c.text for c in s.candidates()] if False else None
    for ch in "shiyan":
        s.insert(ch)
    first = s.view().candidates[0].text
    target = next(c.text for c in s.candidates()[1:6] if c.text != first)
    s.cancel()
    for _ in range(3):
        assert commit(s, "shiyan", target) == target
    for ch in "shiyan":
        s.insert(ch)
    assert s.view().candidates[0].text == target


def test_history_persists_across_engines(tmp_path):
    path = tmp_path / "h.json"
    e1 = Engine.load(EngineOptions(use_neural=False, history_path=path))
    s = e1.new_session()
    commit(s, "shiyan", "誓言")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["unigrams"]["誓言"] == 1
    e2 = Engine.load(EngineOptions(use_neural=False, history_path=path))
    assert e2.history.unigrams == {"誓言": 1}


def test_corrupt_history_is_set_aside_not_fatal(tmp_path):
    path = tmp_path / "h.json"
    path.write_bytes(b"\x00\xff not json")
    e = Engine.load(EngineOptions(use_neural=False, history_path=path))
    assert e.history.unigrams == {}
    assert (tmp_path / "h.corrupt").exists()
    s = e.new_session()
    assert commit(s, "nihao", "你好") == "你好"
    assert json.loads(path.read_text(encoding="utf-8"))["unigrams"] == {"你好": 1}


def test_learning_off_writes_nothing(tmp_path):
    path = tmp_path / "h.json"
    e = Engine.load(EngineOptions(use_neural=False, learning=False, history_path=path))
    commit(e.new_session(), "nihao", "你好")
    assert not path.exists()


def test_clear_history(learning_engine):
    commit(learning_engine.new_session(), "nihao", "你好")
    learning_engine.clear_history()
    assert learning_engine.history.unigrams == {}
    data = json.loads(learning_engine.history.path.read_text(encoding="utf-8"))
    assert data["unigrams"] == {}


def test_history_is_capped(engine, tmp_path):
    h = UserHistory(engine.lexicon, tmp_path / "h.json", max_entries=3)
    for word in ["你好", "中国", "北京", "上海", "历史"]:
        h.learn([engine.lexicon.token_id(word)])
    assert len(h.unigrams) == 3
    assert len(json.loads((tmp_path / "h.json").read_text(encoding="utf-8"))["unigrams"]) == 3


def test_write_is_atomic_no_temp_files_left(learning_engine):
    commit(learning_engine.new_session(), "nihao", "你好")
    folder = learning_engine.history.path.parent
    assert [p.name for p in folder.iterdir()] == ["history.json"]
