"""Video checks: webcams and their modes, and the virtual camera.

Linux reads sysfs: every V4L2 node is ``<sys>/class/video4linux/videoN`` with a
``name``; a webcam's node links to its USB device and driver (``uvcvideo``),
while a v4l2loopback node is virtual and carries the module's own attributes
(``max_openers``, ``buffers``, ``format``). The module's parameters are in
``<sys>/module/v4l2loopback/parameters``: ``exclusive_caps`` and ``video_nr`` are
per-device arrays (``Y,N,...`` and ``10,-1,...``) in the order the module
created the devices.
"""

from __future__ import annotations

import os
import re

from segcam.doctor import CameraProber, Check, Roots, fixes

CAMERAS = "Cameras"
VCAM = "Virtual camera"

# Common MJPG modes; a short list keeps the probe quick (each is one S_FMT).
_PROBE_SIZES = ((640, 480), (1280, 720), (1920, 1080))
_PROBE_FPS = 30


def opencv_modes(device: str) -> list[str] | None:
    """The MJPG modes a webcam accepts, asked through OpenCV; None if it does not open.

    Each size is requested (MJPG first, then the size and fps, as the capture code
    does) and read back without grabbing a frame.
    """
    import cv2

    from segcam.capture.camera import _quiet_opencv

    with _quiet_opencv():
        cap = cv2.VideoCapture(device, cv2.CAP_V4L2) if device.startswith("/") else None
        if cap is None:
            cap = cv2.VideoCapture(int(device))
        try:
            if not cap.isOpened():
                return None
            modes = []
            mjpg = cv2.VideoWriter_fourcc(*"MJPG")
            for w, h in _PROBE_SIZES:
                cap.set(cv2.CAP_PROP_FOURCC, mjpg)
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, w)
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, h)
                cap.set(cv2.CAP_PROP_FPS, _PROBE_FPS)
                got = (
                    int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                    int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                )
                if got != (w, h):
                    continue
                code = int(cap.get(cv2.CAP_PROP_FOURCC))
                fcc = "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4)).strip("\0") or "?"
                fps = cap.get(cv2.CAP_PROP_FPS)
                modes.append(f"{w}x{h} {fcc}" + (f" @ {fps:g} fps" if fps > 0 else ""))
            return modes
        finally:
            cap.release()


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return None


def _nodes(roots: Roots) -> list[tuple[int, str]]:
    """``(number, sysfs folder)`` of every V4L2 node, by number."""
    base = os.path.join(roots.sys, "class", "video4linux")
    try:
        names = os.listdir(base)
    except OSError:
        return []
    nodes = []
    for name in names:
        m = re.fullmatch(r"video(\d+)", name)
        if m:
            nodes.append((int(m.group(1)), os.path.join(base, name)))
    return sorted(nodes)


def _is_loopback(node: str) -> bool:
    if os.path.exists(os.path.join(node, "max_openers")):
        return True
    driver = os.path.join(node, "device", "driver")
    return os.path.basename(os.path.realpath(driver)) == "v4l2loopback"


def linux_cameras(roots: Roots, prober: CameraProber | None = None) -> list[Check]:
    """Webcams (capture nodes that are not loopback devices) and the modes they accept."""
    prober = prober or opencv_modes
    checks = []
    for number, node in _nodes(roots):
        if _is_loopback(node):
            continue
        # A UVC camera has a second node for metadata; its index is 1.
        if (_read(os.path.join(node, "index")) or "0") != "0":
            continue
        name = _read(os.path.join(node, "name")) or "unnamed camera"
        dev = os.path.join(roots.dev, f"video{number}")
        modes = prober(dev)
        if modes is None:
            checks.append(
                Check(
                    CAMERAS,
                    False,
                    f"{dev} ({name}) does not open",
                    ("close the application that uses it, or check its permissions: ls -l " + dev,),
                    required=False,
                )
            )
        else:
            shown = ", ".join(modes) if modes else "none of the common MJPG modes"
            checks.append(Check(CAMERAS, True, f"{dev} ({name}): {shown}", required=False))
    if not checks:
        checks.append(
            Check(
                CAMERAS,
                False,
                "no webcam found",
                ("plug one in; without one, vcam can still send a video file or --input demo",),
                required=False,
            )
        )
    return checks


def other_cameras(prober: CameraProber | None = None, count: int = 3) -> list[Check]:
    """Windows and macOS: the first few camera indexes OpenCV opens."""
    prober = prober or opencv_modes
    checks = []
    for index in range(count):
        modes = prober(str(index))
        if modes is not None:
            shown = ", ".join(modes) if modes else "none of the common MJPG modes"
            checks.append(Check(CAMERAS, True, f"camera {index}: {shown}", required=False))
    if not checks:
        checks.append(
            Check(
                CAMERAS,
                False,
                "no webcam found (or the system denied camera access to this terminal)",
                (
                    "allow camera access for your terminal in the system's privacy settings; "
                    "without a webcam, vcam can still send a video file or --input demo",
                ),
                required=False,
            )
        )
    return checks


def _param_list(roots: Roots, name: str) -> list[str]:
    text = _read(os.path.join(roots.sys, "module", "v4l2loopback", "parameters", name))
    return [v.strip() for v in text.split(",")] if text else []


