"""``segcam record --output URL``: live streams over UDP (MPEG-TS) and RTMP (FLV).

The receivers are real: a UDP socket on 127.0.0.1 whose datagrams PyAV demuxes
and decodes as MPEG-TS while they arrive, and FFmpeg's own RTMP server (PyAV in
listen mode) in a second process. (Two PyAV network endpoints cannot share one
process: PyAV keeps the GIL while FFmpeg blocks on the network.)
"""

from __future__ import annotations

import io
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest

from segcam.sinks.recorder import display_name
from tests.conftest import run_cli

GREEN = "#00ff00"


def green_share(image: np.ndarray) -> float:
    g = (image[..., 1] > 200) & (image[..., 0] < 80) & (image[..., 2] < 80)
    return float(g.mean())


class UdpByteStream(io.RawIOBase):
    """The payload of the datagrams arriving on ``sock``, as one byte stream.

    ``read`` waits up to ``first_s`` for the first datagram (segcam loads its model
    first), then ends the stream once the sender has been quiet for ``idle_s``.
    Arrival times are kept, to see the pacing.
    """

    def __init__(self, sock: socket.socket, first_s: float = 60.0, idle_s: float = 2.0) -> None:
        self.sock = sock
        self.first_s, self.idle_s = first_s, idle_s
        self.pending = b""
        self.times: list[float] = []
        self.ended = False

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if not self.pending:
            if self.ended:  # FFmpeg asks again after the end; the answer stays "end"
                return 0
            self.sock.settimeout(self.idle_s if self.times else self.first_s)
            try:
                self.pending = self.sock.recv(65536)
            except TimeoutError:
                self.ended = True
                return 0
            self.times.append(time.monotonic())
        n = min(len(b), len(self.pending))
        b[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n


def receive_udp(sock: socket.socket, result: dict) -> None:
    """Demux and decode the MPEG-TS arriving on ``sock`` with PyAV (a thread)."""
    stream = UdpByteStream(sock)
    result["stream"] = stream
    try:
        with av.open(io.BufferedReader(stream), format="mpegts") as c:
            result["codecs"] = sorted(s.codec_context.name for s in c.streams)
            frames = []
            for f in c.decode(video=0):
                frames.append(f.to_ndarray(format="bgr24"))
            result["frames"] = frames
    except Exception as e:  # reported by the test
        result["error"] = repr(e)


def test_udp_mpegts_stream_arrives_decodes_and_is_paced(clip_with_audio, capsys):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    result: dict = {}
    receiver = threading.Thread(target=receive_udp, args=(sock, result))
    receiver.start()
    try:
        code, out, err = run_cli(
            ["record", "--input", str(clip_with_audio), "--output", f"udp://127.0.0.1:{port}",
             "-b", GREEN],
            capsys,
        )  # fmt: skip
        receiver.join(60)
    finally:
        sock.close()
    assert code == 0, err
    assert "wrote 30 frames" in out
    assert "error" not in result, result.get("error")
    assert result["codecs"] == ["aac", "h264"]  # the input's audio went along
    frames = result["frames"]
    assert len(frames) == 30
    assert frames[0].shape == (288, 512, 3)
    for f in frames[::5]:
        assert 0.2 < green_share(f) < 0.95  # processed: green background, person kept
    # Paced like a camera: 30 frames at 15 fps take about 2 s to send, even from a file
    # that segcam could process much faster.
    times = result["stream"].times
    assert times[-1] - times[0] >= 0.8 * 29 / 15


def _listening(port: int) -> bool:
    hexport = f":{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[1].endswith(hexport) and fields[3] == "0A":  # 0A = LISTEN
                return True
    return False


_RTMP_RECEIVER = """
import av, json, sys
res = {"frames": 0}
try:
    with av.open(sys.argv[1], format="flv", options={"listen": "1", "timeout": "60"}) as c:
        res["codecs"] = sorted(s.codec_context.name for s in c.streams)
        try:
            for f in c.decode(video=0):
                res["frames"] += 1
                res["size"] = [f.width, f.height]
                if res["frames"] == 10:
                    img = f.to_ndarray(format="bgr24")
                    g = (img[..., 1] > 200) & (img[..., 0] < 80) & (img[..., 2] < 80)
                    res["green"] = float(g.mean())
        except (av.error.FFmpegError, OSError) as e:
            res["end"] = repr(e)  # the publisher hung up
except Exception as e:
    res["error"] = repr(e)
print(json.dumps(res))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/net/tcp")
def test_rtmp_flv_stream_reaches_a_local_rtmp_server(clip_with_audio, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"rtmp://127.0.0.1:{port}/live/s3cr3tkey"
    server = subprocess.Popen(
        [sys.executable, "-c", _RTMP_RECEIVER, url], stdout=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while not _listening(port):
            assert server.poll() is None, server.communicate()
            assert time.monotonic() < deadline, "the RTMP server did not start"
            time.sleep(0.02)
        code, out, err = run_cli(
            ["record", "--input", str(clip_with_audio), "--output", url, "-b", GREEN], capsys
        )
        res = json.loads(server.communicate(timeout=60)[0])
    finally:
        if server.poll() is None:
            server.kill()
    assert code == 0, err
    assert "error" not in res, res
    assert res["codecs"] == ["aac", "h264"]
    assert res["frames"] == 30
    assert res["size"] == [512, 288]
    assert 0.2 < res["green"] < 0.95
    # The stream key never appears in what segcam prints.
    assert "s3cr3tkey" not in out + err
    assert f"rtmp://127.0.0.1:{port}/live/***" in out


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("udp://127.0.0.1", "give a port"),
        ("rtmp://127.0.0.1/live", "an RTMP URL is rtmp://HOST[:PORT]/APP/STREAM_KEY"),
        ("ftp://127.0.0.1/x", "unsupported stream URL"),
        ("udp://no-such-host.invalid:5000", "unknown host no-such-host.invalid"),
        ("srt://127.0.0.1:9000", "no srt:// support"),
        ("rtmp://127.0.0.1:{closed}/live/s3cr3tkey", "Connection refused"),
    ],
)
def test_bad_or_unreachable_url_is_one_line(url, message, capsys):
    url = url.format(closed=_closed_port())
    code, _, err = run_cli(["record", "--input", "demo", "--frames", "5", "-o", url], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    errors = [line for line in lines if line.startswith("segcam: error:")]
    assert len(errors) == 1, err
    assert message in errors[0]
    assert "Traceback" not in err
    assert "s3cr3tkey" not in err


def test_transparent_background_cannot_be_streamed(capsys):
    code, _, err = run_cli(
        ["record", "--input", "demo", "-b", "none", "-o", "udp://127.0.0.1:5000"], capsys
    )
    assert code == 2
    [line] = err.strip().splitlines()
    assert "cannot carry transparency" in line


def test_display_name_hides_stream_keys_and_passwords():
    assert display_name("rtmp://a.example/live/abc123") == "rtmp://a.example/live/***"
    assert display_name("rtmps://u:pw@a.example:443/app/key") == "rtmps://***@a.example:443/app/***"
    assert display_name("udp://239.0.0.1:5000?ttl=2") == "udp://239.0.0.1:5000?ttl=2"
    assert display_name("srt://h:9000?passphrase=secret1234") == "srt://h:9000?***"


class SilentServer:
    """A TCP listener on 127.0.0.1 that accepts connections and never says a word."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(60)  # a bounded wait for segcam to connect
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []

    def accept(self) -> None:
        conn, _ = self.sock.accept()
        self.conns.append(conn)

    def close(self) -> None:
        for c in self.conns:
            c.close()
        self.sock.close()


def _stream_to_silent_server(server: SilentServer) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "segcam", "record", "--input", "demo", "--output",
         f"rtmp://127.0.0.1:{server.port}/app/s3cr3tkey"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_silent_server_ends_with_a_timeout_error():
    """It used to hang for good in start_encoding(); now FFmpeg's rw_timeout ends it."""
    server = SilentServer()
    proc = _stream_to_silent_server(server)
    try:
        server.accept()
        _, err = proc.communicate(timeout=60)  # a hang guard, far above the timeout
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        server.close()
    assert proc.returncode == 2, err
    errors = [line for line in err.splitlines() if line.startswith("segcam: error:")]
    assert len(errors) == 1, err
    assert "timed out" in errors[0]
    assert "s3cr3tkey" not in err and "Traceback" not in err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_stop_signals_end_a_run_stuck_on_a_silent_server(sig):
    """Ctrl+C (three presses, which used to restart FFmpeg's wait each time) or SIGTERM
    while segcam waits on a silent server: the process ends, with no traceback."""
    server = SilentServer()
    proc = _stream_to_silent_server(server)
    try:
        server.accept()
        for _ in range(3 if sig == signal.SIGINT else 1):
            time.sleep(0.5)
            proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)  # a hang guard only
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        server.close()
    assert proc.returncode in (2, 130), err
    assert "Traceback" not in err and "s3cr3tkey" not in err
