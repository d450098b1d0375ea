"""Screenshot of the real app with the candidate window open: ``python -m tools.screenshot``.

Starts Xvfb when ``DISPLAY`` is unset, launches the real window on it (xcb platform, the
shipped engine and assets, settings and history in a temporary folder), types through the
app's own key handling (``QTest`` key events into the editor, or real X key events with
``--xdotool``), waits for the candidate window and saves the screen area around the window
as a PNG.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from frontend.config import Settings, SettingsStore

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshot.png"
SCREEN = "1280x800x24"
# Committed first, then left composing so the candidate window is open in the picture.
COMMITTED_KEYS = ["jintiantianqihenhao", " ", ",", "women", "qu", "gongyuan", " "]
COMPOSING_KEYS = "sanbuba"
TIMEOUT_S = 60


def start_xvfb(screen: str = SCREEN) -> subprocess.Popen:
    """Start Xvfb with one ``screen`` (``WIDTHxHEIGHTxDEPTH``) on a free display and point DISPLAY at it."""
    if shutil.which("Xvfb") is None:
        sys.exit("Xvfb is not installed (Debian/Ubuntu: apt-get install xvfb), or set DISPLAY")
    for n in range(99, 160):
        if not Path(f"/tmp/.X{n}-lock").exists() and not Path(f"/tmp/.X11-unix/X{n}").exists():
            proc = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", screen, "-nolisten", "tcp"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(100):
                if Path(f"/tmp/.X11-unix/X{n}").exists():
                    os.environ["DISPLAY"] = f":{n}"
                    return proc
                if proc.poll() is not None:
                    break
                time.sleep(0.05)
            proc.kill()
    sys.exit("could not start Xvfb")


def wait_until(app, cond, timeout_s: float = TIMEOUT_S) -> None:
    end = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > end:
            sys.exit("timed out waiting for the app")
        app.processEvents()
        time.sleep(0.01)


def pump(app, seconds: float) -> None:
    """Run the event loop for a while, sleeping (GIL released) so the engine thread can run.

    (``QTest.qWait`` keeps the GIL, which starves the worker thread.)"""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.005)


def type_keys(app, window, keys: str, use_xdotool: bool) -> None:
    """Type ``keys`` into the editor through the app's key handling, then wait for the worker."""
    from PySide6.QtTest import QTest

    if use_xdotool:  # real key events through the X server (XTEST) to the focused window
        subprocess.run(["xdotool", "windowfocus", "--sync", str(int(window.winId()))], check=True)
        typist = subprocess.Popen(["xdotool", "type", "--delay", "40", keys])
        pump(app, 0.04 * len(keys) + 0.4)  # the events arrive while Qt's event loop runs
        typist.wait(10)
    else:
        QTest.keyClicks(window.editor, keys, delay=15)  # a fast typist
    c = window.controller
    wait_until(app, lambda: c.settled)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.screenshot", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"PNG to write (default: {DEFAULT_OUT})")
    p.add_argument("--xdotool", action="store_true", help="type real X key events with xdotool")
    p.add_argument("--orientation", choices=("horizontal", "vertical"), default="horizontal",
                   help="candidate window layout")
    p.add_argument("--compose", default=COMPOSING_KEYS, metavar="PINYIN",
                   help=f"pinyin left composing in the picture (default: {COMPOSING_KEYS})")
    p.add_argument("--screen", default=SCREEN, metavar="WxHxD", help=f"Xvfb screen (default: {SCREEN})")
    args = p.parse_args(argv)
    xvfb = start_xvfb(args.screen) if not os.environ.get("DISPLAY") else None
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    tmp = tempfile.TemporaryDirectory(prefix="shuru-screenshot-")
    os.environ["SHURU_CONFIG_DIR"] = tmp.name
    try:
        SettingsStore(Path(tmp.name)).save(Settings(orientation=args.orientation))
        return shoot(args.out, Path(tmp.name), args.xdotool, args.compose)
    finally:
        tmp.cleanup()
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(5)


def shoot(out: Path, tmp: Path, use_xdotool: bool, composing: str = COMPOSING_KEYS) -> int:
    from PySide6.QtGui import QGuiApplication

    from engine import EngineOptions
    from ime_app.app import create_app, create_window

    app = create_app([sys.argv[0]])
    window = create_window(EngineOptions(history_path=tmp / "user.db"))
    window.resize(760, 420)
    window.move(24, 24)
    window.show()
    window.activateWindow()
    window.editor.setFocus()
    wait_until(app, window.isVisible)
    pump(app, 0.2)
    wait_until(app, lambda: window.controller.ready or window.controller.failed)
    if window.controller.failed:
        sys.exit(f"engine failed to load: {window.engine_status}")
    for keys in COMMITTED_KEYS:
        type_keys(app, window, keys, use_xdotool)
    type_keys(app, window, composing, use_xdotool)
    wait_until(app, lambda: window.candidates.isVisible())
    pump(app, 0.3)  # let both windows repaint
    area = window.frameGeometry().united(window.candidates.geometry()).adjusted(-12, -12, 12, 12)
    shot = QGuiApplication.primaryScreen().grabWindow(0, area.x(), area.y(), area.width(), area.height())
    out.parent.mkdir(parents=True, exist_ok=True)
    if not shot.save(str(out), "PNG"):
        sys.exit(f"could not write {out}")
    screen = QGuiApplication.primaryScreen().availableGeometry()
    print(f"wrote {out} ({shot.width()}x{shot.height()}); editor: {window.editor.toPlainText()!r}, "
          f"candidates: {window.candidates.texts}, shown as {window.candidates.shown_texts}; "
          f"candidate window {rect_text(window.candidates.geometry())} on screen {rect_text(screen)}: "
          f"{'inside' if screen.contains(window.candidates.geometry()) else 'OUTSIDE'}")
    window.editor.document().setModified(False)
    window.close()
    return 0


def rect_text(r) -> str:
    return f"{r.width()}x{r.height()}+{r.x()}+{r.y()}"


if __name__ == "__main__":
    sys.exit(main())
