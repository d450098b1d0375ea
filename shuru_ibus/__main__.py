"""``ibus-engine-shuru`` / ``python -m shuru_ibus``: the IBus engine and its component file.

    python -m shuru_ibus --ibus                        # what ibus-daemon runs (from shuru.xml)
    python -m shuru_ibus                               # from a terminal: registers itself with a running IBus
    python -m shuru_ibus --write-component DIR         # DIR/shuru.xml running this checkout's engine (if it can start)
    python -m shuru_ibus --check                       # can this engine start under IBus? (exit 0, else why, exit 1)
    python -m shuru_ibus --print-component             # the same XML on stdout

Engine options (``--no-neural``, ``--assets``, ``--model``, ``--history``) apply to the engine, and with
``--write-component`` to the engine the component starts. Its latency through IBus is measured
by ``python -m tools.ibus_bench`` (development tools, not shipped).
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from frontend.loader import add_engine_arguments, engine_argv

STARTED_AT = time.perf_counter()
LOG_NAME = "ibus-engine.log"  # in the user cache folder (~/.cache/shuru)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ibus-engine-shuru", description="Shuru as an IBus input method engine.")
    p.add_argument("--ibus", action="store_true", help="started by ibus-daemon: claim the component's bus name")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--write-component", type=Path, metavar="DIR",
                      help="write DIR/shuru.xml, whose <exec> runs this engine (this checkout's, or the installed one), and exit")
    what.add_argument("--print-component", action="store_true", help="print that component XML and exit")
    what.add_argument("--check", action="store_true",
                      help="check that this engine can start under IBus (PyGObject, the IBus typelib); "
                           "exit 0, else say what to install and exit 1")
    add_engine_arguments(p)
    p.add_argument("--verbose", "-v", action="store_true", help="log debug messages")
    return p


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    if args.check:
        from .component import engine_problem

        problem = engine_problem()
        if problem:
            print(problem, file=sys.stderr)
        return 1 if problem else 0
    handlers = [logging.StreamHandler()]
    if not (args.write_component or args.print_component):
        handlers.append(_log_file())
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, handlers=handlers,
                        format="%(asctime)s shuru-ibus %(levelname)s %(name)s: %(message)s")
    if args.write_component or args.print_component:
        from .component import engine_command, render_component, settings_command, write_component

        if args.print_component:
            sys.stdout.write(render_component(engine_command(*engine_argv(args)), setup_argv=settings_command()))
            return 0
        from .component import EngineCannotStart

        try:
            print(write_component(args.write_component, engine_command(*engine_argv(args))))
        except EngineCannotStart as e:
            print(f"Shuru's IBus component was not written: {e}", file=sys.stderr)
            return 1
        return 0
    from frontend.loader import engine_options

    from .service import serve

    return serve(engine_options(args), exec_by_ibus=args.ibus, started_at=STARTED_AT)


def _log_file() -> logging.Handler:
    """The engine's log, started afresh by each engine process: ibus-daemon drops its output."""
    from engine.paths import user_cache_dir

    folder = user_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return logging.FileHandler(folder / LOG_NAME, mode="w", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
