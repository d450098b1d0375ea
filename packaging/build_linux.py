"""``./dev.sh package``: freeze the app and the trainer with PyInstaller (onedir) and wrap them as Debian packages.

Writes ``dist/shuru_<version>_amd64.deb``: the frozen app under ``/opt/shuru/`` (the window
``shuru`` and the IBus engine ``ibus-engine-shuru``, sharing Python, onnxruntime, numpy, the
engine and the shipped assets; never torch), ``/usr/bin/shuru``, the IBus component
``/usr/share/ibus/component/shuru.xml`` (registered by the postinst), the desktop entry, the
AppStream metainfo and the icon; ``dist/shuru-trainer_<version>_amd64.deb``: the trainer with CPU
torch under ``/opt/shuru-trainer/`` and ``/usr/bin/shuru-trainer`` (what Tools → Personalise…
runs); and ``dist/shuru-<version>-linux-x86_64.tar.xz``, the app's files with ``install.sh`` /
``uninstall.sh`` for a user install into ``~/.local``. Everything comes from this checkout, PyPI
(PyInstaller) and Debian tools (``dpkg-deb``). A dirty tree is refused unless ``--allow-dirty``:
the version stamped is the one in pyproject.toml, and the report says which.
"""
from __future__ import annotations

import argparse
import json
import os
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
# libime's language model: merged into the n-gram on the user's machine (engine.libime), never shipped
RECOMMENDS = ["fonts-noto-cjk", "libime-data-language-model"]
SUGGESTS = ["ibus", "fcitx5"]  # the IBus engine and the fcitx5 addon need theirs; the window neither
ICON_SIZES = (48, 128, 256)
# Pruned from the frozen Qt: its own translations (the window's texts are English), the GTK 3
# platform theme, which alone pulls in GTK, GDK, cairo and pango, the network plugins, the platforms
# other than xcb, wayland and offscreen (the ibus input context plugin stays) and image formats it never reads.
PLUGINS = "PySide6/Qt/plugins/"
PRUNE = ["PySide6/Qt/translations", PLUGINS + "platformthemes/libqgtk3.so", PLUGINS + "tls", PLUGINS + "networkinformation",
         PLUGINS + "egldeviceintegrations"] + [
    PLUGINS + f"platforms/libq{name}.so" for name in ("eglfs", "linuxfb", "minimal", "minimalegl", "vkkhrdisplay", "vnc")
] + [PLUGINS + f"imageformats/libq{name}.so" for name in ("gif", "icns", "ico", "jpeg", "tga", "tiff", "wbmp", "webp")]
PRUNE_GLOBS = ["libgtk-3.so*", "libgdk-3.so*", "PySide6/Qt/lib/libQt6Network.so*", "PySide6/Qt/lib/libQt6EglFs*",
               PLUGINS + "generic"]  # evdev input, for eglfs/linuxfb only
# CPython's own libraries come with their debug info (24 MB); it goes (strip --strip-debug), the
# code stays. Nothing else is stripped: stripping breaks numpy's bundled OpenBLAS.
STRIP_DEBUG_GLOBS = ["libpython3*.so*", "python3*/lib-dynload/*.so"]
# The IBus engine's component (shuru_ibus/component.py renders it) and how it is started.
IBUS_COMPONENT = "usr/share/ibus/component/shuru.xml"
ENGINE_EXEC = ["/opt/shuru/ibus-engine-shuru"]
SETTINGS_EXEC = ["/opt/shuru/shuru", "--settings"]
# The fcitx5 addon (shuru_fcitx5/addon, built here with cmake) and the engine process it starts.
FCITX5_SERVER = "/opt/shuru/shuru-fcitx5-server"
FCITX5_ADDON_DIR = "usr/lib/x86_64-linux-gnu/fcitx5"  # Debian's multiarch fcitx5 addon folder
ICON_PATH = f"/usr/share/icons/hicolor/scalable/apps/{APP_ID}.svg"
# Pruned from the frozen trainer: torch's headers and CMake files (for building extensions) and its C++
# test programs and test libraries; the trainer trains eagerly on the CPU and exports with TorchScript.
TRAINER_PRUNE_GLOBS = ["torch/include", "torch/share", "torch/test", "torch/lib/libjitbackend_test.so",
                       "torch/lib/libtorchbind_test.so", "torch/lib/libaoti_custom_ops.so",
                       "torch/lib/libbackend_with_compiler.so"] + [
    f"torch/bin/{name}" for name in ("test_*", "*Test", "protoc*", "*.pt", "*.ptl", "upgrader_models")]


