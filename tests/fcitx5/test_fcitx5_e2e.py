"""End to end through a real fcitx5: its addon (built from shuru_fcitx5/addon) starts Shuru's engine process.

A private fcitx5 (:class:`tools.private_fcitx5.PrivateFcitx5`: its own D-Bus session, XDG
folders and a profile whose input method is Shuru) on a virtual X server; a GTK 3
``Gtk.Entry`` (``GTK_IM_MODULE=fcitx``) and a Qt ``QLineEdit`` (the pip PySide6 speaks IBus,
which fcitx5 serves too) get real X key events from xdotool. What they show is compared with
what the same keys give through a Composer in this process, as the IBus end-to-end test does.
Then the engine process is killed mid-typing (the addon starts it again), started slowly (keys
typed meanwhile reach the application as typed), and a field's own text becomes the context.

The addon is built once per run (cmake, about 15 s). Where fcitx5, its development files, Xvfb
or xdotool are missing the tests are skipped with the set-up hint, except in CI.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.ibus.test_ibus_e2e import scenario
from tests.ibus_harness import ClientApp, FakeInputContext
from tools.xvfb import Xvfb

REPO = Path(__file__).resolve().parents[2]
CLIENTS = Path(__file__).resolve().parents[1] / "ibus_clients"
QT_ENV = {"QT_QPA_PLATFORM": "xcb", "QT_IM_MODULE": "ibus"}
RESTART_TIMEOUT_S = 30
# the engine process: deterministic rankings (no neural model), slow to start while SLOW exists,
# a misbehaving one (fake_engine.py) while FAKE names how
LAUNCHER = """#!/bin/sh
[ -f "{slow}" ] && sleep 4
[ -f "{fake}" ] && exec {python} {fake_engine} "$(cat "{fake}")"
exec /usr/bin/env PYTHONPATH={repo} {python} -m shuru_fcitx5 --no-neural --history {history} "$@"
"""
FAKE_ENGINE = Path(__file__).resolve().parent / "fake_engine.py"


def _missing() -> str:
    """Why the test cannot run here ("" when it can)."""
    from tools.private_fcitx5 import missing_tools

    missing = missing_tools() + [t for t in ("Xvfb", "xdotool", "cmake") if shutil.which(t) is None]
    if missing:
        return f"not installed: {', '.join(missing)}"
    if not Path("/usr/lib/x86_64-linux-gnu/gtk-3.0/3.0.0/immodules/im-fcitx5.so").exists() and \
            not list(Path("/usr/lib").glob("*/gtk-3.0/3.0.0/immodules/im-fcitx5.so")):
        return "fcitx5's GTK 3 module (fcitx5-frontend-gtk3) is not installed"
    return ""


@pytest.fixture(scope="module")
def desktop(tmp_path_factory):
    """Xvfb + a private fcitx5 whose input method is Shuru, built from this checkout."""
    reason = _missing()
    if reason:
        hint = f"{reason} (./dev.sh test installs them)"
        if os.environ.get("CI"):
            pytest.fail(hint)
        pytest.skip(hint)
    from shuru_fcitx5.register import build_addon
    from tools.private_fcitx5 import PrivateFcitx5

    home = tmp_path_factory.mktemp("fcitx5-e2e")
    library = build_addon(home / "build")
    launcher = library.parent / "shuru-fcitx5-server"  # the addon runs the one beside its library
    launcher.write_text(LAUNCHER.format(slow=home / "slow", fake=home / "fake", fake_engine=FAKE_ENGINE, repo=REPO,
                                        python=sys.executable, history=home / "user.db"), encoding="utf-8")
    launcher.chmod(0o755)
    xvfb = Xvfb()
    fcitx = PrivateFcitx5(library.parent / "shuru-addon.conf", home / "home", xvfb.display)
    try:
        fcitx.start()
        yield xvfb, fcitx, home
    finally:
        fcitx.stop()
        xvfb.stop()


@pytest.fixture(scope="module")
def model_engine(desktop):
    """The engine of the in-process model: the e2e engine's configuration, learning into its own store."""
    from engine import Engine, EngineOptions

    return Engine.load(EngineOptions(use_neural=False, history_path=desktop[2] / "model.db"))


