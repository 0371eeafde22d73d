"""``segcam bench``: time segcam against the naive reference pipeline, or run live."""

from __future__ import annotations

import argparse
import json
import sys

from segcam.cli import EXIT_OK, add_model_options


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "bench",
        parents=[common],
        help="measure per-frame cost against the naive reference pipeline",
        description="Time every stage of segcam on the same frames as the naive reference "
        "pipeline (MediaPipe landscape model, float bilinear upscale, 7x7 Gaussian, "
        "cv2.blendLinear with an image or a full-size 21x21 blur), interleaved frame by "
        "frame in one run, and print p50/p95 per stage and the speed-up. --live instead "
        "runs the threaded pipeline on a source paced at 30 fps and reports latency from "
        "capture to sink, drops, CPU and memory; --duration makes it a soak test.",
    )
    p.add_argument(
        "--input",
        "-i",
        default="demo",
        metavar="FILE|demo",
        help="a video file, 'demo' (default) or 'demo:desk'",
    )
    p.add_argument(
        "--resolution", metavar="WxH", default="1280x720", help="frame size (default 1280x720)"
    )
    p.add_argument("--frames", type=int, default=120, metavar="N", help="frames to time (120)")
    p.add_argument(
        "--background",
        "-b",
        metavar="SPEC",
        help="background as for record (default: blur); compare image and blur",
    )
    # --filters defaults as for record: the live chain for the demo and --live, the
    # default (quality) chain for a file.
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument(
        "--live",
        action="store_true",
        help="run the real threaded pipeline on a source paced at --fps (default 30)",
    )
    p.add_argument("--fps", metavar="F", help="pace of the --live source (default 30)")
    p.add_argument(
        "--duration",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds to run --live (default 10; 600 for a soak test)",
    )
    add_model_options(p)
    p.set_defaults(handler=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    from segcam.commands.settings import settings_for
    from segcam.config import parse_fps, parse_resolution
    from segcam.errors import ConfigError
    from segcam.settings_file import pipeline_settings

    resolution = parse_resolution(args.resolution)
    if args.frames < 10:
        raise ConfigError(f"invalid --frames {args.frames}: use at least 10")
    if not args.duration > 0:
        raise ConfigError(f"invalid --duration {args.duration:g}: must be more than 0")
    fps = parse_fps(args.fps) if args.fps is not None else 30.0
    pipeline_settings(args)  # validate the options before loading anything
    from segcam.capture import is_demo

    live = args.live or is_demo(args.input)
    settings = settings_for(args, live=live)
    if args.live:
        return _live(args, settings, resolution, fps)
    return _offline(args, settings, resolution)


def _open(spec: str, resolution: tuple[int, int], loop: bool):
    from segcam.capture import is_demo, open_source
    from segcam.errors import InputError

    source = open_source([spec], resolution=resolution, loop=loop)
    if source.live and not is_demo(spec):
        source.stop()
        raise InputError(f"bench needs a video file or a demo source, not the camera {spec!r}")
    return source


def _offline(args, settings, resolution) -> int:
    from segcam.bench import read_frames, run_offline

    source = _open(args.input, resolution, loop=True)
    warmup = 5
    images, capture_times = read_frames(source, args.frames + warmup)
    result = run_offline(images, capture_times, settings, warmup=warmup)
    data = result.as_dict()
    if args.json:
        print(json.dumps(data, indent=2))
        return EXIT_OK
    _headline(data, f"{data['frames']} frames of {source.name}")
    print(f"{'stage':<14}{'p50 ms':>9}{'p95 ms':>9}")
    for stage in ("capture", "segment", "mask_filters", "composite", "output"):
        if stage in result.segcam.times:
            print(
                f"{stage:<14}{result.segcam.p(stage, 50):>9.2f}{result.segcam.p(stage, 95):>9.2f}"
            )
    print(
        f"{'compose':<14}{result.compose_ms(50):>9.2f}{result.compose_ms(95):>9.2f}"
        f"   (mean {result.compose_mean_ms():.2f})"
    )
    print(f"{'frame':<14}{result.frame_ms(50):>9.2f}{result.frame_ms(95):>9.2f}")
    if result.reference is not None:
        ref = result.reference
        print(
            f"reference     {result.reference_ms(50):>9.2f}{result.reference_ms(95):>9.2f}"
            f"   (segment {ref.p('segment', 50):.2f}, upscale+gauss "
            f"{ref.p('mask_filters', 50):.2f}, background+blend {ref.p('composite', 50):.2f})"
        )
        print(
            f"speed-up      {data['ratio']:.2f}x (reference p50 / compose p50); "
            f"{data['ratio_mean']:.2f}x on the means"
        )
    else:
        print("reference     n/a for this background")
    print(f"model skipped {_share(data['masks_reused'], data['frames'], SKIPPED)}")
    print(f"crop only     {_share(data['crop_only'], data['frames'], CROP_ONLY)}")
    return EXIT_OK


def _share(count: int, frames: int, what: str) -> str:
    """``"on 41 of 120 frames (34 %): WHAT"``, or ``"on no frame"``."""
    if not frames:
        return "on no frame"
    return f"on {count} of {frames} frames ({100.0 * count / frames:.0f} %): {what}"


#: What the two counts of the skip rule mean, as bench prints them.
SKIPPED = "their mask was proven still valid"
CROP_ONLY = "only the part around the person changed, so only the crop's model ran"


def _live(args, settings, resolution, fps) -> int:
    from segcam.bench import run_live
    from segcam.capture.paced import PacedSource
    from segcam.pipeline import describe_drops

    source = _open(args.input, resolution, loop=True)
    if not source.live:
        source = PacedSource(source, fps)
    print(
        f"segcam: running {source.name} for {args.duration:g} s (after 1 s of warm-up)...",
        file=sys.stderr,
    )
    result = run_live(source, settings, duration=args.duration).as_dict()
    if args.json:
        print(json.dumps(result, indent=2))
        return EXIT_OK
    _headline(result, f"{result['seconds']:.1f} s live")
    print(f"frames in/out     {result['frames_in']} / {result['frames_out']}")
    print(f"fps in/out        {result['fps_in']:.1f} / {result['fps_out']:.1f}")
    print(f"dropped           {describe_drops(result['dropped'])}")
    print(f"model skipped     {_share(result['masks_reused'], result['frames_out'], SKIPPED)}")
    print(f"crop only         {_share(result['crop_only'], result['frames_out'], CROP_ONLY)}")
    print(
        f"latency p50/p95   {result['latency_p50_ms']:.1f} / {result['latency_p95_ms']:.1f} ms "
        "(capture to sink)"
    )
    print(f"compose p50/p95   {result['compose_p50_ms']:.1f} / {result['compose_p95_ms']:.1f} ms")
    print(
        f"CPU               compose {result['compose_cpu_percent']:.1f}% of one core, "
        f"whole process {result['process_cpu_percent']:.1f}%"
    )
    print(
        f"RSS start/end     {result['rss_start_mb']:.1f} / {result['rss_end_mb']:.1f} MB "
        f"({result['rss_growth_percent']:+.2f}%)"
    )
    return EXIT_OK


def _headline(data: dict, what: str) -> None:
    print(
        f"{data['resolution']}, background {data['background']}, model {data['model']}, "
        f"filters {data['filters'] or 'none'}; {what}"
    )
