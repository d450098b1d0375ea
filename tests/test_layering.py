"""Dependencies point one way: ime_app, shuru_ibus, shuru_fcitx5 -> frontend -> engine <- trainer.

engine never imports Qt or torch; frontend (what every front end shares) imports neither Qt nor GObject,
not even indirectly, and no front end.
"""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNTIME_PACKAGES = ("engine", "frontend", "ime_app", "shuru_ibus", "shuru_fcitx5", "trainer", "packaging")
TOOLKITS = ("PySide6", "shiboken6", "gi")


def module_names(package: str) -> list[str]:
    """Every module of ``package`` (a top-level folder of the checkout), dotted."""
    names = []
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def imported_roots(path: Path) -> set[str]:
    """The top-level packages a source file imports, at the top or inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    return roots | {n.module.split(".")[0] for n in ast.walk(tree)
                    if isinstance(n, ast.ImportFrom) and n.module and not n.level}


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
                       "import trainer", "from ime_app", "import ime_app", "from frontend", "import frontend",
                       "from shuru_ibus", "import shuru_ibus", "from shuru_fcitx5", "import shuru_fcitx5"):
            assert banned not in text, f"{path} has {banned!r}"


def test_onnxruntime_is_imported_in_one_place_only():
    """engine/core/onnx_runtime.py switches the library's telemetry off before importing it; no other import."""
    import re

    allowed = ROOT / "engine" / "core" / "onnx_runtime.py"
    for package in RUNTIME_PACKAGES:
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


@pytest.mark.parametrize("code, warned", [
    ("import engine, onnxruntime; from engine.core.onnx_runtime import onnxruntime as o; o()", False),
    ("import trainer, onnxruntime; from engine.core.onnx_runtime import onnxruntime as o; o()", False),
    ("import onnxruntime, engine", True),
])
def test_onnxruntime_loaded_too_early_is_reported_and_only_then(code, warned):
    """The warning says the variable came after onnxruntime loaded; a later load is not that."""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr
    assert ("imported before Shuru's engine" in p.stderr) == warned, p.stderr


def test_runtime_packages_never_import_the_tools():
    """tools/ (asset build, evaluation, benchmarks, fuzzing, harnesses) is not shipped."""
    import re

    for package in RUNTIME_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"^\s*(import tools\b|from tools\b)", text, re.M), path


def engine_import_graph() -> dict[str, set[str]]:
    """module -> the engine modules it imports, at the top or inside functions (not under TYPE_CHECKING)."""
    graph: dict[str, set[str]] = {}
    for path in (ROOT / "engine").rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(rel[:-1] if rel[-1] == "__init__" else rel)
        package = name if rel[-1] == "__init__" else name.rsplit(".", 1)[0]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                for n in ast.walk(node)}
        deps = graph.setdefault(name, set())
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)] if node.level else []
                mod = ".".join(base + ([node.module] if node.module else [])) if node.level else (node.module or "")
                targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            deps.update(t for t in targets if t.split(".")[0] == "engine" and t != name)
    known = set(graph)
    return {m: {d for d in deps if d in known and d != "engine"} for m, deps in graph.items()}


def test_the_engine_has_no_import_cycles():
    """Not even through imports inside functions: each module's dependencies are below it."""
    graph = engine_import_graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(m, stack):
        state[m] = 1
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                cycles.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d, stack + [d])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, cycles


def test_generic_parts_do_not_import_pinyin_or_user_parts():
    """engine.core (lattice-free language models, the neural runner) sits below engine.pinyin and engine.user."""
    graph = engine_import_graph()
    bad = {m: sorted(d for d in deps if d.startswith(("engine.pinyin", "engine.user", "engine.engine")))
           for m, deps in graph.items() if m.startswith("engine.core")}
    assert not any(bad.values()), bad


def test_frontend_loads_no_toolkit_even_indirectly():
    """Every frontend module imported in a fresh process: no Qt, no GObject, no front end, no tools."""
    code = ("import importlib, sys\n"
            f"for m in {module_names('frontend')!r}: importlib.import_module(m)\n"
            f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {TOOLKITS + ('ime_app', 'shuru_ibus', 'shuru_fcitx5', 'tools')!r})\n"
            "print(bad); sys.exit(1 if bad else 0)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr


def test_frontend_sources_import_no_front_end_toolkit_or_tools():
    """Not even inside a function: frontend is what the front ends share, below all of them."""
    for path in (ROOT / "frontend").rglob("*.py"):
        bad = imported_roots(path) & {*TOOLKITS, "ime_app", "shuru_ibus", "shuru_fcitx5", "tools", "trainer"}
        assert not bad, f"{path} imports {sorted(bad)}"


def test_the_ibus_engine_imports_neither_qt_nor_the_window():
    """shuru_ibus is a front end of its own over frontend; it starts the window only as a process."""
    for path in (ROOT / "shuru_ibus").rglob("*.py"):
        bad = imported_roots(path) & {"PySide6", "shiboken6", "ime_app", "tools", "trainer"}
        assert not bad, f"{path} imports {sorted(bad)}"


def test_the_window_does_not_import_the_ibus_engine():
    for path in (ROOT / "ime_app").rglob("*.py"):
        bad = imported_roots(path) & {"gi", "shuru_ibus", "shuru_fcitx5"}
        assert not bad, f"{path} imports {sorted(bad)}"


def test_the_fcitx5_server_imports_no_toolkit_and_no_other_front_end():
    """shuru_fcitx5 is a front end over frontend alone: no Qt, no GObject, not the window, not IBus."""
    for path in (ROOT / "shuru_fcitx5").rglob("*.py"):
        bad = imported_roots(path) & {*TOOLKITS, "ime_app", "shuru_ibus", "tools", "trainer"}
        assert not bad, f"{path} imports {sorted(bad)}"
    code = ("import importlib, sys\n"
            f"for m in {module_names('shuru_fcitx5')!r}: importlib.import_module(m)\n"
            f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {TOOLKITS + ('ime_app', 'shuru_ibus', 'tools')!r})\n"
            "print(bad); sys.exit(1 if bad else 0)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr


ENGINE_ONLY_BLOCKER = '''
import sys
class _Absent:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"torch", "PySide6", "shiboken6", "gi", "pytestqt"}:
            raise ImportError(name + " is not installed here (engine-only environment)")
sys.meta_path.insert(0, _Absent())
'''


def test_engine_tests_need_only_the_engine(tmp_path):
    """tests/engine imports nothing of Qt, GObject, torch, the trainer or the front ends in its
    sources, and pytest collects it where Qt, GObject and torch are absent (a sitecustomize hides them)."""
    import re

    banned = re.compile(r"^\s*(from|import) (torch|PySide6|shiboken6|gi|trainer|ime_app|shuru_ibus|shuru_fcitx5)\b", re.M)
    for path in (ROOT / "tests" / "engine").rglob("*.py"):
        assert not banned.search(path.read_text(encoding="utf-8")), path
    (tmp_path / "sitecustomize.py").write_text(ENGINE_ONLY_BLOCKER, encoding="utf-8")
    import os

    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    p = subprocess.run([sys.executable, "-m", "pytest", "tests/engine", "--collect-only", "-q", "-p", "no:pytest-qt",
                        "-p", "no:cacheprovider"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
