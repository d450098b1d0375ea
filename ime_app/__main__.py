"""Start the Shuru window: ``shuru``, ``python -m ime_app`` or ``./dev.sh app``."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="shuru", description="Shuru: a pinyin input method in its own window.")
    p.add_argument("file", nargs="?", help="a text file to open")
    p.add_argument("--assets", type=Path, help="assets folder (lexicon.npz, ngram.npz, model/)")
    p.add_argument("--model", type=Path, help="neural model folder (default: personal model, else assets/model)")
    p.add_argument("--no-neural", action="store_true", help="use the statistical scorers only")
    p.add_argument("--history", type=Path, help="learned-words database, user.db (default: user data dir)")
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


def engine_options(args: argparse.Namespace):
    """EngineOptions from the command line, or None for the defaults (imported lazily: the
    engine, numpy and onnxruntime then load on the worker thread while the window shows)."""
    if not (args.assets or args.model or args.no_neural or args.history):
        return None
    from engine import EngineOptions

    changes = {}
    if args.assets:
        changes["assets_dir"] = args.assets
    if args.model:
        changes["model_dir"] = args.model
    if args.no_neural:
        changes["use_neural"] = False
    if args.history:
        changes["history_path"] = args.history
    return EngineOptions(**changes)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.export_user_data or args.import_user_data:
        from .user_data import export_to, import_from

        if args.export_user_data:
            return export_to(args.export_user_data, engine_options(args))
        return import_from(args.import_user_data, engine_options(args))
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


def settings_only(window) -> int:
    """Show the window's Settings dialog without the window; saving it updates every front end."""
    window.open_settings()  # modal; the learned-words list still talks to the window's engine
    window.engine.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
