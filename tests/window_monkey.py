"""The real window under random X key events: ``python -m tests.window_monkey --keys 5000 --seed 0``.

Starts Xvfb and ``python -m ime_app doc.txt`` with ``SHURU_PROBE`` set (ime_app/probe.py),
then sends random keys with xdotool (XTEST, to the focused window, as a keyboard would):
letters, digits, punctuation, Space, Enter, Esc, BackSpace, arrows, PageUp/Down, Home/End,
Delete, a lone Shift, Ctrl+Space and Ctrl+. in batches. After every batch F12 asks the app
for its probe file; the time until it answers is the probe latency (the keys of the batch
are handled first, so it includes any backlog). At the end Esc, a last probe and Ctrl+S:
the saved file must hold exactly the editor text the probe reported. Prints one JSON report.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LETTERS = list("abcdefghijklmnopqrstuvwxyz")
KEYS = (  # (xdotool key names, share of the keys sent)
    (LETTERS, 0.55),
    (list("0123456789"), 0.08),
    (["comma", "period", "semicolon", "apostrophe", "slash", "bracketleft", "bracketright", "minus", "equal",
      "backslash", "grave", "shift+1", "shift+slash", "shift+semicolon", "shift+comma", "shift+period"], 0.07),
    (["space"], 0.08),
    (["BackSpace"], 0.07),
    (["Return", "Escape", "Delete", "Left", "Right", "Up", "Down", "Prior", "Next", "Home", "End"], 0.11),
    (["Shift_L", "ctrl+space", "ctrl+period"], 0.04),
)
BATCH = 25  # keys per xdotool call between two probes
PROBE_TIMEOUT_S = 10.0


@dataclass
class MonkeyReport:
    keys: int = 0
    probes_ms: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    alive: bool = True
    saved_matches: bool = False
    final_chars: int = 0

    def summary(self) -> dict:
        ms = sorted(self.probes_ms)
        q = (lambda f: round(ms[min(len(ms) - 1, int(f * len(ms)))], 1)) if ms else (lambda f: None)
        return {"keys": self.keys, "probes": len(ms), "probe_ms_p50": q(0.5), "probe_ms_p99": q(0.99),
                "probe_ms_max": round(ms[-1], 1) if ms else None, "alive": self.alive,
                "saved_matches_editor": self.saved_matches, "final_chars": self.final_chars,
                "problems": self.problems[:10]}


def random_keys(rng: random.Random, n: int) -> list[str]:
    """``n`` xdotool key names drawn with the shares of :data:`KEYS`."""
    groups, weights = zip(*KEYS)
    return [rng.choice(rng.choices(groups, weights)[0]) for _ in range(n)]


def start_xvfb() -> tuple[subprocess.Popen, str]:
    """An Xvfb server on a free display (it picks one and writes it to a pipe)."""
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as fh:
        number = fh.readline().strip()
    return xvfb, f":{number}"


class Window:
    """The app under Xvfb, driven with xdotool and asked with F12 (the probe)."""

    def __init__(self, folder: Path, display: str, extra_args: list[str] | None = None):
        self.folder, self.doc, self.probe = folder, folder / "doc.txt", folder / "probe.json"
        self.doc.write_text("", encoding="utf-8")
        self.x = {"DISPLAY": display, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        env = {**os.environ, "DISPLAY": display, "SHURU_PROBE": str(self.probe), "QT_QPA_PLATFORM": "xcb",
               "SHURU_CONFIG_DIR": str(folder / "config"), "XDG_DATA_HOME": str(folder / "data"),
               "XDG_CACHE_HOME": str(folder / "cache"), "PYTHONPATH": str(ROOT)}
        self.log = open(folder / "app.log", "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "ime_app", str(self.doc), *(extra_args or [])], env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT, cwd=folder)
        self.asked = 0

    def focus(self) -> None:
        wid = subprocess.run(["xdotool", "search", "--sync", "--onlyvisible", "--name", "Shuru"], env=self.x,
                             capture_output=True, text=True, timeout=60).stdout.split()[0]
        subprocess.run(["xdotool", "windowfocus", "--sync", wid], env=self.x, check=True, timeout=10)

    def keys(self, names: list[str], delay_ms: int = 8) -> None:
        subprocess.run(["xdotool", "key", "--clearmodifiers", "--delay", str(delay_ms), *names], env=self.x,
                       check=True, timeout=60)

    def ask(self) -> tuple[float, dict]:
        """Press F12 and wait for the answer: (milliseconds, the probe's state)."""
        self.asked += 1
        t0 = time.perf_counter()
        self.keys(["F12"], 0)
        while time.perf_counter() - t0 < PROBE_TIMEOUT_S:
            state = self._read_probe()
            if state and state["n"] >= self.asked:
                self.asked = state["n"]
                return (time.perf_counter() - t0) * 1000, state
            time.sleep(0.002)
        raise TimeoutError(f"no answer to probe {self.asked} within {PROBE_TIMEOUT_S} s")

    def _read_probe(self) -> dict | None:
        try:
            return json.loads(self.probe.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def wait_ready(window: Window, timeout_s: float = 90.0) -> None:
    """Until the window answers a probe and the engine has loaded (the log says so)."""
    window.focus()
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if "engine loaded" in (window.folder / "app.log").read_text(errors="replace"):
            window.ask()
            return
        time.sleep(0.2)
    raise TimeoutError("the engine did not load")


def save_and_compare(window: Window, report: MonkeyReport) -> None:
    """Esc (drop any pinyin), probe, Ctrl+S: the saved file must be the editor's text."""
    window.keys(["Escape"])
    _, state = window.ask()
    deadline = time.time() + 15
    saved = None
    while time.time() < deadline:
        # a Space typed during a search commits when the search ends, which may be after the probe:
        # save again and compare with the editor's text as it is then, until the two agree
        window.keys(["ctrl+s"])
        time.sleep(0.1)
        _, state = window.ask()
        saved = window.doc.read_text(encoding="utf-8")
        if saved == state["text"]:
            break
    report.saved_matches = saved == state["text"]
    report.final_chars = len(state["text"])
    if not report.saved_matches:
        report.problems.append(f"saved {len(saved or '')} chars, the editor had {len(state['text'])}")


def run(keys: int, seed: int = 0, folder: Path | None = None, extra_args: list[str] | None = None) -> MonkeyReport:
    """Send ``keys`` random keys to a fresh window; the report of what held."""
    rng = random.Random(seed)
    folder = Path(folder or tempfile.mkdtemp(prefix="shuru-monkey-"))
    folder.mkdir(parents=True, exist_ok=True)
    xvfb, display = start_xvfb()
    window = Window(folder, display, extra_args)
    report = MonkeyReport()
    try:
        wait_ready(window)
        while report.keys < keys and window.alive():
            batch = random_keys(rng, min(BATCH, keys - report.keys))
            window.keys(batch)
            report.keys += len(batch)
            try:
                report.probes_ms.append(window.ask()[0])
            except TimeoutError as e:
                report.problems.append(f"after {report.keys} keys: {e}")
                break
        report.alive = window.alive()
        if report.alive and not report.problems:
            save_and_compare(window, report)
        else:
            report.problems.append(f"the app exited with code {window.proc.returncode}")
    finally:
        window.close()
        xvfb.terminate()
        xvfb.wait()
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.window_monkey", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--keys", type=int, default=5000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--folder", type=Path, help="where the app's files go (default: a temporary folder)")
    args = p.parse_args(argv)
    report = run(args.keys, args.seed, args.folder).summary()
    print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0 if report["alive"] and report["saved_matches_editor"] and not report["problems"] else 1


if __name__ == "__main__":
    sys.exit(main())
