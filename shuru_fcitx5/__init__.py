"""Shuru under fcitx5: the engine process the fcitx5 addon (C++) talks to over a Unix socket.

:mod:`.protocol` is the wire format (JSON lines, versioned; ``docs/FCITX5.md``), :mod:`.server`
the process: one :class:`~frontend.composer.Composer` per input context over one shared Engine.
Like every front end it is a thin adapter over :mod:`frontend`; it imports no toolkit (no Qt, no GObject).
"""
