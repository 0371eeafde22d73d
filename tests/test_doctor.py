"""``segcam doctor`` against fake /sys, /proc and /dev trees.

This machine has no webcam and no v4l2loopback, so the trees a Linux desktop
would have are built here, laid out as the kernel lays them out (a UVC camera's
capture and metadata nodes with their driver link, a loopback node with the
module's own attributes, the module's parameter files). The software checks
(packages, the models loading in LiteRT, Qt's libraries) run for real.
"""

from __future__ import annotations

import io
import os
import platform
from pathlib import Path

import pytest

import segcam.commands.doctor as doctor_command
from segcam.doctor import Roots, exit_code, render, run_checks
from segcam.doctor.fixes import LOOPBACK_OPTIONS
from tests.conftest import run_cli

WEBCAM_MODES = ["640x480 MJPG @ 30 fps", "1280x720 MJPG @ 30 fps"]


def fake_prober(device: str) -> list[str] | None:
    """The webcam boundary: /dev/video0 accepts two MJPG modes, anything else does not open."""
    return list(WEBCAM_MODES) if device.endswith("/video0") else None


def fake_system(
    root: Path,
    *,
    module: bool,
    exclusive_caps: str = "Y",
    video_nr: str = "10",
    installed: bool = False,
    webcam: bool = True,
    readers: dict[int, str] | None = None,
) -> Roots:
    """Build /sys, /proc, /dev and /lib/modules under ``root``; return the Roots for them."""
    sys_root, proc, dev, modules = (root / n for n in ("sys", "proc", "dev", "modules"))
    v4l = sys_root / "class" / "video4linux"
    v4l.mkdir(parents=True)
    proc.mkdir()
    dev.mkdir()
    release = "6.1.0-test"
    (modules / release).mkdir(parents=True)
    dep = "kernel/drivers/media/usb/uvc/uvcvideo.ko: kernel/drivers/media/mc/mc.ko\n"
    if installed:
        dep += "updates/dkms/v4l2loopback.ko: kernel/drivers/media/v4l2-core/videodev.ko\n"
    (modules / release / "modules.dep").write_text(dep)
    if webcam:
        usb = sys_root / "devices" / "pci0000:00" / "0000:00:14.0" / "usb1" / "1-6" / "1-6:1.0"
        driver = sys_root / "bus" / "usb" / "drivers" / "uvcvideo"
        driver.mkdir(parents=True)
        usb.mkdir(parents=True)
        (usb / "driver").symlink_to(driver)
        for n, index in ((0, "0"), (1, "1")):  # capture node, metadata node
            node = v4l / f"video{n}"
            node.mkdir()
            (node / "name").write_text("Integrated Camera: Integrated C\n")
            (node / "index").write_text(index + "\n")
            (node / "device").symlink_to(usb)
            (dev / f"video{n}").write_bytes(b"")
    if module:
        params = sys_root / "module" / "v4l2loopback" / "parameters"
        params.mkdir(parents=True)
        pad = ",".join(["N"] * 7)
        (params / "exclusive_caps").write_text(f"{exclusive_caps},{pad}\n")
        (params / "video_nr").write_text(f"{video_nr}," + ",".join(["-1"] * 7) + "\n")
        (params / "devices").write_text("1\n")
        node = v4l / "video10"
        node.mkdir()
        (node / "name").write_text("segcam\n")
        for attr, value in (("max_openers", "10"), ("buffers", "2"), ("format", "")):
            (node / attr).write_text(value + "\n")
        (dev / "video10").write_bytes(b"")
        os.chmod(dev / "video10", 0o660)
    for pid, comm in (readers or {}).items():
        (proc / str(pid) / "fd").mkdir(parents=True)
        (proc / str(pid) / "comm").write_text(comm + "\n")
        (proc / str(pid) / "fd" / "23").symlink_to(dev / "video10")
    return Roots(
        sys=str(sys_root), proc=str(proc), dev=str(dev), modules=str(modules), kernel=release
    )


def checklist(roots: Roots) -> tuple[int, str]:
    checks = run_checks(roots=roots, platform="linux", camera_prober=fake_prober)
    out = io.StringIO()
    render(checks, out, platform="linux")
    return exit_code(checks), out.getvalue()


@pytest.fixture
def doctor_cli(monkeypatch):
    """``segcam doctor`` in-process, with its probes pointed at a fake tree."""

    def run(roots: Roots, capsys) -> tuple[int, str, str]:
        monkeypatch.setattr(doctor_command, "ROOTS", roots)
        monkeypatch.setattr(doctor_command, "PLATFORM", "linux")
        monkeypatch.setattr(doctor_command, "CAMERA_PROBER", fake_prober)
        return run_cli(["doctor"], capsys)

    return run


