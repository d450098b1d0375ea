"""Dependencies point one way: ime_app -> engine <- trainer. engine never imports Qt or torch."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_engine_imports_neither_qt_nor_torch():
    code = ("import sys, engine, engine.__main__\n"
            "from engine import Engine, EngineOptions\n"
            "e = Engine.load(EngineOptions(learning=False)); s = e.new_session(); s.insert('nihao'); s.view()\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'torch')]\n"
            "print(bad); sys.exit(1 if bad else 0)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr


def test_engine_sources_do_not_import_gui_or_trainer():
    for path in (ROOT / "engine").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for banned in ("import PySide6", "from PySide6", "import torch", "from torch", "from trainer",
                       "import trainer", "from ime_app", "import ime_app"):
            assert banned not in text, f"{path} has {banned!r}"


def test_onnxruntime_is_imported_in_one_place_only():
    """engine/onnx_runtime.py switches the library's telemetry off before importing it; no other import."""
    import re

    allowed = ROOT / "engine" / "onnx_runtime.py"
    for package in ("engine", "ime_app", "trainer", "packaging"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            if path != allowed:
                assert not re.search(r"^\s*(import onnxruntime|from onnxruntime)", text, re.M), path


def test_importing_the_engine_or_the_trainer_switches_telemetry_off():
    """Whatever the environment said, ORT_DISABLE_TELEMETRY=1 once either package is imported."""
    import os

    for package in ("engine", "trainer"):
        code = f"import os, {package}; print(os.environ.get('ORT_DISABLE_TELEMETRY'))"
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                           env={**os.environ, "ORT_DISABLE_TELEMETRY": "0"})
        assert p.stdout.strip() == "1", p.stdout + p.stderr


def test_runtime_packages_never_import_the_tools():
    """tools/ (asset build, evaluation, benchmarks, fuzzing, harnesses) is not shipped."""
    import re

    for package in ("engine", "ime_app", "trainer", "packaging"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"^\s*(import tools\b|from tools\b)", text, re.M), path
