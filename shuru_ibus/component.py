"""The IBus component description (``shuru.xml``): how ibus-daemon finds and starts the engine.

:func:`render_component` renders it for any command line (the packaged
``/opt/shuru/ibus-engine-shuru --ibus``, or a checkout's venv Python); the .deb installs it
to ``/usr/share/ibus/component/``. :func:`engine_command` is the command line of the running
engine: the frozen executable itself, or :func:`checkout_command`, this checkout's engine: the
venv's Python, by absolute path, with the checkout first on its path.

:func:`write_component` first runs that command line with ``--check`` (:func:`check_engine`):
a component whose engine cannot start (a Python without PyGObject, no IBus typelib) is not
written, and the error says what to install; ibus-daemon itself would only time out.
"""
from __future__ import annotations

import importlib
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from frontend import __version__
from frontend.launch import CHECKOUT, frozen, settings_command  # noqa: F401  (settings_command: the component's <setup>)

COMPONENT_NAME = "org.freedesktop.IBus.Shuru"  # the bus name the engine process claims
ENGINE_NAME = "shuru"
FILE_NAME = "shuru.xml"
SYSTEM_COMPONENT_DIR = Path("/usr/share/ibus/component")
ICON = Path(__file__).resolve().parent / "shuru.svg"
ENGINE_MODULE = "shuru_ibus"
DESCRIPTION = "Shuru: pinyin with an on-device neural decoder"
CHECK_FLAG = "--check"  # the engine's command line + this: can it start? (exit 0, else the reason on stderr)
CHECK_TIMEOUT_S = 60
PYGOBJECT_REQUIREMENT = "PyGObject>=3.42,<3.51"  # pyproject.toml's ibus extra


class EngineCannotStart(RuntimeError):
    """The component's command line cannot run the engine; the message says why and what to install."""


def engine_command(*engine_args: str) -> list[str]:
    """argv that runs the engine that is running now: the frozen executable, or this checkout's."""
    if frozen():
        return [str(Path(sys.executable).absolute()), *engine_args]
    return checkout_command(*engine_args)


def checkout_command(*engine_args: str, python: str | None = None, checkout: Path = CHECKOUT) -> list[str]:
    """argv that runs this checkout's engine: ``env PYTHONPATH=CHECKOUT PYTHON -m shuru_ibus ARGS``.

    ``python`` defaults to the running interpreter as invoked (a venv's ``bin/python`` is kept,
    not resolved to the Python it links to, so the venv's packages are used)."""
    python = python or str(Path(sys.executable).absolute())
    # ibus-daemon runs <exec> itself (no shell, any working folder): env puts the checkout first
    return ["/usr/bin/env", f"PYTHONPATH={Path(checkout).absolute()}", python, "-m", ENGINE_MODULE, *engine_args]


def render_component(exec_argv: list[str], *, setup_argv: list[str] | None = None, icon: Path = ICON,
                     version: str = __version__) -> str:
    """The component XML for an engine started as ``exec_argv`` (with ``--ibus`` appended)."""
    if not exec_argv:
        raise ValueError("the engine's command line is empty")
    argv = list(exec_argv) if "--ibus" in exec_argv else [*exec_argv, "--ibus"]
    root = ET.Element("component")
    _fields(root, name=COMPONENT_NAME, description=DESCRIPTION, exec=shlex.join(argv), version=version,
            author="Shuru", license="MIT", textdomain="shuru")
    engine = ET.SubElement(ET.SubElement(root, "engines"), "engine")
    _fields(engine, name=ENGINE_NAME, language="zh_CN", license="MIT", author="Shuru", icon=str(icon),
            layout="us", longname="Shuru", description=DESCRIPTION, rank="0", symbol="拼")
    if setup_argv:
        _fields(engine, setup=shlex.join(setup_argv))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_component(folder: Path, exec_argv: list[str] | None = None, setup_argv: list[str] | None = None) -> Path:
    """Write ``folder/shuru.xml`` (default: the running engine); returns its path. Raises
    EngineCannotStart, writing nothing, when that engine could not start (:func:`check_engine`)."""
    exec_argv = exec_argv or engine_command()
    text = render_component(exec_argv, setup_argv=setup_argv or settings_command())
    problem = check_engine(exec_argv)
    if problem:
        raise EngineCannotStart(problem)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FILE_NAME
    path.write_text(text, encoding="utf-8")
    return path


def check_engine(exec_argv: list[str], timeout_s: float = CHECK_TIMEOUT_S) -> str:
    """Run the engine's command line (as ibus-daemon would, plus ``--check``): "" when it can
    start, else why not, with what to install."""
    argv = [a for a in exec_argv if a != "--ibus"] + [CHECK_FLAG]
    try:
        run = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL)
    except OSError as e:
        return f"The IBus engine's command cannot run ({shlex.join(argv)}): {e.strerror or e}."
    except subprocess.TimeoutExpired:
        return f"The IBus engine's check did not answer within {timeout_s:.0f} s ({shlex.join(argv)})."
    if run.returncode == 0:
        return ""
    said = [line for line in (run.stderr + run.stdout).strip().splitlines() if line.strip()]
    return said[-1] if said else f"The IBus engine's check failed (exit code {run.returncode}): {shlex.join(argv)}"


def engine_problem(python: str | None = None) -> str:
    """In the engine's own process (``--check``): why it could not serve IBus, or "". Checks
    PyGObject, IBus's typelib, then everything the engine process imports."""
    python = python or sys.executable
    try:
        import gi
    except ImportError as e:
        return (f"The IBus engine cannot start: {python} cannot import PyGObject ({e}). Install it into that "
                f"Python: {python} -m pip install '{PYGOBJECT_REQUIREMENT}' (it builds against the system "
                "packages libgirepository1.0-dev, libcairo2-dev, pkg-config and gcc); in a checkout, "
                "./dev.sh ibus installs all of it.")
    try:
        gi.require_version("IBus", "1.0")
        from gi.repository import IBus  # noqa: F401
    except (ValueError, ImportError) as e:
        return (f"The IBus engine cannot start: PyGObject finds no IBus typelib ({e}). Install IBus's GObject "
                "introspection data: gir1.2-ibus-1.0 (Debian, Ubuntu), ibus-libs (Fedora), ibus (Arch).")
    try:
        importlib.import_module(f"{ENGINE_MODULE}.service")
    except Exception as e:  # a missing or broken dependency of the engine, whatever it raises  # noqa: BLE001
        return (f"The IBus engine cannot start in {python}: {type(e).__name__}: {e}. Install Shuru with its "
                "dependencies into that Python (in a checkout: ./dev.sh ibus).")
    return ""


def _fields(parent: ET.Element, **values: str) -> None:
    for tag, value in values.items():
        ET.SubElement(parent, tag).text = value