def open_client(script: str, fcitx, extra_env=None) -> ClientApp:
    app = ClientApp(CLIENTS / script, {**fcitx.env, **(extra_env or {})}, sys.executable)
    assert app.wait_ready(), f"{script} did not get the keyboard focus: {app.errors()}"
    return app


def wait_for_engine(fcitx, old: set[int] = frozenset()) -> int:
    """The pid of a running engine process other than ``old``, once its socket answers."""
    deadline = time.monotonic() + RESTART_TIMEOUT_S
    socket_path = Path(fcitx.env["XDG_RUNTIME_DIR"]) / "shuru" / "fcitx5.sock"
    while time.monotonic() < deadline:
        new = [p for p in fcitx.engine_processes() if p not in old]
        if new and socket_path.exists() and "connected to the Shuru engine" in fcitx.log().split("connection ended")[-1]:
            return new[0]
        time.sleep(0.1)
    raise AssertionError(f"no engine process came up: {fcitx.log()[-2000:]}")


def test_typing_into_a_gtk_entry(desktop, model_engine):
    xvfb, fcitx, _ = desktop
    app = open_client("gtk_entry.py", fcitx)
    try:
        wait_for_engine(fcitx)
        scenario(app, FakeInputContext(model_engine), xvfb)
        assert app.state["text"].startswith("你好我想回家")
    finally:
        app.close()


def test_typing_into_a_qt_line_edit(desktop, model_engine):
    xvfb, fcitx, _ = desktop
    app = open_client("qt_line_edit.py", fcitx, QT_ENV)
    try:
        scenario(app, FakeInputContext(model_engine), xvfb)
        assert app.state["text"].startswith("你好我想回家")
    finally:
        app.close()


def test_one_engine_process_served_both_applications(desktop):
    _, fcitx, _ = desktop
    assert len(fcitx.engine_processes()) == 1


def test_an_engine_killed_mid_typing_is_started_again_and_the_next_keys_work(desktop):
    xvfb, fcitx, _ = desktop
    app = open_client("gtk_entry.py", fcitx)
    try:
        first = wait_for_engine(fcitx)
        xvfb.xdotool(*"zhong")
        app.wait_for("", "zhong")
        os.kill(first, signal.SIGKILL)
        assert app.wait_for("", "")["preedit"] == "", "the dead engine's preedit went away"
        wait_for_engine(fcitx, {first})
        xvfb.xdotool(*"nihao", "space")
        assert app.wait_for("你好", "") == {"text": "你好", "preedit": ""}
    finally:
        app.close()


def test_keys_typed_before_the_engine_is_ready_reach_the_application_as_typed(desktop):
    xvfb, fcitx, home = desktop
    app = open_client("gtk_entry.py", fcitx)
    try:
        old = set(fcitx.engine_processes())
        (home / "slow").touch()  # the next engine process takes 4 s to start
        for pid in old:
            os.kill(pid, signal.SIGTERM)
        time.sleep(0.5)
        xvfb.xdotool(*"abc")
        assert app.wait_for("abc", "") == {"text": "abc", "preedit": ""}
        (home / "slow").unlink()
        wait_for_engine(fcitx, old)
        xvfb.xdotool(*"nihao", "space")
        assert app.wait_for("abc你好", "") == {"text": "abc你好", "preedit": ""}
    finally:
        app.close()


def convert(pinyin: str, context: str = "") -> str:
    """The first candidate of ``python -m engine convert --context`` (the e2e engine's options)."""
    done = subprocess.run([sys.executable, "-m", "engine", "convert", "--no-neural", "--context", "--topk", "1"],
                          input=json.dumps({"pinyin": pinyin, "context": context}), cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout.splitlines()[-1])["candidates"][0]


# a context that changes the first candidate on the statistical scorers (jiao alone: 较)
CONTEXT, PINYIN = "老师", "jiao"


def test_the_text_before_the_caret_is_the_context(desktop):
    xvfb, fcitx, _ = desktop
    with_context, alone = convert(PINYIN, CONTEXT), convert(PINYIN)
    app = open_client("gtk_entry.py", fcitx, {"SHURU_E2E_TEXT": CONTEXT})
    try:
        wait_for_engine(fcitx)
        xvfb.xdotool(*PINYIN, "space")
        shown = app.wait_for(CONTEXT + with_context, "")["text"]
        assert shown == CONTEXT + with_context, [line for line in fcitx.log().splitlines() if "surrounding" in line]
    finally:
        app.close()
    assert with_context != alone, "the pair shows nothing: pick another"


