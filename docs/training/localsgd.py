"""Local SGD over single-thread training processes: every PERIOD seconds, SIGTERM them all
(each writes its resumable checkpoint), average their model weights into every checkpoint,
resume them. Stops syncing when one run finishes.

    python docs/training/localsgd.py RUNS.json [PERIOD_SECONDS]

RUNS.json maps a run name to its `python -m trainer train` arguments; the run's directory
must be `--run_dir=runs/NAME` and its log `runs/NAME.log`. Start the runs yourself first
with exactly those arguments (see README.md beside this file)."""
import json, os, signal, subprocess, sys, time
from pathlib import Path
import torch

PY = ".venv/bin/python"
RUNS: dict[str, list[str]] = {}


def log(msg):
    print(time.strftime("[%H:%M:%S] "), msg, flush=True)


def pids(name):
    out = subprocess.run(["pgrep", "-f", f"run_dir=runs/{name} "], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def done(name):
    text = Path(f"runs/{name}.log").read_text(errors="replace")
    return "done at step" in text.splitlines()[-1] if text.strip() else False


def average_states(models: list[dict]) -> dict:
    """The element-wise mean of model state_dicts (non-float entries taken from the first)."""
    first = models[0]
    return {k: (sum(m[k].float() for m in models) / len(models)).to(first[k].dtype)
            if first[k].is_floating_point() else first[k] for k in first}


def average():
    cks = {n: torch.load(f"runs/{n}/ckpt.pt", map_location="cpu", weights_only=False) for n in RUNS}
    avg = average_states([ck["model"] for ck in cks.values()])
    for n, ck in cks.items():
        ck["model"] = avg
        tmp = f"runs/{n}/ckpt.pt.tmp"
        torch.save(ck, tmp)
        os.replace(tmp, f"runs/{n}/ckpt.pt")
    log("averaged: " + ", ".join(f"{n} step {ck['state']['step']}" for n, ck in cks.items()))


def launch(name):
    with open(f"runs/{name}.log", "a") as f:
        subprocess.Popen([PY, "-m", "trainer", "train"] + RUNS[name], stdout=f, stderr=subprocess.STDOUT,
                         start_new_session=True)


def main(period: float) -> None:
    while True:
        time.sleep(period)
        if any(done(n) for n in RUNS) or not all(pids(n) for n in RUNS):
            log("a run has finished or stopped: no more syncing")
            break
        for n in RUNS:
            for p in pids(n):
                os.kill(p, signal.SIGTERM)
        while any(pids(n) for n in RUNS):
            time.sleep(1)
        average()
        for n in RUNS:
            launch(n)
        log("relaunched")


if __name__ == "__main__":
    RUNS.update(json.loads(Path(sys.argv[1]).read_text()))
    main(float(sys.argv[2]) if len(sys.argv) > 2 else 600)
