"""``shuru-fcitx5-server`` / ``python -m shuru_fcitx5``: the engine process the fcitx5 addon connects to.

    python -m shuru_fcitx5                         # serve on $XDG_RUNTIME_DIR/shuru/fcitx5.sock
    python -m shuru_fcitx5 --socket PATH           # serve on PATH (its folder is made private: 0700)

The fcitx5 addon starts it on demand and starts it again if it dies; it ends on SIGTERM or
SIGINT, with the user's data closed cleanly. Engine options (``--no-neural``, ``--assets``,
``--model``, ``--history``) are those of the other front ends.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from pathlib import Path

from frontend.loader import add_engine_arguments

STARTED_AT = time.perf_counter()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="shuru-fcitx5-server", description="Shuru's engine process for fcitx5.")
    p.add_argument("--socket", type=Path, metavar="PATH",
                   help="the Unix socket to serve (default: $XDG_RUNTIME_DIR/shuru/fcitx5.sock)")
    add_engine_arguments(p)
    p.add_argument("--verbose", "-v", action="store_true", help="log debug messages")
    return p


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s shuru-fcitx5 %(levelname)s %(name)s: %(message)s")
    from frontend.loader import engine_options

    from .server import Server, ServerError

    server = Server(args.socket, engine_options(args), started_at=STARTED_AT)
    try:
        server.listen()
    except ServerError as e:
        print(f"shuru-fcitx5-server: {e}", file=sys.stderr)
        return 1
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: server.stop())
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
