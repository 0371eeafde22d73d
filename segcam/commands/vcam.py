"""``segcam vcam``: the processed video as a virtual webcam, headless.

The device stays open for the whole run, so video apps keep seeing the camera:
the sink sends the neutral card before the first frame and while paused, and
repeats the last frame when the pipeline stalls (see :mod:`segcam.sinks.vcam`).

Inputs that are not live (video files, images) are paced to their frame rate,
as a camera would deliver them. With ``--on-demand`` (Linux) the input and the
model run only while some application has the loopback device open: when the
last reader goes, the pipeline stops and the webcam is released; when one
opens it again, the input is reopened and processing resumes.
"""

from __future__ import annotations

import argparse
import sys

PROC_ROOT = "/proc"
"""Where ``--on-demand`` looks for processes reading the device (tests point it elsewhere)."""
POLL_S = 0.5
"""How often ``--on-demand`` looks for readers."""
READER_GRACE_S = 2.0
"""``--on-demand`` pauses only after this long without a reader: apps that list cameras
open the device for a moment, and a call app may close and reopen it between screens."""


def register(subparsers, common: argparse.ArgumentParser) -> None:
    from segcam.cli import add_model_options, add_source_options

    p = subparsers.add_parser(
        "vcam",
        parents=[common],
        help="send the processed video to a virtual webcam (Zoom, Meet, Teams, OBS)",
        description="Run headless and send the processed video to a virtual camera: "
        "v4l2loopback on Linux, the OBS Virtual Camera on Windows and macOS. Video apps "
        "then list it as a webcam. The outgoing image is not mirrored (use --mirror). "
        "Video files and images are played in real time. Ctrl+C stops. If the device "
        "cannot be opened, `segcam doctor` says what is missing.",
    )
    add_source_options(p)
    p.add_argument(
        "--device",
        metavar="DEV",
        help="virtual camera device, e.g. /dev/video10 on Linux or 'OBS Virtual Camera' "
        "(default: the first free one)",
    )
    p.add_argument(
        "--backend",
        metavar="NAME",
        help="pyvirtualcam backend: v4l2loopback (Linux), pipewire (Linux: a PipeWire camera "
        "for browsers, OBS and Flatpak apps; --device names the node, default segcam), obs "
        "(Windows, macOS), unitycapture (Windows), one registered by a plugin, or auto (pick "
        "what this desktop can show, and say which) (default: try each)",
    )
    p.add_argument("--frames", type=int, metavar="N", help="stop after N processed frames")
    p.add_argument(
        "--mirror", action="store_true", help="mirror the outgoing image (default: not mirrored)"
    )
    p.add_argument("--loop", action="store_true", help="repeat a video or image list forever")
    if sys.platform.startswith("linux"):
        p.add_argument(
            "--on-demand",
            action="store_true",
            help="process (and hold the webcam) only while an application has the virtual "
            "camera open; show a paused card otherwise",
        )
    add_model_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import logging
    import threading
    import time

    from segcam.cli import EXIT_INTERRUPTED, EXIT_OK, StopSignals
    from segcam.commands.settings import settings_for
    from segcam.config import parse_fps, parse_resolution
    from segcam.errors import ConfigError
    from segcam.pipeline import describe_run
    from segcam.session import Session, paced
    from segcam.sinks.base import StreamInfo
    from segcam.sinks.vcam import ReaderWatch, VirtualCameraSink, summary

    log = logging.getLogger(__name__)
    resolution = parse_resolution(args.resolution) if args.resolution else None
    fps = parse_fps(args.fps) if args.fps is not None else None
    if args.frames is not None and args.frames < 1:
        raise ConfigError(f"invalid --frames {args.frames}: must be at least 1")
    on_demand = bool(getattr(args, "on_demand", False))
    # Always a real-time job (files are paced), so live sources' chain applies.
    settings = settings_for(args, live=True)
    # One session for the whole run: the model loads once, the device stays attached
    # while --on-demand releases and reopens the input.
    session = Session(settings)
    session.prepare()

    def open_input():
        from segcam.capture import open_source

        return paced(open_source(args.input, resolution=resolution, fps=fps, loop=args.loop))

    source = open_input()
    size = resolution or source.size
    out_fps = fps or source.fps
    try:
        from segcam.sinks.auto import choose_backend

        backend, picked = choose_backend(args.backend)
    except BaseException:
        source.stop()
        raise
    if picked:
        print(f"segcam: {picked}", file=sys.stderr)
    sink = VirtualCameraSink(
        device=args.device, backend=backend, size=size, fps=out_fps, mirror=args.mirror
    )
    try:
        info = StreamInfo(
            size=size, fps=out_fps, live=True, transparent=settings.background.transparent
        )
        session.attach("vcam", sink, info=info, fatal=True)
    except BaseException:
        source.stop()
        raise

    assert sink.size is not None and sink.fps is not None
    w, h = sink.size
    print(
        f"segcam: {source.name} -> virtual camera {sink.device} ({sink.backend}, {w}x{h} @ "
        f"{sink.fps:.3g} fps{', mirrored' if args.mirror else ''}; {describe_run(settings)})",
        file=sys.stderr,
    )
    print("segcam: press Ctrl+C to stop", file=sys.stderr)
    watch = None
    if on_demand and sink.backend == "pipewire":
        from segcam.sinks.pipewire import PipeWireReaderWatch

        watch = PipeWireReaderWatch(sink.device or "segcam", grace=READER_GRACE_S)
    elif on_demand:
        watch = ReaderWatch(sink.device or "", proc_root=PROC_ROOT, grace=READER_GRACE_S)
    stop = threading.Event()

    def request_stop() -> None:
        stop.set()
        session.request_stop()

    processed = 0
    started = time.monotonic()
    finished = False  # the input ended or --frames was reached
    try:
        with StopSignals(request_stop) as signals:
            while not stop.is_set() and not finished:
                if watch is not None and not watch.active():
                    if not sink.paused:
                        sink.paused = True
                        print(
                            f"segcam: no application is reading {sink.device}; paused "
                            "(input released)",
                            file=sys.stderr,
                        )
                    if source is not None:
                        source.stop()
                        source = None
                    stop.wait(POLL_S)
                    if sink.error is not None:
                        raise sink.error
                    continue
                if sink.paused:
                    print(f"segcam: {sink.device} is being read; resuming", file=sys.stderr)
                    sink.paused = False
                if source is None:
                    source = open_input()
                remaining = None if args.frames is None else args.frames - processed
                paused_by_watch = False
                # The run starts here; the source is the session's from now on.
                source, opened = None, source
                pipeline = session.open(opened, max_frames=remaining)
                if stop.is_set():  # a signal between the loop test and here
                    pipeline.request_stop()
                try:
                    while not pipeline.wait(POLL_S):
                        if sink.error is not None:
                            pipeline.request_stop()
                        elif watch is not None and not watch.active():
                            paused_by_watch = True
                            pipeline.request_stop()
                finally:
                    # Stops the run; its capture thread released the source.
                    session.release()
                    processed += pipeline.stats.frames_out
                if pipeline.error is not None:
                    raise pipeline.error
                if sink.error is not None:
                    raise sink.error
                finished = not paused_by_watch and not stop.is_set()
    finally:
        if source is not None:
            source.stop()
        session.close()  # stops the virtual camera
    if sink.error is not None:
        raise sink.error
    if processed != sink.received:  # every processed frame goes to the sink
        log.warning("vcam: %d frames processed, %d reached the sink", processed, sink.received)
    for line in summary(sink, time.monotonic() - started):
        print(line)
    busy = sink.median_busy_ms()
    if busy is not None:
        log.info("virtual camera: median %.2f ms per frame on its thread", busy)
    if signals.received is not None and args.frames is not None and processed < args.frames:
        return EXIT_INTERRUPTED
    return EXIT_OK
