"""The PipeWire camera's checks: a running session, its session manager, GStreamer's parts.

A PipeWire camera needs (see :mod:`segcam.sinks.pipewire`):

* a PipeWire daemon accepting connections on this session's socket;
* a session manager (WirePlumber, or the older pipewire-media-session) that links
  the camera to the apps that open it and answers the camera portal;
* ``gst-launch-1.0`` and the GStreamer elements of the child pipeline, above all
  ``pipewiresink`` from GStreamer's PipeWire plugin.

``pw-dump`` is optional: with it segcam confirms that its node is published, and the
doctor asks the daemon for its session manager instead of looking for the process.

Every check here belongs to the ``pipewire`` group: ``segcam vcam`` on Linux is ready
when this group or the v4l2loopback group passes (see :func:`segcam.doctor.exit_code`).
"""

from __future__ import annotations

from collections.abc import Mapping

from segcam import pipewire_env
from segcam.doctor import Check, fixes

PIPEWIRE = "Virtual camera: PipeWire (browsers, OBS, Flatpak apps)"
GROUP = "pipewire"

_ELEMENT_PART = {
    "pipewiresink": "gst-pipewire",
    "rawvideoparse": "gst-base",
    "videoconvert": "gst-base",
    "fdsrc": "gst-tools",
    "identity": "gst-tools",
}


def _check(ok: bool, title: str, fix: tuple[str, ...] = (), required: bool = True) -> Check:
    return Check(PIPEWIRE, ok, title, fix, required=required, group=GROUP)


def _wireplumber_fix(installed: bool) -> tuple[str, ...]:
    if installed:
        return ("start it:", f"  {fixes.START_WIREPLUMBER}")
    return (
        *fixes.install_pipewire_parts(["wireplumber"]),
        "then start it:",
        f"  {fixes.START_WIREPLUMBER}",
    )


def linux_pipewire(env: Mapping[str, str] | None = None, proc: str = "/proc") -> list[Check]:
    """The checklist for a PipeWire camera in the session ``env`` describes."""
    checks = []
    alive = pipewire_env.session_alive(env)
    path = pipewire_env.socket_path(env)
    if alive:
        checks.append(_check(True, f"a PipeWire session is running ({path})"))
    elif path is None:
        checks.append(
            _check(
                False,
                "no PipeWire session: XDG_RUNTIME_DIR is not set (not a desktop login?)",
                ("run segcam from your desktop session, where XDG_RUNTIME_DIR is set",),
            )
        )
    else:
        installed = pipewire_env.which("pipewire", env) is not None
        fix = (
            ("start it:", f"  {fixes.START_PIPEWIRE}")
            if installed
            else (
                *fixes.install_pipewire_parts(["pipewire", "wireplumber"]),
                "then start it:",
                f"  {fixes.START_PIPEWIRE}",
            )
        )
        checks.append(
            _check(
                False,
                f"no PipeWire session is running (nothing answers on {path})"
                + ("" if installed else "; PipeWire is not installed"),
                fix,
            )
        )

    wp_installed = any(
        pipewire_env.which(tool, env) is not None
        for tool in ("wireplumber", "pipewire-media-session")
    )
    if alive:
        objects = pipewire_env.dump(env)
        if objects is not None:
            manager = pipewire_env.session_manager(objects)
        else:  # no pw-dump: look for the process instead
            manager = pipewire_env.session_manager_running(proc)
        if manager:
            checks.append(_check(True, f"{manager} (the session manager) is running"))
        else:
            checks.append(
                _check(
                    False,
                    "WirePlumber is not running: nothing links the camera to the apps that open it",
                    _wireplumber_fix(wp_installed),
                )
            )
    elif not wp_installed:
        # Without a session there is nothing to ask; a missing package is still worth
        # saying now, so one round of installs fixes everything.
        checks.append(_check(False, "WirePlumber is not installed", _wireplumber_fix(wp_installed)))

    if pipewire_env.which(pipewire_env.GST_LAUNCH, env) is None:
        checks.append(
            _check(
                False,
                "GStreamer's gst-launch-1.0 is not installed (segcam runs the camera through it)",
                fixes.install_pipewire_parts(["gst-tools", "gst-pipewire", "gst-base"]),
            )
        )
    else:
        missing = pipewire_env.missing_elements(env)
        if missing is None:  # gst-inspect-1.0 ships with gst-launch-1.0; be safe anyway
            missing = list(pipewire_env.ELEMENTS)
        if "pipewiresink" in missing:
            checks.append(
                _check(
                    False,
                    "GStreamer's PipeWire plugin (pipewiresink) is not installed",
                    fixes.install_pipewire_parts(["gst-pipewire"]),
                )
            )
        else:
            checks.append(_check(True, "GStreamer's PipeWire plugin (pipewiresink) is installed"))
        others = [m for m in missing if m != "pipewiresink"]
        if others:
            parts = list(dict.fromkeys(_ELEMENT_PART[m] for m in others))
            checks.append(
                _check(
                    False,
                    f"GStreamer elements {', '.join(others)} are missing",
                    fixes.install_pipewire_parts(parts),
                )
            )
    if pipewire_env.which(pipewire_env.PW_DUMP, env) is None:
        checks.append(
            _check(
                False,
                "pw-dump is not installed (segcam cannot confirm its camera node appeared)",
                fixes.install_pipewire_parts(["pw-dump"]),
                required=False,
            )
        )
    return checks
