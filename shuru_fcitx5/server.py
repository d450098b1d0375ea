"""The engine process of the fcitx5 front end: one Unix socket, one Composer per input context.

The fcitx5 addon (C++) connects, says hello, and forwards each input context's keys and events
(:mod:`.protocol`, ``docs/FCITX5.md``). Everything runs on one thread, a ``selectors`` loop:
a request is handled, the work the composers deferred (the decode) runs, and then the reply
goes out, so the reply to a key carries that key's candidates. The engine loads on a thread of
its own (:class:`~frontend.engine_host.EngineHost`) and is handed over through a wake-up pipe;
keys typed meanwhile are queued by each composer and shown as typed. Settings, quick phrases
and the personal model are followed as the IBus engine follows them, here by polling the files.

What changes outside a request (the engine loaded, settings changed) reaches the client as a
``status`` or ``update`` message between replies. Surrounding text only sets a session's
context: it is never logged, never sent anywhere, never learned.
"""
from __future__ import annotations

import errno
import logging
import os
import queue
import selectors
import socket
import stat
import threading
import time
from pathlib import Path
from typing import Callable

from engine.errors import ShuruError
from frontend import __version__
from frontend.actions import PageDown, PageUp, SelectOnPage
from frontend.composer import Composer
from frontend.config import config_dir
from frontend.engine_host import EngineHost
from frontend.keysyms import key_press

from . import protocol
from .protocol import ActionDisplay, ProtocolError

log = logging.getLogger(__name__)

SOCKET_NAME = "fcitx5.sock"
SETTINGS_POLL_S = 1.0  # how often the settings and quick-phrase files are looked at
SEND_TIMEOUT_S = 2.0  # a client that reads nothing for this long is dropped, not waited for
MAX_CONTEXTS = 1024  # input contexts per connection
MAX_DEFERRED_STEPS = 10_000  # bound on the deferred work one request may run (a bug, else)


class ServerError(ShuruError):
    """The server cannot start (the socket's folder or path is unusable, another server runs)."""


def default_socket_path() -> Path:
    """``$XDG_RUNTIME_DIR/shuru/fcitx5.sock``, else ``/tmp/shuru-<uid>/fcitx5.sock``."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    folder = Path(runtime) / "shuru" if runtime else Path("/tmp") / f"shuru-{os.getuid()}"
    return folder / SOCKET_NAME


class InputContext:
    """One fcitx5 input context: a Composer whose Display records protocol actions."""

    def __init__(self, ic_id, settings, defer: Callable[[Callable[[], None]], None]):
        self.id = ic_id
        self.display = ActionDisplay()
        self.composer = Composer(self.display, defer, settings)


class Connection:
    """One client (the addon in one fcitx5 process) and its input contexts."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buffer = bytearray()
        self.greeted = False
        self.contexts: dict[object, InputContext] = {}
        self.closed = False


