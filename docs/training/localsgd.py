"""Local SGD over two single-thread training processes: every PERIOD seconds, SIGTERM both
(they checkpoint), average their model weights into both checkpoints, resume both."""
import os, signal, subprocess, sys, time
from pathlib import Path
import torch

PY = ".venv/bin/python"
COMMON = ["-m", "trainer", "train", "--preset=base", "--init_from=assets/model/weights.pt", "--lr=6e-4",
          "--min_lr=3e-5", "--warmup_steps=200", "--eval_every=500", "--threads=1"]
RUNS = {"cont": COMMON + ["--run_dir=runs/cont", "--max_minutes=115", "--seed=2026"],
        "contB": COMMON + ["--run_dir=runs/contB", "--max_minutes=104", "--seed=7"]}
PERIOD = float(sys.argv[1]) if len(sys.argv) > 1 else 1200

def log(msg):
    print(time.strftime("[%H:%M:%S] "), msg, flush=True)

def pids(name):
    out = subprocess.run(["pgrep", "-f", f"run_dir=runs/{name} "], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]

def done(name):
    text = Path(f"runs/{name}.log").read_text(errors="replace")
    return "done at step" in text.splitlines()[-1] if text.strip() else False

def average():
    cks = {n: torch.load(f"runs/{n}/ckpt.pt", map_location="cpu", weights_only=False) for n in RUNS}
    a, b = (cks[n]["model"] for n in RUNS)
    avg = {k: (a[k].float() + b[k].float()).div(2).to(a[k].dtype) if a[k].is_floating_point() else a[k] for k in a}
    for n, ck in cks.items():
        ck["model"] = avg
        tmp = f"runs/{n}/ckpt.pt.tmp"
        torch.save(ck, tmp)
        os.replace(tmp, f"runs/{n}/ckpt.pt")
    log("averaged: " + ", ".join(f"{n} step {ck['state']['step']}" for n, ck in cks.items()))

def launch(name):
    with open(f"runs/{name}.log", "a") as f:
        subprocess.Popen([PY] + RUNS[name], stdout=f, stderr=subprocess.STDOUT, start_new_session=True)

while True:
    time.sleep(PERIOD)
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
