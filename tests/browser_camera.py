"""Browsers reading a PipeWire camera through the camera portal, for tests.

* :func:`portal_env` completes a private PipeWire session (tests/pipewire_session.py)
  for the portal: ``XDG_CURRENT_DESKTOP=GNOME`` so xdg-desktop-portal picks the gtk
  backend, and the permission store's ``devices``/``camera`` preset that lets host
  apps use the camera without a dialog.
* :class:`ResultServer` serves a tiny page on 127.0.0.1 (a secure context, so
  getUserMedia is allowed) and receives what the page measured as a JSON POST.
* :func:`chromium_argv` and :func:`firefox_argv` start each browser on that page with
  the settings that make it use PipeWire cameras and skip the permission prompt.

The page asks for the camera, lists the video inputs, waits until the video has
shown frames, draws the last one on a canvas and posts the track's label, the
device labels, the size and the fraction of green pixels at the edges and in the
middle of the picture.
"""

from __future__ import annotations

import http.server
import json
import queue
import shutil
import subprocess
import threading
from pathlib import Path

PAGE = """<!doctype html>
<meta charset="utf-8"><title>segcam camera test</title>
<video id="v" autoplay muted playsinline></video><canvas id="c"></canvas>
<script>
const post = (r) => fetch("/result/" + NAME, {method: "POST", body: JSON.stringify(r)});
function frames(video, n) {
  // Resolve once the video element has presented n new frames.
  return new Promise((resolve) => {
    let seen = 0;
    const step = () => { if (++seen >= n) resolve(); else next(); };
    const next = () => video.requestVideoFrameCallback
      ? video.requestVideoFrameCallback(step) : setTimeout(step, 50);
    next();
  });
}
function green(ctx, x, y, w, h) {
  const d = ctx.getImageData(x, y, w, h).data;
  let g = 0;
  for (let i = 0; i < d.length; i += 4)
    if (d[i + 1] > 180 && d[i] < 80 && d[i + 2] < 80) g++;
  return g / (d.length / 4);
}
async function run() {
  const r = {};
  try {
    const stream = await navigator.mediaDevices.getUserMedia({video: true});
    const track = stream.getVideoTracks()[0];
    r.label = track.label;
    r.settings = track.getSettings();
    r.devices = (await navigator.mediaDevices.enumerateDevices())
      .filter((d) => d.kind === "videoinput").map((d) => d.label);
    const v = document.getElementById("v");
    v.srcObject = stream;
    await v.play();
    await frames(v, 15);
    const c = document.getElementById("c");
    const w = c.width = v.videoWidth, h = c.height = v.videoHeight;
    const ctx = c.getContext("2d", {willReadFrequently: true});
    ctx.drawImage(v, 0, 0);
    const band = Math.floor(w / 8);
    r.size = [w, h];
    r.edges = (green(ctx, 0, 0, band, h >> 1) + green(ctx, w - band, 0, band, h >> 1)) / 2;
    r.centre = green(ctx, (3 * w) >> 3, h >> 2, w >> 2, h >> 1);
    track.stop();
  } catch (e) {
    r.error = String(e);
  }
  await post(r);
}
run();
</script>
"""

PERMISSION_PRESET = [
    "gdbus",
    "call",
    "--session",
    "--dest",
    "org.freedesktop.impl.portal.PermissionStore",
    "--object-path",
    "/org/freedesktop/impl/portal/PermissionStore",
    "--method",
    "org.freedesktop.impl.portal.PermissionStore.SetPermission",
    "devices",
    "true",
    "camera",
    "",
    "['yes']",
]

BROWSER_PACKAGES = {
    "chromium": "chromium",
    "firefox-esr": "firefox-esr",
    "Xvfb": "xvfb",
    "gdbus": "libglib2.0-bin",
    "/usr/libexec/xdg-desktop-portal": "xdg-desktop-portal",
    "/usr/libexec/xdg-desktop-portal-gtk": "xdg-desktop-portal-gtk",
}


def missing_browser_packages() -> list[str]:
    missing = []
    for tool, pkg in BROWSER_PACKAGES.items():
        found = Path(tool).exists() if tool.startswith("/") else shutil.which(tool)
        if not found:
            missing.append(pkg)
    return missing


def portal_env(env: dict[str, str]) -> dict[str, str]:
    """Grant host apps the camera in the session's permission store (D-Bus starts the
    store on demand), and return ``env`` with the desktop the portal needs."""
    env = {**env, "XDG_CURRENT_DESKTOP": "GNOME"}
    subprocess.run(PERMISSION_PRESET, env=env, check=True, capture_output=True, timeout=30)
    return env


class ResultServer:
    """127.0.0.1 HTTP server: ``GET /NAME`` serves the page, ``POST /result/NAME`` the
    page's findings, which :meth:`result` returns. Runs on its own daemon thread."""

    def __init__(self) -> None:
        self.results: dict[str, queue.Queue[dict]] = {}
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.strip("/")
                body = PAGE.replace("NAME", json.dumps(name), 1).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                data = json.loads(self.rfile.read(length) or b"{}")
                name = self.path.rsplit("/", 1)[-1]
                outer.results.setdefault(name, queue.Queue()).put(data)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def result(self, name: str, timeout: float) -> dict | None:
        try:
            return self.results.setdefault(name, queue.Queue()).get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def chromium_argv(url: str, profile: Path) -> list[str]:
    return [
        "chromium",
        "--no-sandbox",  # tests run as root in CI containers
        f"--user-data-dir={profile}",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-gpu",
        "--password-store=basic",
        "--enable-features=WebRtcPipeWireCamera",
        "--use-fake-ui-for-media-stream",
        "--autoplay-policy=no-user-gesture-required",
        url,
    ]


FIREFOX_PREFS = {
    "media.webrtc.camera.allow-pipewire": True,
    "media.navigator.permission.disabled": True,
    "browser.shell.checkDefaultBrowser": False,
    "browser.aboutwelcome.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "app.update.enabled": False,
}


def firefox_argv(url: str, profile: Path) -> list[str]:
    profile.mkdir(parents=True, exist_ok=True)
    lines = [f"user_pref({json.dumps(k)}, {json.dumps(v)});" for k, v in FIREFOX_PREFS.items()]
    (profile / "user.js").write_text("\n".join(lines) + "\n")
    return ["firefox-esr", "--no-remote", "--profile", str(profile), url]
