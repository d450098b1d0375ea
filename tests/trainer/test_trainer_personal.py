"""A fine-tune as an installed Shuru runs it: everything checked before the first step, the
plan (device, steps, time) on request, progress as events, the shipped replay sample, int8
only when it keeps to fp32, and the report of before and after."""
from __future__ import annotations

import json
import lzma
import shutil
import types
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest

from tests.trainer.test_trainer_support import TINY_TEXT, dir_snapshot, tiny_model_dir  # noqa: F401 (fixture)
from trainer import finetune as ft
from trainer import replay
from trainer.__main__ import main
from trainer.device import detect_device
from trainer.errors import DataError, TrainerError
from trainer.export import load_manifest, write_model_dir
from trainer.vocab import Vocab

FAST = ["--max_steps=4", "--batch_size=4", "--seq_len=32", "--eval_windows=4", "--warmup_steps=2",
        "--eval_every=2"]


@pytest.fixture
def job(tiny_model_dir, tmp_path):
    """(installed model copy, the user's text file, output dir)."""
    installed = tmp_path / "installed"
    shutil.copytree(tiny_model_dir, installed)
    text = tmp_path / "mine.txt"
    text.write_text(TINY_TEXT.read_text(encoding="utf-8"), encoding="utf-8")
    return installed, text, tmp_path / "models" / "new"


def _cli(job, *args):
    installed, text, out = job
    return main(["finetune", "--text", str(text), "--base", str(installed), "--out", str(out),
                 "--report-clauses", "2", *args, *FAST])


def test_check_prints_the_plan_and_trains_nothing(job, capsys):
    assert _cli(job, "--check") == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    plan = result["plan"]
    assert result["status"] == "ok" and plan["device"]["kind"] == "cpu" and "thread" in plan["device"]["name"]
    assert plan["steps"] == 4 and plan["estimate_s"] > 0 and plan["replay"] is True and plan["user_chars"] > 5000
    assert not job[2].exists() and not (job[2].parent / ".new-finetune").exists()


def test_events_tell_the_whole_run(job, capsys):
    assert _cli(job, "--events") == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    events = [e["event"] for e in lines[:-1]]
    phases = [e["phase"] for e in lines if e.get("event") == "phase"]
    assert events[0] == "plan" and phases == ["baseline", "training", "export", "report"]
    steps = [e for e in lines if e.get("event") == "step"]
    evals = [e for e in lines if e.get("event") == "eval"]
    assert steps and steps[-1]["step"] == 4 and steps[-1]["progress"] == 1 and steps[-1]["loss"] > 0
    assert evals and {"user_loss", "general_loss"} <= set(evals[-1])
    result = lines[-1]
    assert result["status"] == "ok" and result["out"] == str(job[2])
    for name in ("user", "general"):
        entry = result["report"][name]
        top1, chars, counts = entry["top1"], entry["char_acc"], entry["top1_counts"]
        assert len(top1) == len(chars) == 2 and all(0 <= v <= 100 for v in top1 + chars)
        change = entry["top1_change"]
        assert entry["clauses"] == sum(counts.values()) == 2 and change["low"] <= change["points"] <= change["high"]
    assert result["report"]["general"]["source"] == replay.load_check_set(ft.REPLAY_DIR)[1]["name"]
    assert load_manifest(job[2])["metrics"]["report"] == result["report"]


PREFLIGHT = [  # (what breaks, how, the message)
    ("a missing package", lambda mp, out: mp.setattr(ft, "REQUIRED_MODULES", ft.REQUIRED_MODULES + ("onnx_nope",)),
     "onnx_nope"),
    ("a full disk", lambda mp, out: mp.setattr(ft.shutil, "disk_usage", lambda p: namedtuple("U", "total used free")(
        1 << 30, 1 << 30, 1 << 20)), "not enough free disk space"),
    ("an output folder that cannot be made", lambda mp, out: out.parent.write_text("a file"), "cannot write to"),
    ("a damaged replay sample", lambda mp, out: mp.setattr(ft, "REPLAY_DIR", out.parent.parent / "no-replay"),
     "no replay sample"),
    ("the engine's files missing", lambda mp, out: mp.setattr(ft, "ENGINE_ASSETS", out.parent.parent / "no-assets"),
     "the engine's files that fine-tuning needs"),
]


