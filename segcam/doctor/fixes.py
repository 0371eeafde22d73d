"""The exact commands ``segcam doctor`` prints for each problem, per distribution.

Kept apart from the probes so the README and the checks say the same thing.
"""

from __future__ import annotations

LOOPBACK_OPTIONS = "devices=1 video_nr=10 card_label=segcam exclusive_caps=1"
MODPROBE = f"sudo modprobe v4l2loopback {LOOPBACK_OPTIONS}"
RELOAD = f"sudo modprobe -r v4l2loopback && {MODPROBE}"

PERMANENT = (
    "make it permanent (all distributions):",
    "  echo v4l2loopback | sudo tee /etc/modules-load.d/v4l2loopback.conf",
    f'  echo "options v4l2loopback {LOOPBACK_OPTIONS}" | '
    "sudo tee /etc/modprobe.d/v4l2loopback.conf",
)


def install_loopback(installed: bool) -> tuple[str, ...]:
    """Lines that get v4l2loopback loaded with the options video apps need."""
    if installed:
        return ("load it (all distributions):", f"  {MODPROBE}", *PERMANENT)
    return (
        "install and load it:",
        "  Debian/Ubuntu: sudo apt install v4l2loopback-dkms linux-headers-$(uname -r)"
        f" && {MODPROBE}",
        f"  Fedora (with RPM Fusion free enabled): sudo dnf install v4l2loopback && {MODPROBE}",
        f"  Arch:          sudo pacman -S v4l2loopback-dkms linux-headers && {MODPROBE}",
        "  with Secure Boot on, the DKMS module must be signed (your distribution's DKMS "
        "docs say how) or modprobe fails with 'Key was rejected by service'",
        *PERMANENT,
    )


def reload_loopback(reason: str) -> tuple[str, ...]:
    """Lines that reload the loaded module with our options (close video apps first)."""
    return (
        f"{reason}; close the apps that use the virtual camera, then reload the module "
        "(Debian/Ubuntu, Fedora, Arch alike):",
        f"  {RELOAD}",
        *PERMANENT,
    )


def join_group(group: str) -> tuple[str, ...]:
    return (
        f"add yourself to the '{group}' group (Debian/Ubuntu, Fedora, Arch alike), then log "
        "out and in again:",
        f"  sudo usermod -aG {group} $USER",
    )


def pip_install(requirement: str) -> tuple[str, ...]:
    return (f"pip install '{requirement}'",)


# Qt's xcb platform plugin: shared library -> (Debian/Ubuntu, Fedora, Arch) package.
QT_XCB_LIBRARIES: dict[str, tuple[str, str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image", "xcb-util-image"),
    "libxcb-render-util.so.0": (
        "libxcb-render-util0",
        "xcb-util-renderutil",
        "xcb-util-renderutil",
    ),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb", "libxcb"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11", "libxkbcommon-x11"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb", "libxcb"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb", "libxcb"),
    "libxcb-xinerama.so.0": ("libxcb-xinerama0", "libxcb", "libxcb"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl", "libglvnd"),
    "libGL.so.1": ("libgl1", "libglvnd-glx", "libglvnd"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig", "fontconfig"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs", "dbus"),
}


def install_qt_libraries(missing: list[str]) -> tuple[str, ...]:
    """Install commands for the missing libraries; unknown ones are named as they are."""
    known = [QT_XCB_LIBRARIES[m] for m in missing if m in QT_XCB_LIBRARIES]
    unknown = [m for m in missing if m not in QT_XCB_LIBRARIES]

    def pkgs(i: int) -> str:
        return " ".join(dict.fromkeys(k[i] for k in known))

    lines: list[str] = []
    if known:
        lines += [
            "install the system libraries Qt's X11 plugin needs:",
            f"  Debian/Ubuntu: sudo apt install {pkgs(0)}",
            f"  Fedora:        sudo dnf install {pkgs(1)}",
            f"  Arch:          sudo pacman -S {pkgs(2)}",
        ]
    if unknown:
        lines.append(f"also missing: {', '.join(unknown)} (install the package that provides it)")
    return tuple(lines)


OBS_WINDOWS = (
    "install OBS Studio 26 or later, open it once and click 'Start Virtual Camera' "
    "(this registers the camera), then close OBS; segcam feeds the camera without OBS running",
)
OBS_MACOS = (
    "install OBS Studio 30 or later, open it, click 'Start Virtual Camera' once and allow "
    "the camera extension in System Settings > Privacy & Security; then quit OBS",
)


# The PipeWire camera: (Debian/Ubuntu, Fedora, Arch) packages of each part.
PIPEWIRE_PACKAGES: dict[str, tuple[str, str, str]] = {
    "pipewire": ("pipewire", "pipewire", "pipewire"),
    "wireplumber": ("wireplumber", "wireplumber", "wireplumber"),
    "gst-tools": ("gstreamer1.0-tools", "gstreamer1", "gstreamer"),
    "gst-pipewire": ("gstreamer1.0-pipewire", "pipewire-gstreamer", "gst-plugin-pipewire"),
    "gst-base": ("gstreamer1.0-plugins-base", "gstreamer1-plugins-base", "gst-plugins-base"),
    "pw-dump": ("pipewire-bin", "pipewire-utils", "pipewire"),
}
START_PIPEWIRE = "systemctl --user enable --now pipewire.socket pipewire.service"
START_WIREPLUMBER = "systemctl --user enable --now wireplumber.service"


def install_pipewire_parts(parts: list[str]) -> tuple[str, ...]:
    """Install commands for the named parts (keys of :data:`PIPEWIRE_PACKAGES`)."""

    def pkgs(i: int) -> str:
        return " ".join(dict.fromkeys(PIPEWIRE_PACKAGES[p][i] for p in parts))

    return (
        "install:",
        f"  Debian/Ubuntu: sudo apt install {pkgs(0)}",
        f"  Fedora:        sudo dnf install {pkgs(1)}",
        f"  Arch:          sudo pacman -S {pkgs(2)}",
    )
