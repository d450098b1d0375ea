"""Learning: a bounded, decaying user layer in an SQLite store.

Committed words win in their context after a few uses, but hasty or junk commits never
take over decoding; the store survives two processes, corrupt files and the old JSON format.
"""
import json
import multiprocessing
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

import engine.user.history as history_mod
from engine import Engine, EngineOptions
from engine.user.history import UserHistory
from engine.user.userdb import MEMORY

# A history left by a few hundred random keystrokes and hasty typing (啊 committed 348 times).
SKEWED = Path(__file__).resolve().parents[1] / "fixtures" / "history-skewed.json"


def type_and_pick(session, letters: str, text: str) -> str | None:
    """Pick ``text`` as a user does: whole where it is offered, else its first word, then the rest."""
    session.insert(letters)
    done = ""
    while True:
        cands = [c.text for c in session.candidates()]
        rest = text[len(done):]
        index = cands.index(rest) if rest in cands else next(i for i, c in enumerate(cands) if rest.startswith(c))
        committed = session.select(index)
        if committed is not None:
            return committed
        done += cands[index]


def first(engine, letters: str, context: str = "") -> str:
    session = engine.new_session(context=context)
    session.insert(letters)
    return session.view().candidates[0].text


@pytest.fixture
def skewed_file(tmp_path) -> Path:
    """The skewed version-1 history (hundreds of hasty single-character commits)."""
    dst = tmp_path / "skewed" / "history.json"
    dst.parent.mkdir()
    shutil.copy(SKEWED, dst)
    return dst


def learning(tmp_path, **kw) -> Engine:
    return Engine.load(EngineOptions(use_neural=False, history_path=tmp_path / "user.db", **kw))


# -- learned words win --------------------------------------------------------------------

NEW_WORDS = [("shiyan", "誓言"), ("shuxue", "树穴"), ("youxi", "有戏"), ("gongshi", "公示"), ("jiyi", "技艺"), ("xinxi", "心细")]


@pytest.mark.parametrize("letters,word", NEW_WORDS)
def test_a_word_typed_three_times_is_first_the_fourth_time(tmp_path, letters, word):
    e = learning(tmp_path)
    assert first(e, letters) != word
    for _ in range(3):
        assert type_and_pick(e.new_session(), letters, word) == word
    assert first(e, letters) == word


@pytest.mark.parametrize("letters,word", NEW_WORDS[:3])
def test_it_also_wins_over_a_heavy_skewed_history(tmp_path, skewed_file, letters, word):
    e = Engine.load(EngineOptions(use_neural=False, history_path=skewed_file))
    for _ in range(3):
        type_and_pick(e.new_session(), letters, word)
    assert first(e, letters) == word


def test_it_wins_with_the_neural_model_too(tmp_path):
    e = Engine.load(EngineOptions(history_path=tmp_path / "user.db", personal=False))
    assert first(e, "shiyan") != "誓言"
    for _ in range(3):
        type_and_pick(e.new_session(), "shiyan", "誓言")
    assert first(e, "shiyan") == "誓言"


def test_a_learned_pair_wins_in_its_context(tmp_path):
    e = learning(tmp_path)
    for _ in range(3):
        type_and_pick(e.new_session(context="他发了"), "shiyan", "誓言")
    assert first(e, "shiyan", context="他发了") == "誓言"


# -- learning never poisons decoding --------------------------------------------------------

CLEAR_INPUTS = [("jintiantianqizhenhao", "今天天气真好"), ("woxianghuijia", "我想回家"),
                ("nihaoshijie", "你好世界"), ("diannao", "电脑"), ("womenyiqiqu", "我们一起去")]


@pytest.mark.parametrize("letters,text", CLEAR_INPUTS)
def test_the_skewed_history_does_not_cut_sentences_into_letters(skewed_file, letters, text):
    e = Engine.load(EngineOptions(use_neural=False, history_path=skewed_file))
    assert e.history.word_count > 600  # it was migrated
    assert first(e, letters) == text


def test_junk_commits_do_not_change_clear_conversions(engine):
    from tools.cli import junk_commits

    e = Engine.load(EngineOptions(use_neural=False, learning=False))
    e.use_history(UserHistory(e.lexicon, MEMORY))
    junk_commits(e, 300, seed=1)
    assert e.history.word_count > 50
    for letters, text in CLEAR_INPUTS:
        assert first(e, letters) == text


