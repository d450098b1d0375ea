"""Maximum-probability word segmentation of Han clauses over a prefix dictionary (as jieba
does, without its HMM): the asset build cuts the corpus with it, and the user text layer
cuts the user's text the same way."""
from __future__ import annotations


class Segmenter:
    """Maximum unigram-probability segmentation of Han clauses."""

    def __init__(self, logp: dict[str, float], unk_logp: float):
        self.logp = logp
        self.unk_logp = unk_logp
        self.prefixes = {w[:k] for w in logp for k in range(2, len(w) + 1)}

    @classmethod
    def over(cls, logp: dict[str, float]) -> "Segmenter":
        """A segmenter over ``logp`` whose unknown characters cost 2 nats more than its rarest word."""
        return cls(logp, min(logp.values()) - 2.0)

    def cut(self, clause: str) -> list[str]:
        n = len(clause)
        best = [0.0] * (n + 1)
        nxt = [0] * (n + 1)
        logp, prefixes, unk = self.logp, self.prefixes, self.unk_logp
        for i in range(n - 1, -1, -1):
            b = logp.get(clause[i], unk) + best[i + 1]
            k = i + 1
            j = i + 2
            while j <= n:
                w = clause[i:j]
                if w not in prefixes:
                    break
                lp = logp.get(w)
                if lp is not None and lp + best[j] > b:
                    b = lp + best[j]
                    k = j
                j += 1
            best[i] = b
            nxt[i] = k
        out, i = [], 0
        while i < n:
            out.append(clause[i : nxt[i]])
            i = nxt[i]
        return out
