"""`finetune`: refuses binary input touching nothing, accepts GB18030, replays general
text, and an interrupt leaves the installed model untouched and a resumable checkpoint."""
from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

from tests.trainer.test_trainer_support import TINY_TEXT, dir_snapshot, tiny_model_dir  # noqa: F401 (fixture)
from trainer.__main__ import main
from trainer.export import load_manifest
from trainer.finetune import finetune
from trainer.textfile import decode_text
from trainer.errors import InputFileError
from trainer.vocab import Vocab

FAST = ["--max_steps=6", "--batch_size=4", "--seq_len=32", "--eval_windows=4", "--warmup_steps=2",
        "--eval_every=3"]  # threads: the preset's adaptive default


@pytest.fixture
def installed(tiny_model_dir, tmp_path):
    """A copy of the tiny model standing in for the installed model."""
    shutil.copytree(tiny_model_dir, tmp_path / "installed")
    return tmp_path / "installed"


def _shards(tmp_path, model_dir):
    """General-text shards in the model's vocabulary (for replay)."""
    vocab = Vocab.load(model_dir / "vocab.txt")
    d = tmp_path / "shards"
    d.mkdir()
    vocab.save(d / "vocab.txt")
    tokens = vocab.encode(TINY_TEXT.read_text(encoding="utf-8"))
    np.save(d / "train-000.npy", tokens)
    np.save(d / "heldout.npy", tokens[:2000])
    return d


@pytest.mark.parametrize("content, reason", [
    (bytes(range(1, 256)) * 40, "not a plain text file"),
    ("我们去银行取钱。\n".encode("utf-8") * 50 + b"\x00\x01", "NUL bytes"),
])
def test_binary_file_is_refused_touching_nothing(installed, tmp_path, capsys, content, reason):
    good, bad = tmp_path / "good.txt", tmp_path / "data.bin"
    good.write_text(TINY_TEXT.read_text(encoding="utf-8"), encoding="utf-8")
    bad.write_bytes(content)
    before = dir_snapshot(installed)
    code = main(["finetune", "--text", str(good), str(bad), "--base", str(installed), "--out",
                 str(tmp_path / "personal"), *FAST])
    captured = capsys.readouterr()
    assert code == 2 and str(bad) in captured.err and reason in captured.err
    assert json.loads(captured.out)["status"] == "error" and json.loads(captured.out)["exit_code"] == 2
    assert dir_snapshot(installed) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin", "good.txt", "installed"]


def test_decode_text_encodings():
    assert decode_text("银行".encode("gb18030"), "f") == ("银行", "gb18030")
    assert decode_text("\ufeff银行".encode("utf-8"), "f") == ("银行", "utf-8")
    with pytest.raises(InputFileError, match="f: not a plain text file"):
        decode_text(b"\x01\x02\x03\x04" * 100, "f")


def test_gb18030_file_finetunes_with_replay(installed, tmp_path, capsys):
    text = tmp_path / "mine.txt"
    text.write_bytes(TINY_TEXT.read_text(encoding="utf-8").encode("gb18030"))
    before = dir_snapshot(installed)
    out = tmp_path / "personal"
    code = main(["finetune", "--text", str(text), "--base", str(installed), "--out", str(out),
                 "--shards", str(_shards(tmp_path, installed)), "--report-clauses", "2", *FAST])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = json.loads(captured.out.strip().splitlines()[-1])
    assert result["status"] == "ok" and result["steps"] == 6 and "general_loss" in result["after"]
    assert "(gb18030)" in captured.err and "step 3" not in captured.out  # progress on stderr only
    m = load_manifest(out)
    assert m["training"]["replay"] is True and (out / "weights.pt").is_file()
    assert (out / "user_lm.npz").is_file()  # the user's text layer is swapped in with the model
    assert dir_snapshot(installed) == before
    assert not (tmp_path / ".personal-finetune").exists()  # work dir removed once done


