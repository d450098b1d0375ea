"""The command-line contract the benchmarks use, end to end in a subprocess."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(args, stdin):
    p = subprocess.run([sys.executable, "-m", "engine", *args], input=stdin, capture_output=True,
                       text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr
    return [json.loads(line) for line in p.stdout.splitlines()]


def test_convert_round_trip():
    out = run(["convert", "--topk", "3", "--no-neural"], "nihao\nwoxianghuijia\n\nbjdx\n")
    assert [o["input"] for o in out] == ["nihao", "woxianghuijia", "bjdx"]
    assert out[0]["candidates"][0] == "你好" and len(out[0]["candidates"]) == 3
    assert "北京大学" in out[2]["candidates"]
    assert all(isinstance(o["ms"], float) for o in out)


def test_convert_with_context_and_keystrokes():
    line = json.dumps({"pinyin": "gongshi", "context": "我们的数学"}, ensure_ascii=False)
    out = run(["convert", "--context", "--keystrokes", "--no-neural"], line + "\n")
    assert "公式" in out[0]["candidates"][:3]
    assert len(out[0]["key_ms"]) == len("gongshi")


def test_eval_prints_accuracy(tmp_path):
    rows = [{"pinyin": "nihao", "hanzi": "你好", "context": ""},
            {"pinyin": "woxianghuijia", "hanzi": "我想回家", "context": ""}]
    path = tmp_path / "tiny.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    p = subprocess.run([sys.executable, "-m", "tools", "eval", str(path), "--no-neural"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "top1=1.000" in p.stdout


@pytest.mark.parametrize("flags, mode", [([], "no context"), (["--context"], "with context")])
def test_eval_reports_a_word_set_per_syllable_count(tmp_path, flags, mode):
    rows = [{"pinyin": "wo", "hanzi": "我", "context": "你和"},
            {"pinyin": "nihao", "hanzi": "你好", "context": ""},
            {"pinyin": "beijingdaxue", "hanzi": "北京大学", "context": "我在"}]
    path = tmp_path / "words.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    p = subprocess.run([sys.executable, "-m", "tools", "eval", str(path), "--no-neural", *flags],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr
    assert f"top-1 by syllables: 1: 1.000 (n=1), 2: 1.000 (n=1), 3-4: 1.000 (n=1) ({mode})" in p.stdout


def test_eval_of_clauses_has_no_syllable_breakdown(tmp_path):
    path = tmp_path / "clauses.jsonl"
    path.write_text(json.dumps({"pinyin": "woxianghuijiale", "hanzi": "我想回家了"}, ensure_ascii=False), encoding="utf-8")
    p = subprocess.run([sys.executable, "-m", "tools", "eval", str(path), "--no-neural"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "by syllables" not in p.stdout


def test_eval_without_dev_sets_says_so(tmp_path):
    p = subprocess.run([sys.executable, "-m", "tools", "eval", str(tmp_path / "dev" / "dev-*.jsonl"), "--no-neural"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode != 0 and "Traceback" not in p.stderr
    assert "no such dev set" in p.stderr and "../shared/data/dev" in p.stderr


def test_eval_with_a_history_and_junk_commits(tmp_path):
    rows = tmp_path / "dev-tiny.jsonl"
    rows.write_text("\n".join(json.dumps({"pinyin": p, "hanzi": h}, ensure_ascii=False)
                              for p, h in [("nihao", "你好"), ("woxianghuijia", "我想回家")]) + "\n", encoding="utf-8")
    history = ROOT / "tests" / "fixtures" / "history-skewed.json"
    before = history.read_bytes()
    p = subprocess.run([sys.executable, "-m", "tools", "eval", str(rows), "--no-neural", "--history", str(history),
                        "--junk", "50"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "top1=1.000" in p.stdout and "words learned" in p.stderr
    assert history.read_bytes() == before and not history.with_suffix(".db").exists()  # only read


def test_bench_inputs_come_with_the_tools(monkeypatch, tmp_path):
    import tools.cli as cli

    monkeypatch.setattr(cli, "DEV_DIR", tmp_path / "no-dev-sets")
    rows, source = cli.bench_inputs([])
    assert len(rows) == 300 and "corpus clauses" in source
    assert all(r.isascii() and r.isalpha() for r in rows)


def test_commands_that_default_to_the_dev_sets_say_where_they_are(tmp_path, monkeypatch):
    """In a user's clone there is no ../shared: eval, predict and the asset build say so, no traceback."""
    import pytest

    import tools.cli as cli
    from tools.build.__main__ import main as build

    monkeypatch.setattr(cli, "DEV_DIR", tmp_path / "no-dev")
    for argv in (["eval", "--no-neural"], ["predict", "--no-neural"], ["eval", "--layout", "xiaohe", "--no-neural"]):
        with pytest.raises(SystemExit, match="not part of Shuru's repository"):
            cli.main(argv)
    assert build(["all", "--data", str(tmp_path / "no-data"), "--work", str(tmp_path / "w")]) == 2


