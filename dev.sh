#!/usr/bin/env bash
# Shuru's front door. On a fresh machine:
#   ./dev.sh app     set up (first time) and launch the Shuru window
#   ./dev.sh test    set up (first time) and run the test suite
#   ./dev.sh ibus    set up the IBus engine and register this checkout's for the current user
#   ./dev.sh fcitx5  build the fcitx5 addon and register this checkout's for the current user
#                    (./dev.sh fcitx5 --unregister removes it)
# Other commands: ./dev.sh setup | bench | eval | screenshot | package (dist/shuru_<version>_amd64.deb, shuru-trainer_...deb)
#   ./dev.sh missing-system-packages [test|screenshot|ibus]   what set-up would install (nothing: all there)
set -euo pipefail
cd "$(dirname "$0")"
VENV=${SHURU_VENV:-.venv}
PY=$VENV/bin/python

# What the app and its trainer need; `setup_python test` adds what only the tests use.
# A stamp newer than pyproject.toml says it is done (the tests' set-up serves the app as well).
setup_python() {
  [ -x "$PY" ] || python3 -m venv "$VENV"
  local extras="trainer" stamp="$VENV/.shuru-setup" tests_stamp="$VENV/.shuru-setup-test"
  if [ "${1:-}" = test ]; then
    extras="trainer,test" stamp=$tests_stamp
  elif [ -f "$tests_stamp" ] && [ ! pyproject.toml -nt "$tests_stamp" ]; then
    return 0
  fi
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    "$PY" -m pip install -q --upgrade pip
    # torch is pinned: 2.13.0 is the local CPU wheel; an unpinned torch pulls GB of CUDA.
    "$PY" -m pip install -q "torch==2.13.0"
    "$PY" -m pip install -q -e ".[$extras]"
    touch "$stamp"
  fi
}

# PyGObject for the IBus engine and its tests, built against the system's GObject
# introspection (setup_system ibus|test installs its -dev packages first).
setup_ibus_python() {
  "$PY" -c "import gi" 2>/dev/null && return 0
  "$PY" -m pip install -q -e ".[ibus]" \
    || echo "warning: could not build PyGObject (needs ${GI_BUILD_PACKAGES[*]}); the IBus engine needs it" >&2
}

# System packages the window needs: a CJK font (the app is unusable without one) and
# the X/GL libraries Qt loads; for the IBus engine (and its tests) IBus, its typelib, its
# GTK 3 module and what PyGObject builds with. Installed only when missing, only where apt is usable.
setup_system() {
  local need
  mapfile -t need < <(missing_system_packages "${1:-}")
  [ ${#need[@]} -eq 0 ] && return 0
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "installing system packages: ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
      || echo "warning: could not install ${need[*]}; continuing without them" >&2
  else
    echo "warning: please install ${need[*]} with your package manager" >&2
  fi
}

# The Debian packages setup_system would install, one a line (none: nothing to do).
# fc-list and ldconfig are read whole before matching: under pipefail, `producer | grep -q`
# fails when grep stops reading early and the producer dies of SIGPIPE.
missing_system_packages() {
  local fonts libs lib
  fonts=$(fc-list 2>/dev/null || true)
  libs=$(ldconfig -p 2>/dev/null || true)
  [[ ${fonts,,} =~ cjk|wenquanyi|wqy|droid\ sans\ fallback ]] || echo fonts-noto-cjk
  command -v fc-list >/dev/null || echo fontconfig
  for lib in libxkbcommon-x11.so.0 libxcb-cursor.so.0 libEGL.so.1 libxcb-icccm.so.4 libxcb-keysyms.so.1 \
             libxcb-image.so.0 libxcb-render-util.so.0 libxcb-shape.so.0 libxcb-randr.so.0 libxcb-xkb.so.1; do
    [[ $libs == *"$lib"* ]] || deb_for "$lib"
  done
  # the screenshot (and its test) drive the real app on a virtual X server
  case "${1:-}" in screenshot|test)
    command -v Xvfb >/dev/null || echo xvfb; command -v xdotool >/dev/null || echo xdotool ;;
  esac
  # the tests validate the desktop entry and the AppStream metainfo as distributions do
  if [ "${1:-}" = test ]; then
    command -v desktop-file-validate >/dev/null || echo desktop-file-utils
    command -v appstreamcli >/dev/null || echo appstream
    # the no-network test watches every packet in a namespace of its own (ip), or under strace
    command -v ip >/dev/null || echo iproute2
    command -v strace >/dev/null || echo strace
  fi
  case "${1:-}" in ibus|test) missing_ibus_packages "$1" ;; esac
  case "${1:-}" in fcitx5|test) missing_fcitx5_packages "$1" ;; esac
  # libime's language model, which the engine merges into its n-gram (engine/core/libime.py): typing, not testing
  case "${1:-}" in ""|ibus) have_system_file "libime/zh_CN.lm" || echo libime-data-language-model ;; esac
}

