"""``segcam record``: any source, processed, into a video file."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time

from segcam.capture import open_source
from segcam.cli import EXIT_INTERRUPTED, EXIT_OK, StopSignals
from segcam.commands.settings import settings_for
from segcam.config import parse_fps, parse_resolution
from segcam.errors import ConfigError
from segcam.outputs import input_files
from segcam.pipeline import describe_run
from segcam.progress import Progress
from segcam.session import Session
from segcam.settings_file import pipeline_settings
from segcam.sinks.recorder import (
    Recorder,
    check_output_path,
    default_output_path,
    display_name,
    is_stream_url,
)

log = logging.getLogger(__name__)


def run_record(args: argparse.Namespace) -> int:
    # Validate every option before touching a camera or the model.
    resolution = parse_resolution(args.resolution) if args.resolution else None
    fps = parse_fps(args.fps) if args.fps is not None else None
    if args.frames is not None and args.frames < 1:
        raise ConfigError(f"invalid --frames {args.frames}: must be at least 1")
    if args.duration is not None and not args.duration > 0:
        raise ConfigError(f"invalid --duration {args.duration:g}: must be more than 0")
    settings = pipeline_settings(args)
    background = settings.background
    output = args.output or default_output_path(".webm" if background.transparent else ".mp4")
    # Never write where we read: the inputs and the background video or image.
    inputs = input_files([*args.input, background.path])
    overwrite = bool(getattr(args, "overwrite", False))
    check_output_path(
        output, transparent=background.transparent, overwrite=overwrite, inputs=inputs
    )
    shown = display_name(output)  # a stream URL without its key

    # The model loads before the camera opens: a bad model fails without touching it.
    session = Session(settings)
    session.load_segmenter(settings)
    source = open_source(args.input, resolution=resolution, fps=fps, loop=args.loop)
    try:
        settings = settings_for(args, live=source.live)
        session.apply(settings)
        session.prepare()
        recorder = Recorder(output, mirror=args.mirror, overwrite=overwrite, inputs=inputs)
    except BaseException:
        source.stop()
        session.close()
        raise

    total = _expected_frames(source.frame_count, source.fps, args.frames, args.duration)
    w, h = source.size
    verb = "streaming" if is_stream_url(output) else "recording"
    print(
        f"segcam: {verb} {source.name} ({w}x{h} @ {source.fps:.3g} fps, "
        f"{describe_run(settings)}) -> {shown}",
        file=sys.stderr,
    )
    if total is None:
        print("segcam: press Ctrl+C to stop", file=sys.stderr)
    # A live job's total counts input frames, so the ones dropped use it up too;
    # --frames counts frames written.
    progress = Progress(total, counts_dropped=total is not None and total != args.frames)
    stopping = threading.Event()

    def request_stop() -> None:
        stopping.set()
        session.request_stop()

    # The signals are ours before the recorder starts: a stream connects there, and
    # Ctrl+C or SIGTERM during that wait must end the run cleanly, not kill it.
    with StopSignals(request_stop) as signals:
        try:
            session.attach("recorder", recorder, info=session.stream_info(source), fatal=True)
            pipeline = session.open(source, max_frames=args.frames, max_duration=args.duration)
        except BaseException:
            source.stop()
            session.close()
            raise
        if stopping.is_set():  # a signal came while the stream connected
            pipeline.request_stop()
        try:
            while not pipeline.wait(0.25):
                progress.update(pipeline.stats.frames_out, pipeline.dropped)
        finally:
            session.release()
            # Finalises the recording; its error is the recorder's own, read below.
            session.close()
            progress.update(pipeline.stats.frames_out, pipeline.dropped, force=True)
            progress.close()
    if recorder.error is not None:
        pipeline.fail(recorder.error)  # finalising failed (e.g. a full disk)

    stats = pipeline.stats
    written = recorder.frames_written
    if pipeline.error is not None:
        # Counted in the file: frames the encoder took but a full disk lost are not saved.
        saved = recorder.frames_saved()
        if saved:
            print(f"segcam: {saved} frames were saved to {shown} before the error", file=sys.stderr)
        elif written and saved is None:
            print(
                f"segcam: {written} frames were sent to {shown} before the error", file=sys.stderr
            )
        raise pipeline.error
    elapsed = max(1e-9, _elapsed(stats))
    print(
        f"wrote {written} frames ({stats.last_pts + 1.0 / source.fps:.1f} s of video) to {shown} "
        f"in {elapsed:.1f} s ({written / elapsed:.1f} fps, {pipeline.dropped} dropped)"
    )
    log.info(
        "median per frame: %s",
        ", ".join(f"{k} {stats.median_ms(k):.2f} ms" for k in sorted(stats.times)),
    )
    if signals.received is not None and total is not None and stats.frames_out < total:
        print("segcam: interrupted; the file was finalised", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK


def _elapsed(stats) -> float:
    return time.monotonic() - stats.started


def _expected_frames(
    count: int | None, fps: float, frames: int | None, duration: float | None
) -> int | None:
    """How many frames the job will write, when that is known in advance."""
    limits = [n for n in (count, frames) if n]
    if duration:
        limits.append(max(1, round(duration * fps)))
    return min(limits) if limits else None
