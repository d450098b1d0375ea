"""Latency through IBus: key event -> lookup table update, as an application sees it.

``python -m tools.ibus_bench [--inputs 300] [--json FILE] [engine options]`` writes a component for this checkout's engine, starts a
private ibus-daemon (:mod:`shuru_ibus.private_bus`) and acts as an application: an input context that
draws its own lookup table (so the daemon sends the table to it), switched to Shuru. It
types ``tools/data/bench-inputs.txt`` key by key (press and release, as a
keyboard does), timing each letter from the key event to the lookup table that answers it,
and presses Esc after each input. Activation to first candidates is the time from switching
the context to Shuru (the daemon starts the engine process) to the first lookup table, typing
the first letter as soon as the engine is there.
"""
from __future__ import annotations

import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from shuru_ibus.component import engine_command, write_component
from shuru_ibus.private_bus import PrivateIBus

BENCH_INPUTS = Path(__file__).resolve().parent / "data" / "bench-inputs.txt"
ESCAPE = 0xFF1B
RELEASE_MASK = 1 << 30
WAIT_S = 30.0  # for one answer (the first one includes loading the engine)


class BenchClient:
    """An IBus input context that records what the engine sends it."""

    def __init__(self, address: str):
        os.environ["IBUS_ADDRESS"] = address  # before IBus.init: the private daemon, not the desktop's
        import gi

        gi.require_version("IBus", "1.0")
        from gi.repository import GLib, IBus

        self.GLib, self.IBus = GLib, IBus
        IBus.init()
        self.bus = IBus.Bus()
        if not self.bus.is_connected():
            raise RuntimeError(f"cannot connect to the private ibus-daemon at {address}")
        self.ic = self.bus.create_input_context("shuru-bench")
        caps = IBus.Capabilite
        self.ic.set_capabilities(caps.PREEDIT_TEXT | caps.LOOKUP_TABLE | caps.FOCUS | caps.PROPERTY)
        self.tables: list[tuple[float, int]] = []  # (perf_counter, candidates) per update
        self.hidden = 0
        self.properties_at: float | None = None
        self.ic.connect("update-lookup-table", self._table)
        self.ic.connect("hide-lookup-table", self._hide)
        self.ic.connect("register-properties", self._properties)
        self.ic.focus_in()

    def _table(self, ic, table, visible) -> None:
        self.tables.append((time.perf_counter(), table.get_number_of_candidates()))

    def _hide(self, ic) -> None:
        self.hidden += 1

    def _properties(self, ic, props) -> None:
        if self.properties_at is None:
            self.properties_at = time.perf_counter()

    def wait(self, done, timeout_s: float = WAIT_S) -> None:
        """Dispatch the bus's signals until ``done()`` (blocking: no busy loop competing for the CPU)."""
        ctx = self.GLib.MainContext.default()
        expired = []
        timer = self.GLib.timeout_add(int(timeout_s * 1000), lambda: expired.append(True) and False)
        try:
            while not done():
                if expired:
                    raise TimeoutError("the engine did not answer in time")
                ctx.iteration(True)
        finally:
            if not expired:
                self.GLib.source_remove(timer)

    def key(self, keyval: int) -> None:
        self.ic.process_key_event(keyval, 0, 0)
        self.ic.process_key_event(keyval, 0, RELEASE_MASK)

    def activate(self, first_key: int) -> dict:
        """Switch to Shuru and type ``first_key`` once the engine is there: timings in seconds."""
        t0 = time.perf_counter()
        self.ic.set_engine("shuru")
        self.wait(lambda: self.properties_at is not None)
        self.key(first_key)
        self.wait(lambda: any(n for _, n in self.tables))
        first = next(t for t, n in self.tables if n)
        return {"engine_up_s": self.properties_at - t0, "first_candidates_s": first - t0}

    def type_letter(self, keyval: int) -> float:
        """One letter: ms from the key event to the lookup table that answers it."""
        seen = len(self.tables)
        t0 = time.perf_counter()
        self.ic.process_key_event(keyval, 0, 0)
        self.wait(lambda: len(self.tables) > seen)
        ms = (self.tables[seen][0] - t0) * 1000
        self.ic.process_key_event(keyval, 0, RELEASE_MASK)
        return ms

    def escape(self) -> None:
        hidden = self.hidden
        self.key(ESCAPE)
        self.wait(lambda: self.hidden > hidden)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(client: BenchClient, inputs: list[str]) -> dict:
    """Type ``inputs`` (the first letter of the first one is the activation key)."""
    activation = client.activate(ord(inputs[0][0]))
    for ch in inputs[0][1:]:
        client.type_letter(ord(ch))  # the first input warms up; not timed
    client.escape()
    key_ms = []
    for text in inputs:
        key_ms += [client.type_letter(ord(ch)) for ch in text]
        client.escape()
    return {**activation, "inputs": len(inputs), "keys": len(key_ms),
            "key_p50_ms": statistics.median(key_ms), "key_p95_ms": percentile(key_ms, 0.95),
            "key_max_ms": max(key_ms)}


def run_bench(engine_args: list[str], inputs: int = 300, json_path: Path | None = None) -> int:
    """The benchmark: prints the figures (and writes them as JSON); returns the exit code."""
    lines = [w for w in BENCH_INPUTS.read_text(encoding="utf-8").split() if w.isascii() and w.isalpha()]
    if not lines:
        print(f"no inputs in {BENCH_INPUTS}", file=sys.stderr)
        return 2
    chosen = [w.lower() for w in lines[:inputs]]
    with tempfile.TemporaryDirectory(prefix="shuru-ibus-bench-") as home:
        component = write_component(Path(home) / "component", engine_command(*engine_args))
        with PrivateIBus(component.parent, Path(home)) as bus:
            result = measure(BenchClient(bus.address), chosen)
    result["engine_args"] = engine_args
    print(f"IBus key -> lookup table, {result['keys']} keys of {result['inputs']} inputs: "
          f"p50 {result['key_p50_ms']:.1f} ms, p95 {result['key_p95_ms']:.1f} ms, max {result['key_max_ms']:.1f} ms")
    print(f"activation -> first candidates: {result['first_candidates_s']:.2f} s "
          f"(engine process up after {result['engine_up_s']:.2f} s)")
    if json_path is not None:
        json_path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m tools.ibus_bench``: the IBus engine's options, plus --inputs and --json."""
    from frontend.loader import engine_argv
    from shuru_ibus.__main__ import build_parser

    p = build_parser()  # the engine's options
    p.prog, p.description = "python -m tools.ibus_bench", __doc__.splitlines()[0]
    p.add_argument("--inputs", type=int, default=300, help="how many bench inputs to type (default 300)")
    p.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s shuru-ibus-bench %(levelname)s %(message)s")
    return run_bench(engine_argv(args), inputs=args.inputs, json_path=args.json)


if __name__ == "__main__":
    sys.exit(main())
