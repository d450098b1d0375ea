"""Kill a typing process (SIGKILL) mid-learning: ``python -m tests.kill_learning --kills 20 --seed 0``.

A child process types words in engine Sessions (as the window's worker does), commits them,
and saves the settings after each commit (``recent_files`` gets a new name, as opening a
file does). After every write it prints what it wrote. The parent kills it at a random
moment, then checks that the history and the settings load without a problem and that
every word reported learned before the kill is in the history. Prints one JSON report.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INPUTS = ("nihao", "shijie", "women", "xuexi", "gongzuo", "pengyou", "tianqi", "jintian", "mingtian", "zhongguo",
          "beijing", "shanghai", "dianhua", "diannao", "yinhang", "lilv", "kafei", "chayi", "shuiguo", "yinyue")


def child(folder: Path, seed: int) -> None:
    """Type, commit and save settings forever, printing each completed write (killed from outside)."""
    from engine import Engine, EngineOptions
    from frontend.config import Settings, SettingsStore

    engine = Engine.load(EngineOptions(use_neural=False, history_path=folder / "user.db"))
    store = SettingsStore(folder / "config")
    settings = store.load()
    rng = random.Random(seed)
    print("ready", flush=True)
    for n in range(1 << 30):
        session = engine.new_session()
        session.insert(rng.choice(INPUTS))
        text = session.commit()
        print("learned " + json.dumps(text, ensure_ascii=False), flush=True)
        settings = Settings(**{**settings.__dict__, "recent_files": [f"doc{n}.txt", *settings.recent_files][:8]})
        store.save(settings)
        print(f"saved doc{n}.txt", flush=True)


def _reader(stream, lines: list[str]) -> None:
    for line in stream:
        lines.append(line.rstrip("\n"))


def one_kill(folder: Path, rng: random.Random, seed: int) -> tuple[list[str], int]:
    """Start the child, kill it at a random moment after it is ready; (its lines, writes before the kill)."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.kill_learning", "--child", str(folder), "--seed", str(seed)],
                            cwd=ROOT, env={**os.environ, "XDG_DATA_HOME": str(folder / "data"),
                                           "XDG_CONFIG_HOME": str(folder / "config")}, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, encoding="utf-8")
    lines: list[str] = []
    reader = threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True)
    reader.start()
    deadline = time.time() + 120
    while "ready" not in lines and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    time.sleep(rng.uniform(0.05, 1.5))
    proc.kill()
    proc.wait()
    reader.join(10)
    return lines, sum(1 for ln in lines if ln.startswith(("learned ", "saved ")))


def check(folder: Path, lines: list[str]) -> list[str]:
    """What was lost or unreadable after a kill (empty when everything held)."""
    from engine import Engine, EngineOptions
    from frontend.config import SettingsStore

    problems = []
    engine = Engine.load(EngineOptions(use_neural=False, history_path=folder / "user.db"))
    if engine.history.error:
        problems.append(f"history: {engine.history.error}")
    for text in {json.loads(ln[len("learned "):]) for ln in lines if ln.startswith("learned ")}:
        if text and "".join(engine.learned_parts(text)) != text:
            problems.append(f"{text!r} was learned before the kill but is not in the history")
    engine.history.store.close()
    store = SettingsStore(folder / "config")
    settings = store.load()
    if store.error:
        problems.append(f"settings: {store.error}")
    saved = [ln[len("saved "):] for ln in lines if ln.startswith("saved ")]
    if saved and saved[-1] not in settings.recent_files:
        problems.append(f"settings lost {saved[-1]} (have {settings.recent_files[:2]})")
    return problems


def run(kills: int, folder: Path, seed: int = 0) -> dict:
    """``kills`` kills of one child after another, all on the same files; the report."""
    rng = random.Random(seed)
    problems, writes, mid_run = [], 0, 0
    for i in range(kills):
        lines, done = one_kill(folder, rng, seed + i)
        writes += done
        mid_run += done > 0
        problems += [f"kill {i}: {p}" for p in check(folder, lines)]
    return {"kills": kills, "kills_after_writes_began": mid_run, "writes_before_the_kills": writes,
            "problems": problems}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.kill_learning", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--folder", type=Path, help="where user.db and settings.json go (default: a temporary folder)")
    p.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args.child, args.seed)
        return 0
    report = run(args.kills, args.folder or Path(tempfile.mkdtemp(prefix="shuru-kill-")), args.seed)
    print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0 if not report["problems"] else 1


if __name__ == "__main__":
    sys.exit(main())
