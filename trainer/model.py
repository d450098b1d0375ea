"""The character-level causal transformer language model (GPT, pre-LN, nanoGPT style).

One definition used by training, export and tests. The model reads hanzi token ids only
(no pinyin): the engine's syllable lattice guarantees the pinyin match, and the model
scores log P(next char | all previous chars) normalised over the whole vocabulary (a
noisy-channel scorer). Left context typed before the clause is just earlier tokens.

`forward_cached` is the incremental form the engine runs through ONNX: new tokens at
absolute `positions`, a per-layer key/value cache with a `past_mask` of valid slots.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .errors import ManifestMismatchError


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the network (stored in checkpoints, weights.pt and manifest.json)."""

    vocab_size: int = 7490  # specials + hanzi (vocab.txt lines)
    max_len: int = 128  # learned absolute positions 0..max_len-1
    n_layer: int = 4
    n_head: int = 4
    d_model: int = 256
    d_ff: int = 1024  # MLP hidden width (4 * d_model)
    dropout: float = 0.0

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)


MODEL_PRESETS: dict[str, ModelConfig] = {
    "tiny": ModelConfig(n_layer=2, n_head=2, d_model=32, d_ff=64, max_len=64),
    "base": ModelConfig(),
}


def check_same_config(expected: ModelConfig, found: dict, what: str) -> None:
    """Raise ManifestMismatchError if `found` (a config dict) differs from `expected`."""
    diff = {k: (v, found.get(k)) for k, v in expected.to_dict().items() if k != "dropout" and found.get(k) != v}
    if diff:
        detail = ", ".join(f"{k}: expected {a}, found {b}" for k, (a, b) in diff.items())
        raise ManifestMismatchError(f"{what} was built for a different model ({detail})")