@pytest.fixture
def dbus_client(desktop):
    """An input context made over fcitx5's D-Bus frontend, as a toolkit's module makes one."""
    from tools.fcitx5_bench import Fcitx5Client, wait_for_engine

    _, fcitx, _ = desktop
    client = Fcitx5Client(fcitx.address)
    wait_for_engine(fcitx, client)  # a key Shuru takes: the engine process is there
    return client


# word at a time with the text before it (held-out text typed as people type it)
WORDS = [("老师", "jiao"), ("中国", "dian"), ("今天天气", "henhao"), ("我们", "yiqi"), ("他", "shuo"),
         ("这个问题", "hen"), ("我", "xiang"), ("北京", "daxue")]


def test_word_at_a_time_with_surrounding_text_commits_what_engine_convert_context_gives(dbus_client):
    """Through fcitx5 (surrounding text set by the application) as ``engine convert --context`` ranks."""
    done = subprocess.run([sys.executable, "-m", "engine", "convert", "--no-neural", "--context", "--topk", "1"],
                          input="".join(json.dumps({"pinyin": p, "context": c}) + "\n" for c, p in WORDS),
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=True)
    expected = [json.loads(line)["candidates"][0] for line in done.stdout.splitlines()]
    # learning is on in this fcitx5 (as for users): each word is committed once, after its conversion
    shown = [dbus_client.first_candidate(pinyin, context) for context, pinyin in WORDS]
    assert shown == expected


def test_a_field_without_surrounding_text_still_converts(dbus_client):
    dbus_client.call("SetCapability", "(t)", 1 << 1)  # preedit only: no surrounding text
    assert dbus_client.first_candidate("nihao", "") == "你好"


def test_the_configuration_entry_opens_shurus_settings(desktop):
    _, fcitx, home = desktop
    config = fcitx.call("GetConfig", "fcitx://config/inputmethod/shuru")
    assert "shuru-fcitx5-server' --settings" in config, config  # the launcher beside the addon, quoted


def test_fcitx5_lists_shuru(desktop):
    _, fcitx, _ = desktop
    assert "'shuru'" in fcitx.call("AvailableInputMethods") or "shuru" in fcitx.call("AvailableInputMethods")


def engine_pids(fcitx) -> list[int]:
    """Every engine process, the fake ones too."""
    return fcitx.engine_processes() + [pid for pid in fcitx.processes()
                                       if b"fake_engine.py" in Path(f"/proc/{pid}/cmdline").read_bytes()]


@pytest.mark.parametrize("mode,says", [("silent", "no reply in time"), ("garbage", "no reply in time"),
                                       ("old", "speaks protocol 0")])
def test_an_engine_that_does_not_answer_properly_leaves_typing_as_typed(desktop, mode, says):
    """A hung, a babbling and an old engine process: keys reach the application, fcitx5 goes on."""
    xvfb, fcitx, home = desktop
    app = open_client("gtk_entry.py", fcitx)
    try:
        (home / "fake").write_text(mode, encoding="utf-8")
        start = len(fcitx.log())
        for pid in engine_pids(fcitx):
            os.kill(pid, signal.SIGKILL)
        # until the addon has met the fake engine process (a key starts it; the addon then connects)
        met = says if mode == "old" else "(fake, ready)"
        deadline = time.monotonic() + RESTART_TIMEOUT_S
        while met not in fcitx.log()[start:]:
            assert time.monotonic() < deadline, fcitx.log()[-2000:]
            xvfb.xdotool("x", "BackSpace")
            time.sleep(0.5)
        before = app.state["text"]
        t0 = time.monotonic()
        xvfb.xdotool(*"abc")
        assert app.wait_for(before + "abc", "")["text"] == before + "abc"
        assert time.monotonic() - t0 < 0.5 + 3, "one key waited for the addon's bound, the others went at once"
        assert says in fcitx.log()[start:]
        assert fcitx.proc.poll() is None, "fcitx5 still runs"
    finally:
        (home / "fake").unlink(missing_ok=True)
        for pid in engine_pids(fcitx):
            os.kill(pid, signal.SIGKILL)
        app.close()