GI_BUILD_PACKAGES=(libgirepository1.0-dev libcairo2-dev pkg-config gcc)
# IBus and, where the venv has no PyGObject yet, what building it needs. The test (a GTK 3
# entry typed into through a private ibus-daemon) also needs GTK's typelib and dbus-run-session.
missing_ibus_packages() {
  command -v ibus-daemon >/dev/null || echo ibus
  have_system_file "girepository-1.0/IBus-1.0.typelib" || echo gir1.2-ibus-1.0
  have_system_file "gtk-3.0/3.0.0/immodules/im-ibus.so" || echo ibus-gtk3
  if [ "$1" = test ]; then
    have_system_file "girepository-1.0/Gtk-3.0.typelib" || echo gir1.2-gtk-3.0
    command -v dbus-run-session >/dev/null || echo dbus
  fi
  "$PY" -c "import gi" 2>/dev/null && return 0
  pkg-config --exists gobject-introspection-1.0 2>/dev/null || echo libgirepository1.0-dev
  pkg-config --exists cairo 2>/dev/null || echo libcairo2-dev
  command -v pkg-config >/dev/null || echo pkg-config
  command -v cc >/dev/null || echo gcc
}

# fcitx5, its GTK 3 module and what building Shuru's addon needs (shuru_fcitx5/addon); the test
# also runs a private fcitx5 on a private D-Bus session (dbus-daemon, gdbus).
missing_fcitx5_packages() {
  command -v fcitx5 >/dev/null || echo fcitx5
  have_system_file "gtk-3.0/3.0.0/immodules/im-fcitx5.so" || echo fcitx5-frontend-gtk3
  command -v cmake >/dev/null || echo cmake
  command -v g++ >/dev/null || echo g++
  have_system_file "cmake/Fcitx5Core/Fcitx5CoreConfig.cmake" || echo libfcitx5core-dev
  [ -e "${SHURU_SYSROOT:-}/usr/include/nlohmann/json.hpp" ] || echo nlohmann-json3-dev
  if [ "$1" = test ]; then
    command -v dbus-daemon >/dev/null || echo dbus
    command -v gdbus >/dev/null || echo libglib2.0-bin
  fi
}

