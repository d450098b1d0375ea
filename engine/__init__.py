"""Shuru's engine: pinyin text -> syllable lattice -> ranked hanzi candidates.

Never imports Qt or torch. Entry points: :class:`Engine` (shared, read-only things) and
:class:`Session` (one input's state), both documented in their modules.
"""
from .core import onnx_runtime

onnx_runtime.switch_off_telemetry()  # before anything below (or a user of the engine) loads onnxruntime

from .engine import Engine
from .options import EngineOptions
from .errors import AssetError, ShuruError
from .pinyin.session import Candidate, Session, SessionView

__all__ = ["Engine", "EngineOptions", "Session", "SessionView", "Candidate", "ShuruError", "AssetError"]
