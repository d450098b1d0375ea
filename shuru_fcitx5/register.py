"""Build Shuru's fcitx5 addon and register it for one user (a checkout, or the user tarball).

fcitx5 finds an input method from two .conf files under ``$XDG_DATA_HOME/fcitx5``
(``addon/shuru.conf``, whose ``Library=`` may be an absolute path without ``.so``, and
``inputmethod/shuru.conf``). The addon starts the ``shuru-fcitx5-server`` beside its library
when there is one (:func:`write_launcher` puts this checkout's there), else the command it
was built with. The .deb installs the same files system-wide instead (``packaging/``).

    python -m shuru_fcitx5 --register [--build-dir DIR]    # ./dev.sh fcitx5
    python -m shuru_fcitx5 --unregister
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from engine.atomic import atomic_writer
from engine.errors import ShuruError
from frontend.launch import CHECKOUT

ADDON_SOURCE = Path(__file__).resolve().parent / "addon"
ADDON_NAME = "shuru"  # the addon's and the input method's name (fcitx5's profile names it)
LAUNCHER = "shuru-fcitx5-server"  # the engine process the addon starts, beside its library
BUILD_PACKAGES = ["cmake", "g++", "libfcitx5core-dev", "nlohmann-json3-dev"]  # Debian's names (./dev.sh fcitx5 installs them)
BUILD_TIMEOUT_S = 600


class AddonBuildError(ShuruError):
    """The addon could not be built; the message says what to install."""


def data_home() -> Path:
    """``$XDG_DATA_HOME``, else ``~/.local/share``."""
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local/share")


def build_addon(build_dir: Path, *, server_command: str = LAUNCHER) -> Path:
    """Configure and build the addon in ``build_dir``; returns the library (``.../shuru.so``).

    Its addon .conf (``build_dir/shuru-addon.conf``) names the library by absolute path."""
    if shutil.which("cmake") is None:
        raise AddonBuildError(f"cmake is not installed; install {' '.join(BUILD_PACKAGES)}")
    build_dir = Path(build_dir).absolute()
    build_dir.mkdir(parents=True, exist_ok=True)
    library = build_dir / f"{ADDON_NAME}.so"
    configure = ["cmake", "-S", str(ADDON_SOURCE), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release",
                 f"-DSHURU_SERVER_COMMAND={server_command}", f"-DSHURU_ADDON_LIBRARY={library.with_suffix('')}"]
    for step in (configure, ["cmake", "--build", str(build_dir)]):
        done = subprocess.run(step, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
        if done.returncode != 0:
            raise AddonBuildError(f"building the fcitx5 addon failed (are {' '.join(BUILD_PACKAGES)} installed?):\n"
                                  + (done.stderr or done.stdout)[-2000:])
    return library


def checkout_server_command(python: str | None = None, checkout: Path = CHECKOUT) -> list[str]:
    """argv of this checkout's engine process: the venv's Python with the checkout first on its path."""
    python = python or str(Path(sys.executable).absolute())
    return ["/usr/bin/env", f"PYTHONPATH={Path(checkout).absolute()}", python, "-m", "shuru_fcitx5"]


def write_launcher(folder: Path, argv: list[str]) -> Path:
    """A ``shuru-fcitx5-server`` script in ``folder`` that runs ``argv`` (plus its own arguments)."""
    path = Path(folder) / LAUNCHER
    with atomic_writer(path) as f:
        f.write(f"#!/bin/sh\n# Shuru's engine process for fcitx5 (written by python -m shuru_fcitx5 --register)\n"
                f"exec {shlex.join(argv)} \"$@\"\n".encode())
    path.chmod(0o755)
    return path


def register(addon_conf: Path, home: Path | None = None) -> list[Path]:
    """Install the addon's and the input method's .conf files for this user; returns them."""
    home = Path(home) if home else data_home()
    placed = []
    for kind, source in (("addon", Path(addon_conf)), ("inputmethod", ADDON_SOURCE / "shuru-inputmethod.conf")):
        target = home / "fcitx5" / kind / f"{ADDON_NAME}.conf"
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_writer(target) as f:
            f.write(source.read_bytes())
        placed.append(target)
    return placed


def unregister(home: Path | None = None) -> list[Path]:
    """Remove this user's registration; returns the files removed."""
    home = Path(home) if home else data_home()
    removed = []
    for kind in ("addon", "inputmethod"):
        target = home / "fcitx5" / kind / f"{ADDON_NAME}.conf"
        if target.exists():
            target.unlink()
            removed.append(target)
    return removed


def register_checkout(build_dir: Path, home: Path | None = None, engine_args: list[str] | None = None) -> Path:
    """Build this checkout's addon in ``build_dir`` and register it with this checkout's engine; returns the library."""
    library = build_addon(build_dir)
    write_launcher(library.parent, [*checkout_server_command(), *(engine_args or [])])
    register(library.parent / "shuru-addon.conf", home)
    return library
