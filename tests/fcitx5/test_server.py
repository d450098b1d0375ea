"""The fcitx5 engine process as the addon sees it: a Unix socket, JSON lines, one reply per request.

The server runs in this process on a temporary socket, on the real engine (shipped lexicon and
n-gram, no neural model, no learning); a tiny client speaks the protocol of ``docs/FCITX5.md``.
Most tests hand the server the session's engine through a loader they control, so they also
choose when "loading" ends.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from frontend.config import Settings, SettingsStore
from shuru_fcitx5 import protocol
from shuru_fcitx5.server import Server, ServerError, run_in_thread
from tests.ibus_harness import keysym

REPO = Path(__file__).resolve().parents[2]
TIMEOUT_S = 10


class HeldLoader:
    """An engine loader that loads nothing until the test hands over an engine."""

    def __init__(self):
        self.done = None

    def start(self, overrides, done):
        self.done = done


class Client:
    """The addon's side, in a few lines: requests out, one reply back; status/update messages kept aside."""

    def __init__(self, path: Path, protocol_version: int | None = protocol.PROTOCOL):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT_S)
        self.sock.connect(str(path))
        self.file = self.sock.makefile("rb")
        self.unsolicited: list[dict] = []
        self.text = ""  # what the application got committed
        if protocol_version is not None:
            self.hello = self.request({"type": "hello", "protocol": protocol_version})

    def send_line(self, line: bytes) -> None:
        self.sock.sendall(line)

    def read(self) -> dict | None:
        line = self.file.readline()
        return json.loads(line) if line else None

    def reply(self) -> dict | None:
        """The next reply, hello or error; status and update messages on the way are kept."""
        while True:
            message = self.read()
            if message is None or message["type"] not in ("status", "update"):
                return message
            self.unsolicited.append(message)
            self._apply(message.get("actions", []))

    def request(self, message: dict) -> dict | None:
        self.send_line(protocol.encode(message))
        answer = self.reply()
        if answer is not None:
            self._apply(answer.get("actions", []))
        return answer

    def key(self, name: str, ic=1, state: int = 0) -> dict:
        """Press and release one key (as xdotool names it); the press's reply."""
        pressed = self.request({"type": "key", "ic": ic, "keysym": keysym(name), "state": state, "release": False})
        self.request({"type": "key", "ic": ic, "keysym": keysym(name), "state": state, "release": True})
        return pressed

    def keys(self, *names: str, ic=1) -> list[dict]:
        return [self.key(n, ic) for n in names]

    def wait_for(self, kind: str) -> dict:
        """The next status or update message (those already read first)."""
        while True:
            for i, m in enumerate(self.unsolicited):
                if m["type"] == kind:
                    return self.unsolicited.pop(i)
            message = self.read()
            assert message is not None, "the server closed the connection"
            self.unsolicited.append(message)
            self._apply(message.get("actions", []))

    def _apply(self, actions: list[dict]) -> None:
        self.text += "".join(a["text"] for a in actions if a["type"] == "commit")

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@pytest.fixture
def settings_dir(config_dir):
    SettingsStore(config_dir).save(Settings(learning=False))
    return config_dir


