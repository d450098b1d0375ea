#!/usr/bin/env bash
# Shuru's front door. On a fresh machine:
#   ./dev.sh app     set up (first time) and launch the Shuru window
#   ./dev.sh test    set up (first time) and run the test suite
# Other commands: ./dev.sh setup | bench | eval | screenshot
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
  local need=()
  fc-list 2>/dev/null | grep -qiE "cjk|wenquanyi|wqy|droid sans fallback" || need+=(fonts-noto-cjk)
  command -v fc-list >/dev/null || need+=(fontconfig)
  for lib in libxkbcommon-x11.so.0 libxcb-cursor.so.0 libEGL.so.1 libxcb-icccm.so.4 libxcb-keysyms.so.1 \
             libxcb-image.so.0 libxcb-render-util.so.0 libxcb-shape.so.0 libxcb-randr.so.0 libxcb-xkb.so.1; do
    ldconfig -p 2>/dev/null | grep -q "$lib" || need+=("$(deb_for "$lib")")
  done
  # the screenshot (and its test) drive the real app on a virtual X server
  case "${1:-}" in screenshot|test)
    command -v Xvfb >/dev/null || need+=(xvfb); command -v xdotool >/dev/null || need+=(xdotool) ;;
  esac
  [ ${#need[@]} -eq 0 ] && return 0
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "installing system packages: ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
      || echo "warning: could not install ${need[*]}; continuing without them" >&2
  else
    echo "warning: please install ${need[*]} (a CJK font and Qt's X libraries) with your package manager" >&2
  fi
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
  *) echo "usage: ./dev.sh {app|test|setup|bench|eval|screenshot}" >&2; exit 2 ;;
esac
