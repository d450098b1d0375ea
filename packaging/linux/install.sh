#!/bin/sh
# Install Shuru for this user, without root: into ~/.local (same layout as the .deb).
#   ./install.sh            run from the unpacked shuru-<version>-linux-x86_64 folder
# Uninstall with ~/.local/opt/shuru/uninstall.sh (add --purge to delete learned words and settings too).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
prefix=${SHURU_PREFIX:-$HOME/.local}
data=${XDG_DATA_HOME:-$HOME/.local/share}
conf=${XDG_CONFIG_HOME:-$HOME/.config}
app=io.github.shuru.Shuru
rm -rf "$prefix/opt/shuru.new"
mkdir -p "$prefix/opt" "$prefix/bin" "$prefix/share/applications" "$prefix/share/metainfo"
cp -a "$here/shuru" "$prefix/opt/shuru.new"
cp "$here/uninstall.sh" "$prefix/opt/shuru.new/uninstall.sh"
rm -rf "$prefix/opt/shuru"
mv "$prefix/opt/shuru.new" "$prefix/opt/shuru"   # an interrupted install leaves the old one whole
ln -sfn "$prefix/opt/shuru/shuru" "$prefix/bin/shuru"
sed "s|^Exec=shuru|Exec=$prefix/bin/shuru|" "$here/share/applications/$app.desktop" > "$prefix/share/applications/$app.desktop"
cp "$here/share/metainfo/$app.metainfo.xml" "$prefix/share/metainfo/"
cp -R "$here/share/icons" "$prefix/share/"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$prefix/share/applications" || true
# The IBus engine, for this user. ibus-daemon reads components only from IBUS_COMPONENT_PATH or
# /usr/share/ibus/component, so the path is set for the user's sessions (environment.d, read at
# login by systemd user sessions: GNOME, KDE Plasma).
component_dir="$data/ibus/component"
"$prefix/opt/shuru/ibus-engine-shuru" --write-component "$component_dir" >/dev/null
mkdir -p "$conf/environment.d"
echo "IBUS_COMPONENT_PATH=$component_dir:/usr/share/ibus/component" > "$conf/environment.d/60-shuru-ibus.conf"
if command -v ibus >/dev/null 2>&1; then
  IBUS_COMPONENT_PATH="$component_dir:/usr/share/ibus/component" ibus write-cache >/dev/null 2>&1 || true
fi
# The fcitx5 input method, for this user: fcitx5 reads addon and input-method .conf files from
# $XDG_DATA_HOME/fcitx5; the addon's library is named by absolute path (it starts the engine
# process beside it, shuru-fcitx5-server).
mkdir -p "$data/fcitx5/addon" "$data/fcitx5/inputmethod"
sed "s|^Library=.*|Library=$prefix/opt/shuru/shuru|" "$here/share/fcitx5/addon/shuru.conf" > "$data/fcitx5/addon/shuru.conf"
cp "$here/share/fcitx5/inputmethod/shuru.conf" "$data/fcitx5/inputmethod/shuru.conf"
echo "Shuru installed in $prefix/opt/shuru; start it from the applications menu or with $prefix/bin/shuru"
echo "IBus engine registered ($component_dir/shuru.xml): log out and in again, then add Shuru as an input source"
echo "fcitx5 input method registered ($data/fcitx5): restart fcitx5 (fcitx5 -r -d), then add Shuru in its configuration"
