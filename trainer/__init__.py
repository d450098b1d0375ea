"""Shuru's trainer: pretraining, fine-tuning on a user's text, export (``python -m trainer``)."""
import time

STARTED_AT = time.perf_counter()  # before torch loads: a fine-tune's plan counts the start-up a run repeats

import engine  # noqa: E402,F401  (before anything loads onnxruntime: the engine switches its telemetry off)