def test_the_user_layer_is_a_bounded_share(engine):
    h = UserHistory(engine.lexicon, MEMORY)
    tok = engine.lexicon.token_id("啊")
    for _ in range(500):
        h.learn([tok])
    lm = np.log(np.array([1e-9, 1e-4, 0.5]))
    gain = h.mix(lm, np.full(3, 1), np.full(3, tok)) - lm
    assert np.all(gain <= np.log1p(history_mod.USER_WEIGHT / (1 - history_mod.USER_WEIGHT) / np.exp(lm)) + 1e-6)
    assert gain[2] < 0.2  # where the language model is sure, learning barely moves it


def test_weights_decay_with_later_commits(engine):
    h = UserHistory(engine.lexicon, MEMORY)
    old, other = engine.lexicon.token_id("誓言"), engine.lexicon.token_id("你好")
    h.learn([old])
    for _ in range(int(history_mod.HALF_LIFE)):
        h.learn([other])
    words = dict((w, c) for w, c, _ in h.words())
    assert words["誓言"] == pytest.approx(0.5, rel=0.01)


def test_the_index_after_learning_equals_a_fresh_read(engine, tmp_path):
    h = UserHistory(engine.lexicon, tmp_path / "user.db")
    ids = [engine.lexicon.token_id(w) for w in ("我们", "一起", "去", "吃饭", "我们", "去")]
    for k in range(len(ids)):
        h.learn(ids[: k + 1])
    again = UserHistory(engine.lexicon, tmp_path / "user.db")
    prev, tok = np.array(ids[:-1] + [1]), np.array(ids[1:] + [ids[0]])
    assert np.allclose(h.prob(prev, tok), again.prob(prev, tok), rtol=1e-5)


def test_the_store_is_pruned_to_its_caps(engine, monkeypatch):
    monkeypatch.setattr(history_mod, "PRUNE_EVERY", 10)
    monkeypatch.setattr(history_mod, "MAX_UNIGRAMS", 5)
    monkeypatch.setattr(history_mod, "MAX_BIGRAMS", 5)
    h = UserHistory(engine.lexicon, MEMORY)
    words = ["你好", "中国", "北京", "上海", "历史", "誓言", "实验", "今天", "天气", "我们"]
    for w in words:
        h.learn([engine.lexicon.token_id(w)])
    assert len(h.words()) == 5 and h.words()[0][0] == "我们"  # the most recent weigh most


# -- the store ------------------------------------------------------------------------------

def test_history_persists_across_engines_in_sqlite(tmp_path):
    e1 = learning(tmp_path)
    type_and_pick(e1.new_session(), "shiyan", "誓言")
    with sqlite3.connect(tmp_path / "user.db") as db:
        assert db.execute("SELECT weight FROM unigram WHERE word = '誓言'").fetchone()[0] == pytest.approx(1.0)
    e2 = learning(tmp_path)
    assert [w for w, _, _ in e2.history.words()] == ["誓言"]


def test_version_1_history_json_is_migrated_once_and_kept(tmp_path):
    legacy = tmp_path / "history.json"
    legacy.write_text(json.dumps({"format": "shuru-history", "version": 1, "unigrams": {"誓言": 4, "你好": 2},
                                  "bigrams": {"你好\t誓言": 2}}, ensure_ascii=False), encoding="utf-8")
    e = learning(tmp_path)
    words = dict((w, c) for w, c, _ in e.history.words())
    assert words == {"誓言": pytest.approx(4.0), "你好": pytest.approx(2.0)}
    assert not legacy.exists() and (tmp_path / "history.json.v1-backup").exists()
    e2 = learning(tmp_path)  # the backup is not imported again
    assert dict((w, c) for w, c, _ in e2.history.words()) == words


def test_a_huge_legacy_history_is_scaled_to_a_full_history(skewed_file):
    e = Engine.load(EngineOptions(use_neural=False, history_path=skewed_file))
    total = sum(c for _, c, _ in e.history.words())
    assert total == pytest.approx(history_mod.steady_mass(), rel=0.01)


