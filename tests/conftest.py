"""Shared fixtures: one real Engine per test run (the shipped assets), never touching user dirs.

Every test also runs under a Qt message guard: a Qt warning about threads or QObject
ownership (what precedes a crash when a widget is touched from the engine's thread)
fails the test that caused it.
"""
from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Never read or write the real user's data, config or personal model during tests.
_HOME = tempfile.mkdtemp(prefix="shuru-test-home-")
os.environ["XDG_DATA_HOME"] = os.path.join(_HOME, "data")
os.environ["XDG_CONFIG_HOME"] = os.path.join(_HOME, "config")
os.environ["XDG_CACHE_HOME"] = os.path.join(_HOME, "cache")
# The shipped n-gram alone, whether or not this host has libime's model: tests of the merge name
# their own model (tests/fixtures/kenlm).
os.environ["SHURU_LIBIME_LM"] = "off"

# Substrings of Qt messages that mean an object was used from the wrong thread.
THREAD_WARNINGS = ("QObject::", "QObject:", "Cannot create children", "different thread",
                   "another thread", "outside the GUI thread", "QBasicTimer")


class QtMessageGuard:
    """A Qt message handler that records thread and QObject warnings (from any thread).

    It forwards every message to the handler it replaced (pytest-qt's capture), so the
    ``qtlog`` fixture and the report of captured Qt messages keep working.
    """

    def __init__(self):
        self.bad: list[str] = []
        self.forward = None
        self._lock = threading.Lock()

    def __call__(self, msg_type, context, message) -> None:
        text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
        if any(pattern in text for pattern in THREAD_WARNINGS):
            with self._lock:
                self.bad.append(f"{text} (on thread {threading.current_thread().name})")
        if self.forward is not None:
            self.forward(msg_type, context, message)

    def install(self) -> None:
        """Put the guard in front of whatever handler is installed now (nothing to guard without Qt)."""
        try:
            from PySide6.QtCore import qInstallMessageHandler
        except ImportError:  # an engine-only environment (tests/engine)
            return

        previous = qInstallMessageHandler(self)
        self.forward = previous if callable(previous) and previous is not self else None

    def take(self) -> list[str]:
        with self._lock:
            bad, self.bad = self.bad, []
        return bad


QT_GUARD = QtMessageGuard()


# The markers of pyproject's [tool.pytest.ini_options], by file (a test may also carry its own).
SLOW_FILES = {"test_package.py", "test_trainer_killtest.py", "test_trainer_ddp.py", "test_window_monkey.py",
              "test_no_network.py", "test_ibus_e2e.py", "test_kill_learning.py", "test_wheel.py",
              "test_fcitx5_e2e.py"}
X11_FILES = {"test_ibus_e2e.py", "test_fcitx5_e2e.py", "test_package.py", "test_window_monkey.py"}


def pytest_collection_modifyitems(config, items) -> None:
    """Mark each test by its folder (tests/packaging) and file (SLOW_FILES, X11_FILES)."""
    for item in items:
        path = Path(str(item.fspath))
        if path.parent.name == "packaging":
            item.add_marker(pytest.mark.packaging)
        if path.name in SLOW_FILES:
            item.add_marker(pytest.mark.slow)
        if path.name in X11_FILES:
            item.add_marker(pytest.mark.x11)


@pytest.fixture(scope="session", autouse=True)
def _qt_message_guard_session():
    """The guard stays installed for the whole run (between tests too)."""
    QT_GUARD.install()
    yield QT_GUARD


@pytest.fixture(autouse=True)
def qt_messages(_qt_message_guard_session):
    """Fails a test during which Qt printed a thread or QObject warning."""
    QT_GUARD.take()  # left over from before this test
    QT_GUARD.install()  # in front of pytest-qt's per-test capture
    yield QT_GUARD
    try:
        from PySide6.QtCore import QCoreApplication
    except ImportError:  # an engine-only environment (tests/engine)
        return
    if QCoreApplication.instance() is not None:
        QCoreApplication.processEvents()
    QT_GUARD.forward = None  # pytest-qt's capture ends with the test
    bad = QT_GUARD.take()
    assert not bad, "Qt warned about threads or QObject ownership:\n" + "\n".join(bad)


TIMEOUT_MS = 10_000  # for waits on the engine thread


@pytest.fixture
def config_dir(tmp_path, monkeypatch):
    d = tmp_path / "config"
    monkeypatch.setenv("SHURU_CONFIG_DIR", str(d))
    return d


@pytest.fixture
def make_window(qtbot, tmp_path, config_dir):
    """Open windows (closed at the end); the engine's history and settings are in tmp_path."""
    from engine import EngineOptions
    from frontend.config import Settings, SettingsStore
    from ime_app.window import MainWindow

    windows = []

    def make(settings: Settings | None = None, **options) -> MainWindow:
        store = SettingsStore(config_dir)
        if settings is not None:
            store.save(settings)
        options.setdefault("history_path", tmp_path / "history.json")
        options.setdefault("use_neural", False)  # deterministic rankings, whatever model is shipped
        w = MainWindow(EngineOptions(**options), store)
        qtbot.addWidget(w, before_close_func=lambda w: w.editor.document().setModified(False))
        windows.append(w)
        w.show()
        return w

    yield make
    for w in windows:
        close(w)


def learned_word_count(history) -> int:
    """How many words a UserHistory has learned."""
    return history.word_count


def reloaded_word_count(history_path: Path) -> int:
    """Words learned into ``history_path``, as a freshly loaded engine sees them."""
    from engine import Engine, EngineOptions

    return learned_word_count(Engine.load(EngineOptions(use_neural=False, history_path=history_path)).history)


def close(w) -> None:
    """Close a window without the unsaved-changes question."""
    w.editor.document().setModified(False)
    w.close()


@pytest.fixture(scope="session")
def engine(tmp_path_factory):
    """The shipped lexicon + n-gram (no neural model, no learning): deterministic answers."""
    from engine import Engine, EngineOptions

    return Engine.load(EngineOptions(use_neural=False, learning=False,
                                     history_path=tmp_path_factory.mktemp("hist") / "history.json"))


@pytest.fixture
def learning_engine(tmp_path):
    """An engine that learns into a temporary history file."""
    from engine import Engine, EngineOptions

    return Engine.load(EngineOptions(use_neural=False, learning=True, history_path=tmp_path / "history.json"))


@pytest.fixture
def assets_copy(tmp_path) -> Path:
    """A private copy of assets/ (symlinks) that a test may break."""
    src = Path(__file__).resolve().parents[1] / "assets"
    dst = tmp_path / "assets"
    dst.mkdir()
    for name in ("lexicon.npz", "ngram.npz"):
        (dst / name).symlink_to(src / name)
    return dst
