"""End to end through a real IBus: ibus-daemon starts Shuru's engine from the component XML.

A private ibus-daemon (``dbus-run-session``, ``--panel=disable --cache=none``, private
XDG folders, ``IBUS_COMPONENT_PATH`` at the component that ``python -m shuru_ibus
--write-component DIR`` writes) on a virtual X server; two applications that are not Shuru's,
a GTK 3 ``Gtk.Entry`` and a Qt ``QLineEdit`` (``QT_IM_MODULE=ibus``), get real X key
events from xdotool. Each application's text and preedit are read back and compared with
what the same keys give through a Composer in this process (:class:`FakeInputContext`, the
same engine configuration, learning the same): the outcomes are the engine's, not
hard-coded, and the test checks what each step means (a partial pick keeps converting,
``=`` turned the page, Esc left nothing...). The engine runs without the neural model, for
deterministic rankings; the typing path is the same.

Where ibus, Xvfb or xdotool are missing the tests are skipped with the set-up hint, except
in CI (``CI`` set), where that is a failure: ``./dev.sh test`` installs them.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.ibus_harness import ClientApp, FakeInputContext, Xvfb

REPO = Path(__file__).resolve().parents[2]
CLIENTS = Path(__file__).resolve().parents[1] / "ibus_clients"
ENGINE_ARGS = ("--no-neural",)  # deterministic rankings; the same key path as the shipped engine
QUIT_TIMEOUT_S = 10


def _missing() -> str:
    """Why the end-to-end test cannot run here ("" when it can)."""
    import shutil

    from shuru_ibus.private_bus import missing_tools

    missing = missing_tools() + [t for t in ("Xvfb", "xdotool") if shutil.which(t) is None]
    if missing:
        return f"not installed: {', '.join(missing)}"
    probe = subprocess.run([sys.executable, "-c", "import gi; gi.require_version('IBus', '1.0'); "
                            "gi.require_version('Gtk', '3.0'); from gi.repository import IBus, Gtk"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return f"PyGObject with the IBus and Gtk typelibs is not importable: {probe.stderr.strip()[-300:]}"
    return ""


@pytest.fixture(scope="module")
def desktop(tmp_path_factory):
    """Xvfb + a private ibus-daemon whose global engine is Shuru (started on first use)."""
    reason = _missing()
    if reason:
        hint = f"{reason} (./dev.sh test installs them)"
        if os.environ.get("CI"):
            pytest.fail(hint)
        pytest.skip(hint)
    from shuru_ibus.private_bus import PrivateIBus

    home = tmp_path_factory.mktemp("ibus-e2e")
    write = subprocess.run([sys.executable, "-m", "shuru_ibus", "--write-component", str(home / "component"),
                            *ENGINE_ARGS], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert write.returncode == 0, write.stderr
    xvfb = Xvfb()
    bus = PrivateIBus(home / "component", home, display=xvfb.display)
    try:
        bus.start()
        bus.set_engine("shuru")
        yield xvfb, bus
    finally:
        bus.stop()
        bus.kill_leftovers()
        xvfb.stop()


@pytest.fixture(scope="module")
def model_engine(tmp_path_factory):
    """The engine of the in-process model: the e2e engine's configuration, learning into its own store."""
    from engine import Engine, EngineOptions

    return Engine.load(EngineOptions(use_neural=False, history_path=tmp_path_factory.mktemp("model") / "user.db"))


def type_into(app: ClientApp, model: FakeInputContext, xvfb: Xvfb, *keys: str) -> dict:
    """Type ``keys`` for real and into the model; the application must end up showing what the model shows."""
    xvfb.xdotool(*keys)
    model.keys(*keys)
    shown = app.wait_for(model.text, model.preedit)
    assert shown == {"text": model.text, "preedit": model.preedit}, f"after {' '.join(keys)}"
    return shown


def scenario(app: ClientApp, model: FakeInputContext, xvfb: Xvfb) -> None:
    type_into(app, model, xvfb, *"nihao", "space")
    assert app.state["text"] == "你好"

    type_into(app, model, xvfb, *"woxianghuijia")
    assert app.state["preedit"] == model.preedit and "'" in model.preedit  # segmented pinyin
    first_page = model.composer.runner.session.view().candidates
    digit, pick = next((i + 1, c.text) for i, c in enumerate(first_page) if c.consumed < len("woxianghuijia"))
    type_into(app, model, xvfb, str(digit))  # a partial pick: nothing committed yet, the rest still converts
    assert app.state["text"] == "你好" and app.state["preedit"].startswith(pick) and len(app.state["preedit"]) > len(pick)
    type_into(app, model, xvfb, "space")
    assert app.state["text"].startswith("你好" + pick) and app.state["preedit"] == ""

    before = app.state["text"]
    type_into(app, model, xvfb, *"shi")
    first_page = model.display.page
    type_into(app, model, xvfb, "equal", "1")  # = turns the page: 1 picks the first of page 2
    picked = app.state["text"][len(before):]
    assert picked and picked not in first_page

    before = app.state["text"]
    type_into(app, model, xvfb, *"zhongguo", "Escape")
    assert app.state == {"text": before, "preedit": ""}  # Esc cancels

    type_into(app, model, xvfb, "Shift_L", *"ok", "space", "Shift_L")  # Shift alone: English, then back
    assert app.state["text"] == before + "ok "
    type_into(app, model, xvfb, "comma", *"nihao", "comma")
    assert app.state["text"] == before + "ok ，你好，"  # full-width; typed while composing it commits first


def run_client(script: str, desktop, model_engine, extra_env=None) -> None:
    xvfb, bus = desktop
    app = ClientApp(CLIENTS / script, {**bus.env, **(extra_env or {})}, sys.executable)
    try:
        assert app.wait_ready(), f"{script} did not get the keyboard focus: {app.errors()}"
        scenario(app, FakeInputContext(model_engine), xvfb)
    finally:
        app.close()


def test_typing_into_a_gtk_entry(desktop, model_engine):
    run_client("gtk_entry.py", desktop, model_engine)


def test_typing_into_a_qt_line_edit(desktop, model_engine):
    run_client("qt_line_edit.py", desktop, model_engine, {"QT_QPA_PLATFORM": "xcb", "QT_IM_MODULE": "ibus"})


def test_learning_went_to_the_users_store(desktop, model_engine):
    """The engine learned into the user store of its (private) user, as the window does."""
    from engine import Engine, EngineOptions

    _, bus = desktop
    store = Path(bus.env["XDG_DATA_HOME"]) / "shuru" / "user.db"
    learned = Engine.load(EngineOptions(use_neural=False, history_path=store)).learned_words()
    assert {w for w, _, _ in learned} == {w for w, _, _ in model_engine.learned_words()}
    assert "你好" in {w for w, _, _ in learned}


def test_the_engine_quits_when_the_bus_goes_away(desktop):
    _, bus = desktop
    engines = [pid for pid in bus.processes() if b"shuru_ibus" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    assert len(engines) == 1, "one engine process served both applications"
    bus.stop()
    deadline = time.monotonic() + QUIT_TIMEOUT_S
    while bus.processes() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert bus.processes() == [], "processes left after ibus-daemon exited"
    store = Path(bus.env["XDG_DATA_HOME"]) / "shuru" / "user.db"
    wal = store.with_name("user.db-wal")
    assert not wal.exists() or wal.stat().st_size == 0, "the engine folded its write-ahead log into user.db"
