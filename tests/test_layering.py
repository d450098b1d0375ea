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