def test_module_absent_gives_install_load_and_permanent_commands(tmp_path, doctor_cli, capsys):
    code, out, err = doctor_cli(fake_system(tmp_path, module=False), capsys)
    assert code == 1, err
    assert "✗ the v4l2loopback kernel module is not loaded (and not installed)" in out
    modprobe = f"sudo modprobe v4l2loopback {LOOPBACK_OPTIONS}"
    assert "exclusive_caps=1" in LOOPBACK_OPTIONS
    assert (
        f"Debian/Ubuntu: sudo apt install v4l2loopback-dkms linux-headers-$(uname -r) && {modprobe}"
        in out
    )
    assert f"sudo dnf install v4l2loopback && {modprobe}" in out
    assert f"Arch:          sudo pacman -S v4l2loopback-dkms linux-headers && {modprobe}" in out
    assert "echo v4l2loopback | sudo tee /etc/modules-load.d/v4l2loopback.conf" in out
    assert (
        f'echo "options v4l2loopback {LOOPBACK_OPTIONS}" | '
        "sudo tee /etc/modprobe.d/v4l2loopback.conf"
    ) in out
    assert out.rstrip().splitlines()[-1].startswith("Not ready: 1 problem above stops")


def test_module_installed_but_not_loaded_only_needs_modprobe(tmp_path):
    code, out = checklist(fake_system(tmp_path, module=False, installed=True))
    assert code == 1
    assert "not loaded (it is installed)" in out
    assert f"sudo modprobe v4l2loopback {LOOPBACK_OPTIONS}" in out
    assert "apt install" not in out


def test_module_without_exclusive_caps_says_how_to_reload(tmp_path, doctor_cli, capsys):
    code, out, _ = doctor_cli(fake_system(tmp_path, module=True, exclusive_caps="N"), capsys)
    dev = Path(tmp_path, "dev", "video10")
    assert code == 1
    assert "✓ the v4l2loopback kernel module is loaded" in out
    assert f"✓ loopback device {dev} 'segcam'" in out
    assert (
        f"✗ {dev}: exclusive_caps is off (Chrome, Zoom and Teams will not list the camera)" in out
    )
    assert f"sudo modprobe -r v4l2loopback && sudo modprobe v4l2loopback {LOOPBACK_OPTIONS}" in out
    assert "/etc/modprobe.d/v4l2loopback.conf" in out
    assert f"✓ {dev} is writable" in out


def test_everything_in_place_exits_0(tmp_path, doctor_cli, capsys):
    roots = fake_system(tmp_path, module=True, readers={4242: "zoom"})
    code, out, err = doctor_cli(roots, capsys)
    assert code == 0, out + err
    dev = Path(tmp_path, "dev")
    assert f"✓ {dev}/video0 (Integrated Camera: Integrated C): {', '.join(WEBCAM_MODES)}" in out
    assert f"{dev}/video1 " not in out  # the camera's metadata node is not a camera
    assert f"✓ loopback device {dev}/video10 'segcam'; in use by zoom (4242)" in out
    assert f"✓ {dev}/video10: exclusive_caps is on" in out
    assert f"✓ {dev}/video10 is writable" in out
    assert "✓ landscape model loads in LiteRT" in out
    assert "✓ general model loads in LiteRT" in out
    assert f"✓ Python {platform.python_version()}" in out
    assert "✓ pyvirtualcam " in out
    assert "✗" not in out.split("Desktop window")[0]
    assert out.rstrip().endswith("Ready: `segcam vcam` has everything it needs.")


def test_no_webcam_is_reported_but_does_not_block_vcam(tmp_path):
    code, out = checklist(fake_system(tmp_path, module=True, webcam=False))
    assert code == 0
    assert "✗ no webcam found  (not needed for vcam)" in out
    assert "--input demo" in out


def test_exclusive_caps_follow_video_nr(tmp_path):
    # One device with the number set, created second: its exclusive_caps is the 2nd entry.
    roots = fake_system(tmp_path, module=True, exclusive_caps="N", video_nr="-1")
    params = Path(roots.sys, "module", "v4l2loopback", "parameters")
    (params / "exclusive_caps").write_text("N,Y,N,N\n")
    (params / "video_nr").write_text("-1,10,-1,-1\n")
    code, out = checklist(roots)
    assert f"{roots.dev}/video10: exclusive_caps is on" in out
    assert code == 0


def test_real_machine_without_v4l2loopback(capsys):
    """This machine: no v4l2loopback module, so not ready, and the fix is printed."""
    if os.path.isdir("/sys/module/v4l2loopback"):
        pytest.skip("this machine has v4l2loopback loaded")
    from segcam import pipewire_env

    if pipewire_env.session_alive():
        # A PipeWire camera is the other way to a virtual camera: doctor is content.
        pytest.skip("this machine runs a PipeWire session")
    code, out, err = run_cli(["doctor"], capsys)
    assert code == 1, err
    assert "v4l2loopback kernel module is not loaded" in out
    assert f"sudo modprobe v4l2loopback {LOOPBACK_OPTIONS}" in out
    assert "Traceback" not in err
