"""A virtual X server for the end-to-end tests and the front-end benchmarks (Xvfb, driven with xdotool)."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path


class Xvfb:
    """A virtual X server on a free display (one whose lock file and socket are absent)."""

    def __init__(self, first: int = 160, last: int = 260):
        for n in range(first, last):
            if Path(f"/tmp/.X{n}-lock").exists() or Path(f"/tmp/.X11-unix/X{n}").exists():
                continue
            self.proc = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.display = f":{n}"
            if self._accepts_clients():
                return
            self.stop()
        raise RuntimeError("could not start Xvfb")

    def _accepts_clients(self, timeout_s: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.proc.poll() is None:
            probe = subprocess.run(["xdotool", "getmouselocation"], env={**os.environ, "DISPLAY": self.display},
                                   capture_output=True, timeout=10)
            if probe.returncode == 0:
                return True
            time.sleep(0.05)
        return False

    def xdotool(self, *names: str, delay_ms: int = 25) -> None:
        """Type real X key events (to the window that has the focus)."""
        subprocess.run(["xdotool", "key", "--delay", str(delay_ms), *names], env={**os.environ, "DISPLAY": self.display},
                       check=True, timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
