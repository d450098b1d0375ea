"""The one way Shuru loads onnxruntime: with the library's telemetry switched off first.

onnxruntime's PyPI wheels ship with Microsoft's telemetry on: loading a model writes a device id
and queued events under ``~/.cache/Microsoft/DeveloperTools/.onnxruntime`` and, seconds later,
looks up ``mobile.events.data.microsoft.com``. The library reads ``ORT_DISABLE_TELEMETRY`` when it
loads, so the variable is set when the ``engine`` package is imported (before any Shuru code can
import onnxruntime), and :func:`onnxruntime` is the only import of it in Shuru's code.
"""
from __future__ import annotations

import logging
import os
import sys
from types import ModuleType

log = logging.getLogger(__name__)

TELEMETRY_VARIABLE = "ORT_DISABLE_TELEMETRY"


_set_in_time: bool | None = None  # whether the variable was set before onnxruntime loaded (None: not yet set)


def switch_off_telemetry() -> None:
    """Set ORT_DISABLE_TELEMETRY=1 for this process and its children (whatever it was)."""
    global _set_in_time
    os.environ[TELEMETRY_VARIABLE] = "1"
    loaded = "onnxruntime" in sys.modules
    if _set_in_time is None:
        _set_in_time = not loaded
        if loaded:  # loaded before the engine: the variable came too late for it
            log.warning("onnxruntime was imported before Shuru's engine; switching its telemetry events off")
    if loaded:
        _disable_events(sys.modules["onnxruntime"])


def onnxruntime(submodule: str = "") -> ModuleType:
    """``onnxruntime`` (or ``onnxruntime.<submodule>``), imported with telemetry off."""
    import importlib

    switch_off_telemetry()
    ort = importlib.import_module("onnxruntime")
    _disable_events(ort)
    return importlib.import_module(f"onnxruntime.{submodule}") if submodule else ort


def _disable_events(ort: ModuleType) -> None:
    """The library's own switch as well (it stops the events, not the lookups: hence the variable)."""
    disable = getattr(ort, "disable_telemetry_events", None)
    if disable is not None:
        disable()


def input_dtype(session, name: str):
    """The numpy dtype of a session's float input ``name`` (float16 or float32)."""
    import numpy as np

    kind = next(i.type for i in session.get_inputs() if i.name == name)
    return np.float16 if kind == "tensor(float16)" else np.float32


def cpu_session(path, threads: int = 1):
    """An onnxruntime CPU session as the engine runs its models: few threads, no memory arena
    or memory patterns (keeps RSS low: batches vary in shape every keystroke)."""
    ort = onnxruntime()
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.enable_cpu_mem_arena = False
    so.enable_mem_pattern = False
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