@pytest.fixture
def short_dir():
    """A folder with a short path: a Unix socket's path has at most 107 bytes."""
    folder = Path(tempfile.mkdtemp(prefix="sf5-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def serve(short_dir, settings_dir, engine):
    """``serve(ready=True)`` -> the running Server on a temporary socket (stopped at the end)."""
    servers = []

    def start(ready: bool = True) -> Server:
        loader = HeldLoader()
        server = Server(short_dir / f"{len(servers)}" / "shuru" / "fcitx5.sock", loader=loader)
        server.loader = loader
        server.thread = run_in_thread(server)
        servers.append(server)
        if ready:
            hand_over(server, engine)
        return server

    yield start
    for server in servers:
        server.stop()
        server.thread.join(TIMEOUT_S)


def hand_over(server: Server, engine) -> None:
    """The held loader finishes: the server gets ``engine`` on its thread."""
    deadline = time.monotonic() + TIMEOUT_S
    while server.loader.done is None and time.monotonic() < deadline:
        time.sleep(0.01)
    server.call_soon(lambda: server.loader.done(engine, "", 0.0))


def candidates(reply: dict) -> list[str]:
    shown = [a for a in reply["actions"] if a["type"] == "candidates"]
    return shown[-1]["texts"] if shown else []


# Hello ---------------------------------------------------------------------------------------

def test_hello_names_the_protocol_and_the_engine_state(serve):
    server = serve(ready=False)
    client = Client(server.path)
    assert client.hello["type"] == "hello" and client.hello["protocol"] == protocol.PROTOCOL
    assert client.hello["engine"] == "loading" and client.hello["server"].startswith("shuru ")


@pytest.mark.parametrize("first,says", [
    ({"type": "hello", "protocol": 2}, "speaks protocol 1, the fcitx5 addon protocol 2"),
    ({"type": "hello", "protocol": "1"}, "'protocol' must be a int"),
    ({"type": "key", "ic": 1, "keysym": 0x6E, "state": 0, "release": False}, 'first message is a hello'),
])
def test_a_client_that_does_not_say_hello_in_our_version_is_told_why_and_closed(serve, first, says):
    server = serve()
    client = Client(server.path, protocol_version=None)
    answer = client.request(first)
    assert answer["type"] == "error" and says in answer["message"]
    assert client.read() is None  # closed


def test_the_socket_is_private(serve):
    server = serve()
    assert stat.S_IMODE(os.stat(server.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(server.path.parent).st_mode) == 0o700


def test_a_second_server_on_the_same_socket_is_refused_and_a_stale_socket_replaced(serve, short_dir):
    server = serve()
    with pytest.raises(ServerError, match="already serves"):
        Server(server.path, loader=HeldLoader()).listen()
    stale = short_dir / "stale" / "fcitx5.sock"
    stale.parent.mkdir()
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(str(stale))
    dead.close()  # the file stays, nobody listens
    other = Server(stale, loader=HeldLoader())
    other.listen()
    other.stop()
    other.serve_forever()  # stops at once, removes its socket
    assert not stale.exists()


# Typing ---------------------------------------------------------------------------------------

# keys -> what is committed
TYPING = [
    ([*"nihao", "space"], "你好"),
    ([*"woxianghuijia", "1"], "我想回家"),
    ([*"nihao", "Return"], "nihao"),
    ([*"nihao", "comma"], "你好，"),
]


@pytest.mark.parametrize("keys,text", TYPING)
def test_typing_commits(serve, keys, text):
    client = Client(serve().path)
    client.keys(*keys)
    assert client.text == text


def test_each_key_gets_one_reply_with_its_candidates(serve):
    client = Client(serve().path)
    replies = client.keys(*"nihao")
    assert all(r["type"] == "reply" and r["handled"] for r in replies)
    last = replies[-1]["actions"]
    preedit = next(a for a in last if a["type"] == "preedit")
    assert (preedit["text"], preedit["cursor"], preedit["cursor_utf8"]) == ("ni'hao", 6, 6)
    assert candidates(replies[-1])[0] == "你好"
    shown = next(a for a in last if a["type"] == "candidates")
    assert shown["cursor"] == 0 and shown["page_size"] == 5
    commit = client.key("space")["actions"]
    assert commit[0] == {"type": "commit", "text": "你好"}
    assert {"type": "preedit_hide"} in commit and {"type": "candidates_hide"} in commit


def test_keys_the_application_handles_are_not_taken(serve):
    client = Client(serve().path)
    assert not client.key("1")["handled"]  # idle: a digit is the application's
    assert not client.key("c", state=1 << 2)["handled"]  # Ctrl+C
    assert client.key("n")["handled"]


def test_panel_selection_and_page_buttons(serve):
    client = Client(serve().path)
    first = candidates(client.keys(*"shi")[-1])[:5]
    paged = client.request({"type": "page", "ic": 1, "direction": "down"})
    shown = next(a for a in paged["actions"] if a["type"] == "candidates")
    assert shown["cursor"] == 5
    second = shown["texts"][5:10]
    assert second != first
    client.request({"type": "select", "ic": 1, "index": 1})
    assert client.text == second[1]


def test_shift_tap_toggles_the_mode_and_says_so(serve):
    client = Client(serve().path)
    shift = {"type": "key", "ic": 1, "keysym": keysym("Shift_L"), "state": 0, "release": False}
    assert not client.request(shift)["handled"]
    released = client.request({**shift, "state": 1, "release": True})
    assert released["actions"] == [{"type": "modes", "chinese": False, "fullwidth": True}]
    assert not client.key("n")["handled"]
    focused = client.request({"type": "focus_in", "ic": 1})
    assert focused["actions"] == [{"type": "modes", "chinese": False, "fullwidth": True}]


def test_input_contexts_are_separate(serve):
    client = Client(serve().path)
    client.keys(*"nihao", ic="a")
    client.keys(*"shi", ic="b")
    client.key("space", ic="a")
    assert client.text == "你好"


# Loading ---------------------------------------------------------------------------------------

def test_keys_typed_while_the_engine_loads_are_shown_as_typed_and_not_lost(serve, engine):
    server = serve(ready=False)
    client = Client(server.path)
    replies = client.keys(*"nihao")
    assert all(r["handled"] and r.get("loading") for r in replies)
    assert replies[-1]["actions"][-1] == {"type": "preedit", "text": "nihao", "cursor": 5, "cursor_utf8": 5}
    client.key("space")
    assert client.text == ""
    hand_over(server, engine)
    assert client.wait_for("status") == {"type": "status", "engine": "ready", "message": ""}
    update = client.wait_for("update")
    assert update["ic"] == 1 and {"type": "commit", "text": "你好"} in update["actions"]
    assert client.text == "你好" and "loading" not in client.key("n")


def test_an_engine_that_cannot_load_leaves_english_typing(serve):
    server = serve(ready=False)
    client = Client(server.path)
    client.keys(*"ni")
    server.call_soon(lambda: server.loader.done(None, "lexicon.npz is damaged: reinstall Shuru", 0.0))
    assert client.wait_for("status")["engine"] == "failed"
    update = client.wait_for("update")
    assert {"type": "commit", "text": "ni"} in update["actions"]
    assert {"type": "problem", "text": "lexicon.npz is damaged: reinstall Shuru"} in update["actions"]
    assert not client.key("a")["handled"]


# Surrounding text ------------------------------------------------------------------------------

# (context, pinyin) -> the first candidate changes with the context (statistical scorers)
CONTEXT_CASES = [("", "jiao", "叫"), ("老师", "jiao", "教"), ("中国", "jiao", "角"), ("", "dian", "点"), ("中国", "dian", "电")]


@pytest.mark.parametrize("before,pinyin,first", CONTEXT_CASES)
def test_surrounding_text_is_the_sessions_context(serve, before, pinyin, first):
    client = Client(serve().path)
    client.request({"type": "surrounding", "ic": 1, "before": before})
    assert candidates(client.keys(*pinyin)[-1])[0] == first


def test_surrounding_text_given_while_loading_is_the_first_sessions_context(serve, engine):
    server = serve(ready=False)
    client = Client(server.path)
    client.request({"type": "surrounding", "ic": 1, "before": "老师"})
    hand_over(server, engine)
    client.wait_for("status")
    assert candidates(client.keys(*"jiao")[-1])[0] == "教"


def test_surrounding_text_is_neither_learned_nor_echoed(serve, learning_engine, caplog):
    server = serve(ready=False)
    client = Client(server.path)
    hand_over(server, learning_engine)
    client.wait_for("status")
    secret = "我的密码是老师"
    client.request({"type": "surrounding", "ic": 1, "before": secret})
    bad = client.request({"type": "surrounding", "ic": 1, "before": 7})  # an error names the field only
    assert bad["type"] == "error" and secret not in json.dumps(bad, ensure_ascii=False)
    assert learning_engine.history.word_count == 0
    client.keys(*"jiao", "space")
    assert learning_engine.history.word_count == 1  # the word committed, nothing of the context
    assert secret not in caplog.text


# Robustness -----------------------------------------------------------------------------------

# a line -> what the error says
BAD_LINES = [
    (b"{not json\n", "not JSON"),
    (b"[1, 2]\n", "JSON object, not a JSON list"),
    (b'{"type": "dance", "ic": 1}\n', "unknown message type 'dance'"),
    (b'{"type": "key", "ic": 1, "keysym": "n", "state": 0, "release": false}\n', "'keysym' must be a int"),
    (b'{"type": "key", "ic": 1, "keysym": 110, "state": 0}\n', "'release' must be a bool"),
    (b'{"type": "page", "ic": 1, "direction": "sideways"}\n', "direction must be 'up' or 'down'"),
    (b'{"type": "select", "ic": [1], "index": 0}\n', "'ic' must be a str or int"),
    (b"\xff\xfe\n", "not UTF-8"),
]


@pytest.mark.parametrize("line,says", BAD_LINES)
def test_a_bad_line_gets_an_error_and_the_connection_goes_on(serve, line, says):
    client = Client(serve().path)
    client.keys(*"ni")
    client.send_line(line)
    answer = client.reply()
    assert answer["type"] == "error" and says in answer["message"]
    client.keys(*"hao", "space")
    assert client.text == "你好"


def test_a_line_too_long_closes_the_connection_and_the_server_serves_others(serve):
    server = serve()
    client = Client(server.path)
    client.send_line(b"x" * (protocol.MAX_LINE_BYTES + 10))
    answer = client.reply()
    assert answer["type"] == "error" and "longer than" in answer["message"]
    assert client.read() is None
    other = Client(server.path)
    other.keys(*"nihao", "space")
    assert other.text == "你好"


def wait_until(condition) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert condition()


def test_destroy_and_disconnect_drop_the_input_contexts(serve):
    server = serve()
    client = Client(server.path)
    client.keys(*"ni", ic="a")
    client.keys(*"ni", ic="b")
    assert len(server.host.contexts) == 2
    assert client.request({"type": "destroy", "ic": "a"})["type"] == "reply"
    assert len(server.host.contexts) == 1
    assert client.request({"type": "destroy", "ic": "never"})["type"] == "reply"  # unknown: nothing to do
    client.close()
    wait_until(lambda: not server.host.contexts and not server.connections)


def test_focus_out_and_reset_drop_the_input(serve):
    client = Client(serve().path)
    client.keys(*"nihao")
    reply = client.request({"type": "focus_out", "ic": 1})
    assert {"type": "preedit_hide"} in reply["actions"]
    client.keys(*"hao")
    client.request({"type": "reset", "ic": 1})
    client.keys(*"nihao", "space")
    assert client.text == "你好"


def test_settings_saved_while_serving_apply(serve, settings_dir):
    server = serve()
    client = Client(server.path)
    SettingsStore(settings_dir).save(Settings(learning=False, page_size=3))
    os.utime(settings_dir / "settings.json", ns=(time.time_ns() + 10**9,) * 2)  # a stamp unlike the first
    wait_until(lambda: server.host.settings.page_size == 3)
    shown = next(a for a in client.keys(*"shi")[-1]["actions"] if a["type"] == "candidates")
    assert shown["page_size"] == 3


def test_the_command_serves_a_socket_until_terminated(tmp_path, short_dir, settings_dir):
    """``python -m shuru_fcitx5 --socket PATH``: the real loader, then SIGTERM removes the socket."""
    path = short_dir / "cmd" / "s.sock"
    env = {**os.environ, "SHURU_CONFIG_DIR": str(settings_dir)}
    proc = subprocess.Popen([sys.executable, "-m", "shuru_fcitx5", "--socket", str(path), "--no-neural",
                             "--history", str(tmp_path / "user.db")], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until(path.exists)
        client = Client(path)
        if client.hello["engine"] == "loading":
            assert client.wait_for("status")["engine"] == "ready"
        client.keys(*"nihao", "space")
        assert client.text == "你好"
    finally:
        proc.terminate()
        proc.wait(TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr.read().decode()
    assert not path.exists()


def test_the_server_ends_once_no_client_has_been_connected_for_its_idle_time(short_dir, settings_dir, engine):
    """fcitx5 went away (or never came): the engine process does not linger; a connected one keeps it."""
    server = Server(short_dir / "idle" / "fcitx5.sock", loader=HeldLoader(), idle_exit_s=1.0)
    server.thread = run_in_thread(server)
    wait_until(server.path.exists)
    client = Client(server.path)
    time.sleep(1.5)
    assert server.thread.is_alive(), "a connected client keeps it"
    client.close()
    server.thread.join(TIMEOUT_S)
    assert not server.thread.is_alive() and not server.path.exists()
