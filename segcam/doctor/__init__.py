"""``segcam doctor``: what segcam needs on this machine, and the exact fix for what is missing.

Each probe returns :class:`Check` results; :func:`diagnose` runs them, prints a
checklist (✓ / ✗ and, under every ✗, the commands that fix it) and returns the
exit code: 0 only when everything ``segcam vcam`` needs is in place. Checks that
matter only for other features (the desktop window, a webcam) are shown but
do not change the exit code.

The probes read the system through :class:`Roots` (``/sys``, ``/proc``, ``/dev``,
``/lib/modules``, and the environment that names the PipeWire session) and take the
platform and the device probers as arguments, so tests point them at fake trees on a
machine without the hardware.

Alternatives: on Linux the virtual camera is either a v4l2loopback device or a
PipeWire camera node. Their checks carry a ``group`` (``loopback``, ``pipewire``);
``segcam vcam`` is ready when every ungrouped required check passes and at least one
group passes entirely.
"""

from __future__ import annotations

import platform as _platform
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TextIO


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the checklist.

    ``required``: needed for ``segcam vcam``; a failed required check makes the exit
    code non-zero, unless it belongs to a ``group`` and another group passes.
    ``fix``: lines printed under a failed check.
    """

    section: str
    ok: bool
    title: str
    fix: tuple[str, ...] = ()
    required: bool = True
    group: str = ""
    """Name of the alternative this check belongs to; empty for checks everyone needs."""


@dataclass(frozen=True, slots=True)
class Roots:
    """Where the probes read the system (tests point these at fake trees)."""

    sys: str = "/sys"
    proc: str = "/proc"
    dev: str = "/dev"
    modules: str = "/lib/modules"
    kernel: str = ""
    """Kernel release (``uname -r``); empty means this machine's."""
    env: Mapping[str, str] | None = None
    """Environment naming the PipeWire session and the PATH to look in; None: this process's."""

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
        from segcam.doctor import pipewire

        checks += video.linux_cameras(roots, camera_prober)
        checks += [replace(c, group="loopback") for c in video.linux_loopback(roots)]
        checks += pipewire.linux_pipewire(roots.env, roots.proc)
        checks += software.qt_xcb()
    else:
        checks += video.other_cameras(camera_prober)
        checks += video.obs_camera(plat, obs_prober)
    return checks


def _groups(checks: list[Check]) -> dict[str, int]:
    """Failed required checks per group."""
    failed: dict[str, int] = {}
    for c in checks:
        if c.group:
            failed[c.group] = failed.get(c.group, 0) + (c.required and not c.ok)
    return failed


def ready_groups(checks: list[Check]) -> list[str]:
    """Groups (alternatives) whose required checks all pass."""
    return [g for g, n in _groups(checks).items() if n == 0]


def problems(checks: list[Check]) -> int:
    """Failed required checks that stop ``segcam vcam``: the ungrouped ones, plus the
    fewest of any one group (the shortest way to a working virtual camera)."""
    shared = sum(1 for c in checks if c.required and not c.ok and not c.group)
    groups = _groups(checks)
    return shared + (min(groups.values()) if groups else 0)


def exit_code(checks: list[Check]) -> int:
    return 0 if problems(checks) == 0 else 1


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
    ready = ready_groups(checks)
    for c in checks:
        if c.section != section:
            section = c.section
            print(f"\n{section}", file=out)
        note = "" if c.ok or c.required else "  (not needed for vcam)"
        mark = good if c.ok else bad
        if not c.ok and c.group and ready and c.group not in ready:
            # An alternative to a camera that works: not a problem, but say how to get it.
            note = f"  (not needed: the {ready[0]} camera is ready)"
            mark = "-"
        print(f"  {mark} {c.title}{note}", file=out)
        if not c.ok:
            for line in c.fix:
                print(f"      {line}", file=out)
    print(file=out)
    if exit_code(checks) == 0:
        print("Ready: `segcam vcam` has everything it needs.", file=out)
    else:
        n = problems(checks)
        print(
            f"Not ready: {n} problem{'s' if n != 1 else ''} above "
            f"{'stop' if n != 1 else 'stops'} `segcam vcam`; "
            + (
                "fix one virtual camera, v4l2loopback or PipeWire: "
                if len(_groups(checks)) > 1
                else ""
            )
            + "run the commands under each, then `segcam doctor` again.",
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


__all__ = [
    "Check",
    "Roots",
    "diagnose",
    "exit_code",
    "problems",
    "ready_groups",
    "render",
    "run_checks",
]
