"""The IBus component description (``shuru.xml``): how ibus-daemon finds and starts the engine.

:func:`render_component` renders it for any command line (the packaged
``/opt/shuru/ibus-engine-shuru --ibus``, or a checkout's venv Python); the .deb installs it
to ``/usr/share/ibus/component/``. :func:`engine_command` is the command line of the running
engine: the frozen executable itself, or :func:`checkout_command`, this checkout's engine: the
venv's Python, by absolute path, with the checkout first on its path.
"""
from __future__ import annotations

import shlex
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from .. import __version__

COMPONENT_NAME = "org.freedesktop.IBus.Shuru"  # the bus name the engine process claims
ENGINE_NAME = "shuru"
FILE_NAME = "shuru.xml"
SYSTEM_COMPONENT_DIR = Path("/usr/share/ibus/component")
ICON = Path(__file__).resolve().parent / "shuru.svg"
CHECKOUT = Path(__file__).resolve().parents[2]
ENGINE_MODULE = "ime_app.ibus"
DESCRIPTION = "Shuru: pinyin with an on-device neural decoder"
APP_EXECUTABLE = "shuru"  # the window, next to the frozen engine executable


def frozen() -> bool:
    """Whether this is the frozen app (PyInstaller), not a checkout or a pip install."""
    return bool(getattr(sys, "frozen", False))


def engine_command(*engine_args: str) -> list[str]:
    """argv that runs the engine that is running now: the frozen executable, or this checkout's."""
    if frozen():
        return [str(Path(sys.executable).absolute()), *engine_args]
    return checkout_command(*engine_args)


def checkout_command(*engine_args: str, python: str | None = None, checkout: Path = CHECKOUT) -> list[str]:
    """argv that runs this checkout's engine: ``env PYTHONPATH=CHECKOUT PYTHON -m ime_app.ibus ARGS``.

    ``python`` defaults to the running interpreter as invoked (a venv's ``bin/python`` is kept,
    not resolved to the Python it links to, so the venv's packages are used)."""
    python = python or str(Path(sys.executable).absolute())
    # ibus-daemon runs <exec> itself (no shell, any working folder): env puts the checkout first
    return ["/usr/bin/env", f"PYTHONPATH={Path(checkout).absolute()}", python, "-m", ENGINE_MODULE, *engine_args]


def settings_command(python: str | None = None, checkout: Path = CHECKOUT) -> list[str]:
    """argv that opens Shuru's settings (the component's <setup>; the property menu runs it too).

    Frozen: the window executable beside the engine's (``/opt/shuru/shuru --settings``)."""
    if frozen() and python is None:
        return [str(Path(sys.executable).absolute().parent / APP_EXECUTABLE), "--settings"]
    python = python or str(Path(sys.executable).absolute())
    return ["/usr/bin/env", f"PYTHONPATH={Path(checkout).absolute()}", python, "-m", "ime_app", "--settings"]


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
    """Write ``folder/shuru.xml`` (default: the running engine); returns its path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FILE_NAME
    text = render_component(exec_argv or engine_command(), setup_argv=setup_argv or settings_command())
    path.write_text(text, encoding="utf-8")
    return path


def _fields(parent: ET.Element, **values: str) -> None:
    for tag, value in values.items():
        ET.SubElement(parent, tag).text = value