# A file under the system's library folders (multiarch or not); SHURU_SYSROOT: for dev.sh's tests.
have_system_file() {
  local root=${SHURU_SYSROOT:-} dir
  for dir in "$root"/usr/lib/*/ "$root"/usr/lib/ "$root"/usr/lib64/; do
    [ -e "$dir$1" ] && return 0
  done
  return 1
}

# Register this checkout's engine with IBus for the current user. ibus-daemon reads components
# only from IBUS_COMPONENT_PATH or /usr/share/ibus/component, so the path is set for the user's
# session (environment.d, read at login by systemd user sessions: GNOME, KDE Plasma) and for
# the daemon restarted now. The component is written only if its engine can start (the venv's
# Python imports PyGObject and IBus's typelib); otherwise nothing is registered and the reason shows.
register_ibus() {
  local data=${XDG_DATA_HOME:-$HOME/.local/share} conf=${XDG_CONFIG_HOME:-$HOME/.config}
  local dir="$data/ibus/component"
  if ! "$PY" -m shuru_ibus --write-component "$dir" "$@" >/dev/null; then
    echo "error: Shuru was not registered with IBus (see above for what to install), nothing was changed" >&2
    return 1
  fi
  export IBUS_COMPONENT_PATH="$dir:/usr/share/ibus/component"
  mkdir -p "$conf/environment.d"
  echo "IBUS_COMPONENT_PATH=$IBUS_COMPONENT_PATH" > "$conf/environment.d/60-shuru-ibus.conf"
  if command -v systemctl >/dev/null && systemctl --user set-environment "IBUS_COMPONENT_PATH=$IBUS_COMPONENT_PATH" 2>/dev/null \
     && systemctl --user --quiet is-active 'org.freedesktop.IBus.session.*' 2>/dev/null; then
    ibus write-cache || true
    ibus restart   # the desktop's ibus unit, now with the path
  else
    ibus write-cache || true
    ibus-daemon --daemonize --xim --replace   # replaces a running daemon, or starts one
  fi
  echo "registered $dir/shuru.xml (IBUS_COMPONENT_PATH=$IBUS_COMPONENT_PATH, also in $conf/environment.d)"
  echo "add Shuru as an input source (GNOME: Settings > Keyboard > Input Sources > Chinese > Shuru; elsewhere: ibus-setup), or try it now: ibus engine shuru"
}

deb_for() {
  case "$1" in
    libxkbcommon-x11.so.0) echo libxkbcommon-x11-0 ;;
    libxcb-cursor.so.0) echo libxcb-cursor0 ;;
    libEGL.so.1) echo libegl1 ;;
    libxcb-icccm.so.4) echo libxcb-icccm4 ;;
    libxcb-keysyms.so.1) echo libxcb-keysyms1 ;;
    libxcb-image.so.0) echo libxcb-image0 ;;
    libxcb-render-util.so.0) echo libxcb-render-util0 ;;
    libxcb-shape.so.0) echo libxcb-shape0 ;;
    libxcb-randr.so.0) echo libxcb-randr0 ;;
    libxcb-xkb.so.1) echo libxcb-xkb1 ;;
  esac
}

cmd=${1:-app}
shift || true
case "$cmd" in
  setup) setup_python; setup_system ;;
  app) setup_python; setup_system; exec "$PY" -m ime_app "$@" ;;
  test) setup_python test; setup_system test; setup_ibus_python; QT_QPA_PLATFORM=offscreen exec "$PY" -m pytest "$@" ;;
  ibus) setup_python; setup_system ibus; setup_ibus_python; register_ibus "$@" ;;
  fcitx5) setup_python
          if [ "${1:-}" = --unregister ]; then exec "$PY" -m shuru_fcitx5 --unregister; fi
          setup_system fcitx5; exec "$PY" -m shuru_fcitx5 --register "$@" ;;
  package) setup_python test; setup_system test; exec "$PY" packaging/build_linux.py "$@" ;;
  bench) setup_python; exec "$PY" -m tools bench "$@" ;;
  eval) setup_python; exec "$PY" -m tools eval "$@" ;;  # default: the dev sets in ../shared/data/dev
  screenshot) setup_python; setup_system screenshot; exec "$PY" -m tools.screenshot "$@" ;;
  missing-system-packages) missing_system_packages "$@" ;;
  *) echo "usage: ./dev.sh {app|test|ibus|fcitx5|setup|bench|eval|screenshot|package|missing-system-packages [test|screenshot|ibus|fcitx5]}" >&2; exit 2 ;;
esac
