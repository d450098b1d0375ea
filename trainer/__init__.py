"""Shuru's trainer: pretraining and personal fine-tuning of the character model (PyTorch)."""
import engine  # noqa: F401  (first: it switches onnxruntime's telemetry off before anything loads it)