@pytest.mark.parametrize("content", [b"\x00\xff not a database", b"SQLite format 3\x00" + b"\x01" * 200])
def test_corrupt_store_is_set_aside_not_fatal(tmp_path, content):
    (tmp_path / "user.db").write_bytes(content)
    e = learning(tmp_path)
    assert "unreadable" in e.history.error
    aside = list(tmp_path.glob("user.db.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == content
    assert type_and_pick(e.new_session(), "nihao", "你好") == "你好"
    assert [w for w, _, _ in learning(tmp_path).history.words()] == ["你好"]


def test_a_foreign_sqlite_file_is_not_touched(tmp_path):
    with sqlite3.connect(tmp_path / "user.db") as db:
        db.execute("CREATE TABLE notes(x)")
    e = learning(tmp_path)
    assert "another program" in e.history.error
    with sqlite3.connect(next(tmp_path.glob("user.db.corrupt-*"))) as db:
        assert db.execute("SELECT name FROM sqlite_master").fetchone()[0] == "notes"


def test_learning_off_reads_and_writes_nothing(tmp_path):
    e = learning(tmp_path, learning=False)
    type_and_pick(e.new_session(), "nihao", "你好")
    assert not (tmp_path / "user.db").exists()


def test_a_failing_write_keeps_typing_and_the_file(tmp_path, monkeypatch):
    e = learning(tmp_path)
    type_and_pick(e.new_session(), "nihao", "你好")

    def full_disk(*a, **k):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(e.history.store, "learn", full_disk)
    assert type_and_pick(e.new_session(), "shiyan", "誓言") == "誓言"
    assert "not saved" in e.history.error
    assert [w for w, _, _ in learning(tmp_path).history.words()] == ["你好"]


def test_clear_and_forget(tmp_path):
    e = learning(tmp_path)
    for letters, word in [("shiyan", "誓言"), ("nihao", "你好"), ("shiyan", "誓言")]:
        type_and_pick(e.new_session(), letters, word)
    assert e.learned_parts("你好誓言") == ["你好", "誓言"]
    assert e.forget("誓言") == 1
    assert [w for w, _, _ in e.history.words()] == ["你好"]
    assert first(e, "shiyan") != "誓言"
    e.clear_history()
    assert e.history.words() == [] and e.history.empty
    assert learning(tmp_path).history.words() == []


def _learn_in_process(path: str, word: str, n: int) -> None:
    e = Engine.load(EngineOptions(use_neural=False, history_path=Path(path)))
    tok = e.lexicon.token_id(word)
    for _ in range(n):
        e.history.learn([tok])


def test_two_processes_learning_at_once_lose_nothing(tmp_path):
    path = str(tmp_path / "user.db")
    learning(tmp_path)  # create it
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_learn_in_process, args=(path, w, 150)) for w in ("你好", "誓言")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    with sqlite3.connect(path) as db:
        clock = float(db.execute("SELECT value FROM meta WHERE key = 'clock'").fetchone()[0])
    assert clock == 300  # every commit counted once
    e = learning(tmp_path)
    words = dict((w, c) for w, c, _ in e.history.words())
    expected = sum(0.5 ** (k / history_mod.HALF_LIFE) for k in range(300))  # 300 commits, each decayed since
    assert set(words) == {"你好", "誓言"} and sum(words.values()) == pytest.approx(expected, rel=1e-9)


def _open_new_stores_at_once(paths: list[str], barrier) -> None:
    from engine.user.userdb import UserStore

    for path in paths:
        barrier.wait(60)
        store = UserStore(path, history_mod.HALF_LIFE)  # raises if it cannot be opened for writing
        store.learn(["你好"], [])
        store.close()


def test_processes_creating_the_same_store_at_once_all_can_write(tmp_path):
    """The window and the IBus engine started together on a new user.db: none is left read-only."""
    paths = [str(tmp_path / f"user{i}.db") for i in range(12)]
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(3)
    procs = [ctx.Process(target=_open_new_stores_at_once, args=(paths, barrier)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(180)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    for path in paths:
        with sqlite3.connect(path) as db:
            assert float(db.execute("SELECT value FROM meta WHERE key = 'clock'").fetchone()[0]) == 3


def test_another_process_commits_are_seen(tmp_path):
    a, b = learning(tmp_path), learning(tmp_path)
    type_and_pick(a.new_session(), "shiyan", "誓言")
    b.new_session()  # a new input refreshes
    b.decoder()
    assert [w for w, _, _ in b.history.words()] == ["誓言"] and not b.history.empty


def test_ctrl_delete_forgets_the_highlighted_candidate(tmp_path):
    e = learning(tmp_path)
    for _ in range(3):
        type_and_pick(e.new_session(), "shiyan", "誓言")
    s = e.new_session()
    s.insert("shiyan")
    assert s.view().candidates[0].text == "誓言"
    assert s.forget_highlighted() == ["誓言"]
    view = s.view()
    assert view.letters == "shiyan" and view.candidates[0].text != "誓言"
    assert s.forget_highlighted() == []  # nothing learned about the new first candidate
    assert e.learned_words() == []
