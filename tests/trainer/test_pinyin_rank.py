"""Fine-tuning the pinyin-reading model on the engine's candidate lists: it learns the choice the
engine leaves to it, and refuses what is not a list."""
from __future__ import annotations

import json

import pytest

from tests.trainer.test_pinyin_finetune import write_base
from tests.trainer.test_pinyin_model import FIXTURE, TABLE
from trainer.errors import DataError
from trainer.pinyin_export import load_trained
from trainer.pinyin_rank import PinyinRankConfig, pinyin_rank, read_lists

TEXT = FIXTURE.read_text(encoding="utf-8") + "你拟好号"


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory):
    return write_base(tmp_path_factory.mktemp("pinyin-base") / "export", TEXT)


def _list(context: str, readings: list[tuple[str, float]], gold: str) -> dict:
    return {"context": context, "pinyin": "nihao", "gold": gold,
            "readings": [{"text": t, "total": total, "typed": ["ni", "hao"]} for t, total in readings]}


def test_a_list_fine_tune_learns_what_the_totals_leave_open(base_dir, tmp_path):
    """Two readings the engine scores alike, the second always meant: the engine's order gets
    none right, the fine-tuned model all the held-out ones."""
    lists = [_list("今天" * (k % 5), [("拟好", -10.0), ("你好", -10.0)], "你好") for k in range(40)]
    path = tmp_path / "lists.jsonl"
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lists), encoding="utf-8")
    cfg = PinyinRankConfig(weight=1.0, lr=3e-3, max_steps=30, minutes=0, lists_per_step=4, threads=1)
    result = pinyin_rank(base_dir, path, tmp_path / "out", cfg, log=lambda _: None)
    top1 = result["heldout_top1"]
    assert (result["lists"], result["heldout_lists"]) == (32, 8)
    assert top1["engine"] == 0.0 and top1["after"] == 1.0 > top1["before"]
    _, _, _, manifest = load_trained(tmp_path / "out")
    assert manifest["metrics"]["rank"]["heldout_top1"] == top1 and manifest["training"]["rank"]["weight"] == 1.0


# lists the engine does not re-order are left out: one reading, the gold not among them, the gold
# beyond READ_MARGIN of the best
KEPT = [([("你好", -1.0), ("拟好", -1.3)], "你好", True), ([("你好", -1.0)], "你好", False),
        ([("你好", -1.0), ("拟好", -1.3)], "你号", False), ([("拟好", -1.0), ("你好", -9.0)], "你好", False)]


@pytest.mark.parametrize("readings,gold,kept", KEPT)
def test_only_lists_the_engine_re_orders_are_read(tmp_path, readings, gold, kept):
    path = tmp_path / "lists.jsonl"
    path.write_text(json.dumps(_list("", readings, gold), ensure_ascii=False) + "\n", encoding="utf-8")
    assert len(read_lists(path, TABLE)) == int(kept)


def test_a_file_that_is_not_lists_is_refused(tmp_path):
    path = tmp_path / "lists.jsonl"
    path.write_text(json.dumps(_list("", [("你好", -1.0)], "你好")) + "\n{\"pinyin\": 1}\n", encoding="utf-8")
    with pytest.raises(DataError, match="lists.jsonl:2: not a candidate list"):
        read_lists(path, TABLE)


def test_held_out_clauses_are_typed_in_full_with_the_text_before_them(tmp_path):
    from pypinyin import lazy_pinyin

    from tests.trainer.test_pinyin_model import _write_corpus
    from tools.reader_lists import MAX_CHARS, MIN_CHARS, heldout_clauses
    from trainer.pinyin_data import SHIPPED_VOCAB, prepare_pinyin

    lines = ["银行在北京，你好吗？我们明天去公园走走", "今天天气很好"] * 20
    corpus = _write_corpus(tmp_path / "data", {"one": lines})
    prepare_pinyin(tmp_path / "pinyin", corpus, 10**9, vocab_path=SHIPPED_VOCAB, round_chars=200, heldout_every=2,
                   log=lambda m: None)
    rows = heldout_clauses(tmp_path / "pinyin")
    assert rows and all(MIN_CHARS <= len(r["hanzi"]) <= MAX_CHARS for r in rows)
    assert {r["hanzi"] for r in rows} <= {"银行在北京", "你好吗", "我们明天去公园走走", "今天天气很好"}
    for r in rows:
        assert r["pinyin"] == "".join(lazy_pinyin(r["hanzi"]))
        assert r["context"] in ("", "银行在北京，", "银行在北京，你好吗，")  # its line's text before it
