#!/bin/sh
# Remove a user install of Shuru (~/.local). Learned words, settings and personal models stay
# unless --purge is given.
set -eu
prefix=${SHURU_PREFIX:-$HOME/.local}
data=${XDG_DATA_HOME:-$HOME/.local/share}
conf=${XDG_CONFIG_HOME:-$HOME/.config}
app=io.github.shuru.Shuru
component_dir="$data/ibus/component"
# the IBus component, if it is this install's (a checkout's ./dev.sh ibus writes the same file)
if grep -qF "$prefix/opt/shuru/" "$component_dir/shuru.xml" 2>/dev/null; then
  rm -f "$component_dir/shuru.xml"
  rmdir "$component_dir" 2>/dev/null && rm -f "$conf/environment.d/60-shuru-ibus.conf" || true
fi
# the fcitx5 registration, if it is this install's
if grep -qF "Library=$prefix/opt/shuru/" "$data/fcitx5/addon/shuru.conf" 2>/dev/null; then
  rm -f "$data/fcitx5/addon/shuru.conf" "$data/fcitx5/inputmethod/shuru.conf"
fi
rm -rf "$prefix/opt/shuru"
rm -f "$prefix/bin/shuru" "$prefix/share/applications/$app.desktop" "$prefix/share/metainfo/$app.metainfo.xml"
find "$prefix/share/icons/hicolor" -name "$app.*" -delete 2>/dev/null || true
if [ "${1:-}" = --purge ]; then
  rm -rf "${XDG_DATA_HOME:-$HOME/.local/share}/shuru" "${XDG_CONFIG_HOME:-$HOME/.config}/shuru" \
         "${XDG_CACHE_HOME:-$HOME/.cache}/shuru"
  echo "Shuru removed, with its learned words, settings and personal models"
else
  echo "Shuru removed; learned words, settings and personal models kept (uninstall.sh --purge deletes them)"
fi
