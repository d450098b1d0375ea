"""``shuru-fcitx5-server`` / ``python -m shuru_fcitx5``: the engine process the fcitx5 addon connects to.

    python -m shuru_fcitx5                         # serve on $XDG_RUNTIME_DIR/shuru/fcitx5.sock
    python -m shuru_fcitx5 --socket PATH           # serve on PATH (its folder is made private: 0700)

The fcitx5 addon starts it on demand and starts it again if it dies; it ends on SIGTERM or
SIGINT, with the user's data closed cleanly, and by itself a minute after fcitx5 went away.
``--settings`` opens Shuru's settings window instead (fcitx5's configuration entry runs it). Engine options (``--no-neural``, ``--assets``,
``--model``, ``--history``) are those of the other front ends.
"""
from __future__ import annotations

import argparse
import logging
import signal
import subprocess
import sys
import time
from pathlib import Path

from frontend.loader import add_engine_arguments, engine_argv

STARTED_AT = time.perf_counter()
IDLE_EXIT_S = 60.0  # the addon starts the process again on demand


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="shuru-fcitx5-server", description="Shuru's engine process for fcitx5.")
    p.add_argument("--socket", type=Path, metavar="PATH",
                   help="the Unix socket to serve (default: $XDG_RUNTIME_DIR/shuru/fcitx5.sock)")
    p.add_argument("--idle-exit", type=float, default=IDLE_EXIT_S, metavar="SECONDS",
                   help=f"end after this long with no fcitx5 connected (default {IDLE_EXIT_S:.0f}; 0: never)")
    p.add_argument("--register", action="store_true",
                   help="build this checkout's fcitx5 addon and register it for this user, then exit")
    p.add_argument("--unregister", action="store_true", help="remove this user's fcitx5 registration, then exit")
    p.add_argument("--build-dir", type=Path, default=Path("build/fcitx5"), metavar="DIR",
                   help="where --register builds the addon (default: build/fcitx5)")
    p.add_argument("--settings", action="store_true",
                   help="open Shuru's settings window and exit (fcitx5's configuration entry runs this)")
    add_engine_arguments(p)
    p.add_argument("--verbose", "-v", action="store_true", help="log debug messages")
    return p


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    if args.settings:
        return open_settings()
    if args.register or args.unregister:
        return register(args)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s shuru-fcitx5 %(levelname)s %(name)s: %(message)s")
    from frontend.loader import engine_options

    from .server import Server, ServerError

    server = Server(args.socket, engine_options(args), started_at=STARTED_AT, idle_exit_s=args.idle_exit or None)
    try:
        server.listen()
    except ServerError as e:
        print(f"shuru-fcitx5-server: {e}", file=sys.stderr)
        return 1
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: server.stop())
    server.serve_forever()
    return 0


def register(args: argparse.Namespace) -> int:
    """--register / --unregister: this checkout's addon for this user."""
    from engine.errors import ShuruError

    from . import register as reg

    try:
        if args.unregister:
            removed = reg.unregister()
            print("removed " + ", ".join(map(str, removed)) if removed else "Shuru was not registered with fcitx5")
            return 0
        library = reg.register_checkout(args.build_dir, engine_args=engine_argv(args))
    except (ShuruError, OSError, subprocess.SubprocessError) as e:
        print(f"shuru-fcitx5-server: {e}", file=sys.stderr)
        return 1
    print(f"fcitx5 addon built ({library}) and registered for this user in {reg.data_home() / 'fcitx5'}.\n"
          "Restart fcitx5 (fcitx5 -r -d), then add Shuru in fcitx5's configuration (Input Method).")
    return 0


def open_settings() -> int:
    """Replace this process with Shuru's settings window (fcitx5's configuration entry)."""
    import os

    from frontend.launch import settings_command

    command = settings_command()
    try:
        os.execv(command[0], command)
    except OSError as e:
        print(f"shuru-fcitx5-server: cannot open Shuru's settings ({command[0]}): {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
