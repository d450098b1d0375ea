"""Kill a fine-tune (SIGKILL) at random moments and check that nothing is lost.

    python -m tools.killtest --kills 20 --text FILE [--base DIR] [--seed S] [-- --key=value ...]

After each kill: the model in use before (a copy of ``--base``) still loads and converts,
an output folder, if one exists, is a complete model, and the next run resumes from the
last checkpoint (it says "resuming at step N" whenever a checkpoint was on disk). A last
run goes to the end. Prints one JSON report; exit code 0 when every check held.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _engine_works(model_dir: Path) -> tuple[bool, str]:
    """The model folder loads in the engine (no fallback) and converts nihao."""
    from engine import Engine, EngineOptions

    engine = Engine.load(EngineOptions(model_dir=model_dir, learning=False, personal=False))
    session = engine.new_session()
    session.insert("nihao")
    first = session.candidates()[0].text if session.candidates() else ""
    return engine.neural is not None and bool(first), f"{engine.status}; nihao -> {first}"


def _reached_training(stderr: str) -> bool:
    """The run logged where it starts ("resuming at step N", "starting", "starting over"); one
    killed earlier (reading the text, importing torch) had no chance to say."""
    return any(line.startswith(("resuming at step", "starting: ", "starting over: ")) for line in stderr.splitlines())


def _output_ok(out: Path) -> bool:
    """No output yet, or a complete model folder (never a half-written one)."""
    if not out.exists():
        return True
    from trainer.export import load_manifest

    try:
        load_manifest(out)
        return True
    except Exception:  # noqa: BLE001
        return False


def run(kills: int, text: Path, base: Path, folder: Path, seed: int = 0, extra: list[str] | None = None,
        log=lambda m: print(m, file=sys.stderr, flush=True)) -> dict:
    """The whole experiment in ``folder``; returns the report."""
    rng = random.Random(seed)
    active, out = folder / "active", folder / "models" / "new"
    shutil.copytree(base, active)
    work = out.with_name(f".{out.name}-finetune")
    cmd = [sys.executable, "-m", "trainer", "finetune", "--text", str(text), "--base", str(base), "--out", str(out),
           "--report-clauses", "2", *(extra or [])]
    t0 = time.monotonic()
    full = subprocess.run(cmd, capture_output=True, text=True)
    duration = time.monotonic() - t0
    if full.returncode != 0:
        raise SystemExit(f"the uninterrupted run failed:\n{full.stderr[-2000:]}")
    shutil.rmtree(out)
    failures, kills_done, resumed, expected_resumes, finished_early, killed_in_startup = [], 0, 0, 0, 0, 0
    had_checkpoint = False
    for i in range(kills + 1):
        final = i == kills
        with tempfile.TemporaryFile("w+") as err:
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, text=True)
            try:
                proc.wait(timeout=None if final else rng.uniform(0.05, 1.0) * duration)
                killed = False
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                killed = True
            err.seek(0)
            stderr = err.read()
        if had_checkpoint and not _reached_training(stderr) and killed:
            killed_in_startup += 1  # killed before it got to resume or not: nothing to check
        elif had_checkpoint:
            expected_resumes += 1
            resumed += "resuming at step" in stderr
            if "resuming at step" not in stderr:
                failures.append(f"run {i}: a checkpoint was on disk but the run did not resume: "
                                f"{stderr.strip().splitlines()[-3:]}")
        works, status = _engine_works(active)
        if not works:
            failures.append(f"run {i}: the model in use no longer works: {status}")
        if not _output_ok(out):
            failures.append(f"run {i}: {out} is an incomplete model folder")
        if killed:
            kills_done += 1
        elif not final:
            finished_early += 1  # the run ended before its kill moment: start the next from scratch
            if proc.returncode != 0:
                failures.append(f"run {i}: exit code {proc.returncode}: {stderr[-500:]}")
            shutil.rmtree(out, ignore_errors=True)
        if final and (proc.returncode != 0 or not _output_ok(out) or not out.exists()):
            failures.append(f"last run: exit code {proc.returncode}, output complete: {_output_ok(out)}")
        had_checkpoint = (work / "ckpt.pt").exists()
        log(f"run {i}: {'killed' if killed else 'finished'}; checkpoint on disk: {had_checkpoint}")
    return {"kills": kills_done, "finished_before_their_kill": finished_early, "resumes_expected": expected_resumes,
            "resumed": resumed, "killed_before_training_began": killed_in_startup, "failures": failures, "uninterrupted_run_s": round(duration, 1)}


def main(argv: list[str] | None = None) -> int:
    from trainer.finetune import INSTALLED_MODEL

    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    p = argparse.ArgumentParser(prog="python -m tools.killtest", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--text", type=Path, required=True)
    p.add_argument("--base", type=Path, default=INSTALLED_MODEL)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--folder", type=Path, default=None, help="work folder (default: a temporary one)")
    args = p.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    folder = args.folder or Path(tempfile.mkdtemp(prefix="shuru-killtest-"))
    report = run(args.kills, args.text, args.base, folder, args.seed, extra)
    print(json.dumps(report, ensure_ascii=False))
    return 0 if not report["failures"] else 1


if __name__ == "__main__":
    sys.exit(main())
