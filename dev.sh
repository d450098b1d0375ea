#!/usr/bin/env bash
# Shuru's front door. On a fresh machine:
#   ./dev.sh app     set up (first time) and launch the Shuru window
#   ./dev.sh test    set up (first time) and run the test suite
# Other commands: ./dev.sh setup | bench | eval | screenshot
#   ./dev.sh missing-system-packages [test|screenshot]   what set-up would install (nothing: all there)
set -euo pipefail
cd "$(dirname "$0")"
VENV=${SHURU_VENV:-.venv}
PY=$VENV/bin/python

setup_python() {
  [ -x "$PY" ] || python3 -m venv "$VENV"
  local stamp="$VENV/.shuru-setup"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    "$PY" -m pip install -q --upgrade pip
    # torch is pinned: 2.13.0 is the local CPU wheel; an unpinned torch pulls GB of CUDA.
    "$PY" -m pip install -q "torch==2.13.0"
    "$PY" -m pip install -q -e ".[trainer,test]"
    touch "$stamp"
  fi
}

# System packages the window needs: a CJK font (the app is unusable without one) and
# the X/GL libraries Qt loads. Installed only when missing, only where apt is usable.
setup_system() {
  local need
  mapfile -t need < <(missing_system_packages "${1:-}")
  [ ${#need[@]} -eq 0 ] && return 0
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "installing system packages: ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
      || echo "warning: could not install ${need[*]}; continuing without them" >&2
  else
    echo "warning: please install ${need[*]} (a CJK font and Qt's X libraries) with your package manager" >&2
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
  test) setup_python; setup_system test; QT_QPA_PLATFORM=offscreen exec "$PY" -m pytest "$@" ;;
  bench) setup_python; exec "$PY" -m engine bench "$@" ;;
  eval) setup_python; exec "$PY" -m engine eval ../shared/data/dev/dev-*.jsonl "$@" ;;
  screenshot) setup_python; setup_system screenshot; exec "$PY" -m ime_app.screenshot "$@" ;;
  missing-system-packages) missing_system_packages "$@" ;;
  *) echo "usage: ./dev.sh {app|test|setup|bench|eval|screenshot|missing-system-packages [test|screenshot]}" >&2; exit 2 ;;
esac
