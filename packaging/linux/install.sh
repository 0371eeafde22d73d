#!/bin/sh
# Put segcam into the Linux application menu (freedesktop.org menus: GNOME, KDE,
# Xfce, Cinnamon, MATE, ...).
#
#   install.sh [--prefix DIR | --system] [--exec PATH]     install
#   install.sh [--prefix DIR | --system] --uninstall       remove what install.sh put there
#
# Which segcam: --exec PATH; else the bundle this script ships in (dist/segcam/desktop/
# install.sh -> dist/segcam/segcam); else the `segcam` on PATH (a pip install).
# A bundle is copied to PREFIX/lib/segcam and linked as PREFIX/bin/segcam.
#
# Where: the user's own folders by default (~/.local, or $XDG_DATA_HOME for the menu
# files); --system means /usr/local (run it as root); --prefix DIR uses DIR/share,
# DIR/bin and DIR/lib.
set -eu

here="$(cd "$(dirname "$0")" && pwd)"
prefix=""
exec_path=""
uninstall=0

die() {
    echo "install.sh: $*" >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
    --prefix)
        [ $# -ge 2 ] || die "--prefix needs a folder"
        prefix="$2"
        shift 2
        ;;
    --system)
        prefix=/usr/local
        shift
        ;;
    --exec)
        [ $# -ge 2 ] || die "--exec needs the path of the segcam program"
        exec_path="$2"
        shift 2
        ;;
    --uninstall)
        uninstall=1
        shift
        ;;
    -h | --help)
        sed -n '2,15p' "$0"
        exit 0
        ;;
    *) die "unknown option $1 (see --help)" ;;
    esac
done

if [ -n "$prefix" ]; then
    data_dir="$prefix/share"
    bin_dir="$prefix/bin"
    lib_dir="$prefix/lib/segcam"
else
    data_dir="${XDG_DATA_HOME:-$HOME/.local/share}"
    bin_dir="$HOME/.local/bin"
    lib_dir="$HOME/.local/lib/segcam"
fi

app_id=io.github.segcam.Segcam
desktop_file="$data_dir/applications/segcam.desktop"
icon_file="$data_dir/icons/hicolor/scalable/apps/segcam.svg"
metainfo_file="$data_dir/metainfo/$app_id.metainfo.xml"

refresh_caches() {
    # Menus and icon themes pick new files up by themselves on most desktops; these
    # make it immediate where the tools exist.
    if command -v update-desktop-database >/dev/null 2>&1; then
        update-desktop-database -q "$data_dir/applications" 2>/dev/null || true
    fi
    if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f "$data_dir/icons/hicolor/index.theme" ]; then
        gtk-update-icon-cache -q -t "$data_dir/icons/hicolor" 2>/dev/null || true
    fi
}

if [ "$uninstall" = 1 ]; then
    rm -f "$desktop_file" "$icon_file" "$metainfo_file"
    # Only the link and bundle this script made, never a pip-installed segcam.
    if [ -L "$bin_dir/segcam" ] && [ "$(readlink "$bin_dir/segcam")" = "$lib_dir/segcam" ]; then
        rm -f "$bin_dir/segcam"
    fi
    if [ -x "$lib_dir/segcam" ] && [ -d "$lib_dir/_internal" ]; then
        rm -rf "$lib_dir"
    fi
    refresh_caches
    echo "segcam removed from the application menu ($data_dir)"
    exit 0
fi

# Find the program the menu entry starts.
if [ -z "$exec_path" ]; then
    if [ -x "$here/../segcam" ] && [ -d "$here/../_internal" ]; then
        exec_path="$here/../segcam"
    elif command -v segcam >/dev/null 2>&1; then
        exec_path="$(command -v segcam)"
    else
        die "no segcam found: pip install segcam, or pass --exec PATH, or run the install.sh inside the bundle (segcam/desktop/install.sh)"
    fi
fi
[ -x "$exec_path" ] || die "$exec_path is not an executable program"
exec_dir="$(cd "$(dirname "$exec_path")" && pwd)"
exec_path="$exec_dir/$(basename "$exec_path")"

# A one-folder bundle (the program beside its _internal folder) is copied into
# place, so the download folder can be deleted afterwards.
if [ -d "$exec_dir/_internal" ] && [ "$exec_dir" != "$lib_dir" ]; then
    rm -rf "$lib_dir"
    mkdir -p "$(dirname "$lib_dir")"
    cp -R "$exec_dir" "$lib_dir"
    mkdir -p "$bin_dir"
    ln -sfn "$lib_dir/segcam" "$bin_dir/segcam"
    exec_path="$lib_dir/segcam"
fi

# Exec= takes the absolute path: a desktop session's PATH often lacks ~/.local/bin.
case "$exec_path" in
*[\"\`\$\\]*) die "the path of segcam must not contain quotes, backslashes or \$: $exec_path" ;;
*[[:space:]]*) exec_quoted="\"$exec_path\"" ;;
*) exec_quoted="$exec_path" ;;
esac
mkdir -p "$(dirname "$desktop_file")" "$(dirname "$icon_file")" "$(dirname "$metainfo_file")"
while IFS= read -r line; do
    case "$line" in
    "Exec=segcam "*) printf 'Exec=%s %s\n' "$exec_quoted" "${line#Exec=segcam }" ;;
    "TryExec=segcam") printf 'TryExec=%s\n' "$exec_path" ;;
    *) printf '%s\n' "$line" ;;
    esac
done <"$here/segcam.desktop" >"$desktop_file"
chmod 644 "$desktop_file"
cp "$here/segcam.svg" "$icon_file"
cp "$here/$app_id.metainfo.xml" "$metainfo_file"
chmod 644 "$icon_file" "$metainfo_file"
refresh_caches
echo "segcam added to the application menu: $desktop_file (runs $exec_path)"
