"""Average the final weights of runs/A, runs/B, ... into runs/merged/ckpt.pt and compare the
held-out loss of each run, their average and the shipped model on N held-out windows.

    python docs/training/merge.py N A B [...]

Then: python -m trainer export --run runs/merged --out assets/model --int8"""
import json, math, shutil, sys
from pathlib import Path
import torch
sys.path.insert(0, ".")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from localsgd import average_states
from trainer.train import TrainConfig, evaluate_windows, load_weights
from trainer.data import heldout_windows, load_shards
from trainer.model import CharLM, ModelConfig
from trainer.vocab import Vocab

N, names = int(sys.argv[1]), sys.argv[2:]
cks = {n: torch.load(f"runs/{n}/ckpt.pt", map_location="cpu", weights_only=False) for n in names}
first = cks[names[0]]
avg = average_states([ck["model"] for ck in cks.values()])
cfg = TrainConfig()
held = heldout_windows(load_shards(Path(cfg.shard_dir), "heldout"), cfg.seq_len, N)
mc = ModelConfig.from_dict(first["model_config"])


def loss_of(sd):
    m = CharLM(mc)
    m.load_state_dict(sd)
    return evaluate_windows(m, held, cfg, torch.device("cpu"))


vocab = Vocab.load(Path(f"runs/{names[0]}/vocab.txt"))
shipped = load_weights(Path("assets/model/weights.pt"), vocab)
res = {n: loss_of(ck["model"]) for n, ck in cks.items()}
res.update(avg=loss_of(avg), shipped=loss_of(shipped.state_dict()))
print(json.dumps({k: round(v, 4) for k, v in res.items()}), flush=True)
out = Path("runs/merged")
out.mkdir(exist_ok=True)
shutil.copy(f"runs/{names[0]}/vocab.txt", out / "vocab.txt")
M = dict(first)
M["model"] = avg
st = dict(first["state"])
st["step"] = sum(ck["state"]["step"] for ck in cks.values())
st["tokens"] = sum(ck["state"]["tokens"] for ck in cks.values())
st["elapsed_s"] = max(ck["state"]["elapsed_s"] for ck in cks.values())
rec = {"step": st["step"], "tokens": st["tokens"], "elapsed_s": round(st["elapsed_s"], 1),
       "heldout_loss": round(res["avg"], 4), "heldout_ppl": round(math.exp(res["avg"]), 2), "windows": N}
st["history"] = list(first["state"].get("history") or []) + [rec]
M["state"] = st
M.pop("optimizer", None)
torch.save(M, out / "ckpt.pt")
print("wrote runs/merged/ckpt.pt", rec)
