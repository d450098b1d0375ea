"""``./dev.sh package``: freeze the app with PyInstaller (onedir) and wrap it as a Debian package.

Writes ``dist/shuru_<version>_amd64.deb``: the frozen app under ``/opt/shuru/`` (Python, Qt,
onnxruntime, numpy, the engine and the shipped assets; never torch), ``/usr/bin/shuru``, the
desktop entry, the AppStream metainfo and the icon; and ``dist/shuru-<version>-linux-x86_64.tar.xz``,
the same files with ``install.sh`` / ``uninstall.sh`` for a user install into ``~/.local``. Everything comes from this checkout, PyPI
(PyInstaller) and Debian tools (``dpkg-deb``). A dirty tree is refused unless ``--allow-dirty``:
the version stamped is the one in pyproject.toml, and the report says which.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINUX = ROOT / "packaging" / "linux"
APP_ID = "io.github.shuru.Shuru"
# The system libraries the frozen Qt loads (PyInstaller leaves out what the build host lacks),
# and the CJK font the window cannot do without (Recommends: a system may already have another).
DEPENDS = ["libxkbcommon-x11-0", "libxcb-cursor0", "libegl1", "libxcb-icccm4", "libxcb-keysyms1", "libxcb-image0",
           "libxcb-render-util0", "libxcb-shape0", "libxcb-randr0", "libxcb-xkb1", "libfontconfig1"]
RECOMMENDS = ["fonts-noto-cjk"]
ICON_SIZES = (48, 128, 256)
# Pruned from the frozen Qt: its own translations (the window's texts are English), the GTK 3
# platform theme, which alone pulls in GTK, GDK, cairo and pango, the network plugins, the platforms
# other than xcb, wayland and offscreen (the ibus input context plugin stays) and image formats it never reads.
PLUGINS = "PySide6/Qt/plugins/"
PRUNE = ["PySide6/Qt/translations", PLUGINS + "platformthemes/libqgtk3.so", PLUGINS + "tls", PLUGINS + "networkinformation",
         PLUGINS + "egldeviceintegrations"] + [
    PLUGINS + f"platforms/libq{name}.so" for name in ("eglfs", "linuxfb", "minimal", "minimalegl", "vkkhrdisplay", "vnc")
] + [PLUGINS + f"imageformats/libq{name}.so" for name in ("gif", "icns", "ico", "jpeg", "tga", "tiff", "wbmp", "webp")]
PRUNE_GLOBS = ["libgtk-3.so*", "libgdk-3.so*", "PySide6/Qt/lib/libQt6Network.so*", "PySide6/Qt/lib/libQt6EglFs*"]


def version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def dirty() -> bool:
    out = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True)
    return out.returncode != 0 or bool(out.stdout.strip())


def freeze(work: Path) -> Path:
    """PyInstaller onedir of the window (packaging/shuru.spec), pruned for Linux; returns the folder."""
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
           "--distpath", str(work / "dist"), "--workpath", str(work / "build")]
    subprocess.run(cmd + [str(ROOT / "packaging" / "shuru.spec")], check=True)
    out = work / "dist" / "shuru"
    internal = out / "_internal"
    for rel in PRUNE:
        path = internal / rel
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    for pattern in PRUNE_GLOBS:
        for path in internal.glob(pattern):
            path.unlink()
    return out


def render_icons(svg: Path, root: Path) -> None:
    """The hicolor icon: the SVG, and PNGs rendered from it by Qt (offscreen)."""
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication([])
    scalable = root / "usr/share/icons/hicolor/scalable/apps"
    scalable.mkdir(parents=True)
    shutil.copy(svg, scalable / f"{APP_ID}.svg")
    renderer = QSvgRenderer(str(svg))
    for size in ICON_SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        renderer.render(painter)
        painter.end()
        folder = root / f"usr/share/icons/hicolor/{size}x{size}/apps"
        folder.mkdir(parents=True)
        image.save(str(folder / f"{APP_ID}.png"))
    del app


def tree_bytes(folder: Path) -> int:
    """Bytes of the regular files under ``folder`` (links not followed: as installed on disk)."""
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def deb_tree(frozen: Path, root: Path, ver: str) -> None:
    shutil.copytree(frozen, root / "opt/shuru", symlinks=True)
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/shuru").symlink_to("/opt/shuru/shuru")
    for sub, name in (("applications", f"{APP_ID}.desktop"), ("metainfo", f"{APP_ID}.metainfo.xml")):
        (root / "usr/share" / sub).mkdir(parents=True, exist_ok=True)
        shutil.copy(LINUX / name, root / "usr/share" / sub / name)
    render_icons(ROOT / "ime_app/ibus/shuru.svg", root)
    size_kb = tree_bytes(root) // 1024
    (root / "DEBIAN").mkdir()
    (root / "DEBIAN/control").write_text(
        f"Package: shuru\nVersion: {ver}\nArchitecture: amd64\nMaintainer: Shuru developers <shuru@localhost>\n"
        f"Installed-Size: {size_kb}\nDepends: {', '.join(DEPENDS)}\nRecommends: {', '.join(RECOMMENDS)}\n"
        "Section: utils\nPriority: optional\n"
        "Description: pinyin input method with a small neural model that runs locally\n"
        " Shuru converts pinyin into Chinese characters with a lexicon, a word trigram model and a small\n"
        " transformer character model, all on the CPU; keystrokes and text never leave the machine.\n",
        encoding="utf-8")


def user_tarball(frozen: Path, deb_root: Path, out: Path, ver: str, work: Path) -> Path:
    """The user install: the frozen app, the desktop files and icons, install.sh and uninstall.sh."""
    name = f"shuru-{ver}-linux-x86_64"
    folder = work / name
    shutil.copytree(frozen, folder / "shuru", symlinks=True)
    shutil.copytree(deb_root / "usr/share", folder / "share", symlinks=True)
    for script in ("install.sh", "uninstall.sh"):
        shutil.copy(LINUX / script, folder / script)
    tarball = out / f"{name}.tar.xz"
    subprocess.run(["tar", "-C", str(work), "-I", "xz -T0 -1", "-cf", str(tarball), name], check=True)
    return tarball


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="./dev.sh package", description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "dist", help="where the package goes")
    ap.add_argument("--work", type=Path, default=ROOT / "build" / "package", help="scratch folder")
    ap.add_argument("--allow-dirty", action="store_true", help="build from a tree with uncommitted changes")
    args = ap.parse_args(argv)
    ver = version()
    if dirty() and not args.allow_dirty:
        print(f"package: refusing to build version {ver} from a tree with uncommitted changes "
              "(commit them, or pass --allow-dirty)", file=sys.stderr)
        return 2
    if shutil.which("dpkg-deb") is None:
        print("package: dpkg-deb is missing (Debian: apt-get install dpkg)", file=sys.stderr)
        return 2
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    frozen = freeze(args.work)
    root = args.work / f"shuru_{ver}_amd64"
    deb_tree(frozen, root, ver)
    args.out.mkdir(parents=True, exist_ok=True)
    deb = args.out / f"shuru_{ver}_amd64.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "-z6", "--build", str(root), str(deb)], check=True,
                   stdout=subprocess.DEVNULL)
    tarball = user_tarball(frozen, root, args.out, ver, args.work)
    installed = tree_bytes(root / "opt")
    print(json.dumps({"version": ver, "dirty": dirty(), "deb": str(deb), "deb_mb": round(deb.stat().st_size / 1e6, 1),
                      "installed_mb": round(installed / 1e6, 1), "tarball": str(tarball),
                      "tarball_mb": round(tarball.stat().st_size / 1e6, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