def test_interrupted_finetune_leaves_installed_model_and_resumes(installed, tmp_path):
    text = tmp_path / "mine.txt"
    text.write_text(TINY_TEXT.read_text(encoding="utf-8"), encoding="utf-8")
    out, work = tmp_path / "personal", tmp_path / "work"
    before = dir_snapshot(installed)

    def interrupt_at_3(step):
        if step == 3:
            raise KeyboardInterrupt

    kwargs = dict(out=out, base=installed, work=work, overrides=FAST, report_clauses=2)
    logs = []
    with pytest.raises(KeyboardInterrupt):
        finetune([text], log=logs.append, on_step=interrupt_at_3, **kwargs)
    assert dir_snapshot(installed) == before and not out.exists()
    assert (work / "ckpt.pt").is_file() and any("replay: " in line and "shipped" in line for line in logs)
    logs.clear()
    result = finetune([text], log=logs.append, **kwargs)
    assert any("resuming at step 3" in line for line in logs)
    assert result["steps"] == 6 and load_manifest(out)["training"]["replay"] is True
    assert dir_snapshot(installed) == before


@pytest.mark.parametrize("command", ["prepare", "replay", "train", "finetune", "export", "evaluate"])
def test_cli_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0 and "usage: python -m trainer " + command in capsys.readouterr().out


def _run(installed, tmp_path, overrides, shards=None):
    """Fine-tune the tiny model on tiny.txt; returns (summary, log lines, manifest training record)."""
    text = tmp_path / "mine.txt"
    text.write_text(TINY_TEXT.read_text(encoding="utf-8"), encoding="utf-8")
    out, logs = tmp_path / "personal", []
    result = finetune([text], out=out, base=installed, shards=shards, work=tmp_path / "work",
                      overrides=FAST + overrides, log=logs.append, report_clauses=2)
    return result, logs, load_manifest(out)["training"]


@pytest.mark.parametrize("overrides,shards,max_epochs", [
    (["--max_epochs=0.2", "--warmup_steps=20", "--max_steps=4000"], False, 0.2),  # the cap binds below the warm-up
    (["--max_epochs=0.1", "--max_steps=4000"], True, 0.1),  # half of each batch replays: twice the steps
    (["--max_epochs=0", "--max_steps=5"], False, None),  # no epoch cap: max_steps
    (["--max_epochs=50", "--max_steps=5"], False, None),  # the cap is above max_steps
])
def test_the_announced_steps_are_the_steps_run(installed, tmp_path, overrides, shards, max_epochs):
    result, logs, training = _run(installed, tmp_path, overrides, _shards(tmp_path, installed) if shards else None)
    plan = [re.search(r"user tokens: (\d+) steps = ([\d.]+) epochs", line) for line in logs]
    (steps, epochs), = [(int(m.group(1)), float(m.group(2))) for m in plan if m]
    assert steps == result["steps"] == training["steps"]
    if max_epochs is not None:
        assert max_epochs <= epochs < max_epochs + 0.1  # rounded up to whole steps


@pytest.mark.parametrize("shards,overrides,replay", [
    (True, [], True),  # corpus shards (developers)
    (False, [], True),  # the replay sample shipped in the assets (every installed Shuru)
    (True, ["--replay_fraction=0"], False),
    (False, ["--replay_fraction=0"], False),
])
def test_replay_is_reported_only_when_used(installed, tmp_path, shards, overrides, replay):
    result, logs, training = _run(installed, tmp_path, overrides, _shards(tmp_path, installed) if shards else None)
    start = next(line for line in logs if line.startswith("starting"))
    assert ("+ replay" in start) == replay and ("no replay" in start) == (not replay)
    assert training["replay"] is replay and (training["config"]["replay_fraction"] > 0) == replay


def test_the_user_text_layer_never_counts_the_reports_held_out_lines(tmp_path):
    from engine.core.lexicon import Lexicon
    from engine.user.userlm import FILE_NAME, UserLM
    from trainer.finetune import ENGINE_ASSETS, USER_HELDOUT_EVERY, write_user_layer

    lines = ["当事人应当提起上诉"] * (USER_HELDOUT_EVERY - 1) + ["法院邮寄送达"]  # the last is held out
    write_user_layer(["\n".join(lines * 3)], [tmp_path / "law.txt"], tmp_path, lambda _: None)
    lexicon = Lexicon.load(ENGINE_ASSETS / "lexicon.npz")
    user = UserLM.load(tmp_path / FILE_NAME, lexicon)
    assert user.unigram[lexicon.token_id("当事人")] == 3 * (USER_HELDOUT_EVERY - 1)
    assert user.unigram[lexicon.token_id("邮寄")] == 0


def test_a_users_text_is_learned_without_bracketed_tags():
    from trainer.finetune import split_user_lines

    train, held = split_user_lines(["今天好开心[哈哈]明天见[泪]\n\n[图片]\n［偷笑］了"])
    assert train + held == ["今天好开心 明天见", "了"]
