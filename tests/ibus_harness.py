"""Test helpers for the IBus front end: an IBusComposer with no bus, and client apps (the virtual X server: tools.xvfb).

:class:`FakeInputContext` is an application's text field typed into through a
:class:`~shuru_ibus.composer.IBusComposer` with a recording display: keys go in as IBus keyvals
(named as xdotool names them), and the application types what the engine does not consume.
The end-to-end test runs it beside the real clients: what it shows is what they must show.
"""
from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable

from frontend.config import Settings
from shuru_ibus.composer import IBusComposer
from shuru_ibus.keys import RELEASE_MASK, SHIFT_MASK, keyval_text

# xdotool key names -> X keysyms (letters and digits are their own code)
KEYSYMS = {"space": 0x20, "equal": 0x3D, "minus": 0x2D, "comma": 0x2C, "period": 0x2E, "apostrophe": 0x27,
           "Escape": 0xFF1B, "Return": 0xFF0D, "BackSpace": 0xFF08, "Delete": 0xFFFF, "Tab": 0xFF09,
           "Left": 0xFF51, "Right": 0xFF53, "Home": 0xFF50, "End": 0xFF57, "Up": 0xFF52, "Down": 0xFF54, "Page_Up": 0xFF55, "Page_Down": 0xFF56,
           "Shift_L": 0xFFE1, "Control_L": 0xFFE3}


def keysym(name: str) -> int:
    return ord(name) if len(name) == 1 else KEYSYMS[name]


class FakeDisplay:
    """Records what the composer shows, as an application with a candidate panel would."""

    def __init__(self):
        self.text = ""
        self.preedit, self.preedit_cursor = "", 0
        self.candidates: list[str] = []
        self.cursor, self.page_size = 0, 0
        self.modes: tuple[bool, bool] | None = None
        self.problems: list[str] = []
        self.commits: list[str] = []

    def commit(self, text: str) -> None:
        self.text += text
        self.commits.append(text)

    def show_preedit(self, text: str, cursor: int) -> None:
        self.preedit, self.preedit_cursor = text, cursor

    def hide_preedit(self) -> None:
        self.preedit, self.preedit_cursor = "", 0

    def show_candidates(self, texts: list[str], cursor: int, page_size: int) -> None:
        self.candidates, self.cursor, self.page_size = list(texts), cursor, page_size

    def hide_candidates(self) -> None:
        self.candidates = []

    def modes_changed(self, chinese: bool, fullwidth: bool) -> None:
        self.modes = (chinese, fullwidth)

    def problem(self, text: str) -> None:
        self.problems.append(text)

    @property
    def page(self) -> list[str]:
        """The candidates of the page the panel shows."""
        if not self.candidates:
            return []
        start = self.cursor // self.page_size * self.page_size
        return self.candidates[start:start + self.page_size]


class FakeInputContext:
    """A text field typed into through a Composer; ``idle`` holds what the main loop would run next."""

    def __init__(self, engine=None, settings: Settings | None = None, *, run_idle: bool = True):
        self.display = FakeDisplay()
        self.idle: list = []
        self.run_idle = run_idle
        self.composer = IBusComposer(self.display, self.idle.append, settings or Settings())
        if engine is not None:
            self.composer.engine_ready(engine)

    @property
    def text(self) -> str:
        return self.display.text

    @property
    def preedit(self) -> str:
        return self.display.preedit

    def press(self, name: str, state: int = 0) -> bool:
        """Press and release one key; returns whether the engine consumed the press."""
        value = keysym(name)
        consumed = self.composer.process_key(value, state)
        release_state = state | RELEASE_MASK | (SHIFT_MASK if name == "Shift_L" else 0)
        self.composer.process_key(value, release_state)
        if not consumed:
            self._application_types(name, value, state)
        if self.run_idle:
            self.flush()
        return consumed

    def keys(self, *names: str) -> None:
        """Type keys given as xdotool names ("n", "space", "Shift_L")."""
        for name in names:
            self.press(name)

    def flush(self) -> None:
        """Run what the main loop would run once the keys are handled (the decode)."""
        while self.idle:
            self.idle.pop(0)()

    def _application_types(self, name: str, value: int, state: int) -> None:
        if name == "BackSpace":
            self.display.text = self.display.text[:-1]
        elif keyval_text(value).isprintable() and keyval_text(value) and not state:
            self.display.text += keyval_text(value)


class ClientApp:
    """A client application process that reports its text and preedit as JSON lines."""

    def __init__(self, script: Path, env: dict[str, str], python: str):
        self.proc = subprocess.Popen([python, str(script)], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, encoding="utf-8")
        self.state = {"text": "", "preedit": ""}
        self.ready: bool | None = None
        self._lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._lines.put(json.loads(line))

    def _drain(self, timeout_s: float) -> None:
        try:
            msg = self._lines.get(timeout=timeout_s)
        except queue.Empty:
            return
        if "ready" in msg:
            self.ready = msg["ready"]
        else:
            self.state = msg

    def wait_ready(self, timeout_s: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while self.ready is None and time.monotonic() < deadline and self.proc.poll() is None:
            self._drain(0.1)
        return bool(self.ready)

    def wait_for(self, text: str, preedit: str, timeout_s: float = 15.0) -> dict:
        """Wait until the application shows ``text`` and ``preedit``; returns what it shows then."""
        return self.wait_until(lambda state: (state["text"], state["preedit"]) == (text, preedit), timeout_s)

    def wait_until(self, done: Callable[[dict], bool], timeout_s: float = 15.0) -> dict:
        """Wait until what the application shows is ``done``; returns what it shows then."""
        deadline = time.monotonic() + timeout_s
        while not done(self.state) and time.monotonic() < deadline:
            self._drain(0.05)
        time.sleep(0.1)  # nothing more must follow
        while not self._lines.empty():
            self._drain(0)
        return dict(self.state)

    def errors(self) -> str:
        return self.proc.stderr.read() if self.proc.poll() is not None else ""

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
