#!/usr/bin/env bash
# Build the one-folder segcam bundle into dist/segcam (run from anywhere).
#
#   packaging/build_bundle.sh            build with the active Python (or $PYTHON)
#   packaging/build_bundle.sh --check    build, then run the bundle's smoke test
#   packaging/build_bundle.sh --archive  also pack dist/segcam-VERSION-OS-ARCH.tar.gz
#
# The Python that builds must have segcam's dependencies, the demo extra and
# pyinstaller>=6 installed, e.g. pip install -e ".[demo]" "pyinstaller>=6".
# The bundle runs on systems with the same or a newer glibc than the build machine's.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
check=0
archive=0
for arg in "$@"; do
    case "$arg" in
    --check) check=1 ;;
    --archive) archive=1 ;;
    -h | --help)
        sed -n '2,10p' "$0"
        exit 0
        ;;
    *)
        echo "build_bundle.sh: unknown option $arg" >&2
        exit 2
        ;;
    esac
done

if ! "$python" -c "import PyInstaller" 2>/dev/null; then
    echo "build_bundle.sh: PyInstaller is not installed for $python: pip install 'pyinstaller>=6'" >&2
    exit 2
fi

cd "$repo"
# Build the segcam of this checkout whatever the environment has installed.
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
"$python" -m PyInstaller --noconfirm --clean \
    --distpath "$repo/dist" --workpath "$repo/build/pyinstaller" \
    "$repo/packaging/segcam.spec"

# The Linux desktop files travel with the bundle, so its users can run
# dist/segcam/desktop/install.sh to get segcam into their application menu.
if [ "$(uname -s)" = Linux ]; then
    rm -rf "$repo/dist/segcam/desktop"
    cp -r "$repo/packaging/linux" "$repo/dist/segcam/desktop"
fi

echo "bundle: $repo/dist/segcam ($(du -sh "$repo/dist/segcam" | cut -f1))"

if [ "$check" = 1 ]; then
    "$python" "$repo/packaging/check_bundle.py" "$repo/dist/segcam"
fi

if [ "$archive" = 1 ]; then
    version="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$repo/segcam/__init__.py")"
    os="$(uname -s | tr '[:upper:]' '[:lower:]')"
    name="segcam-$version-$os-$(uname -m).tar.gz"
    tar -C "$repo/dist" -czf "$repo/dist/$name" segcam
    echo "archive: $repo/dist/$name ($(du -sh "$repo/dist/$name" | cut -f1))"
fi
