"""A private ibus-daemon for the benchmark and the end-to-end tests (no ``gi``).

It runs in a D-Bus session of its own (``dbus-run-session``), with no panel and no cache, and
knows only the components in one folder (``IBUS_COMPONENT_PATH``); its config, cache and data
folders live in a folder of the caller's, so nothing of the user's is read or written.
Every process it starts carries a token in its environment, so :meth:`PrivateIBus.processes`
finds them all (the engine included) and a test can check that none outlives the daemon.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

TOKEN_VAR = "SHURU_PRIVATE_IBUS"
DAEMON_ARGS = ("--panel=disable", "--emoji-extension=disable", "--config=disable", "--cache=none")
REQUIRED_TOOLS = ("dbus-run-session", "ibus-daemon", "ibus")
# Variables of the caller's own desktop session that must not leak into the private one.
SESSION_VARS = ("IBUS_ADDRESS", "DBUS_SESSION_BUS_ADDRESS", "SHURU_CONFIG_DIR", "XDG_RUNTIME_DIR")


class PrivateBusError(RuntimeError):
    """The private ibus-daemon could not start (what is missing, or what it printed)."""


def missing_tools() -> list[str]:
    """The commands a private ibus-daemon needs that are not installed."""
    return [t for t in REQUIRED_TOOLS if shutil.which(t) is None]


class PrivateIBus:
    """``with PrivateIBus(components, home) as bus:`` runs one; ``bus.env`` is for its clients."""

    def __init__(self, component_dir: Path, home: Path, *, display: str | None = None,
                 base_env: dict[str, str] | None = None):
        self.base_env = base_env  # what the daemon and its engines inherit (default: this process's environment)
        self.component_dir = Path(component_dir)
        self.home = Path(home)
        self.display = display
        self.token = uuid.uuid4().hex
        self.address = ""
        self.proc: subprocess.Popen | None = None
        self.log_path = self.home / "ibus-daemon.log"

    @property
    def env(self) -> dict[str, str]:
        """The environment of the daemon and of its clients (IBUS_ADDRESS once it runs)."""
        base = os.environ if self.base_env is None else self.base_env
        env = {k: v for k, v in base.items() if k not in SESSION_VARS}
        env.update({
            "XDG_CONFIG_HOME": str(self.home / "config"), "XDG_CACHE_HOME": str(self.home / "cache"),
            "XDG_DATA_HOME": str(self.home / "data"), "IBUS_COMPONENT_PATH": str(self.component_dir),
            TOKEN_VAR: self.token, "GTK_IM_MODULE": "ibus", "QT_IM_MODULE": "ibus", "XMODIFIERS": "@im=ibus",
            "NO_AT_BRIDGE": "1",  # no accessibility bus for GTK clients
        })
        if self.display:
            env["DISPLAY"] = self.display
        else:
            env.pop("DISPLAY", None)
        if self.address:
            env["IBUS_ADDRESS"] = self.address
        return env

    def start(self, timeout_s: float = 20.0) -> "PrivateIBus":
        """Start the daemon and wait until it accepts clients."""
        missing = missing_tools()
        if missing:
            raise PrivateBusError(f"not installed: {', '.join(missing)} (Debian: apt-get install ibus dbus-bin)")
        self.home.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(["dbus-run-session", "--", "ibus-daemon", *DAEMON_ARGS], env=self.env,
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)  # its own group: stop() can end them all
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise PrivateBusError(f"ibus-daemon exited at start: {self.daemon_log()[-2000:]}")
            out = self.ibus("address").stdout.strip()
            if out.startswith("unix:") and self.ibus("list-engine").returncode == 0:
                self.address = out
                return self
            time.sleep(0.05)
        self.stop()
        raise PrivateBusError(f"ibus-daemon did not start within {timeout_s:.0f} s: {self.daemon_log()[-2000:]}")

    def ibus(self, *args: str, timeout_s: float = 10.0) -> subprocess.CompletedProcess:
        """Run the ``ibus`` command against this daemon."""
        return subprocess.run(["ibus", *args], env=self.env, capture_output=True, text=True, timeout=timeout_s)

    def set_engine(self, name: str) -> None:
        """Make ``name`` the engine of every input context (the global engine)."""
        run = self.ibus("engine", name)
        if run.returncode != 0:
            raise PrivateBusError(f"ibus engine {name} failed: {run.stderr.strip() or run.stdout.strip()}")

    def processes(self) -> list[int]:
        """Process ids started by this daemon (itself included), found by their environment's token."""
        marker = f"{TOKEN_VAR}={self.token}".encode()
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                environ = (entry / "environ").read_bytes()
            except OSError:  # gone, or not ours to read
                continue
            if marker in environ.split(b"\0"):
                pids.append(int(entry.name))
        return pids

    def daemon_log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ask the daemon to exit (its clients and engines see the bus go away), then end what is left."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.ibus("exit", timeout_s=timeout_s)
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # our own process group (start_new_session)
            self.proc.wait(timeout_s)

    def kill_leftovers(self) -> None:
        """SIGKILL whatever of this daemon's is still running (after a failed test)."""
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def __enter__(self) -> "PrivateIBus":
        return self.start() if self.proc is None else self

    def __exit__(self, *exc) -> None:
        self.stop()
        self.kill_leftovers()