@pytest.mark.parametrize("what,breaks,message", PREFLIGHT, ids=[p[0] for p in PREFLIGHT])
def test_problems_are_found_before_the_first_step(job, monkeypatch, what, breaks, message):
    installed, text, out = job
    breaks(monkeypatch, out)
    steps = []
    with pytest.raises(TrainerError, match=message):
        ft.finetune([text], out=out, base=installed, overrides=FAST, log=lambda m: None, on_step=steps.append)
    assert steps == [] and not (out.parent / ".new-finetune").exists()


def test_a_drifting_int8_model_ships_as_fp32(tiny_model_dir, tmp_path, monkeypatch):
    from tests.trainer.test_trainer_export import _model

    monkeypatch.setattr("trainer.export.INT8_TOP1_AGREEMENT", 1.01)  # no int8 model can pass
    logs = []
    m = write_model_dir(_model(tiny_model_dir), Vocab.load(tiny_model_dir / "vocab.txt"), tmp_path / "q", {}, {},
                        int8=True, log=logs.append)
    assert m["quantized"] is False and m["metrics"]["onnx_parity"]["int8_rejected"]["positions"] >= 1000
    assert load_manifest(tmp_path / "q")["quantized"] is False and "keeping the fp32 model" in logs[0]


def _torch(cuda: bool, mps: bool = False):
    """A stand-in for the torch module as detect_device reads it."""
    return types.SimpleNamespace(
        cuda=types.SimpleNamespace(is_available=lambda: cuda, get_device_name=lambda i: "NVIDIA H200"),
        backends=types.SimpleNamespace(mps=types.SimpleNamespace(is_available=lambda: mps)))


@pytest.mark.parametrize("cuda,mps,kind,name", [
    (True, False, "cuda", "NVIDIA H200 (CUDA)"),
    (True, True, "cuda", "NVIDIA H200 (CUDA)"),
    (False, True, "mps", "Apple GPU (Metal, MPS)"),
    (False, False, "cpu", "thread"),
])
def test_the_device_is_the_best_one_torch_offers(cuda, mps, kind, name):
    device = detect_device(_torch(cuda, mps))
    assert device.kind == kind and name in device.name and device.threads >= 1


def test_a_cuda_device_is_used_for_training(job, monkeypatch):
    """With CUDA reported, the plan names it and the probe and training ask torch for it."""
    import torch

    installed, text, out = job
    asked = []
    monkeypatch.setattr(ft, "_probe_step_seconds",
                        lambda job, device, threads: asked.append(device.type) or ft.StepTimes({2: 0.5}, 0.2))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "NVIDIA H200")
    plan = ft.plan_finetune([text], out, installed, overrides=FAST, log=lambda m: None).plan
    assert plan["device"]["kind"] == "cuda" and plan["device"]["name"] == "NVIDIA H200 (CUDA)" and asked == ["cuda"]
    from trainer.train import pick_device

    assert pick_device().type == "cuda"


