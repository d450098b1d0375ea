"""Latency through fcitx5, and word-at-a-time typing with surrounding text against ``engine convert --context``.

``python -m tools.fcitx5_bench [--inputs 300] [--parity 200] [--busy] [--json FILE] [engine options]``
builds this checkout's addon, starts a private fcitx5 (:mod:`tools.private_fcitx5`) and acts
as an application through fcitx5's D-Bus frontend (the protocol of fcitx5's GTK and Qt modules).

* **Latency**: it types ``tools/data/bench-inputs.txt`` key by key (press and release), timing
  each letter from the application's key event to fcitx5's answer. fcitx5 answers once the
  addon has the engine's reply and has set the preedit and the candidate list (the panel
  repaints after that, on fcitx5's own time). Esc after each input. ``--busy`` keeps every
  core busy meanwhile (one spinning process per core).
* **Parity**: it types ``--parity`` words of ``dev-words.jsonl`` one at a time and Space, each
  with the text before it as the field's surrounding text, and compares what is committed (the
  first candidate) with ``python -m engine convert --context`` on the same input (same engine
  options, same merged n-gram, learning off on both sides).
"""
from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from engine.evaluation import percentile
from engine.paths import user_cache_dir
from shuru_fcitx5.register import build_addon, checkout_server_command, write_launcher
from tools.cli import DEV_DIR
from tools.private_fcitx5 import PrivateFcitx5
from tools.xvfb import Xvfb

BENCH_INPUTS = Path(__file__).resolve().parent / "data" / "bench-inputs.txt"
DEV_WORDS = DEV_DIR / "dev-words.jsonl"
ESCAPE = 0xFF1B
WAIT_S = 30.0
CAPS = (1 << 1) | (1 << 4) | (1 << 6)  # Preedit, FormattedPreedit, SurroundingText
SPACE = 0x20
FRONTEND = ("org.fcitx.Fcitx5", "/org/freedesktop/portal/inputmethod", "org.fcitx.Fcitx.InputMethod1")
IC_INTERFACE = "org.fcitx.Fcitx.InputContext1"


class Fcitx5Client:
    """An fcitx5 input context over D-Bus, as an application's toolkit module makes one."""

    def __init__(self, address: str):
        import gi

        gi.require_version("Gio", "2.0")
        from gi.repository import Gio, GLib

        self.Gio, self.GLib = Gio, GLib
        flags = Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION
        self.conn = Gio.DBusConnection.new_for_address_sync(address, flags, None, None)
        reply = self.conn.call_sync(*FRONTEND, "CreateInputContext",
                                    GLib.Variant("(a(ss))", ([("program", "shuru-bench")],)),
                                    GLib.VariantType("(oay)"), Gio.DBusCallFlags.NONE, -1, None)
        self.path = reply.unpack()[0]
        self.commits: list[str] = []
        self.conn.signal_subscribe(None, IC_INTERFACE, None, self.path, None, Gio.DBusSignalFlags.NONE, self._signal)
        self.call("SetCapability", "(t)", CAPS)
        self.call("FocusIn")

    def _signal(self, conn, sender, path, interface, name, params) -> None:
        if name == "CommitString":
            self.commits.append(params.unpack()[0])

    def call(self, method: str, signature: str | None = None, *args):
        params = self.GLib.Variant(signature, args) if signature else None
        return self.conn.call_sync(FRONTEND[0], self.path, IC_INTERFACE, method, params, None,
                                   self.Gio.DBusCallFlags.NONE, -1, None)

    def wait(self, done, timeout_s: float = WAIT_S) -> None:
        """Dispatch signals until ``done()`` (blocking iterations: no busy loop)."""
        ctx = self.GLib.MainContext.default()
        deadline = time.monotonic() + timeout_s
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError("fcitx5 did not answer in time")
            ctx.iteration(False) or time.sleep(0.0005)

    def key(self, keyval: int, release: bool = False) -> bool:
        return self.call("ProcessKeyEvent", "(uuubu)", keyval, 0, 0, release, 0).unpack()[0]

    def type_letter(self, keyval: int) -> float:
        """One letter: ms from the key event to fcitx5's answer (candidates set by then)."""
        t0 = time.perf_counter()
        if not self.key(keyval):
            raise RuntimeError(f"Shuru did not take the key {chr(keyval)!r}")
        ms = (time.perf_counter() - t0) * 1000
        self.key(keyval, release=True)
        return ms

    def escape(self) -> None:
        self.key(ESCAPE)
        self.key(ESCAPE, release=True)

    def first_candidate(self, pinyin: str, context: str) -> str:
        """Type ``pinyin`` and Space in a field holding ``context`` before the caret; what is committed."""
        self.call("Reset")
        self.call("SetSurroundingText", "(suu)", context, len(context), len(context))
        for ch in pinyin:
            self.key(ord(ch))
            self.key(ord(ch), release=True)
        seen = len(self.commits)
        self.key(SPACE)
        self.key(SPACE, release=True)
        self.wait(lambda: len(self.commits) > seen)
        return self.commits[-1]


def wait_for_engine(fcitx: PrivateFcitx5, client: Fcitx5Client) -> float:
    """Type a letter until Shuru takes it (the addon starts the engine process); seconds it took."""
    t0 = time.perf_counter()
    deadline = time.monotonic() + 60
    while not client.key(ord("a")):
        client.key(ord("a"), release=True)
        if time.monotonic() > deadline:
            raise TimeoutError(f"the engine did not come up: {fcitx.log()[-2000:]}")
        time.sleep(0.05)
    client.key(ord("a"), release=True)
    took = time.perf_counter() - t0
    client.escape()
    return took


