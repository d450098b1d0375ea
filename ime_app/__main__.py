"""Start the Shuru window: ``shuru``, ``python -m ime_app`` or ``./dev.sh app``."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from frontend.loader import add_engine_arguments, engine_options

from . import __version__

# Qt platforms that draw without a display server (tests, screenshots, remote viewers).
HEADLESS_PLATFORMS = ("offscreen", "minimal", "vnc", "vkkhrdisplay", "eglfs", "linuxfb")
NO_DISPLAY = ("shuru: no display found (DISPLAY/WAYLAND_DISPLAY). Shuru is a window: start it in a desktop "
              "session, or over SSH with X forwarding (ssh -X); QT_QPA_PLATFORM=offscreen runs it without one.")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="shuru", description="Shuru: a pinyin input method in its own window.")
    p.add_argument("--version", action="version", version=f"shuru {__version__}")
    p.add_argument("file", nargs="?", help="a text file to open")
    add_engine_arguments(p)
    p.add_argument("--settings", action="store_true",
                   help="open only the Settings dialog (what the IBus engine's menu runs), then quit")
    p.add_argument("--smoke", action="store_true",
                   help="start, load everything, convert one input, quit; print a one-line JSON report (exit 0 = all worked)")
    p.add_argument("--export-user-data", type=Path, metavar="FILE",
                   help="write learned words, user dictionary, quick phrases and settings to FILE (no window)")
    p.add_argument("--import-user-data", type=Path, metavar="FILE",
                   help="add a backup's learned words, dictionary and quick phrases to yours, restore its settings")
    p.add_argument("--verbose", "-v", action="store_true", help="log debug messages")
    return p


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.export_user_data or args.import_user_data:  # no window: no display needed
        from .user_data import export_to, import_from

        if args.export_user_data:
            return export_to(args.export_user_data, engine_options(args))
        return import_from(args.import_user_data, engine_options(args))
    problem = display_problem(os.environ, sys.platform)
    if problem:
        print(problem, file=sys.stderr)  # before Qt, which would abort (and dump core) without a display
        return 1
    from PySide6.QtWidgets import QApplication

    from .app import create_app, create_window
    from .probe import install_probe

    app = QApplication.instance() or create_app(sys.argv[:1])
    window = create_window(engine_options(args))
    install_probe(app, window)
    if args.settings:
        return settings_only(window)
    if args.smoke:
        from .smoke import print_report, run_smoke

        code, report = run_smoke(app, window)
        print_report(report)
        return code
    if args.file:
        window.open_file(args.file)
    window.show()
    return app.exec()


def display_problem(environ, platform: str) -> str:
    """Why the window cannot open here, or "": on Linux and the BSDs Qt needs an X11 or Wayland
    display unless a headless platform is asked for (QT_QPA_PLATFORM=offscreen, ...)."""
    if not platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return ""  # Windows and macOS always have their own display
    requested = environ.get("QT_QPA_PLATFORM", "").split(":", 1)[0].split(";", 1)[0].strip().lower()
    if requested in HEADLESS_PLATFORMS:
        return ""
    if environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"):
        return ""
    return NO_DISPLAY


def settings_only(window) -> int:
    """Show the window's Settings dialog without the window; saving it updates every front end."""
    window.open_settings()  # modal; the learned-words list still talks to the window's engine
    window.engine.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
