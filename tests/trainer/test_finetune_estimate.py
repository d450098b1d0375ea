"""The Personalise dialog's time estimate (``trainer finetune --check``): quick to get, and close
to what the whole run then takes. Measured runs are in docs/TUNING.md ("The fine-tune estimate")."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.trainer.test_trainer_support import TINY_TEXT, tiny_model_dir  # noqa: F401 (fixture)
from trainer import finetune as ft
from trainer.train import PRESETS

REPO = Path(__file__).resolve().parents[2]


def estimate(steps: int, step_s: float, eval_batch_s: float = 0.15, kind: str = "cpu", threads: int = 2,
             eval_windows: int = 128, user_chars: int = 100_000, startup_s: float = 3.0, one_thread_s: float = 0.0,
             report_s: float = ft.REPORT_S, **cfg_changes) -> float:
    """The estimate for a plan that timed ``step_s`` on all threads (and ``one_thread_s`` on one)."""
    cfg = PRESETS["finetune"]()
    cfg.max_steps = steps
    for key, value in cfg_changes.items():
        setattr(cfg, key, value)
    times = ft.StepTimes({threads: step_s} | ({1: one_thread_s} if one_thread_s else {}), eval_batch_s)
    return ft.estimate_seconds(cfg, times, kind, threads, eval_windows, user_chars, startup_s, report_s)


# Whole fine-tunes on a 2-core CPU (the shipped base model, the finetune preset): what the plan
# measured (steps, s per step, s per evaluation batch, held-out windows, characters, start-up)
# and the run's wall-clock seconds, start to result line. The first four ran the report of 120
# clauses (16 s); the last, the report of 300 clauses the estimate now counts (REPORT_S).
OLD_REPORT = dict(report_s=16.0)
MEASURED_RUNS = [
    # the first version of this plan timed all threads only; its evaluation batch is an idle check's of that hour
    ("65k characters, idle", dict(steps=119, step_s=0.403, eval_batch_s=0.147, user_chars=65_170, **OLD_REPORT, startup_s=3.0),
     77.6),
    ("65k characters, busy", dict(steps=119, step_s=1.379, one_thread_s=0.915, eval_batch_s=0.226,
                                  user_chars=65_170, **OLD_REPORT, startup_s=4.8), 147.0),
    ("65k characters, busy again", dict(steps=119, step_s=2.501, one_thread_s=0.863, eval_batch_s=0.235,
                                        user_chars=65_170, **OLD_REPORT, startup_s=6.2), 143.1),
    ("422k characters, quiet", dict(steps=710, step_s=0.525, one_thread_s=0.942, eval_batch_s=0.147,
                                    user_chars=421_640, **OLD_REPORT, startup_s=3.1), 362.5),
    ("2.97M characters, law text, capped at 7 minutes", dict(steps=4000, step_s=1.046, one_thread_s=1.86,
                                                              eval_batch_s=0.13, user_chars=2_974_202, startup_s=5.9),
     492.6),
]


@pytest.mark.parametrize("plan,real_s", [r[1:] for r in MEASURED_RUNS], ids=[r[0] for r in MEASURED_RUNS])
def test_the_estimate_is_within_30_percent_of_measured_runs(plan, real_s):
    assert abs(estimate(**plan) - real_s) <= 0.3 * real_s, estimate(**plan)


def test_training_stops_at_max_minutes():
    capped = estimate(10_000, 0.5)
    assert capped == estimate(20_000, 0.5)  # both stop at 7 minutes
    assert 7 * 60 < capped < 7 * 60 + 90  # plus start-up, baseline, export and the report
    assert estimate(10_000, 0.5, max_minutes=0) > 10_000 * 0.5


# (threads of the CPU, seconds per step the plan timed by thread count) -> what one probe of the
# adaptive thread count adds: 6 steps on each count it tries, less the 6 it would take on the fastest
THREAD_PROBES = [
    (1, {1: 0.45}, 0.0),  # nothing to choose from
    (2, {1: 0.70, 2: 0.45}, 6 * (0.70 - 0.45)),  # an idle CPU: 2 threads are quicker
    (2, {1: 0.76, 2: 2.30}, 6 * (2.30 - 0.76)),  # a busy one: 1 thread is
    (16, {1: 2.4, 16: 0.45}, 6 * (2.4 - 0.45) + 6 * sum(0.45 * (16 / n) ** 0.64 - 0.45 for n in (2, 4, 8))),
]


@pytest.mark.parametrize("threads,steps,seconds", THREAD_PROBES)
def test_thread_probes_cost_the_slower_steps_they_take(threads, steps, seconds):
    assert ft.thread_probe_seconds(ft.StepTimes(steps, 0.1), threads) == pytest.approx(seconds)


def test_a_busy_cpu_is_planned_on_the_thread_count_the_run_keeps():
    idle, busy = estimate(119, 0.45, one_thread_s=0.70), estimate(119, 2.30, one_thread_s=0.76)
    assert busy - idle == pytest.approx(119 * (0.76 - 0.45) * 1.03 + 6 * (2.30 - 0.76) - 6 * (0.70 - 0.45))


def test_only_the_cpu_probes_its_thread_count():
    gpu, cpu = estimate(400, 0.45, kind="cuda", threads=16), estimate(400, 0.45, kind="cpu", threads=16)
    probe = ft.thread_probe_seconds(ft.StepTimes({16: 0.45}, 0.15), 16)
    assert cpu - gpu == pytest.approx(3 * probe, rel=0.05)  # at 0, 200 and 400


def test_evaluations_and_the_users_text_are_counted():
    # 128 windows are 4 batches, evaluated for the baseline, at steps 200 and 400 (the last), or at the last step
    assert estimate(400, 0.45, eval_batch_s=1.0) - estimate(400, 0.45, eval_batch_s=0.0) == pytest.approx(
        4 * (1 + 2), rel=0.05)
    assert estimate(450, 0.45, eval_batch_s=1.0) - estimate(450, 0.45, eval_batch_s=0.0) == pytest.approx(
        4 * (1 + 2 + 1), rel=0.05)
    assert estimate(100, 0.45, user_chars=1_000_000) - estimate(100, 0.45, user_chars=0) == pytest.approx(4.0)


def test_the_plan_leaves_out_what_only_a_run_needs(tiny_model_dir, tmp_path):
    """``--check`` finds onnx and pypinyin without importing them and times steps without an
    optimizer (creating one imports torch._dynamo): about 2 s less to wait for."""
    installed = tmp_path / "installed"
    shutil.copytree(tiny_model_dir, installed)
    text = tmp_path / "mine.txt"
    text.write_text(TINY_TEXT.read_text(encoding="utf-8"), encoding="utf-8")
    code = ("import json, sys\n"
            "from trainer.__main__ import main\n"
            f"main(['finetune', '--text', {str(text)!r}, '--base', {str(installed)!r}, '--out', "
            f"{str(tmp_path / 'out')!r}, '--check', '--max_steps=4', '--batch_size=4', '--seq_len=32'])\n"
            "print(json.dumps(sorted(m for m in ('onnx', 'pypinyin', 'torch._dynamo') if m in sys.modules)))\n")
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    result, imported = (json.loads(line) for line in run.stdout.strip().splitlines()[-2:])
    plan = result["plan"]
    assert result["status"] == "ok" and imported == []
    assert plan["s_per_step"] > 0 and plan["eval_batch_s"] > 0 and 0 < plan["startup_s"] < plan["estimate_s"]
