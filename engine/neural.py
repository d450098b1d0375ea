"""Neural character LM scorer (ONNX, onnxruntime on the CPU). Filled in with the trainer's export."""
from __future__ import annotations

from pathlib import Path

from .errors import AssetError


def find_model_dir(options) -> tuple[Path | None, str]:
    if options.model_dir is not None:
        return (options.model_dir if options.model_dir.exists() else None), "custom"
    base = options.assets_dir / "model"
    return (base if (base / "manifest.json").exists() else None), "base"


class NeuralScorer:
    @classmethod
    def load(cls, model_dir: Path) -> "NeuralScorer":
        raise AssetError(f"neural scoring not available yet for {model_dir}")
