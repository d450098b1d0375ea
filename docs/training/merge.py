"""Average the final weights of runs/cont and runs/contB into runs/merged/ckpt.pt and compare
held-out loss of A, B, their average and the shipped model on N held-out windows."""
import json, shutil, sys, math
from pathlib import Path
import torch
sys.path.insert(0, ".")
from trainer.train import TrainConfig, evaluate_windows, load_weights
from trainer.data import heldout_windows, load_shards
from trainer.model import CharLM, ModelConfig
from trainer.vocab import Vocab

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
A = torch.load("runs/cont/ckpt.pt", map_location="cpu", weights_only=False)
B = torch.load("runs/contB/ckpt.pt", map_location="cpu", weights_only=False)
avg = {k: (A["model"][k].float() + B["model"][k].float()).div(2).to(A["model"][k].dtype) for k in A["model"]}
cfg = TrainConfig()
held = heldout_windows(load_shards(Path(cfg.shard_dir), "heldout"), cfg.seq_len, N)
mc = ModelConfig.from_dict(A["model_config"])
def loss_of(sd):
    m = CharLM(mc); m.load_state_dict(sd); return evaluate_windows(m, held, cfg, torch.device("cpu"))
vocab = Vocab.load(Path("runs/cont/vocab.txt"))
shipped = load_weights(Path("assets/model/weights.pt"), vocab)
res = {"A": loss_of(A["model"]), "B": loss_of(B["model"]), "avg": loss_of(avg), "shipped": loss_of(shipped.state_dict())}
print(json.dumps({k: round(v, 4) for k, v in res.items()}), flush=True)
out = Path("runs/merged"); out.mkdir(exist_ok=True)
shutil.copy("runs/cont/vocab.txt", out / "vocab.txt")
M = dict(A)
M["model"] = avg
st = dict(A["state"])
st["step"] = A["state"]["step"] + B["state"]["step"]
st["tokens"] = A["state"]["tokens"] + B["state"]["tokens"]
st["elapsed_s"] = max(A["state"]["elapsed_s"], B["state"]["elapsed_s"])
rec = {"step": st["step"], "tokens": st["tokens"], "elapsed_s": round(st["elapsed_s"], 1),
       "heldout_loss": round(res["avg"], 4), "heldout_ppl": round(math.exp(res["avg"]), 2), "windows": N}
st["history"] = list(A["state"].get("history") or []) + [rec]
M["state"] = st
M.pop("optimizer", None)
torch.save(M, out / "ckpt.pt")
print("wrote runs/merged/ckpt.pt", rec)