def spin(stop) -> None:
    while not stop.is_set():
        pass


def latency(client: Fcitx5Client, inputs: list[str]) -> dict:
    for ch in inputs[0]:
        client.type_letter(ord(ch))  # warm-up, not timed
    client.escape()
    key_ms = []
    for text in inputs:
        key_ms += [client.type_letter(ord(ch)) for ch in text]
        client.escape()
    return {"keys": len(key_ms), "key_p50_ms": statistics.median(key_ms), "key_p95_ms": percentile(key_ms, 0.95),
            "key_max_ms": max(key_ms)}


def parity(client: Fcitx5Client, words: list[dict], engine_args: list[str], env: dict) -> dict:
    """The first candidate through fcitx5 with surrounding text against ``engine convert --context``."""
    lines = "".join(json.dumps({"pinyin": w["pinyin"], "context": w["context"]}, ensure_ascii=False) + "\n"
                    for w in words)
    convert_args = [a for a in engine_args if a in ("--no-neural",)]
    done = subprocess.run([sys.executable, "-m", "engine", "convert", "--context", "--topk", "1", *convert_args],
                          input=lines, capture_output=True, text=True, env=env, check=True,
                          cwd=Path(__file__).resolve().parents[1])
    expected = [json.loads(line)["candidates"][0] for line in done.stdout.splitlines() if line.startswith("{")]
    shown = [client.first_candidate(w["pinyin"], w["context"]) for w in words]
    differ = [(w["pinyin"], w["context"][-8:], e, s) for w, e, s in zip(words, expected, shown) if e != s]
    return {"parity_inputs": len(words), "parity_same": len(words) - len(differ), "parity_differ": differ[:10]}


def run_bench(engine_args: list[str], inputs: int, parity_n: int, busy: bool, json_path: Path | None) -> int:
    chosen = [w.lower() for w in BENCH_INPUTS.read_text(encoding="utf-8").split() if w.isascii() and w.isalpha()]
    chosen = chosen[:inputs]
    words = []
    if parity_n and DEV_WORDS.exists():
        rows = [json.loads(line) for line in DEV_WORDS.read_text(encoding="utf-8").splitlines()]
        step = max(1, len(rows) // parity_n)
        words = [r for r in rows[::step] if r["pinyin"].isascii() and r["pinyin"].isalpha()][:parity_n]
    result: dict = {"engine_args": engine_args, "busy": busy}
    with tempfile.TemporaryDirectory(prefix="shuru-fcitx5-bench-") as tmp:
        home = Path(tmp)
        library = build_addon(home / "build")
        write_launcher(library.parent, [*checkout_server_command(), *engine_args])
        merged = user_cache_dir() / "ngram-libime.npz"  # both sides score with the same merged n-gram
        if merged.exists():
            (home / "home/cache/shuru").mkdir(parents=True)
            shutil.copy(merged, home / "home/cache/shuru" / merged.name)
        settings = home / "home/config/shuru"
        settings.mkdir(parents=True)
        (settings / "settings.json").write_text(json.dumps({"learning": False}), encoding="utf-8")
        xvfb = Xvfb()
        fcitx = PrivateFcitx5(library.parent / "shuru-addon.conf", home / "home", xvfb.display)
        stop = multiprocessing.Event()
        spinners = []
        try:
            fcitx.start()
            client = Fcitx5Client(fcitx.address)
            result["engine_up_s"] = wait_for_engine(fcitx, client)
            if busy:
                spinners = [multiprocessing.Process(target=spin, args=(stop,)) for _ in range(os.cpu_count() or 2)]
                for p in spinners:
                    p.start()
            result.update(inputs=len(chosen), **latency(client, chosen))
            if words:
                result.update(parity(client, words, engine_args, fcitx.env))
        finally:
            stop.set()
            for p in spinners:
                p.join()
            fcitx.stop()
            xvfb.stop()
    print(f"fcitx5 key -> candidate list{' (both cores busy)' if busy else ''}, {result['keys']} keys of "
          f"{result['inputs']} inputs: p50 {result['key_p50_ms']:.1f} ms, p95 {result['key_p95_ms']:.1f} ms, "
          f"max {result['key_max_ms']:.1f} ms")
    if words:
        print(f"surrounding text: {result['parity_same']}/{result['parity_inputs']} first candidates as "
              f"engine convert --context")
    if json_path is not None:
        json_path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m tools.fcitx5_bench``: the engine process's options, plus the bench's."""
    from frontend.loader import engine_argv
    from shuru_fcitx5.__main__ import build_parser

    p = build_parser()
    p.prog, p.description = "python -m tools.fcitx5_bench", __doc__.splitlines()[0]
    p.add_argument("--inputs", type=int, default=300, help="bench inputs to type for latency (default 300)")
    p.add_argument("--parity", type=int, default=200, help="dev-words to compare with engine convert (default 200)")
    p.add_argument("--busy", action="store_true", help="keep every core busy while typing")
    p.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = p.parse_args(argv)
    return run_bench(engine_argv(args), args.inputs, args.parity, args.busy, args.json)


if __name__ == "__main__":
    sys.exit(main())