def _exclusive_caps(roots: Roots, numbers: list[int]) -> dict[int, bool | None]:
    """``exclusive_caps`` of each loopback device number (None when it cannot be told).

    Device k of the module has ``exclusive_caps[k]``; devices with ``video_nr[k]``
    set got that number, and the others took the free numbers in order.
    """
    caps = [v.upper() in ("Y", "1") for v in _param_list(roots, "exclusive_caps")]
    if not caps:
        return dict.fromkeys(numbers)
    nrs = []
    for v in _param_list(roots, "video_nr"):
        try:
            nrs.append(int(v))
        except ValueError:
            nrs.append(-1)
    result: dict[int, bool | None] = {}
    assigned = {}
    for k, nr in enumerate(nrs):
        if nr >= 0 and nr in numbers and k < len(caps):
            assigned[nr] = caps[k]
    auto_slots = [k for k, nr in enumerate(nrs) if nr < 0] or list(range(len(caps)))
    auto_numbers = [n for n in numbers if n not in assigned]
    for n, k in zip(auto_numbers, auto_slots, strict=False):
        if k < len(caps):
            assigned[n] = caps[k]
    for n in numbers:
        result[n] = assigned.get(n)
    return result


def _module_installed(roots: Roots) -> bool:
    dep = _read(os.path.join(roots.modules, roots.kernel_release, "modules.dep"))
    return dep is not None and "v4l2loopback.ko" in dep


def _group_of(path: str) -> str:
    import grp  # POSIX only

    try:
        return grp.getgrgid(os.stat(path).st_gid).gr_name
    except (OSError, KeyError):
        return "video"


def _readers(device: str, roots: Roots) -> str:
    from segcam.sinks.vcam import device_readers

    names = []
    for pid in device_readers(device, proc_root=roots.proc):
        comm = _read(os.path.join(roots.proc, str(pid), "comm")) or "?"
        names.append(f"{comm} ({pid})")
    return f"; in use by {', '.join(names)}" if names else ""


def linux_loopback(roots: Roots) -> list[Check]:
    """v4l2loopback: backend, module, devices, exclusive_caps, write permission."""
    checks = []
    try:
        from segcam.sinks.vcam import available_backends

        backends = available_backends()
    except ImportError:
        backends = None
    if backends is not None and "v4l2loopback" not in backends:
        checks.append(
            Check(
                VCAM,
                False,
                "pyvirtualcam has no v4l2loopback backend (a build without Linux support)",
                fixes.pip_install("pyvirtualcam>=0.11"),
            )
        )
    loaded = os.path.isdir(os.path.join(roots.sys, "module", "v4l2loopback"))
    if not loaded:
        installed = _module_installed(roots)
        checks.append(
            Check(
                VCAM,
                False,
                "the v4l2loopback kernel module is not loaded"
                + (" (it is installed)" if installed else " (and not installed)"),
                fixes.install_loopback(installed),
            )
        )
        return checks
    checks.append(Check(VCAM, True, "the v4l2loopback kernel module is loaded"))
    devices = [(n, node) for n, node in _nodes(roots) if _is_loopback(node)]
    if not devices:
        checks.append(
            Check(
                VCAM,
                False,
                "v4l2loopback is loaded but created no device",
                fixes.reload_loopback("it was loaded with devices=0"),
            )
        )
        return checks
    caps = _exclusive_caps(roots, [n for n, _ in devices])
    usable = 0
    for number, node in devices:
        name = _read(os.path.join(node, "name")) or "unnamed"
        dev = os.path.join(roots.dev, f"video{number}")
        exists = os.path.exists(dev)
        writable = exists and os.access(dev, os.W_OK)
        checks.append(
            Check(
                VCAM,
                exists,
                f"loopback device {dev} '{name}'"
                + ("" if exists else f": {dev} is missing (udev did not create it)")
                + (_readers(dev, roots) if exists else ""),
                fixes.reload_loopback(f"{dev} is missing") if not exists else (),
            )
        )
        if not exists:
            continue
        excl = caps.get(number)
        if excl is None:
            checks.append(
                Check(
                    VCAM,
                    True,
                    f"{dev}: exclusive_caps unknown (this v4l2loopback does not report it)",
                    required=False,
                )
            )
        else:
            checks.append(
                Check(
                    VCAM,
                    excl,
                    f"{dev}: exclusive_caps is {'on' if excl else 'off'}"
                    + ("" if excl else " (Chrome, Zoom and Teams will not list the camera)"),
                    () if excl else fixes.reload_loopback("exclusive_caps=1 is needed"),
                )
            )
        checks.append(
            Check(
                VCAM,
                writable,
                f"{dev} is writable" if writable else f"{dev} is not writable by you",
                () if writable else fixes.join_group(_group_of(dev)),
            )
        )
        if writable and excl is not False:
            usable += 1
    return checks


def obs_camera(platform: str, prober=None) -> list[Check]:
    """Windows/macOS: the OBS Virtual Camera opens through pyvirtualcam's 'obs' backend."""
    prober = prober or _probe_obs
    error = prober()
    fix = fixes.OBS_MACOS if platform == "darwin" else fixes.OBS_WINDOWS
    if error is None:
        return [Check(VCAM, True, "the OBS Virtual Camera is installed and opens")]
    return [Check(VCAM, False, f"the OBS Virtual Camera is not available: {error}", fix)]


def _probe_obs() -> str | None:
    """None if pyvirtualcam's 'obs' backend opens a camera, else the reason."""
    try:
        import pyvirtualcam
        from pyvirtualcam.camera import BACKENDS
    except ImportError:
        return "pyvirtualcam is not installed"
    if "obs" not in BACKENDS:
        return "this pyvirtualcam has no 'obs' backend"
    try:
        cam = pyvirtualcam.Camera(1280, 720, 30, backend="obs")
    except Exception as e:
        from segcam.errors import one_line

        return one_line(e)
    cam.close()
    return None
