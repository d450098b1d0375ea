"""The wire format between the fcitx5 addon (C++) and the Shuru engine process: JSON lines, version 1.

Each message is one JSON object on one line (UTF-8, ``\\n``-terminated) with a ``type``. The
messages and their fields are specified in ``docs/FCITX5.md``; :data:`REQUESTS` is that table as
code, and :func:`decode` checks a client line against it. :class:`ActionDisplay` is the
Composer's Display written down as the ``actions`` of a reply.
"""
from __future__ import annotations

import json

PROTOCOL = 1  # bumped on any change a client of the old version would misread
MAX_LINE_BYTES = 64 * 1024  # a longer line is no message of ours: the connection closes
MAX_ID_CHARS = 128  # an input context id (fcitx5's 16-byte UUID in hex is 32)

ID = "ic"  # the field naming an input context: a string or an integer chosen by the client
# type -> {field: the Python types it takes}; every request gets exactly one reply, in order
REQUESTS: dict[str, dict[str, tuple[type, ...]]] = {
    "hello": {"protocol": (int,)},
    "key": {ID: (str, int), "keysym": (int,), "state": (int,), "release": (bool,)},
    "focus_in": {ID: (str, int)},
    "focus_out": {ID: (str, int)},
    "reset": {ID: (str, int)},
    "surrounding": {ID: (str, int), "before": (str,)},
    "select": {ID: (str, int), "index": (int,)},
    "page": {ID: (str, int), "direction": (str,)},
    "destroy": {ID: (str, int)},
}
PAGE_DIRECTIONS = ("up", "down")


class ProtocolError(ValueError):
    """A client line that is not a valid request; the message says why (never what the line held)."""


def encode(message: dict) -> bytes:
    """One message as its line."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def decode(line: bytes) -> dict:
    """A client line as a checked request; ProtocolError when it is none.

    The error names the field at fault but never quotes the line: it may hold the user's text."""
    try:
        message = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ProtocolError(f"the line is not UTF-8 (byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise ProtocolError(f"the line is not JSON ({e.msg} at column {e.colno})") from None
    if not isinstance(message, dict):
        raise ProtocolError(f"a message is a JSON object, not a JSON {type(message).__name__}")
    kind = message.get("type")
    if kind not in REQUESTS:
        raise ProtocolError(f"unknown message type {str(kind)[:40]!r}; known: {', '.join(REQUESTS)}")
    for name, types in REQUESTS[kind].items():
        value = message.get(name)
        if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
            wanted = " or ".join(t.__name__ for t in types)
            raise ProtocolError(f"{kind}: field {name!r} must be a {wanted}")
    if ID in message and len(str(message[ID])) > MAX_ID_CHARS:
        raise ProtocolError(f"{kind}: an input context id has at most {MAX_ID_CHARS} characters")
    if kind == "page" and message["direction"] not in PAGE_DIRECTIONS:
        raise ProtocolError("page: direction must be 'up' or 'down'")
    return message


def hello(engine_state: str, version: str) -> dict:
    """The server's first message (the reply to the client's hello)."""
    return {"type": "hello", "protocol": PROTOCOL, "server": f"shuru {version}", "engine": engine_state}


def error(text: str) -> dict:
    return {"type": "error", "message": text}


def version_mismatch(theirs) -> str:
    return (f"this Shuru engine speaks protocol {PROTOCOL}, the fcitx5 addon protocol {theirs}: "
            "install the addon and the engine of the same Shuru release")


class ActionDisplay:
    """The Composer's Display (:class:`frontend.composer.Display`) recorded as protocol actions, in order."""

    def __init__(self):
        self.actions: list[dict] = []

    def take(self) -> list[dict]:
        """The actions since the last take."""
        actions, self.actions = self.actions, []
        return actions

    def commit(self, text: str) -> None:
        self.actions.append({"type": "commit", "text": text})

    def show_preedit(self, text: str, cursor: int) -> None:
        # cursor in code points; cursor_utf8 in bytes, as fcitx::Text::setCursor takes it
        self.actions.append({"type": "preedit", "text": text, "cursor": cursor,
                             "cursor_utf8": len(text[:cursor].encode("utf-8"))})

    def hide_preedit(self) -> None:
        self.actions.append({"type": "preedit_hide"})

    def show_candidates(self, texts: list[str], cursor: int, page_size: int) -> None:
        """``cursor`` indexes ``texts`` (the page shown is ``cursor // page_size``); -1: no highlight."""
        self.actions.append({"type": "candidates", "texts": list(texts), "cursor": cursor, "page_size": page_size})

    def hide_candidates(self) -> None:
        self.actions.append({"type": "candidates_hide"})

    def modes_changed(self, chinese: bool, fullwidth: bool) -> None:
        self.actions.append({"type": "modes", "chinese": chinese, "fullwidth": fullwidth})

    def problem(self, text: str) -> None:
        self.actions.append({"type": "problem", "text": text})
