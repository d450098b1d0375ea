"""``shuru --smoke``: the real app starts, loads everything, converts one input and reports it."""
import json
import os
import subprocess
import sys


def test_smoke_run_loads_everything_and_converts(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "SHURU_CONFIG_DIR": str(tmp_path / "config"),
           "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    run = subprocess.run([sys.executable, "-m", "ime_app", "--smoke"], env=env, capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["ok"] and report["window_shown"] and report["first"] == "你好"
    assert report["engine"].startswith("neural (base)") and report["model"] == "base"
    assert report["trainer"] == [sys.executable, "-m", "trainer"]  # the checkout's
    assert not (tmp_path / "config" / "settings.json").exists()  # the check wrote no settings


def test_smoke_run_fails_when_the_assets_are_missing(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "SHURU_CONFIG_DIR": str(tmp_path / "config"),
           "XDG_DATA_HOME": str(tmp_path / "data")}
    run = subprocess.run([sys.executable, "-m", "ime_app", "--smoke", "--assets", str(tmp_path / "nowhere")],
                         env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 1
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert not report["ok"] and "lexicon" in report["engine"]
