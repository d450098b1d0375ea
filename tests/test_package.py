"""./dev.sh package: the frozen app in a .deb that installs, starts on a real X server and converts.

Builds the package (PyInstaller onedir, about a minute), checks its size budget, installs it with
dpkg (as root, as CI runs; otherwise it is unpacked with ``dpkg -x``, the same files), runs the
installed ``shuru --smoke`` with an empty environment under Xvfb, types `nihao` Space into it as
real X key events and saves, and removes it again. The user tarball is installed, run and removed too.
"""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEB_BUDGET_MB, INSTALLED_BUDGET_MB = 150, 352  # 350 + OpenCC (traditional output): 2.3 MB


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    run = subprocess.run([sys.executable, str(ROOT / "packaging/build_linux.py"), "--allow-dirty", "--out", str(out),
                          "--work", str(tmp_path_factory.mktemp("work"))], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_a_dirty_tree_is_refused_with_the_version_it_would_stamp(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "packaging"))
    import build_linux

    monkeypatch.setattr(build_linux, "dirty", lambda: True)
    assert build_linux.main(["--out", str(tmp_path)]) == 2
    assert not list(tmp_path.iterdir())


def test_the_package_fits_its_budget(package):
    assert package["version"] == __import__("tomllib").loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert package["deb_mb"] <= DEB_BUDGET_MB and package["installed_mb"] <= INSTALLED_BUDGET_MB


def test_the_installed_app_starts_on_x_and_converts(package, tmp_path):
    deb = package["deb"]
    contents = subprocess.run(["dpkg-deb", "--contents", deb], capture_output=True, text=True, check=True).stdout
    for path in ("./opt/shuru/shuru", "./usr/bin/shuru", "./usr/share/applications/io.github.shuru.Shuru.desktop",
                 "./usr/share/metainfo/io.github.shuru.Shuru.metainfo.xml",
                 "./usr/share/icons/hicolor/scalable/apps/io.github.shuru.Shuru.svg",
                 "./usr/share/icons/hicolor/256x256/apps/io.github.shuru.Shuru.png"):
        assert path in contents, path
    assert "torch" not in contents
    as_root = os.geteuid() == 0 and shutil.which("dpkg")
    if as_root:
        subprocess.run(["dpkg", "-i", deb], check=True, capture_output=True)
        app = "/usr/bin/shuru"
    else:
        subprocess.run(["dpkg-deb", "-x", deb, str(tmp_path / "root")], check=True)
        app = str(tmp_path / "root/opt/shuru/shuru")
    display = ":%d" % (80 + os.getpid() % 100)
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        env = {"DISPLAY": display, "HOME": str(tmp_path / "home")}  # nothing else: no Python, no venv
        run = subprocess.run([app, "--smoke"], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert run.returncode == 0, run.stderr[-3000:]
        report = json.loads(run.stdout.strip().splitlines()[-1])
        assert report["ok"] and report["first"] == "你好" and "neural" in report["engine"]
        assert type_into_the_installed_app(app, env, display, tmp_path) == "你好"
    finally:
        xvfb.terminate()
        xvfb.wait()
        if as_root:
            subprocess.run(["dpkg", "-r", "shuru"], check=True, capture_output=True)
    if as_root:
        assert not Path("/opt/shuru").exists()


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
    run = subprocess.run([str(local / "bin/shuru"), "--smoke"], env={"HOME": str(home), "QT_QPA_PLATFORM": "offscreen"},
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(run.stdout.strip().splitlines()[-1])["first"] == "你好"
    data = home / ".local/share/shuru"
    data.mkdir(parents=True, exist_ok=True)
    (data / "user.db").write_bytes(b"learned words")  # what a user has learned
    subprocess.run(["sh", str(local / "opt/shuru/uninstall.sh")], env=env, check=True, capture_output=True)
    assert not (local / "opt/shuru").exists() and not (local / "bin/shuru").exists()
    assert (data / "user.db").read_bytes() == b"learned words"
    subprocess.run(["sh", str(unpacked / "install.sh")], env=env, check=True, capture_output=True)
    subprocess.run(["sh", str(local / "opt/shuru/uninstall.sh"), "--purge"], env=env, check=True, capture_output=True)
    assert not data.exists()