READER_ROW = {"gold": "食品", "list": ["视频", "食品", "是", "饰品"],
              "c": [[0, "视频", -10.0, -5.0], [1, "食品", -11.0, -1.0], [3, "饰品", -20.0, 0.0]]}


@pytest.mark.parametrize("weight, top, margin, expected", [
    (0.0, 8, 99.0, ["视频", "食品", "是", "饰品"]),  # weight 0: the search's order
    (0.5, 8, 99.0, ["食品", "视频", "是", "饰品"]),  # -11.5 beats -12.5; 饰品 at -20 stays last
    (0.5, 8, 5.0, ["食品", "视频", "是", "饰品"]),   # 饰品 is 10 behind: not read
    (3.0, 8, 99.0, ["食品", "饰品", "是", "视频"]),  # slots are kept: words stay where they were
    (3.0, 8, 5.0, ["食品", "视频", "是", "饰品"]),
    (0.5, 1, 99.0, ["视频", "食品", "是", "饰品"]),  # one reading: nothing to re-order
])
def test_reader_grid_reorders_as_the_decoder_does(weight, top, margin, expected):
    from tools.reader_grid import grid, reorder

    assert reorder(READER_ROW, weight, top, margin) == expected
    best = max(grid({"dev-x": [READER_ROW]}), key=lambda r: r["mean"])
    assert best["mean"] == 100.0 and best["weight"] > 0


def test_reader_grid_can_take_the_character_models_share_out():
    from tools.reader_grid import reorder

    row = {"gold": "食品", "list": ["视频", "食品"],
           "c": [[0, "视频", -10.0, -5.0, -2.0], [1, "食品", -11.0, -5.0, -8.0]]}  # char model: 6 nats for 视频
    assert reorder(row, 0.5, 8, 99.0) == ["视频", "食品"]
    assert reorder(row, 0.5, 8, 99.0, char_off=0.35) == ["食品", "视频"]  # -10.7 beats -11.8


@pytest.mark.parametrize("cpuinfo, cpu, simd", [
    ("model name\t: AMD EPYC\nflags\t\t: fpu sse2 avx2 f16c\n", "AMD EPYC", ["avx2", "f16c"]),
    ("model name\t: Intel(R) Xeon(R)\nflags\t\t: avx2 f16c avx512f avx512_vnni\n", "Intel(R) Xeon(R)",
     ["avx2", "f16c", "avx512f", "avx512_vnni"]),
    ("", None, []),  # no /proc/cpuinfo: the platform's own name
])
def test_the_bench_names_the_cpu_it_ran_on(cpuinfo, cpu, simd):
    from tools.cli import host_summary

    host = host_summary(cpuinfo)
    assert host["simd"] == simd and host["cpus"] >= 1
    assert host["cpu"] == cpu if cpu else host["cpu"]
