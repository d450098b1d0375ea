"""dev.sh's set-up detection, with fake system tools: what is installed is never reported missing.

The fakes (``fc-list``, ``ldconfig``, ``Xvfb``, ``xdotool``, the IBus tools, ``pkg-config``,
``apt-get`` and the venv's ``python``) sit alone on PATH, next to links to the few real tools
dev.sh runs, and system library files (typelibs, GTK modules) sit under a fake root
(``SHURU_SYSROOT``), so the test does not depend on what this machine has installed. dev.sh
runs under ``set -euo pipefail``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEV_SH = REPO / "dev.sh"
LIBS = ("libxkbcommon-x11.so.0 libxcb-cursor.so.0 libEGL.so.1 libxcb-icccm.so.4 libxcb-keysyms.so.1 "
        "libxcb-image.so.0 libxcb-render-util.so.0 libxcb-shape.so.0 libxcb-randr.so.0 libxcb-xkb.so.1").split()
CJK_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc: Noto Sans CJK SC:style=Regular"
REAL_TOOLS = ("dirname", "id", "cat", "mkdir", "touch")
IBUS_TOOLS = ("ibus-daemon", "ibus", "dbus-run-session", "pkg-config", "cc")
DESKTOP_TOOLS = ("desktop-file-validate", "appstreamcli")
NETWORK_TOOLS = ("ip", "strace")  # the no-network test: a namespace of its own, or strace
FCITX5_TOOLS = ("fcitx5", "cmake", "g++", "dbus-daemon", "gdbus")
SYSTEM_FILES = ("girepository-1.0/IBus-1.0.typelib", "girepository-1.0/Gtk-3.0.typelib",
                "gtk-3.0/3.0.0/immodules/im-ibus.so", "libime/zh_CN.lm", "gtk-3.0/3.0.0/immodules/im-fcitx5.so",
                "cmake/Fcitx5Core/Fcitx5CoreConfig.cmake")
ROOT_FILES = ("usr/include/nlohmann/json.hpp",)  # outside the library folders
FILLER_LINES = 50_000  # several MB: far more than a pipe holds once grep -q has stopped reading


def font_list(fonts: list[str], filler: int) -> str:
    """fc-list output: the given fonts first, then ``filler`` other lines."""
    return "\n".join(fonts + [f"/usr/share/fonts/truetype/dejavu/DejaVuSans-{i}.ttf: DejaVu Sans:style=Book"
                              for i in range(filler)]) + "\n"


def lib_list(libs: list[str], filler: int) -> str:
    """``ldconfig -p`` output: the given libraries first, then ``filler`` others."""
    lines = [f"\t{lib} (libc6,x86-64) => /lib/x86_64-linux-gnu/{lib}" for lib in libs]
    lines += [f"\tlibfiller{i}.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libfiller{i}.so.1" for i in range(filler)]
    return f"{len(lines)} libs found in cache `/etc/ld.so.cache'\n" + "\n".join(lines) + "\n"


class FakeSystem:
    """A bin folder of fake tools; each records its calls in ``calls.log``."""

    def __init__(self, root: Path):
        self.root, self.bin, self.sysroot = root, root / "bin", root / "sysroot"
        self.bin.mkdir(parents=True)
        self.calls = root / "calls.log"
        for tool in REAL_TOOLS:
            (self.bin / tool).symlink_to(shutil.which(tool))

    def tool(self, name: str, output: str = "", folder: Path | None = None) -> None:
        """A fake ``name`` that records its arguments and prints ``output``."""
        data = self.root / f"{name}.out"
        data.write_text(output)
        path = (folder or self.bin) / name
        path.write_text(f'#!/bin/bash\necho "{name} $*" >> "{self.calls}"\ncat "{data}"\n')
        path.chmod(0o755)

    def run(self, *args: str, venv: Path | None = None) -> subprocess.CompletedProcess:
        env = {"PATH": str(self.bin), "HOME": str(self.root), "SHURU_VENV": str(venv or self.root / "no-venv"),
               "SHURU_SYSROOT": str(self.sysroot)}
        return subprocess.run(["/bin/bash", str(DEV_SH), *args], env=env, capture_output=True, text=True, timeout=60)

    def system_file(self, relative: str) -> None:
        """A file of a system package, in the multiarch library folder."""
        path = self.sysroot / "usr/lib/x86_64-linux-gnu" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()

    def recorded(self) -> list[str]:
        return self.calls.read_text().splitlines() if self.calls.exists() else []


@pytest.fixture
def system(tmp_path):
    return FakeSystem(tmp_path / "system")


def install(system: FakeSystem, fonts=(CJK_FONT,), libs=LIBS,
            tools=("Xvfb", "xdotool") + IBUS_TOOLS + DESKTOP_TOOLS + NETWORK_TOOLS + FCITX5_TOOLS,
            files=SYSTEM_FILES, root_files=ROOT_FILES, filler=FILLER_LINES):
    system.tool("fc-list", font_list(list(fonts), filler))
    system.tool("ldconfig", lib_list(list(libs), filler))
    for name in tools:
        system.tool(name)
    for relative in files:
        system.system_file(relative)
    for relative in root_files:
        (system.sysroot / relative).parent.mkdir(parents=True, exist_ok=True)
        (system.sysroot / relative).touch()
    system.tool("apt-get")


@pytest.mark.parametrize("filler", [0, 10, FILLER_LINES])
@pytest.mark.parametrize("mode", ["", "test", "screenshot", "ibus", "fcitx5"])
def test_nothing_is_missing_when_everything_is_installed(system, filler, mode):
    install(system, filler=filler)
    run = system.run("missing-system-packages", *([mode] if mode else []))
    assert run.returncode == 0, run.stderr
    assert run.stdout == ""


@pytest.mark.parametrize("change,mode,want", [
    (dict(fonts=["/usr/share/fonts/DejaVuSans.ttf: DejaVu Sans:style=Book"]), "", ["fonts-noto-cjk"]),
    (dict(fonts=["/usr/share/fonts/wqy-microhei.ttc: WenQuanYi Micro Hei:style=Regular"]), "", []),
    (dict(libs=[lib for lib in LIBS if lib != "libxcb-cursor.so.0"]), "", ["libxcb-cursor0"]),
    (dict(libs=[]), "", ["libxkbcommon-x11-0", "libxcb-cursor0", "libegl1", "libxcb-icccm4", "libxcb-keysyms1",
                         "libxcb-image0", "libxcb-render-util0", "libxcb-shape0", "libxcb-randr0", "libxcb-xkb1"]),
    (dict(tools=()), "", []),  # the window itself needs no X server of its own
    (dict(tools=IBUS_TOOLS + DESKTOP_TOOLS + NETWORK_TOOLS + FCITX5_TOOLS), "test", ["xvfb", "xdotool"]),
    (dict(tools=("Xvfb", "xdotool") + IBUS_TOOLS + NETWORK_TOOLS + FCITX5_TOOLS), "test",
     ["desktop-file-utils", "appstream"]),
    (dict(tools=("Xvfb", "xdotool") + IBUS_TOOLS + DESKTOP_TOOLS + FCITX5_TOOLS), "test", ["iproute2", "strace"]),
    # fcitx5, its GTK module and the addon's build; the test adds a private D-Bus session's tools
    (dict(tools=("Xvfb", "xdotool") + IBUS_TOOLS + DESKTOP_TOOLS + NETWORK_TOOLS, files=SYSTEM_FILES[:4], root_files=()),
     "test", ["fcitx5", "fcitx5-frontend-gtk3", "cmake", "g++", "libfcitx5core-dev", "nlohmann-json3-dev", "dbus",
              "libglib2.0-bin"]),
    (dict(tools=(), files=(), root_files=()), "fcitx5",
     ["fcitx5", "fcitx5-frontend-gtk3", "cmake", "g++", "libfcitx5core-dev", "nlohmann-json3-dev"]),
    (dict(tools=("Xvfb",)), "screenshot", ["xdotool"]),
    # a clean machine: IBus, its typelib and GTK module, GTK's typelib and D-Bus for the test client,
    # and what PyGObject builds with (the venv has none yet)
    (dict(tools=("Xvfb", "xdotool") + DESKTOP_TOOLS + NETWORK_TOOLS + FCITX5_TOOLS, files=SYSTEM_FILES[4:]), "test",
     ["ibus", "gir1.2-ibus-1.0", "ibus-gtk3", "gir1.2-gtk-3.0", "dbus", "libgirepository1.0-dev", "libcairo2-dev",
      "pkg-config", "gcc"]),
    (dict(tools=(), files=()), "ibus",
     ["ibus", "gir1.2-ibus-1.0", "ibus-gtk3", "libgirepository1.0-dev", "libcairo2-dev", "pkg-config", "gcc",
      "libime-data-language-model"]),
    (dict(files=SYSTEM_FILES[:3]), "", ["libime-data-language-model"]),  # typing merges libime's model
    (dict(files=SYSTEM_FILES[:3] + SYSTEM_FILES[4:]), "test", []),  # the tests bring their own
    (dict(files=SYSTEM_FILES[:1] + SYSTEM_FILES[2:]), "test", ["gir1.2-gtk-3.0"]),
    (dict(files=SYSTEM_FILES[1:]), "ibus", ["gir1.2-ibus-1.0"]),
])
def test_what_is_missing_is_reported(system, change, mode, want):
    install(system, **change)
    run = system.run("missing-system-packages", *([mode] if mode else []))
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == want


def _stamped_venv(system, *stamps):
    """A venv whose python is a fake, with set-up stamps newer than pyproject.toml."""
    venv = system.root / "venv"
    (venv / "bin").mkdir(parents=True)
    system.tool("python", folder=venv / "bin")
    for name in stamps:
        (venv / name).touch()
        os.utime(venv / name, (os.stat(REPO / "pyproject.toml").st_mtime + 60,) * 2)
    return venv


def test_a_second_launch_does_no_set_up_work(system):
    """Set up already (a venv stamped after pyproject.toml), everything installed: the app just starts."""
    install(system)
    run = system.run("app", "--help", venv=_stamped_venv(system, ".shuru-setup"))
    assert run.returncode == 0, run.stderr
    assert "installing" not in run.stdout and run.stderr == ""
    calls = [c for c in system.recorded() if not c.startswith(("fc-list", "ldconfig"))]
    assert calls == ["python -m ime_app --help"]  # no pip, no apt-get


def test_the_app_set_up_leaves_out_what_only_the_tests_use(system):
    install(system)
    run = system.run("app", "--help", venv=_stamped_venv(system))  # a venv never set up
    assert run.returncode == 0, run.stderr
    pips = [c for c in system.recorded() if c.startswith("python -m pip install")]
    assert pips[-1] == "python -m pip install -q -e .[trainer]"


def test_the_tests_set_up_adds_their_extras_once(system):
    install(system)
    run = system.run("test", "--co", venv=_stamped_venv(system, ".shuru-setup"))  # the app's set-up is done
    assert run.returncode == 0, run.stderr
    pips = [c for c in system.recorded() if c.startswith("python -m pip install")]
    assert "python -m pip install -q -e .[trainer,test]" in pips


def test_after_the_tests_set_up_the_app_needs_none(system):
    install(system)
    run = system.run("app", "--help", venv=_stamped_venv(system, ".shuru-setup-test"))
    assert run.returncode == 0, run.stderr
    assert not [c for c in system.recorded() if "pip" in c]


def test_a_missing_pkg_config_module_is_its_dev_package(system):
    install(system)
    (system.bin / "pkg-config").write_text('#!/bin/bash\n[ "$2" = cairo ]\n')  # only cairo is there
    run = system.run("missing-system-packages", "ibus")
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["libgirepository1.0-dev"]


def test_a_venv_with_pygobject_needs_no_build_packages(system):
    install(system, tools=("ibus-daemon", "ibus"))
    venv = _stamped_venv(system)  # its python exits 0: `python -c "import gi"` works
    run = system.run("missing-system-packages", "ibus", venv=venv)
    assert run.returncode == 0, run.stderr
    assert run.stdout == ""


def test_ibus_registers_the_component_for_the_user(system):
    """./dev.sh ibus: this checkout's component in the user's data folder, the path in environment.d, IBus restarted."""
    install(system)
    run = system.run("ibus", "--no-neural", venv=_stamped_venv(system, ".shuru-setup"))
    assert run.returncode == 0, run.stderr
    component_dir = system.root / ".local/share/ibus/component"
    calls = [c for c in system.recorded() if not c.startswith(("fc-list", "ldconfig", "pkg-config"))]
    assert calls == ["python -c import gi"] * 2 + [f"python -m shuru_ibus --write-component {component_dir} --no-neural",
                                                 "ibus write-cache", "ibus-daemon --daemonize --xim --replace"]
    env_file = system.root / ".config/environment.d/60-shuru-ibus.conf"
    assert env_file.read_text() == f"IBUS_COMPONENT_PATH={component_dir}:/usr/share/ibus/component\n"


def test_ibus_registers_nothing_when_the_engine_cannot_start(system):
    """The venv's Python cannot run the engine (no PyGObject): dev.sh stops with the reason, IBus untouched."""
    install(system)
    venv = _stamped_venv(system, ".shuru-setup")
    reason = "Shuru's IBus component was not written: The IBus engine cannot start: no PyGObject (install it)"
    (venv / "bin" / "python").write_text(
        f'#!/bin/bash\necho "python $*" >> "{system.calls}"\n'
        f'case "$*" in *--write-component*) echo "{reason}" >&2; exit 1 ;; esac\n')
    run = system.run("ibus", venv=venv)
    assert run.returncode == 1
    assert reason in run.stderr and "Shuru was not registered with IBus" in run.stderr
    assert "registered" not in run.stdout
    assert not any(c.startswith(("ibus ", "ibus-daemon")) for c in system.recorded())
    assert not (system.root / ".config/environment.d/60-shuru-ibus.conf").exists()
