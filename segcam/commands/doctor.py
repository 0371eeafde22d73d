"""``segcam doctor``: a checklist of what segcam needs here, with the fix for each problem."""

from __future__ import annotations

import argparse
from typing import Any

# Injection points for tests, which point the probes at fake /sys, /proc and /dev
# trees and a fake webcam prober (see segcam.doctor): None means the real system.
ROOTS: Any = None
PLATFORM: str | None = None
CAMERA_PROBER: Any = None


def register(subparsers, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "doctor",
        parents=[common],
        help="check what the virtual camera, the models and the window need, and say how "
        "to fix what is missing",
        description="Check Python and the packages, the built-in models (loaded in LiteRT), "
        "the webcams and the modes they accept, and the virtual camera: on Linux the "
        "v4l2loopback module, its devices, exclusive_caps (Chrome, Zoom and Teams need it) "
        "and write permission; on Windows and macOS the OBS Virtual Camera. Every problem "
        "comes with the commands that fix it (Debian/Ubuntu, Fedora, Arch) and how to make "
        "the fix permanent. Exit code 0 only when `segcam vcam` has everything it needs.",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from segcam.doctor import diagnose

    return diagnose(roots=ROOTS, platform=PLATFORM, camera_prober=CAMERA_PROBER)