def version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def dirty() -> bool:
    out = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True)
    return out.returncode != 0 or bool(out.stdout.strip())


def pyinstaller(spec: str, name: str, work: Path) -> Path:
    """PyInstaller onedir of ``packaging/<spec>``; returns its folder."""
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
           "--distpath", str(work / "dist"), "--workpath", str(work / "build" / name)]
    subprocess.run(cmd + [str(ROOT / "packaging" / spec)], check=True)
    return work / "dist" / name


def remove(paths) -> None:
    for path in paths:
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink(missing_ok=True)


def freeze(work: Path) -> Path:
    """PyInstaller onedir of the window and the IBus engine (packaging/shuru.spec), pruned for Linux."""
    out = pyinstaller("shuru.spec", "shuru", work)
    internal = out / "_internal"
    remove(internal / rel for rel in PRUNE)
    remove(path for pattern in PRUNE_GLOBS for path in internal.glob(pattern))
    strip_debug(internal)
    return out


def freeze_trainer(work: Path) -> Path:
    """PyInstaller onedir of the trainer (packaging/trainer.spec), pruned."""
    out = pyinstaller("trainer.spec", "shuru-trainer", work)
    internal = out / "_internal"
    remove(path for pattern in TRAINER_PRUNE_GLOBS for path in internal.glob(pattern))
    strip_debug(internal)
    return out


def strip_debug(internal: Path) -> None:
    files = [str(p) for pattern in STRIP_DEBUG_GLOBS for p in internal.glob(pattern) if not p.is_symlink()]
    if files and shutil.which("strip"):
        subprocess.run(["strip", "--strip-debug", *files], check=True)


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
    render_icons(ROOT / "shuru_ibus/shuru.svg", root)
    write_ibus_component(root / IBUS_COMPONENT)
    install_fcitx5_addon(root)
    control(root, "shuru", ver, DEPENDS, RECOMMENDS, SUGGESTS,
            "pinyin input method with a small neural model that runs locally\n"
            " Shuru converts pinyin into Chinese characters with a lexicon, a word trigram model and a small\n"
            " transformer character model, all on the CPU; keystrokes and text never leave the machine.\n"
            " It comes as its own window, and as an IBus and a fcitx5 input method for every application.")
    for script in ("postinst", "postrm"):  # register the IBus engine with IBus, and unregister it
        shutil.copy(LINUX / "deb" / script, root / "DEBIAN" / script)
        (root / "DEBIAN" / script).chmod(0o755)


