"""./dev.sh package: the frozen app and trainer in .debs that install, start, convert and train.

Builds the packages (PyInstaller onedir: the app about a minute, the trainer a few), checks their
size budgets, installs them with dpkg (as root, as CI runs; otherwise they are unpacked with
``dpkg -x``, the same files), runs the installed ``shuru --smoke`` with an empty environment under
Xvfb, types `nihao` Space into it as real X key events and saves, types `nihao` Space into a GTK
entry through the installed IBus engine (ibus-daemon started from the installed component),
fine-tunes a personal model with the installed trainer that the installed app then loads, and
removes them again. The user tarball is installed, run and removed too. ``SHURU_PACKAGE_REPORT=FILE``
tests the packages of an earlier build instead (FILE: the JSON line build_linux.py printed).
"""
import json
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEB_BUDGET_MB, INSTALLED_BUDGET_MB, TRAINER_DEB_BUDGET_MB = 150, 350, 350
APP_ID = "io.github.shuru.Shuru"
AS_ROOT = os.geteuid() == 0 and shutil.which("dpkg") is not None
SYSTEM_COMPONENT = Path("/usr/share/ibus/component/shuru.xml")
IBUS_REGISTRY = Path("/var/cache/ibus/bus/registry")  # what `ibus write-cache --system` writes
GTK_ENTRY = ROOT / "tests/ibus_clients/gtk_entry.py"
FCITX5_ADDON = "usr/lib/x86_64-linux-gnu/fcitx5/shuru.so"
FCITX5_CONFS = ("usr/share/fcitx5/addon/shuru.conf", "usr/share/fcitx5/inputmethod/shuru.conf")


def fcitx5_lists_shuru(home: Path, display: str) -> tuple[bool, str]:
    """Whether a private fcitx5 (the system's addons only) lists Shuru; and its log."""
    from tools.private_fcitx5 import PrivateFcitx5

    fcitx = PrivateFcitx5(None, home, display)
    try:
        fcitx.start()
        return "shuru" in fcitx.call("AvailableInputMethods"), fcitx.log()
    finally:
        fcitx.stop()


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    if os.environ.get("SHURU_PACKAGE_REPORT"):
        return json.loads(Path(os.environ["SHURU_PACKAGE_REPORT"]).read_text())
    out = tmp_path_factory.mktemp("dist")
    run = subprocess.run([sys.executable, str(ROOT / "packaging/build_linux.py"), "--allow-dirty", "--out", str(out),
                          "--work", str(tmp_path_factory.mktemp("work"))], capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def installed(package, tmp_path_factory):
    """Both packages installed (dpkg -i), or unpacked (dpkg -x) when not root: the paths to run."""
    if AS_ROOT:
        for deb in (package["deb"], package["trainer_deb"]):
            subprocess.run(["dpkg", "-i", deb], check=True, capture_output=True)
        paths = {"root": Path("/"), "app": "/usr/bin/shuru", "trainer": "/usr/bin/shuru-trainer"}
    else:
        root = tmp_path_factory.mktemp("root")
        for deb in (package["deb"], package["trainer_deb"]):
            subprocess.run(["dpkg-deb", "-x", deb, str(root)], check=True)
        paths = {"root": root, "app": str(root / "opt/shuru/shuru"), "trainer": str(root / "opt/shuru-trainer/shuru-trainer")}
    yield paths
    if AS_ROOT:
        subprocess.run(["dpkg", "-r", "shuru", "shuru-trainer"], capture_output=True)


@pytest.fixture
def xvfb():
    from tools.xvfb import Xvfb

    server = Xvfb()
    yield server
    server.stop()


def test_a_dirty_tree_is_refused_with_the_version_it_would_stamp(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "packaging"))
    import build_linux

    monkeypatch.setattr(build_linux, "dirty", lambda: True)
    assert build_linux.main(["--out", str(tmp_path)]) == 2
    assert not list(tmp_path.iterdir())


