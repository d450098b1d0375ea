"""The pinyin-reading language model: a pinyin encoder with a short look-ahead whose
output is added to the input of the character decoder (CharLM).

One definition used by training, export and tests.

Inputs are aligned with the decoder's *targets*: for decoder inputs idx (B, T) (char c_t
at position t, predicting c_{t+1}), syl (B, T) holds at position t the syllable token
typed for c_{t+1} (trainer.pinyin_vocab: a full syllable, an initial, `<none>` for a
position without pinyin, `<pad>` for nothing typed). The decoder's input at position t is

    wte(c_t) + wpe(t) + proj(enc[t])

where enc = PinyinEncoder(syl). `proj` starts at zero, so an untrained PinyinLM is
exactly its CharLM.

The encoder's input at position t embeds syl[t] and each of the next `lookahead`
syllables with a table of its own (offset k: syl[t + k]). Look-ahead through attention
alone (weights format 1: only the first block attending ahead) was not learned: after 49M
tokens its first block gave the keys ahead no weight, and a char's score did not change
with the syllable after it (docs/TUNING.md#the-pinyin-reading-models-look-ahead).

A bidirectional encoder (`bidirectional`) lets every block attend to every typed syllable,
so that a reading's chained score is log P(text | all its syllables). With a look-ahead of
two, a character's restricted score is told the syllables it will be followed by and never
pays for a history that makes them unlikely (docs/TUNING.md#what-the-look-ahead-reader-scores-on-whole-readings).
Its reach (PinyinConfig.reach, the manifest's `lookahead`) is then max_len: each key re-reads
a reading whole. Below, "lookahead" stands for the reach.

Look-ahead contract (what the engine may cache):
  * enc[t] depends on syl[0 .. t + lookahead] only: position t's input reads syl[t ..
    t + lookahead] and every encoder block is causal (j <= t), so the look-ahead does not
    grow with depth. (Weights format 1 read no syllable ahead at the input and let its
    first block attend to j <= t + lookahead.)
  * `<pad>` positions are never attended to (a query always sees itself). A sequence
    padded with `<pad>` from position k on gives, at positions < k, the same outputs as
    the sequence cut at k: "not typed yet" is "absent".
  * Hence logits[t] depend on idx[0 .. t] and syl[0 .. t + lookahead]. When one more
    syllable is typed (the input grows from n to n + 1 positions), only the last
    `lookahead` + 1 positions change, in the encoder and in the decoder: an incremental
    engine caches keys and values of every layer for positions < n - lookahead and
    recomputes the rest.

Scores are restricted to the characters a syllable can be: log-softmax of the decoder's
full-vocabulary logits over the candidate row of the syllable token (trainer.pinyin_vocab
.candidate_matrix); `<none>` keeps the whole vocabulary.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .model import Block, CharLM, ModelConfig
from .pinyin_vocab import SYL_NONE, SYL_PAD
from .vocab import PAD


@dataclass(frozen=True)
class PinyinConfig:
    """Shape of the pinyin encoder (stored in checkpoints, weights.pt and manifest.json)."""

    n_syllable: int = 445  # syllable tokens (syllables.txt lines)
    n_layer: int = 2
    d_model: int = 256  # = the decoder's d_model (proj maps one onto the other)
    n_head: int = 4
    d_ff: int = 1024
    lookahead: int = 2  # syllables after a position the encoder reads there
    ahead_embeddings: bool = True  # one embedding table per look-ahead offset (see the module doc)
    bidirectional: bool = False  # every block attends to every typed syllable (see the module doc)
    max_len: int = 128  # learned positions, shared with the decoder's
    dropout: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "PinyinConfig":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    @property
    def reach(self) -> int:
        """How many syllables after a position its encoding may depend on (the engine's look-ahead)."""
        return self.max_len if self.bidirectional else self.lookahead

    def block_config(self) -> ModelConfig:
        """The ModelConfig a trainer.model.Block of this encoder is built from."""
        return ModelConfig(vocab_size=self.n_syllable, max_len=self.max_len, n_layer=self.n_layer,
                           n_head=self.n_head, d_model=self.d_model, d_ff=self.d_ff, dropout=self.dropout)


class LookaheadBlock(Block):
    """trainer.model.Block (same parameters) with an explicit attention mask."""

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        """x (B, T, C); allowed (B, 1, T, T) bool, True where query i may attend key j."""
        x = x + self._attend(self.ln1(x), allowed)
        return x + self.mlp(self.ln2(x))

    def _attend(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.attn._split(x)  # (B, H, T, Dh)
        drop = self.attn.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=drop)  # (B, H, T, Dh)
        return self.attn.proj(y.transpose(1, 2).reshape(B, T, C))


def attention_mask(syl: torch.Tensor, lookahead: int) -> torch.Tensor:
    """(B, 1, T, T) bool: key j is visible from query i if j <= i + lookahead and key j is
    not `<pad>`; the diagonal always (no empty rows)."""
    T = syl.shape[1]
    i = torch.arange(T, device=syl.device)
    window = i[None, :] <= i[:, None] + lookahead  # (T, T)
    present = (syl != SYL_PAD)[:, None, None, :]  # (B, 1, 1, T)
    eye = i[None, :] == i[:, None]  # not torch.eye: ONNX EyeLike has no bool kernel in onnxruntime
    return (window & present) | eye


class PinyinEncoder(nn.Module):
    """Syllable tokens (B, T) -> encodings (B, T, C), left to right with a short look-ahead."""

    def __init__(self, cfg: PinyinConfig):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.n_syllable, cfg.d_model, padding_idx=SYL_PAD)
        self.wpe = nn.Embedding(cfg.max_len, cfg.d_model)
        # offset k reads syl[t + k]; <pad> (and past the end) embeds as zero: "not typed yet"
        n_ahead = cfg.lookahead if cfg.ahead_embeddings else 0
        self.ahead = nn.ModuleList(nn.Embedding(cfg.n_syllable, cfg.d_model, padding_idx=SYL_PAD)
                                   for _ in range(n_ahead))
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(LookaheadBlock(cfg.block_config()) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.apply(CharLM._init_weights)
        for name, p in self.named_parameters():  # GPT-2: scale residual projections by depth
            if name.endswith("proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / (2 * cfg.n_layer) ** 0.5)
        with torch.no_grad():
            for table in (self.wte, *self.ahead):
                table.weight[SYL_PAD].zero_()

    def layer_lookahead(self, layer: int) -> int:
        """Look-ahead of one block: every syllable when bidirectional; else none where the input
        already reads ahead, or all of it in the first block and none after (see module doc)."""
        if self.cfg.bidirectional:
            return self.cfg.max_len
        return self.cfg.lookahead if layer == 0 and not self.cfg.ahead_embeddings else 0

    def forward(self, syl: torch.Tensor) -> torch.Tensor:
        B, T = syl.shape
        pos = torch.arange(T, device=syl.device)
        x = self.wte(syl) + self.wpe(pos)  # (B, T, C)
        for k, table in enumerate(self.ahead, start=1):  # syl[t + k], <pad> past the end
            x = x + table(F.pad(syl, (0, k), value=SYL_PAD)[:, k:])
        x = self.drop(x)
        masks = {la: attention_mask(syl, la) for la in {self.layer_lookahead(i) for i in range(len(self.blocks))}}
        for i, block in enumerate(self.blocks):
            x = block(x, masks[self.layer_lookahead(i)])
        return self.ln_f(x)


class PinyinLM(nn.Module):
    """CharLM decoder reading the pinyin encoder (see the module doc)."""

    def __init__(self, lm: CharLM, cfg: PinyinConfig, candidates: torch.Tensor):
        super().__init__()
        if cfg.d_model != lm.cfg.d_model:
            raise ValueError(f"encoder d_model {cfg.d_model} != decoder d_model {lm.cfg.d_model}")
        if tuple(candidates.shape) != (cfg.n_syllable, lm.cfg.vocab_size):
            raise ValueError(f"candidate matrix {tuple(candidates.shape)} != "
                             f"({cfg.n_syllable} syllables, {lm.cfg.vocab_size} tokens)")
        self.cfg, self.lm = cfg, lm
        self.encoder = PinyinEncoder(cfg)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        nn.init.zeros_(self.proj.weight)  # at initialisation PinyinLM == CharLM
        nn.init.zeros_(self.proj.bias)
        self.register_buffer("candidates", torch.as_tensor(candidates, dtype=torch.bool), persistent=False)

    def pinyin_parameters(self) -> list[nn.Parameter]:
        """The new parameters (encoder and proj), as opposed to the pretrained decoder's."""
        return list(self.encoder.parameters()) + list(self.proj.parameters())

    def forward(self, idx: torch.Tensor, syl: torch.Tensor, targets: torch.Tensor | None = None):
        """idx, syl (B, T) (syl[t] = the syllable of the char idx[t] predicts). Returns the
        decoder's logits (B, T, V) over the whole vocabulary, and the mean restricted
        cross-entropy against `targets` (B, T) if given (<pad> targets ignored)."""
        B, T = idx.shape
        pos = torch.arange(T, device=idx.device)
        enc = self.encoder(syl)  # (B, T, C)
        x = self.lm.drop(self.lm.wte(idx) + self.lm.wpe(pos) + self.proj(enc))  # (B, T, C)
        for block in self.lm.blocks:
            x = block(x)
        logits = self.lm._logits(x)  # (B, T, V)
        if targets is None:
            return logits, None
        return logits, restricted_loss(logits, syl, targets, self.candidates)


def restricted_logprobs(logits: torch.Tensor, syl: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """log-softmax of logits (B, T, V) over each position's candidate row: (B, T, V) float,
    -inf outside the candidates."""
    rows = candidates[syl]  # (B, T, V) bool
    return logits.float().masked_fill(~rows, float("-inf")).log_softmax(dim=-1)


def restricted_nll(logits: torch.Tensor, syl: torch.Tensor, targets: torch.Tensor,
                   candidates: torch.Tensor) -> torch.Tensor:
    """-log P(target | candidates of its syllable), (B, T). A target its syllable cannot
    stand for (a reading pypinyin's per-char table lacks) is scored over the whole
    vocabulary (`<none>`), never as -log 0."""
    is_candidate = candidates[syl, targets]  # (B, T) bool
    syl = torch.where(is_candidate, syl, torch.full_like(syl, SYL_NONE))
    lp = restricted_logprobs(logits, syl, candidates)
    return -lp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)


def restricted_loss(logits: torch.Tensor, syl: torch.Tensor, targets: torch.Tensor,
                    candidates: torch.Tensor) -> torch.Tensor:
    """Mean restricted_nll over the positions whose target is not <pad>."""
    nll = restricted_nll(logits, syl, targets, candidates)
    keep = targets != PAD
    return torch.where(keep, nll, 0.0).sum() / keep.sum().clamp(min=1)  # where: a <pad> target's nll is inf