HAN = "".join(bytes([0xB0 + i // 94, 0xA1 + i % 94]).decode("gb2312") for i in range(498))  # common characters


REPLAY_HAN, CHECK_HAN = HAN[:249], HAN[249:]  # no clause of the check source can occur in the replay by chance


def _han_line(n: int, pool: str) -> str:
    """Line ``n`` of a source written with the characters of ``pool``: a clause of 10-16
    characters, a comma and a short one."""
    return "".join(pool[(n * 7 + i * 13) % len(pool)] for i in range(10 + n % 7)) + "," + pool[n % 50] + "们"


def _corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "data" / "corpus"
    corpus.mkdir(parents=True)
    sources = [(s, REPLAY_HAN, 2000 * i) for i, s in enumerate(replay.SHARES)] + [(replay.CHECK_SOURCE, CHECK_HAN, 0)]
    for source, pool, offset in sources:
        lines = [_han_line(offset + n, pool) for n in range(2000)] + ["short", "太短"]
        with lzma.open(corpus / f"{source}.txt.xz", "wt", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
    return tmp_path / "data"


def test_the_replay_sample_is_reproducible_and_checked(tmp_path):
    data = _corpus(tmp_path)
    a = replay.build_replay(data, tmp_path / "a", total_chars=40_000, check_clauses=12, log=lambda m: None)
    b = replay.build_replay(data, tmp_path / "b", total_chars=40_000, check_clauses=12, log=lambda m: None)
    assert a == b and dir_snapshot(tmp_path / "a") == dir_snapshot(tmp_path / "b")
    train, held = replay.load_replay(tmp_path / "a")
    assert train and held and len(held) < len(train) and not ({"short", "太短"} & set(train + held))
    assert set(a["sources"]) == set(replay.SHARES) and all(s["licence"] for s in a["sources"].values())
    rows, check = replay.load_check_set(tmp_path / "a")
    assert len(rows) == check["clauses"] == 12 and check["source"] == replay.CHECK_SOURCE and check["licence"]
    damaged = tmp_path / "a" / replay.TRAIN_NAME
    damaged.write_bytes(damaged.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(DataError, match="damaged"):
        replay.load_replay(tmp_path / "a")


def test_the_general_check_is_drawn_from_held_out_lines_of_its_own_source(tmp_path):
    """Only lines the base model held out (every 100th), distinct clauses, and none of the
    replay's text: a line the replay holds and a long clause it contains are left out."""
    data = _corpus(tmp_path)
    source_file = data / "corpus" / f"{replay.CHECK_SOURCE}.txt.xz"
    lines = replay.check_lines(source_file, replay.CHECK_SOURCE)
    assert lines == [_han_line(n, CHECK_HAN) for n in range(99, 2000, 100)]
    shared_line, long_clause = lines[0], CHECK_HAN[:12]
    rows = replay.check_set(lines + [lines[1], "《" + long_clause + "》"], [shared_line, "又" + long_clause + "了"],
                            replay.CHECK_SOURCE, n=100)
    clauses = [r["hanzi"] for r in rows]
    assert len(clauses) == len(set(clauses)) and long_clause not in clauses
    assert shared_line.split(",")[0] not in clauses and lines[2].split(",")[0] in clauses
    assert all(r["src"] == replay.CHECK_SOURCE for r in rows)
    assert all(r["pinyin"].isascii() and r["pinyin"].isalpha() for r in rows)


def test_the_shipped_general_check_shares_no_source_and_no_text_with_the_replay():
    rows, check = replay.load_check_set(ft.REPLAY_DIR)
    meta = json.loads((ft.REPLAY_DIR / replay.META_NAME).read_text(encoding="utf-8"))
    assert check["source"] not in meta["sources"] and check["source"] not in replay.SHARES
    assert check["licence"] and {r["src"] for r in rows} == {check["source"]}
    assert len(rows) == check["clauses"] > 200 and len({r["hanzi"] for r in rows}) == len(rows)
    train, held = replay.load_replay(ft.REPLAY_DIR)
    replay_lines = set(train + held)
    text = "\n".join(train + held)
    assert not any((r["context"] + r["hanzi"]) in replay_lines for r in rows)
    assert not [r["hanzi"] for r in rows if len(r["hanzi"]) >= replay.OVERLAP_CHARS and r["hanzi"] in text]


def test_the_shipped_replay_sample_loads_and_fits_the_budget():
    train, held = replay.load_replay(ft.REPLAY_DIR)
    size = sum(p.stat().st_size for p in ft.REPLAY_DIR.iterdir())
    assert size <= 10_000_000 and sum(map(len, train)) > 2_000_000 and len(held) > 1000


def test_a_missing_source_is_named(tmp_path):
    data = _corpus(tmp_path)
    (data / "corpus" / f"{replay.CHECK_SOURCE}.txt.xz").unlink()
    with pytest.raises(DataError, match=replay.CHECK_SOURCE):
        replay.build_replay(data, tmp_path / "out", log=lambda m: None)


def test_the_cli_writes_a_new_registry_model_and_uses_it(job, tmp_path, monkeypatch, capsys):
    from engine.models import ModelRegistry

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    installed, text, _ = job
    code = main(["finetune", "--text", str(text), "--base", str(installed), "--report-clauses", "2", *FAST])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    registry = ModelRegistry()
    assert code == 0 and result["active"] is True and Path(result["out"]).parent == registry.root
    assert registry.active_id() == Path(result["out"]).name and registry.pending() is None
