"""``shuru --smoke``: start the real window, load everything, convert one input, quit; one JSON line.

For installs and packages: it proves the app starts with its assets, the engine loads (with the
neural model when one is there), a conversion runs on the worker thread, and the window shows.
Exit 0 when all of that worked, 1 otherwise; the report says what was seen either way.
"""
from __future__ import annotations

import json
import resource
import time

from frontend.actions import Cancel, Insert

SMOKE_INPUT = "nihao"  # typed through the window's controller; 你好 is expected first
TIMEOUT_S = 60.0


def run_smoke(app, window, timeout_s: float = TIMEOUT_S) -> tuple[int, dict]:
    """(exit code, report) for the shown ``window`` of ``app``."""
    from PySide6.QtCore import QEventLoop, QTimer

    t0 = time.perf_counter()
    report: dict = {"window_shown": False, "engine": None, "model": None, "input": SMOKE_INPUT, "first": None}

    def wait_until(done, what: str) -> bool:
        deadline = time.perf_counter() + timeout_s
        while not done():
            if time.perf_counter() > deadline:
                report["error"] = f"timed out waiting for {what}"
                return False
            loop = QEventLoop()
            QTimer.singleShot(10, loop.quit)
            loop.exec()
        return True

    window.show()
    report["window_shown"] = wait_until(window.isVisible, "the window")
    c = window.controller
    loaded = wait_until(lambda: c.ready or c.failed, "the engine")
    report.update(engine=window.engine_status, model=window.model_name,
                  load_ms=round((time.perf_counter() - t0) * 1000, 1))
    ok = loaded and c.ready
    if ok:
        t1 = time.perf_counter()
        for ch in SMOKE_INPUT:
            c.send(Insert(ch))
        # settled: the candidates of all the letters (a slow machine may show those of the first ones first)
        ok = wait_until(lambda: c.settled and c.view is not None and c.view.letters == SMOKE_INPUT
                        and c.view.candidates, "the first candidates")
        if ok:
            report["first"] = c.view.candidates[0].text
            report["convert_ms"] = round((time.perf_counter() - t1) * 1000, 1)
        c.send(Cancel())
    report["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    from .training import trainer_command

    report["trainer"] = trainer_command()  # what Tools → Personalise… runs (None: not installed)
    report["ok"] = bool(ok and report["window_shown"] and report["first"])
    window.engine.stop()
    window.keep_settings = False  # a check of the install leaves the user's settings as they were
    window.close()
    return (0 if report["ok"] else 1), report


def print_report(report: dict) -> None:
    print(json.dumps(report, ensure_ascii=False), flush=True)