def test_the_packages_fit_their_budgets(package):
    assert package["version"] == __import__("tomllib").loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert package["deb_mb"] <= DEB_BUDGET_MB and package["installed_mb"] <= INSTALLED_BUDGET_MB
    assert package["trainer_deb_mb"] <= TRAINER_DEB_BUDGET_MB


def test_the_packages_hold_what_they_install(package):
    contents = subprocess.run(["dpkg-deb", "--contents", package["deb"]], capture_output=True, text=True,
                              check=True).stdout
    for path in ("./opt/shuru/shuru", "./opt/shuru/ibus-engine-shuru", "./usr/bin/shuru",
                 f"./usr/share/applications/{APP_ID}.desktop", f"./usr/share/metainfo/{APP_ID}.metainfo.xml",
                 f"./usr/share/icons/hicolor/scalable/apps/{APP_ID}.svg",
                 f"./usr/share/icons/hicolor/256x256/apps/{APP_ID}.png", "./usr/share/ibus/component/shuru.xml",
                 "./opt/shuru/shuru-fcitx5-server", f"./{FCITX5_ADDON}", f"./{FCITX5_CONFS[0]}", f"./{FCITX5_CONFS[1]}"):
        assert path in contents, path
    assert "torch" not in contents and "weights.pt" not in contents  # both belong to the trainer
    assert "opencc/clib/bin" not in contents and "libopencc.a" not in contents  # OpenCC's tools: none
    control = subprocess.run(["dpkg-deb", "--ctrl-tarfile", package["deb"]], capture_output=True, check=True).stdout
    assert b"postinst" in control and b"postrm" in control
    trainer = subprocess.run(["dpkg-deb", "--contents", package["trainer_deb"]], capture_output=True, text=True,
                             check=True).stdout
    for path in ("./opt/shuru-trainer/shuru-trainer", "./usr/bin/shuru-trainer",
                 "./opt/shuru-trainer/_internal/engine/assets/model/weights.pt",
                 "./opt/shuru-trainer/_internal/engine/assets/pinyin-model/weights.pt",
                 "./opt/shuru-trainer/_internal/engine/assets/pinyin-model/decoder.onnx",
                 "./opt/shuru-trainer/_internal/engine/assets/lexicon.npz"):
        assert path in trainer, path
    assert "PySide6" not in trainer and "torch/include" not in trainer


