"""Measure the PipeWire camera: latency to a consumer, the sink's CPU cost, delivered fps.

Run: ``python -m tests.pipewire_bench [--seconds 60] [--size 1280x720] [--fps 30]``

A private PipeWire session (tests/pipewire_session.py) hosts segcam's
:class:`~segcam.sinks.vcam.VirtualCameraSink` with the ``pipewire`` backend. A
producer thread makes frames at the frame rate and stamps each with
``time.monotonic_ns()`` in black and white blocks along the top rows (the stand-in for
the capture time), then submits it as the pipeline would. A consumer
(``gst-launch-1.0 pipewiresrc ! videoconvert ! GRAY8 ! fdsink``) reads the node; this
script decodes each stamp on arrival, so latency includes the sink's pacing, the
pipe, the child's conversion, PipeWire and the consumer's own conversion.

CPU: the gst-launch child's user+system time over the run (/proc/PID/stat), and the
sending thread's median time per frame (``sink.busy``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import threading
import time

import numpy as np

from segcam.frame import Frame
from segcam.sinks.base import StreamInfo
from segcam.sinks.vcam import VirtualCameraSink
from tests.pipewire_session import start_session, wait_for

BITS = 64
BLOCK = 16


def stamp(image: np.ndarray, value: int) -> None:
    for i in range(BITS):
        image[:BLOCK, i * BLOCK : (i + 1) * BLOCK] = 255 if (value >> i) & 1 else 0


def read_stamp(gray: np.ndarray) -> int:
    value = 0
    for i in range(BITS):
        if gray[BLOCK // 2, i * BLOCK + BLOCK // 2] > 128:
            value |= 1 << i
    return value


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--fps", type=float, default=30.0)
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.split("x"))
    session = start_session()
    os.environ.update(session.env)
    for key in [k for k in os.environ if k.startswith("PIPEWIRE_")]:
        del os.environ[key]
    sink = VirtualCameraSink(backend="pipewire", size=(w, h), fps=a.fps)
    sink.start(StreamInfo(size=(w, h), fps=a.fps, live=True))
    stop = threading.Event()

    def produce() -> None:
        base = np.full((h, w, 3), (0, 200, 0), np.uint8)
        seq, t0 = 0, time.monotonic()
        while not stop.is_set():
            image = base.copy()
            stamp(image, time.monotonic_ns())
            frame = Frame(seq=seq, image=image, pts=seq / a.fps)
            frame.output = image
            sink.submit(frame)
            seq += 1
            time.sleep(max(0.0, t0 + seq / a.fps - time.monotonic()))

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    consumer = subprocess.Popen(
        [
            "gst-launch-1.0",
            "-q",
            "pipewiresrc",
            "target-object=segcam",
            'stream-properties="p,media.type=Video"',
            "!",
            "videoconvert",
            "!",
            "video/x-raw,format=GRAY8",
            "!",
            "fdsink",
            "fd=1",
        ],
        env=session.env,
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    latencies: list[float] = []
    arrivals: list[float] = []
    child = wait_for(lambda: session.node("segcam"), 10, "the node").pid
    cpu0, t_cpu0 = None, None
    try:
        assert consumer.stdout is not None
        size = w * h
        start = None
        while True:
            data = consumer.stdout.read(size)
            now = time.monotonic_ns()
            if len(data) < size:
                break
            if start is None:
                start = now
                cpu0, t_cpu0 = cpu_seconds(child), time.monotonic()
                sink.busy.clear()
            gray = np.frombuffer(data, np.uint8).reshape(h, w)
            latencies.append((now - read_stamp(gray)) / 1e6)
            arrivals.append(now / 1e9)
            if (now - start) / 1e9 >= a.seconds:
                break
        cpu = cpu_seconds(child) - cpu0
        span = time.monotonic() - t_cpu0
    finally:
        consumer.kill()
        consumer.wait()
        stop.set()
        producer.join(5)
        sink.stop()
        session.close()
    lat = np.array(latencies[5:])  # the first frames include start-up
    fps = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
    print(
        f"{w}x{h} @ {a.fps:g} fps, {len(arrivals)} frames over {arrivals[-1] - arrivals[0]:.1f} s"
    )
    print(f"consumer fps: {fps:.2f}")
    print(
        f"latency stamp -> consumer: p50 {np.percentile(lat, 50):.1f} ms, "
        f"p95 {np.percentile(lat, 95):.1f} ms, max {lat.max():.1f} ms"
    )
    print(f"gst-launch child CPU: {100 * cpu / span:.1f}% of one core")
    print(f"sending thread per frame: median {sink.median_busy_ms():.2f} ms")
    print(
        f"sink: sent {sink.frames_sent}, new {sink.frames_new}, "
        f"repeats {sink.repeats}, dropped {sink.dropped}"
    )


if __name__ == "__main__":
    main()
