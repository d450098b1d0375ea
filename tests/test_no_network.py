"""Keystrokes and user text never leave the machine: no network socket during typing or fine-tuning.

Each run happens in a fresh process with an audit hook (``sys.addaudithook``) that records
every IP socket connect/bind/sendto and every name lookup; the run fails if there is one.
"""
import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.test_trainer_support import TINY_TEXT, tiny_model_dir  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[1]

AUDIT = '''
import socket, sys
opened = []
def hook(event, args):
    if event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr"):
        opened.append((event, repr(args[:2])))
    elif event in ("socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg"):
        if getattr(args[0], "family", None) in (socket.AF_INET, socket.AF_INET6):
            opened.append((event, repr(args[1:])))
sys.addaudithook(hook)
'''
REPORT = '''
import json
print("AUDIT " + json.dumps(opened))
'''


def audited(body: str, tmp_path: Path) -> list:
    script = tmp_path / "run.py"
    script.write_text(AUDIT + body + REPORT, encoding="utf-8")
    p = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=600,
                       env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"),
                            "XDG_CONFIG_HOME": str(tmp_path / "config"), "PYTHONPATH": str(ROOT)})
    assert p.returncode == 0, p.stderr[-2000:]
    line = next(ln for ln in p.stdout.splitlines() if ln.startswith("AUDIT "))
    return json.loads(line[len("AUDIT "):])


def test_a_typing_session_opens_no_socket(tmp_path):
    opened = audited(f'''
from pathlib import Path
from engine import Engine, EngineOptions
e = Engine.load(EngineOptions(history_path=Path({str(tmp_path / "user.db")!r})))
s = e.new_session()
for letters in ("nihao", "woxianghuijia", "shiyan"):
    s.insert(letters)
    s.view()
    s.commit()
assert e.learned_words(), "the commits were learned"
''', tmp_path)
    assert opened == []


def test_a_fine_tune_opens_no_socket(tiny_model_dir, tmp_path):
    installed = tmp_path / "installed"
    shutil.copytree(tiny_model_dir, installed)
    text = tmp_path / "mine.txt"
    text.write_text(TINY_TEXT.read_text(encoding="utf-8"), encoding="utf-8")
    args = ["finetune", "--text", str(text), "--base", str(installed), "--out", str(tmp_path / "personal"),
            "--max_steps=4", "--batch_size=4", "--seq_len=32", "--eval_windows=4", "--warmup_steps=1",
            "--eval_every=2"]
    opened = audited(f'''
from trainer.__main__ import main
code = main({args!r})
assert code == 0, code
''', tmp_path)
    assert opened == []
    assert (tmp_path / "personal" / "model.onnx").exists() or list((tmp_path / "personal").glob("*.onnx"))


def test_the_audit_sees_a_lookup_and_a_connection(tmp_path):
    """The harness itself: a name lookup and a TCP connection attempt are both recorded."""
    opened = audited('''
import socket
socket.getaddrinfo("localhost", 9)
s = socket.socket()
s.settimeout(0.2)
try:
    s.connect(("127.0.0.1", 9))
except OSError:
    pass
''', tmp_path)
    assert [event for event, _ in opened] == ["socket.getaddrinfo", "socket.connect"]


WINDOW = '''
import os, time
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from pathlib import Path
from PySide6.QtCore import QEventLoop, Qt, QTimer
from PySide6.QtTest import QTest
from engine import EngineOptions
from ime_app.app import create_app, create_window
from ime_app.config import SettingsStore

app = create_app(["shuru"])
w = create_window(EngineOptions(history_path=Path({db!r})), SettingsStore(Path({config!r})))
w.show()

def wait(done, seconds=120):
    deadline = time.time() + seconds
    while not done() and time.time() < deadline:
        loop = QEventLoop()
        QTimer.singleShot(10, loop.quit)
        loop.exec()
    return done()

assert wait(lambda: w.controller.ready), w.engine_status
QTest.keyClicks(w.editor, "nihao")
QTest.keyClick(w.editor, Qt.Key.Key_Space)
assert wait(lambda: w.editor.toPlainText() == "你好"), w.editor.toPlainText()
w.engine.stop()
'''


def test_the_window_typing_opens_no_socket(tmp_path):
    """The real window (offscreen): start, type nihao Space as key events, get 你好."""
    opened = audited(WINDOW.format(db=str(tmp_path / "user.db"), config=str(tmp_path / "config")), tmp_path)
    assert opened == []


def unshare_permitted() -> bool:
    """Whether this machine lets us run a command in a new, empty network namespace."""
    return shutil.which("unshare") is not None and subprocess.run(
        ["unshare", "-n", "true"], capture_output=True).returncode == 0


def no_network(args: list[str], tmp_path: Path, stdin: str = "") -> subprocess.CompletedProcess:
    """Run ``args`` with no network at all (only a down loopback device): ``unshare -n``."""
    return subprocess.run(["unshare", "-n", *args], cwd=ROOT, input=stdin, capture_output=True, text=True,
                          timeout=600, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
                                            "XDG_DATA_HOME": str(tmp_path / "data"), "QT_QPA_PLATFORM": "offscreen",
                                            "XDG_CONFIG_HOME": str(tmp_path / "config")})


def test_converting_fine_tuning_and_the_window_work_without_any_network(tiny_model_dir, tmp_path):
    """In a network namespace of its own (``unshare -n``) the engine CLI converts, a tiny
    fine-tune completes and the window starts and converts (``--smoke``). Where unshare is
    not permitted, the same three runs are checked with the socket audit hook instead."""
    text = tmp_path / "mine.txt"
    text.write_text(TINY_TEXT.read_text(encoding="utf-8"), encoding="utf-8")
    finetune = ["-m", "trainer", "finetune", "--text", str(text), "--base", str(tiny_model_dir), "--out",
                str(tmp_path / "personal"), "--max_steps=4", "--batch_size=4", "--seq_len=32", "--eval_windows=4",
                "--warmup_steps=1", "--eval_every=2"]
    if not unshare_permitted():
        assert audited("from engine.__main__ import main\nimport sys, io\nsys.stdin = io.StringIO('nihao\\n')\n"
                       "assert main(['convert']) == 0\n", tmp_path) == []
        assert audited(f"from trainer.__main__ import main\nassert main({finetune[2:]!r}) == 0\n", tmp_path) == []
        assert audited(WINDOW.format(db=str(tmp_path / "user.db"), config=str(tmp_path / "config")), tmp_path) == []
        return
    convert = no_network([sys.executable, "-m", "engine", "convert"], tmp_path, stdin="nihao\n")
    assert convert.returncode == 0, convert.stderr[-2000:]
    assert json.loads(convert.stdout.splitlines()[-1])["candidates"][0] == "你好"
    tuned = no_network([sys.executable, *finetune], tmp_path)
    assert tuned.returncode == 0, tuned.stderr[-2000:]
    assert (tmp_path / "personal" / "manifest.json").exists()
    smoke = no_network([sys.executable, "-m", "ime_app", "--smoke"], tmp_path)
    assert smoke.returncode == 0, smoke.stderr[-2000:]
    assert json.loads(smoke.stdout.strip().splitlines()[-1])["first"] == "你好"