def test_the_installed_app_starts_on_x_and_converts(installed, tmp_path):
    app = installed["app"]
    assert not [p for p in (installed["root"] / "opt/shuru").rglob("*torch*")], "torch is the trainer's"
    display = ":%d" % (80 + os.getpid() % 100)
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        env = {"DISPLAY": display, "HOME": str(tmp_path / "home")}  # nothing else: no Python, no venv
        run = subprocess.run([app, "--smoke"], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert run.returncode == 0, run.stderr[-3000:]
        report = json.loads(run.stdout.strip().splitlines()[-1])
        assert report["ok"] and report["first"] == "你好" and report["engine"].startswith("neural (base)")
        assert type_into_the_installed_app(app, env, display, tmp_path) == "你好"
        assert not list((tmp_path / "home").rglob("*Microsoft*")), "onnxruntime's telemetry is off"
    finally:
        xvfb.terminate()
        xvfb.wait()


def type_into_the_installed_app(app: str, env: dict, display: str, tmp_path: Path) -> str:
    """Open a file in the app, type `nihao` Space as real X key events (xdotool), save with Ctrl+S; the file's text."""
    doc = tmp_path / "doc.txt"
    doc.write_text("", encoding="utf-8")
    proc = subprocess.Popen([app, str(doc)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    x = {"DISPLAY": display, "PATH": os.environ["PATH"]}
    try:
        wid = subprocess.run(["xdotool", "search", "--sync", "--onlyvisible", "--name", "Shuru"], env=x,
                             capture_output=True, text=True, timeout=30).stdout.split()[0]
        time.sleep(2.0)  # the engine loads on its worker thread meanwhile (0.4 s here); keys typed earlier wait for it
        subprocess.run(["xdotool", "windowfocus", "--sync", wid], env=x, check=True, timeout=10)
        subprocess.run(["xdotool", "type", "--delay", "80", "nihao"], env=x, check=True, timeout=10)
        subprocess.run(["xdotool", "key", "--delay", "300", "space", "ctrl+s"], env=x, check=True, timeout=10)
        deadline = time.time() + 15
        while time.time() < deadline and not doc.read_text(encoding="utf-8"):
            time.sleep(0.2)
        return doc.read_text(encoding="utf-8")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_ibus_component_is_installed_and_registered(installed):
    component = installed["root"] / "usr/share/ibus/component/shuru.xml"
    root = ET.parse(component).getroot()
    exec_argv = root.findtext("exec").split()
    assert exec_argv == ["/opt/shuru/ibus-engine-shuru", "--ibus"]
    assert (installed["root"] / exec_argv[0].lstrip("/")).is_file()
    setup = root.findtext("engines/engine/setup").split()
    assert setup == ["/opt/shuru/shuru", "--settings"] and (installed["root"] / setup[0].lstrip("/")).is_file()
    assert (installed["root"] / root.findtext("engines/engine/icon").lstrip("/")).is_file()
    if AS_ROOT and shutil.which("ibus"):  # the postinst rebuilt IBus's system cache with it
        assert b"org.freedesktop.IBus.Shuru" in IBUS_REGISTRY.read_bytes()


def test_the_installed_ibus_engine_types_into_a_gtk_entry(installed, xvfb, tmp_path):
    """ibus-daemon starts the installed engine from the installed component, with an empty environment."""
    from shuru_ibus.private_bus import PrivateIBus
    from tests.ibus_harness import ClientApp

    home = tmp_path / "home"
    if AS_ROOT:
        components = SYSTEM_COMPONENT.parent
    else:  # the unpacked engine writes a component that runs itself
        components = tmp_path / "component"
        subprocess.run([str(installed["root"] / "opt/shuru/ibus-engine-shuru"), "--write-component", str(components)],
                       env={"HOME": str(home)}, check=True, capture_output=True, timeout=60)
    base_env = {"PATH": "/usr/bin:/bin", "HOME": str(home)}  # no Python, no venv
    bus = PrivateIBus(components, home, display=xvfb.display, base_env=base_env)
    try:
        bus.start()
        bus.set_engine("shuru")
        gtk = ClientApp(GTK_ENTRY, bus.env, sys.executable)  # a GTK 3 application that is not Shuru
        try:
            assert gtk.wait_ready(), gtk.errors()
            xvfb.xdotool(*"nihao", "space")
            assert gtk.wait_for("你好", "", timeout_s=30) == {"text": "你好", "preedit": ""}, bus.daemon_log()[-2000:]
            (engine,) = [pid for pid in bus.processes()  # not the merge of libime's model, where installed
                         if b"ibus-engine-shuru" in (argv := Path(f"/proc/{pid}/cmdline").read_bytes())
                         and b"--engine-libime-merge" not in argv]
            assert "libQt6" not in Path(f"/proc/{engine}/maps").read_text(), "the IBus engine loaded Qt"
        finally:
            gtk.close()
    finally:
        bus.stop()
        bus.kill_leftovers()
    log = (Path(bus.env["XDG_CACHE_HOME"]) / "shuru/ibus-engine.log").read_text(encoding="utf-8")
    assert "engine loaded" in log and ": neural (base) + n-gram" in log
    assert not list(home.rglob("*Microsoft*")), "onnxruntime's telemetry is off"


@pytest.mark.parametrize("executable", ["shuru", "ibus-engine-shuru"])
def test_the_installed_executables_merge_a_libime_model(installed, tmp_path, executable):
    """The engine's background merge of libime's model runs in the frozen executables (here on the
    tiny KenLM fixture), and the installed engine loads what it made."""
    exe = installed["root"] / "opt/shuru" / executable
    (assets,) = (installed["root"] / "opt/shuru").rglob("engine/assets")
    lm = Path(__file__).parents[1] / "fixtures" / "kenlm" / "tiny.quant_array_trie.bin"
    out = tmp_path / "cache" / "ngram-libime.npz"
    run = subprocess.run([str(exe), "--engine-libime-merge", "--lm", str(lm), "--assets", str(assets), "--out",
                          str(out)], env={"HOME": str(tmp_path)}, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and out.is_file(), run.stderr[-3000:]
    from engine.core.libime import load_merged
    from engine.core.lexicon import Lexicon
    from engine.core.ngram import NgramModel

    lex = Lexicon.load(assets / "lexicon.npz")
    merged = load_merged(out, lex, NgramModel.load(assets / "ngram.npz", lex.token_hash()).meta, lm)
    assert merged is not None and merged.meta["merged"]["licence"] == "LGPL-2.1+"


def test_the_installed_trainer_fine_tunes_a_model_the_installed_app_loads(installed, tmp_path):
    trainer, home = installed["trainer"], tmp_path / "home"
    env = {"HOME": str(home)}  # nothing else: the trainer carries its Python and torch
    run = subprocess.run([trainer, "finetune", "--help"], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "--text" in run.stdout, run.stderr[-3000:]
    text = tmp_path / "mine.txt"
    text.write_text("\n".join(["我们明天去公园散步，然后一起吃午饭。"] * 60), encoding="utf-8")
    fast = ["--max_steps=3", "--batch_size=4", "--seq_len=32", "--eval_windows=4", "--warmup_steps=1", "--eval_every=3"]
    run = subprocess.run([trainer, "finetune", "--text", str(text), "--report-clauses", "2", *fast], env=env,
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    personal = Path(result["out"])  # a new model of the user's registry, put in use
    assert result["status"] == "ok" and personal.parent == home / ".local/share/shuru/models"
    assert (personal / "model.onnx").is_file() and result["active"] is True and "report" in result
    run = subprocess.run([installed["app"], "--smoke"], env={**env, "QT_QPA_PLATFORM": "offscreen"},
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["first"] == "你好" and report["model"] == personal.name, report
    assert not list(home.rglob("*Microsoft*")), "onnxruntime's telemetry is off"
    if AS_ROOT:  # Tools → Personalise… in the installed app runs the installed trainer
        assert report["trainer"] == ["/opt/shuru-trainer/shuru-trainer"]


@pytest.mark.skipif(not AS_ROOT or shutil.which("fcitx5") is None, reason="needs root (dpkg -i) and fcitx5")
def test_the_installed_fcitx5_addon_types_into_a_gtk_entry(installed, xvfb, tmp_path):
    """fcitx5 loads the installed addon, which starts the installed (frozen) engine process."""
    from tests.ibus_harness import ClientApp
    from tools.private_fcitx5 import PrivateFcitx5

    fcitx = PrivateFcitx5(None, tmp_path / "home", xvfb.display, base_env={"PATH": "/usr/bin:/bin"})
    try:
        fcitx.start()
        assert "shuru" in fcitx.call("AvailableInputMethods")
        gtk = ClientApp(GTK_ENTRY, fcitx.env, sys.executable)
        try:
            assert gtk.wait_ready(), gtk.errors()
            deadline = time.monotonic() + 60
            while "connected to the Shuru engine" not in fcitx.log() and time.monotonic() < deadline:
                time.sleep(0.2)
            xvfb.xdotool(*"nihao", "space")
            assert gtk.wait_for("你好", "", timeout_s=30) == {"text": "你好", "preedit": ""}, fcitx.log()[-2000:]
            (server,) = fcitx.engine_processes()
            assert Path(f"/proc/{server}/exe").resolve() == Path("/opt/shuru/shuru-fcitx5-server")
            assert "libQt6" not in Path(f"/proc/{server}/maps").read_text(), "the engine process loaded Qt"
        finally:
            gtk.close()
    finally:
        fcitx.stop()


@pytest.mark.skipif(not AS_ROOT, reason="dpkg -r needs root")
def test_the_packages_remove_cleanly(installed, xvfb, tmp_path):
    subprocess.run(["dpkg", "-r", "shuru", "shuru-trainer"], check=True, capture_output=True)
    for path in ("/opt/shuru", "/opt/shuru-trainer", "/usr/bin/shuru", "/usr/bin/shuru-trainer", SYSTEM_COMPONENT,
                 "/" + FCITX5_ADDON, *("/" + conf for conf in FCITX5_CONFS)):
        assert not Path(path).exists(), path
    if shutil.which("ibus"):  # the postrm rebuilt IBus's system cache without it
        assert b"org.freedesktop.IBus.Shuru" not in IBUS_REGISTRY.read_bytes()
    if shutil.which("fcitx5"):
        listed, log = fcitx5_lists_shuru(tmp_path / "home", xvfb.display)
        assert not listed, log[-2000:]


def test_the_user_install_needs_no_root_and_keeps_data_unless_purged(package, tmp_path):
    subprocess.run(["tar", "-C", str(tmp_path), "-xf", package["tarball"]], check=True)
    (unpacked,) = tmp_path.glob("shuru-*-linux-x86_64")
    home = tmp_path / "home"
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
    subprocess.run(["sh", str(unpacked / "install.sh")], env=env, check=True, capture_output=True)
    local = home / ".local"
    desktop = (local / "share/applications/io.github.shuru.Shuru.desktop").read_text()
    assert f"Exec={local}/bin/shuru" in desktop
    assert (local / "share/icons/hicolor/scalable/apps/io.github.shuru.Shuru.svg").exists()
    component = ET.parse(local / "share/ibus/component/shuru.xml").getroot()
    assert component.findtext("exec") == f"{local}/opt/shuru/ibus-engine-shuru --ibus"
    session_env = home / ".config/environment.d/60-shuru-ibus.conf"
    assert session_env.read_text().strip() == f"IBUS_COMPONENT_PATH={local}/share/ibus/component:/usr/share/ibus/component"
    fcitx5_addon = local / "share/fcitx5/addon/shuru.conf"
    assert f"Library={local}/opt/shuru/shuru\n" in fcitx5_addon.read_text()
    assert (local / "opt/shuru/shuru.so").is_file() and (local / "opt/shuru/shuru-fcitx5-server").is_file()
    assert (local / "share/fcitx5/inputmethod/shuru.conf").is_file()
    run = subprocess.run([str(local / "bin/shuru"), "--smoke"], env={"HOME": str(home), "QT_QPA_PLATFORM": "offscreen"},
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(run.stdout.strip().splitlines()[-1])["first"] == "你好"
    data = home / ".local/share/shuru"
    data.mkdir(parents=True, exist_ok=True)
    (data / "user.db").write_bytes(b"learned words")  # what a user has learned
    subprocess.run(["sh", str(local / "opt/shuru/uninstall.sh")], env=env, check=True, capture_output=True)
    assert not (local / "opt/shuru").exists() and not (local / "bin/shuru").exists()
    assert not (local / "share/ibus/component/shuru.xml").exists() and not session_env.exists()
    assert not fcitx5_addon.exists() and not (local / "share/fcitx5/inputmethod/shuru.conf").exists()
    assert (data / "user.db").read_bytes() == b"learned words"
    subprocess.run(["sh", str(unpacked / "install.sh")], env=env, check=True, capture_output=True)
    subprocess.run(["sh", str(local / "opt/shuru/uninstall.sh"), "--purge"], env=env, check=True, capture_output=True)
    assert not data.exists()
