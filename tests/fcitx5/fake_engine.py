"""An engine process that misbehaves, for the addon's end-to-end tests: ``python fake_engine.py MODE``.

It serves the addon's socket (``$XDG_RUNTIME_DIR/shuru/fcitx5.sock``) and answers the hello as
a Shuru engine of protocol 1 would, then: ``silent`` never answers a request, ``garbage``
answers every request with a line that is not JSON, ``old`` refuses the hello as an engine of
another protocol does. The addon must pass the keys to the application and go on.
"""
import json
import os
import socket
import sys
import threading
from pathlib import Path

MISMATCH = ("this Shuru engine speaks protocol 0, the fcitx5 addon protocol 1: install the addon and the engine "
            "of the same Shuru release")


def serve(conn: socket.socket, mode: str) -> None:
    stream = conn.makefile("rwb")
    for n, line in enumerate(stream):
        if n == 0:
            answer = ({"type": "error", "message": MISMATCH} if mode == "old"
                      else {"type": "hello", "protocol": 1, "server": "fake", "engine": "ready"})
            stream.write(json.dumps(answer).encode() + b"\n")
        elif mode == "garbage":
            stream.write(b"\x00not json {\n")
        stream.flush()


def main() -> int:
    mode = sys.argv[1]
    folder = Path(os.environ["XDG_RUNTIME_DIR"]) / "shuru"
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / "fcitx5.sock"
    path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen()
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn, mode), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