def write_ibus_component(path: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from shuru_ibus.component import render_component

    path.parent.mkdir(parents=True)
    path.write_text(render_component(ENGINE_EXEC, setup_argv=SETTINGS_EXEC, icon=Path(ICON_PATH)), encoding="utf-8")


def install_fcitx5_addon(root: Path) -> None:
    """The fcitx5 addon, built against the system's fcitx5, and its .conf files into the tree."""
    build = root.parent / "fcitx5-build"
    configure = ["cmake", "-S", str(ROOT / "shuru_fcitx5/addon"), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
                 "-DCMAKE_INSTALL_PREFIX=/usr", f"-DSHURU_SERVER_COMMAND={FCITX5_SERVER}",
                 f"-DSHURU_ADDON_DIR=/{FCITX5_ADDON_DIR}", "-DSHURU_DATA_DIR=/usr/share/fcitx5"]
    for step in (configure, ["cmake", "--build", str(build)]):
        subprocess.run(step, check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--install", str(build)], check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "DESTDIR": str(root)})
    subprocess.run(["strip", "--strip-unneeded", str(root / FCITX5_ADDON_DIR / "shuru.so")], check=True)


def trainer_deb_tree(frozen: Path, root: Path, ver: str) -> None:
    shutil.copytree(frozen, root / "opt/shuru-trainer", symlinks=True)
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/shuru-trainer").symlink_to("/opt/shuru-trainer/shuru-trainer")
    control(root, "shuru-trainer", ver, [], ["shuru"], [],
            "fine-tunes Shuru's neural model on your own text, on the CPU\n"
            " The trainer behind Shuru's Tools > Personalise: it adapts the character model and the\n"
            " word statistics to text files you choose, locally, into your personal model. It carries its\n"
            " own Python and CPU PyTorch.")


def control(root: Path, package: str, ver: str, depends: list[str], recommends: list[str], suggests: list[str],
            description: str) -> None:
    """DEBIAN/control of the tree under ``root`` (Installed-Size: what it holds)."""
    size_kb = tree_bytes(root) // 1024
    (root / "DEBIAN").mkdir()
    fields = [f"Package: {package}", f"Version: {ver}", "Architecture: amd64",
              "Maintainer: Shuru developers <shuru@localhost>", f"Installed-Size: {size_kb}"]
    fields += [f"Depends: {', '.join(depends)}"] if depends else []
    fields += [f"Recommends: {', '.join(recommends)}"] if recommends else []
    fields += [f"Suggests: {', '.join(suggests)}"] if suggests else []
    fields += ["Section: utils", "Priority: optional", f"Description: {description}"]
    (root / "DEBIAN/control").write_text("\n".join(fields) + "\n", encoding="utf-8")


def build_deb(root: Path, deb: Path) -> None:
    """gzip -6 keeps the build short, and both packages fit their budgets with it."""
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "-z6", "--build", str(root), str(deb)],
                   check=True, stdout=subprocess.DEVNULL)


def user_tarball(frozen: Path, deb_root: Path, out: Path, ver: str, work: Path) -> Path:
    """The user install: the frozen app, the desktop files and icons, install.sh and uninstall.sh."""
    name = f"shuru-{ver}-linux-x86_64"
    folder = work / name
    shutil.copytree(frozen, folder / "shuru", symlinks=True)
    # the fcitx5 addon beside the engine process it starts (install.sh registers it by absolute path)
    shutil.copy(deb_root / FCITX5_ADDON_DIR / "shuru.so", folder / "shuru" / "shuru.so")
    # the system-wide IBus component stays out: install.sh writes the user's own
    shutil.copytree(deb_root / "usr/share", folder / "share", symlinks=True, ignore=shutil.ignore_patterns("ibus"))
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
    ap.add_argument("--no-trainer", action="store_true", help="build the app's packages only")
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
    build_deb(root, deb)
    tarball = user_tarball(frozen, root, args.out, ver, args.work)
    report = {"version": ver, "dirty": dirty(), "deb": str(deb), "deb_mb": mb(deb.stat().st_size),
              "installed_mb": mb(tree_bytes(root / "opt")), "tarball": str(tarball),
              "tarball_mb": mb(tarball.stat().st_size)}
    if not args.no_trainer:
        troot = args.work / f"shuru-trainer_{ver}_amd64"
        trainer_deb_tree(freeze_trainer(args.work), troot, ver)
        tdeb = args.out / f"shuru-trainer_{ver}_amd64.deb"
        build_deb(troot, tdeb)
        report.update(trainer_deb=str(tdeb), trainer_deb_mb=mb(tdeb.stat().st_size),
                      trainer_installed_mb=mb(tree_bytes(troot / "opt")))
    print(json.dumps(report))
    return 0


def mb(n_bytes: int) -> float:
    return round(n_bytes / 1e6, 1)


if __name__ == "__main__":
    sys.exit(main())