class _Host(EngineHost):
    """The engine host that tells the server's clients when the engine loaded or failed."""

    def __init__(self, server: "Server", *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.server = server

    def state_changed(self) -> None:
        self.server.broadcast({"type": "status", "engine": self.state, "message": self.load_error})


class Server:
    """Serves the fcitx5 addon on a Unix socket at ``path``; see the module docstring.

    ``loader`` replaces the engine loader (tests hand over an engine when they choose);
    ``idle_exit_s``: end after this long without a client (the addon starts it again on demand)."""

    def __init__(self, path: Path | None = None, options=None, loader=None, started_at: float | None = None,
                 idle_exit_s: float | None = None):
        self.path = Path(path) if path else default_socket_path()
        self._calls: queue.SimpleQueue = queue.SimpleQueue()  # from other threads, run on the loop's
        self._deferred: list[Callable[[], None]] = []  # the composers' deferred work (this thread)
        self.host = _Host(self, options, self.call_soon, started_at, loader=loader)
        self.connections: dict[socket.socket, Connection] = {}
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._listener: socket.socket | None = None
        self._stopping = False
        self._file_stamps = self._settings_stamps()
        self._next_poll = 0.0
        self.idle_exit_s = idle_exit_s
        self._idle_since = time.monotonic()  # when the last client left (or the server started)

    # Start and stop ----------------------------------------------------------------------

    def listen(self) -> None:
        """Create the socket (0600, in a 0700 folder); ServerError when it cannot be."""
        _private_folder(self.path.parent)
        _remove_stale_socket(self.path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)  # no moment where others could connect
        try:
            listener.bind(str(self.path))
        except OSError as e:
            listener.close()
            raise ServerError(f"cannot create the socket {self.path}: {e.strerror or e}") from None
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o600)
        listener.listen(8)
        listener.setblocking(False)
        self._listener = listener
        self._socket_inode = os.stat(self.path).st_ino
        self._selector.register(listener, selectors.EVENT_READ, self._accept)
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, self._woken)
        log.info("listening on %s", self.path)

    def serve_forever(self) -> None:
        """Load the engine and serve until :meth:`stop` (``listen`` first)."""
        if self._listener is None:
            self.listen()
        self.host.start_loading()
        while not self._stopping:
            for key, _ in self._selector.select(timeout=SETTINGS_POLL_S):
                key.data(key.fileobj)
            self._run_calls()
            self._poll_settings()
            self._exit_when_idle()
        self._close()

    def _exit_when_idle(self) -> None:
        """Stop once no client has been connected for ``idle_exit_s`` (fcitx5 quit, or never came)."""
        if self.idle_exit_s is None or self.connections:
            return
        if time.monotonic() - self._idle_since >= self.idle_exit_s:
            log.info("no fcitx5 connected for %.0f s: exiting", self.idle_exit_s)
            self.stop()

    def stop(self) -> None:
        """End :meth:`serve_forever` (from any thread, or a signal handler)."""
        self._stopping = True
        self._wake()

    def call_soon(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the server's thread (thread-safe): how the loader hands over the engine."""
        self._calls.put(fn)
        self._wake()

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except OSError:  # the pipe is full (it is woken anyway) or closed (stopping)
            pass

    def _close(self) -> None:
        for conn in list(self.connections.values()):
            self._drop(conn)
        self._selector.close()
        if self._listener is not None:
            self._listener.close()
            try:
                if os.stat(self.path).st_ino == self._socket_inode:  # still ours, not a newer server's
                    os.unlink(self.path)
            except OSError:
                pass
        self._wake_r.close()
        self._wake_w.close()
        self.host.close()

    # The loop's callbacks ----------------------------------------------------------------

    def _accept(self, listener: socket.socket) -> None:
        try:
            sock, _ = listener.accept()
        except OSError:
            return
        sock.settimeout(SEND_TIMEOUT_S)  # reads happen when select says so; sends may wait this long
        conn = Connection(sock)
        self.connections[sock] = conn
        self._selector.register(sock, selectors.EVENT_READ, self._readable)

    def _woken(self, wake: socket.socket) -> None:
        try:
            while wake.recv(4096):
                pass
        except BlockingIOError:
            pass

    def _run_calls(self) -> None:
        while True:
            try:
                fn = self._calls.get_nowait()
            except queue.Empty:
                return
            fn()
            self._run_deferred()
            self._send_updates()

    def _readable(self, sock: socket.socket) -> None:
        conn = self.connections.get(sock)
        if conn is None:  # dropped earlier in this round
            return
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        conn.buffer += data
        while not conn.closed and b"\n" in conn.buffer:
            line, _, rest = bytes(conn.buffer).partition(b"\n")
            conn.buffer = bytearray(rest)
            if line.strip():
                self._handle_line(conn, line)
        if not conn.closed and len(conn.buffer) > protocol.MAX_LINE_BYTES:
            self._send(conn, protocol.error(f"a line is longer than {protocol.MAX_LINE_BYTES} bytes"))
            self._drop(conn)

    # Requests ------------------------------------------------------------------------------

    def _handle_line(self, conn: Connection, line: bytes) -> None:
        try:
            message = protocol.decode(line)
        except ProtocolError as e:
            self._send(conn, protocol.error(str(e)))
            if not conn.greeted:
                self._drop(conn)
            return
        if not conn.greeted:
            self._greet(conn, message)
            return
        self._send(conn, self._request(conn, message))
        self._send_updates()

    def _greet(self, conn: Connection, message: dict) -> None:
        if message["type"] != "hello":
            self._send(conn, protocol.error(f"the first message is a hello with \"protocol\": {protocol.PROTOCOL}"))
            self._drop(conn)
        elif message["protocol"] != protocol.PROTOCOL:
            log.warning("a client of protocol %s connected; refused", message["protocol"])
            self._send(conn, protocol.error(protocol.version_mismatch(message["protocol"])))
            self._drop(conn)
        else:
            conn.greeted = True
            self._send(conn, protocol.hello(self.host.state, __version__))

    def _request(self, conn: Connection, message: dict) -> dict:
        """The reply to one request; its deferred work is done by then."""
        kind = message["type"]
        if kind == "hello":
            return protocol.error("hello was already said")
        if kind == "destroy":
            self._destroy(conn, message[protocol.ID])
            return {"type": "reply", "ic": message[protocol.ID], "handled": True, "actions": []}
        ic = self._context(conn, message[protocol.ID])
        if ic is None:
            return protocol.error(f"more than {MAX_CONTEXTS} input contexts on one connection")
        try:
            handled = REQUEST_HANDLERS[kind](self, ic, message)
            self._run_deferred()
        except Exception as e:  # a bug must not take the server down: the addon passes the key on
            log.exception("%s failed", kind)
            ic.display.take()
            return protocol.error(f"{kind} failed: {type(e).__name__}")
        reply = {"type": "reply", "ic": ic.id, "handled": handled, "actions": ic.display.take()}
        if self.host.state == "loading":
            reply["loading"] = True
        return reply

    def _context(self, conn: Connection, ic_id) -> InputContext | None:
        """The input context ``ic_id`` of this connection, created on first mention."""
        ic = conn.contexts.get(ic_id)
        if ic is None:
            if len(conn.contexts) >= MAX_CONTEXTS:
                return None
            ic = conn.contexts[ic_id] = InputContext(ic_id, self.host.settings, self._deferred.append)
            self.host.attach(ic)
        return ic

    def _destroy(self, conn: Connection, ic_id) -> None:
        ic = conn.contexts.pop(ic_id, None)
        if ic is not None:
            self.host.detach(ic)

    def _key(self, ic: InputContext, message: dict) -> bool:
        press = key_press(message["keysym"], message["state"], message["release"])
        return ic.composer.key_event(press.key, release=press.release, is_shift=press.is_shift)

    def _focus_in(self, ic: InputContext, message: dict) -> bool:
        ic.display.modes_changed(ic.composer.chinese_active, ic.composer.fullwidth)
        self.host.check_for_changes()
        return True

    def _reset(self, ic: InputContext, message: dict) -> bool:
        ic.composer.reset()
        return True

    def _surrounding(self, ic: InputContext, message: dict) -> bool:
        ic.composer.set_context(message["before"])  # it keeps the last MAX_BEFORE_CHARS
        return True

    def _select(self, ic: InputContext, message: dict) -> bool:
        ic.composer.send(SelectOnPage(message["index"]))  # the panel counts on the page shown
        return True

    def _page(self, ic: InputContext, message: dict) -> bool:
        ic.composer.send(PageUp() if message["direction"] == "up" else PageDown())
        return True

    def _run_deferred(self) -> None:
        """The composers' deferred work (decode, idle steps) until none is left."""
        for _ in range(MAX_DEFERRED_STEPS):
            if not self._deferred:
                return
            self._deferred.pop(0)()
        log.error("deferred work did not end after %d steps; dropped", MAX_DEFERRED_STEPS)
        self._deferred.clear()

    # Sending -------------------------------------------------------------------------------

    def _send(self, conn: Connection, message: dict) -> None:
        if conn.closed:
            return
        try:
            conn.sock.sendall(protocol.encode(message))
        except OSError as e:  # gone, or reads nothing: it reconnects if it still wants us
            log.warning("dropping a client that cannot be written to: %s", e)
            self._drop(conn)

    def broadcast(self, message: dict) -> None:
        """Send ``message`` to every client that said hello."""
        for conn in list(self.connections.values()):
            if conn.greeted:
                self._send(conn, message)

    def _send_updates(self) -> None:
        """What input contexts showed outside their own request (the engine loaded, settings changed)."""
        for conn in list(self.connections.values()):
            for ic in list(conn.contexts.values()):
                actions = ic.display.take()
                if actions and conn.greeted:
                    self._send(conn, {"type": "update", "ic": ic.id, "actions": actions})

    def _drop(self, conn: Connection) -> None:
        """A client left (or was dropped): its input contexts go with it."""
        if conn.closed:
            return
        conn.closed = True
        for ic in conn.contexts.values():
            self.host.detach(ic)
        conn.contexts.clear()
        self.connections.pop(conn.sock, None)
        if not self.connections:
            self._idle_since = time.monotonic()
        try:
            self._selector.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()

    # Settings -----------------------------------------------------------------------------

    def _settings_stamps(self) -> tuple:
        stamps = []
        for name in self.host.watched_names():
            try:
                stamps.append((config_dir() / name).stat().st_mtime_ns)
            except OSError:
                stamps.append(None)
        return tuple(stamps)

    def _poll_settings(self) -> None:
        """Follow the settings and quick-phrase files (the window and the settings dialog write them)."""
        now = time.monotonic()
        if now < self._next_poll:
            return
        self._next_poll = now + SETTINGS_POLL_S
        stamps = self._settings_stamps()
        if stamps != self._file_stamps:
            self._file_stamps = stamps
            self.host.check_for_changes()
            self._run_deferred()
            self._send_updates()


REQUEST_HANDLERS = {"key": Server._key, "focus_in": Server._focus_in, "focus_out": Server._reset,
                    "reset": Server._reset, "surrounding": Server._surrounding, "select": Server._select,
                    "page": Server._page}


def _private_folder(folder: Path) -> None:
    """Create ``folder`` 0700, or check that it is this user's own folder and make it 0700."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(folder)
    except OSError as e:
        raise ServerError(f"cannot create the socket's folder {folder}: {e.strerror or e}") from None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise ServerError(f"{folder} is not a folder of this user; remove it or choose another --socket")
    os.chmod(folder, 0o700)


def _remove_stale_socket(path: Path) -> None:
    """Remove a socket left by a server that died; ServerError when a server answers there."""
    if not os.path.lexists(path):
        return
    if not stat.S_ISSOCK(os.lstat(path).st_mode):
        raise ServerError(f"{path} exists and is no socket; remove it or choose another --socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError as e:
        if e.errno not in (errno.ECONNREFUSED, errno.ENOENT):
            raise ServerError(f"cannot check the socket {path}: {e.strerror or e}") from None
        os.unlink(path)
        return
    finally:
        probe.close()
    raise ServerError(f"another Shuru engine already serves {path}")


def run_in_thread(server: Server) -> threading.Thread:
    """Listen, then serve on a daemon thread (tests, embedding); ``server.stop()`` ends it."""
    server.listen()
    thread = threading.Thread(target=server.serve_forever, name="shuru-fcitx5-server", daemon=True)
    thread.start()
    return thread
