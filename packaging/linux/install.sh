#!/bin/sh
# Install Shuru for this user, without root: into ~/.local (same layout as the .deb).
#   ./install.sh            run from the unpacked shuru-<version>-linux-x86_64 folder
# Uninstall with ~/.local/opt/shuru/uninstall.sh (add --purge to delete learned words and settings too).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
prefix=${SHURU_PREFIX:-$HOME/.local}
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
echo "Shuru installed in $prefix/opt/shuru; start it from the applications menu or with $prefix/bin/shuru"
