"""``segcam doctor``: what segcam needs on this machine, and the exact fix for what is missing.

Each probe returns :class:`Check` results; :func:`diagnose` runs them, prints a
checklist (✓ / ✗ and, under every ✗, the commands that fix it) and returns the
exit code: 0 only when everything ``segcam vcam`` needs is in place. Checks that
matter only for other features (the desktop window, a webcam) are shown but
do not change the exit code.

The probes read the system through :class:`Roots` (``/sys``, ``/proc``, ``/dev``,
``/lib/modules``) and take the platform and the device probers as arguments,
so tests point them at fake trees on a machine without the hardware.
"""

from __future__ import annotations

import platform as _platform
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the checklist.

    ``required``: needed for ``segcam vcam``; a failed required check makes the exit
    code non-zero. ``fix``: lines printed under a failed check.
    """

    section: str
    ok: bool
    title: str
    fix: tuple[str, ...] = ()
    required: bool = True


@dataclass(frozen=True, slots=True)
class Roots:
    """Where the probes read the system (tests point these at fake trees)."""

    sys: str = "/sys"
    proc: str = "/proc"
    dev: str = "/dev"
    modules: str = "/lib/modules"
    kernel: str = ""
    """Kernel release (``uname -r``); empty means this machine's."""

    @property
    def kernel_release(self) -> str:
        return self.kernel or _platform.release()


CameraProber = Callable[[str], "list[str] | None"]
"""Device path -> the modes it accepts (e.g. ``'1280x720 MJPG @ 30 fps'``), or None if it
does not open."""


def run_checks(
    *,
    roots: Roots | None = None,
    platform: str | None = None,
    camera_prober: CameraProber | None = None,
    obs_prober: Callable[[], str | None] | None = None,
    models: bool = True,
) -> list[Check]:
    """Run every check for ``platform`` (default: this one); see the submodules."""
    from segcam.doctor import software, video

    roots = roots or Roots()
    plat = platform or sys.platform
    checks = [*software.python_and_packages(), *(software.models() if models else [])]
    if plat.startswith("linux"):
        checks += video.linux_cameras(roots, camera_prober)
        checks += video.linux_loopback(roots)
        checks += software.qt_xcb()
    else:
        checks += video.other_cameras(camera_prober)
        checks += video.obs_camera(plat, obs_prober)
    return checks


def exit_code(checks: list[Check]) -> int:
    return 0 if all(c.ok for c in checks if c.required) else 1


def _marks(out: TextIO) -> tuple[str, str]:
    encoding = getattr(out, "encoding", None)
    if encoding is None:  # an in-memory text stream holds any character
        return "✓", "✗"
    try:
        "✓✗".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return "OK", "XX"
    return "✓", "✗"


def render(checks: list[Check], out: TextIO, *, platform: str | None = None) -> None:
    good, bad = _marks(out)
    plat = platform or sys.platform
    name = {"linux": "Linux", "win32": "Windows", "darwin": "macOS"}.get(
        "linux" if plat.startswith("linux") else plat, plat
    )
    print(f"segcam doctor: what `segcam vcam` needs on {name} ({_platform.machine()})", file=out)
    section = None
    for c in checks:
        if c.section != section:
            section = c.section
            print(f"\n{section}", file=out)
        note = "" if c.ok or c.required else "  (not needed for vcam)"
        print(f"  {good if c.ok else bad} {c.title}{note}", file=out)
        if not c.ok:
            for line in c.fix:
                print(f"      {line}", file=out)
    print(file=out)
    if exit_code(checks) == 0:
        print("Ready: `segcam vcam` has everything it needs.", file=out)
    else:
        n = sum(1 for c in checks if c.required and not c.ok)
        print(
            f"Not ready: {n} problem{'s' if n != 1 else ''} above "
            f"{'stop' if n != 1 else 'stops'} `segcam vcam`; "
            "run the commands under each, then `segcam doctor` again.",
            file=out,
        )


def diagnose(
    *,
    out: TextIO | None = None,
    roots: Roots | None = None,
    platform: str | None = None,
    camera_prober: CameraProber | None = None,
    obs_prober: Callable[[], str | None] | None = None,
) -> int:
    """Run the checks, print the checklist to ``out``; return the exit code."""
    out = out or sys.stdout
    checks = run_checks(
        roots=roots, platform=platform, camera_prober=camera_prober, obs_prober=obs_prober
    )
    render(checks, out, platform=platform)
    return exit_code(checks)


__all__ = ["Check", "Roots", "diagnose", "exit_code", "render", "run_checks"]
