"""A private fcitx5 whose input method is Shuru, for the end-to-end tests and the fcitx5 benchmark.

It runs on a D-Bus session bus of its own, on a given X display, with private XDG folders: its
profile has one group (``keyboard-us``, ``shuru``) active by default, and Shuru's addon is
registered in its data folder (:func:`shuru_fcitx5.register.register`), so nothing of the
user's is read or written. Every process it starts (Shuru's engine process included) carries a
token in its environment, so :meth:`PrivateFcitx5.processes` finds them all.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

from shuru_fcitx5.register import register

TOKEN_VAR = "SHURU_PRIVATE_FCITX5"
REQUIRED_TOOLS = ("dbus-daemon", "fcitx5", "gdbus")
ADDONS = "shuru,keyboard,xcb,dbus,dbusfrontend,ibusfrontend"  # Qt clients of the pip PySide6 speak IBus
SESSION_VARS = ("IBUS_ADDRESS", "DBUS_SESSION_BUS_ADDRESS", "SHURU_CONFIG_DIR", "XDG_RUNTIME_DIR",
                "SHURU_FCITX5_SERVER")
PROFILE = """[Groups/0]
Name=Default
Default Layout=us
DefaultIM=shuru

[Groups/0/Items/0]
Name=keyboard-us
Layout=

[Groups/0/Items/1]
Name=shuru
Layout=

[GroupOrder]
0=Default
"""
CONFIG = """[Behavior]
ActiveByDefault=True
ShareInputState=No
"""


def missing_tools() -> list[str]:
    """The commands a private fcitx5 needs that are not installed."""
    return [t for t in REQUIRED_TOOLS if shutil.which(t) is None]


class PrivateFcitx5:
    """``PrivateFcitx5(addon_conf, home, display).start()``; ``env`` is for its clients.

    ``addon_conf``: the addon .conf registered for the private user (None: only what the
    system has, as after installing the .deb); ``base_env``: what fcitx5 and its clients
    inherit (default: this process's environment)."""

    def __init__(self, addon_conf: Path | None, home: Path, display: str, *, base_env: dict[str, str] | None = None):
        self.addon_conf = Path(addon_conf) if addon_conf else None
        self.base_env = base_env
        self.home = Path(home)
        self.display = display
        self.token = uuid.uuid4().hex
        self.address = ""
        self.bus: subprocess.Popen | None = None
        self.proc: subprocess.Popen | None = None
        self.log_path = self.home / "fcitx5.log"

    @property
    def env(self) -> dict[str, str]:
        """The environment of fcitx5 and of its clients."""
        base = os.environ if self.base_env is None else self.base_env
        env = {k: v for k, v in base.items() if k not in SESSION_VARS}
        env.update({
            "HOME": str(self.home), "XDG_CONFIG_HOME": str(self.home / "config"),
            "XDG_CACHE_HOME": str(self.home / "cache"), "XDG_DATA_HOME": str(self.home / "data"),
            "XDG_RUNTIME_DIR": str(self.home / "run"), "DISPLAY": self.display, TOKEN_VAR: self.token,
            "GTK_IM_MODULE": "fcitx", "QT_IM_MODULE": "ibus", "XMODIFIERS": "@im=fcitx", "NO_AT_BRIDGE": "1",
        })
        if self.address:
            env["DBUS_SESSION_BUS_ADDRESS"] = self.address
        return env

    def start(self, timeout_s: float = 30.0) -> None:
        """Start the bus and fcitx5; returns once fcitx5 owns its bus name."""
        for folder in ("config/fcitx5", "data", "cache", "run"):
            (self.home / folder).mkdir(parents=True, exist_ok=True)
        (self.home / "run").chmod(0o700)
        (self.home / "config/fcitx5/profile").write_text(PROFILE, encoding="utf-8")
        (self.home / "config/fcitx5/config").write_text(CONFIG, encoding="utf-8")
        if self.addon_conf is not None:
            register(self.addon_conf, self.home / "data")
        self.bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=self.env)
        self.address = self.bus.stdout.readline().strip()
        log = open(self.log_path, "w", encoding="utf-8")
        self.proc = subprocess.Popen(["fcitx5", "--disable=all", f"--enable={ADDONS}", "--verbose=shuru=5"],
                                     stdout=log, stderr=subprocess.STDOUT, env=self.env)
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"fcitx5 exited with {self.proc.returncode}: {self.log()[-2000:]}")
            if self.owns_name():
                return
            time.sleep(0.1)
        raise RuntimeError(f"fcitx5 did not come up in {timeout_s:.0f} s: {self.log()[-2000:]}")

    def owns_name(self) -> bool:
        done = subprocess.run(["gdbus", "call", "--session", "--dest", "org.freedesktop.DBus", "--object-path",
                               "/org/freedesktop/DBus", "--method", "org.freedesktop.DBus.NameHasOwner",
                               "org.fcitx.Fcitx5"], env=self.env, capture_output=True, text=True, timeout=10)
        return "true" in done.stdout

    def call(self, method: str, *args: str) -> str:
        """A method of fcitx5's controller (org.fcitx.Fcitx.Controller1), as gdbus prints its answer."""
        done = subprocess.run(["gdbus", "call", "--session", "--dest", "org.fcitx.Fcitx5", "--object-path",
                               "/controller", "--method", f"org.fcitx.Fcitx.Controller1.{method}", *args],
                              env=self.env, capture_output=True, text=True, timeout=10)
        return done.stdout + done.stderr

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def processes(self) -> list[int]:
        """The pids of every process carrying this instance's token (fcitx5, the engine process, clients)."""
        needle = f"{TOKEN_VAR}={self.token}".encode()
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if needle in (entry / "environ").read_bytes().split(b"\0"):
                        pids.append(int(entry.name))
                except OSError:
                    continue
        return pids

    def engine_processes(self) -> list[int]:
        """The pids of Shuru's engine processes this fcitx5 started (a checkout's or the frozen one,
        not the background merge of libime's model they may run)."""
        out = []
        for pid in self.processes():
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"--engine-libime-merge" in argv:
                continue
            if b"shuru_fcitx5" in argv or any(a.endswith(b"/shuru-fcitx5-server") for a in argv[:1]):
                out.append(pid)
        return out

    def stop(self) -> None:
        """Stop fcitx5 and its bus; then end whatever carries the token."""
        for proc in (self.proc, self.bus):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