class SelfAttention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_head, self.head_dim = cfg.n_head, cfg.head_dim
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.dropout = cfg.dropout

    def _split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        # (B, T, C) -> (B, H, T, Dh)
        return tuple(t.view(B, T, self.n_head, self.head_dim).transpose(1, 2) for t in (q, k, v))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Training / full-sequence path: causal attention over x (B, T, C)."""
        B, T, C = x.shape
        q, k, v = self._split(x)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))

    def forward_cached(self, x, past_k, past_v, bias):
        """x (B, T, C); past_k/v (B, H, P, Dh); bias (B, 1, T, P+T) additive mask.
        Returns y (B, T, C) and the new k, v (B, H, P+T, Dh)."""
        B, T, C = x.shape
        q, k, v = self._split(x)
        k = torch.cat([past_k, k], dim=2)  # (B, H, P+T, Dh)
        v = torch.cat([past_v, v], dim=2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_dim)) + bias  # (B, H, T, P+T)
        y = torch.softmax(att, dim=-1) @ v  # (B, H, T, Dh)
        return self.proj(y.transpose(1, 2).reshape(B, T, C)), k, v


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.fc = nn.Linear(cfg.d_model, cfg.d_ff)
        self.proj = nn.Linear(cfg.d_ff, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.proj(F.gelu(self.fc(x))))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.attn, self.mlp = SelfAttention(cfg), MLP(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))

    def forward_cached(self, x, past_k, past_v, bias):
        a, k, v = self.attn.forward_cached(self.ln1(x), past_k, past_v, bias)
        x = x + a
        return x + self.mlp(self.ln2(x)), k, v


class CharLM(nn.Module):
    """GPT decoder over hanzi tokens with tied input/output embeddings."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.wpe = nn.Embedding(cfg.max_len, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2: scale residual projections by depth
            if name.endswith("proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)

    def num_params(self, embeddings: bool = True) -> int:
        n = sum(p.numel() for p in self.parameters())
        return n if embeddings else n - self.wte.weight.numel() - self.wpe.weight.numel()

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.ln_f(x) @ self.wte.weight.t()  # tied output embedding: (B, T, V)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """idx (B, T) at positions 0..T-1. Returns logits (B, T, V) and the mean
        cross-entropy against `targets` (B, T) if given (<pad> targets ignored)."""
        B, T = idx.shape
        pos = torch.arange(T, device=idx.device)
        x = self.drop(self.wte(idx) + self.wpe(pos))  # (B, T, C)
        for block in self.blocks:
            x = block(x)
        logits = self._logits(x)
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=0)
        return logits, loss

    def forward_cached(self, tokens, positions, past_k, past_v, past_mask, wte_t: torch.Tensor | None = None,
                       added: torch.Tensor | None = None):
        """Incremental decoding (the ONNX graph).

        tokens, positions: int64 (B, T); past_k, past_v: float (L, B, H, P, Dh);
        past_mask: float (B, P), 1.0 = valid slot. New tokens attend to the valid past
        slots and causally among themselves. Returns logprobs (B, T, V) (log_softmax over
        the whole vocabulary) and present_k, present_v (L, B, H, P+T, Dh).

        `wte_t` (C, V), the transposed token embedding, is what the ONNX graph stores
        (see CachedStep); without it the model's own embedding is used. `added` (B, T, C),
        if given, is added to the token + position embedding (the pinyin model's
        proj(enc), trainer.pinyin_export).
        """
        B, T = tokens.shape
        if wte_t is None:
            tok = self.wte(tokens)
        else:  # gather columns of the (C, V) matrix: (C, B*T) -> (B, T, C)
            tok = wte_t.index_select(1, tokens.reshape(-1)).t().reshape(B, T, -1)
        x = tok + self.wpe(positions)  # (B, T, C)
        if added is not None:
            x = x + added
        causal = torch.ones(T, T, dtype=torch.bool, device=tokens.device).tril()  # (T, T)
        new_ok = causal.unsqueeze(0).expand(tokens.shape[0], T, T)  # (B, T, T)
        past_ok = (past_mask > 0.5).unsqueeze(1).expand(-1, T, -1)  # (B, T, P)
        ok = torch.cat([past_ok, new_ok], dim=2)  # (B, T, P+T)
        # A large negative rather than -inf: fully masked rows never occur (a token
        # always sees itself) but -inf risks NaN in exported graphs.
        bias = torch.where(ok, 0.0, -1e9).to(x.dtype).unsqueeze(1)  # (B, 1, T, P+T)
        ks, vs = [], []
        for i, block in enumerate(self.blocks):
            x, k, v = block.forward_cached(x, past_k[i], past_v[i], bias)
            ks.append(k)
            vs.append(v)
        logits = self._logits(x) if wte_t is None else self.ln_f(x) @ wte_t  # (B, T, V)
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        return logprobs, torch.stack(ks), torch.stack(vs)

    def empty_cache(self, batch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """past_k, past_v (L, B, H, 0, Dh) and past_mask (B, 0) for a first call."""
        c = self.cfg
        kv = torch.zeros(c.n_layer, batch, c.n_head, 0, c.head_dim)
        return kv, kv.clone(), torch.zeros(batch, 0)


class CachedStep(nn.Module):
    """forward_cached as forward(), for torch.onnx.export.

    Holds the tied embedding once, transposed to (C, V): the output projection is then a
    plain MatMul and the input lookup a Gather on axis 1. Exported with constant folding
    (every Linear weight stored pre-transposed), this keeps a single copy of the largest
    matrix in the file and no per-call Transpose (measured 0.37 ms per step for the
    embedding alone in onnxruntime, more for all weights).
    """

    def __init__(self, model: CharLM):
        super().__init__()
        self.model = model
        self.wte_t = nn.Parameter(model.wte.weight.detach().t().contiguous(), requires_grad=False)

    def forward(self, tokens, positions, past_k, past_v, past_mask):
        return self.model.forward_cached(tokens, positions, past_k, past_v, past_mask, self.wte_t)
