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
