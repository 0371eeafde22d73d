"""The ``segcam`` command line.

``segcam.cli.main(argv)`` runs one command in-process and returns its exit code;
it never raises for user errors and never prints a traceback unless ``--debug``
is given. Exit codes (the README's table says the same):

* 0: success.
* 1: the run started and failed part-way, or some inputs of a batch failed: a
  camera lost, a corrupt frame or image mid-run, a full disk, an encoder
  failure. What was written before the failure is kept, and said so. Also an
  internal error (a bug).
* 2: nothing was done: a bad option, config file, input, model or output path,
  found before the first frame.
* 130: a finite job interrupted by Ctrl+C (or SIGTERM); the output was finalised.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import math
import signal
import sys
import threading
from collections.abc import Sequence

from segcam import __version__
from segcam.errors import SegcamError, one_line

log = logging.getLogger("segcam")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

# Subcommands that live wholly in their own module, segcam/commands/<name>.py. Each
# module exposes ``register(subparsers, common)``, which adds its parser and sets
# ``handler=<function(args) -> int>`` as a default; the module must import nothing
# heavy at import time (it is imported for every ``segcam`` call, to build --help).
COMMAND_MODULES: tuple[str, ...] = ("gui", "vcam", "doctor", "bench", "models")


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (no usage dump) and no SystemExit."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(f"{self.prog}: error: {message} (see {self.prog} --help)")


#: The longest ``--duration`` (about 115 days): any finite bound keeps the frame
#: arithmetic exact, and no recording is longer.
MAX_DURATION = 1e7


def _duration(text: str) -> float:
    """``--duration S``: a finite number of seconds in (0, MAX_DURATION]; not inf, nan or 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid value {text!r}: expected seconds, e.g. 10 or 2.5"
        ) from None
    if not (math.isfinite(value) and 0 < value <= MAX_DURATION):
        raise argparse.ArgumentTypeError(
            f"invalid value {text!r}: must be more than 0 and at most {MAX_DURATION:.0f} seconds"
        )
    return value


def add_model_options(p: argparse.ArgumentParser) -> None:
    """--model, --threads and --filters, shared by every command that segments."""
    p.add_argument(
        "--model",
        metavar="M",
        help="built-in model (landscape = 256x144, the default; general = 256x256), the name "
        "of a manifest in the user data folder, a manifest path (.toml; see 'segcam models'), "
        "a .tflite file with the built-in models' contract, or bgsub: model-free static "
        "background subtraction (bgsub:learn=N:threshold=T, default 30 and 25), which needs "
        "a camera that does not move and learns the background from the first N frames "
        "(the mask is empty until then; be out of frame or moving), then counts anything "
        "that differs from it as person",
    )
    from segcam.config import ACCELERATORS

    p.add_argument("--threads", type=int, metavar="N", help="LiteRT threads (default 1)")
    p.add_argument(
        "--accelerator",
        choices=ACCELERATORS,
        help="where the model runs: cpu (default), gpu (LiteRT's GPU accelerator, or a GPU "
        "execution provider for ONNX models; an error without one) or auto (the GPU if "
        "usable, else the CPU)",
    )
    p.add_argument(
        "--filters",
        metavar="SPEC",
        help="mask and frame filter chain, e.g. 'temporal:strength=0.5,smoothstep:lo=0.3:hi=0.7,"
        "refine'; 'none' for the raw model, 'default' for the default chain; "
        "'segcam filters' lists them",
    )


def add_source_options(p: argparse.ArgumentParser) -> None:
    """--input, --resolution, --fps and --background, shared by record, vcam and bench."""
    p.add_argument(
        "--input",
        "-i",
        nargs="+",
        default=["auto"],
        metavar="SRC",
        help="camera index (0) or device (/dev/video2), video file, image, folder of images, "
        "several images, 'demo', 'demo:desk' (a still camera at a desk, for the clean-plate "
        "mode), or 'auto' (default: the first webcam, else the demo)",
    )
    p.add_argument(
        "--resolution",
        metavar="WxH",
        help="camera mode to request, or the size to fit other inputs to (e.g. 1280x720)",
    )
    p.add_argument("--fps", metavar="F", help="frame rate for cameras, the demo and image inputs")
    p.add_argument(
        "--background",
        "-b",
        metavar="SPEC",
        help="image path (cover-fit), blur or blur:N (N = 1..100, default 12), a colour "
        "(#RRGGBB or a name such as green), none (transparent, keeps alpha) or mask "
        "(show the mask). Default: blur",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="segcam",
        description="Replace or blur the background of a webcam, video or images, in real time.",
    )
    parser.add_argument("--version", action="version", version=f"segcam {__version__}")
    # -v/--debug work before or after the subcommand; SUPPRESS keeps the subparser
    # from resetting a value given before it.
    common = argparse.ArgumentParser(add_help=False)
    for p in (parser, common):
        default = False if p is parser else argparse.SUPPRESS
        p.add_argument(
            "-v", "--verbose", action="store_true", default=default, help="log what segcam does"
        )
        p.add_argument(
            "--debug", action="store_true", default=default, help="debug logging, with tracebacks"
        )
        p.add_argument(
            "--config",
            metavar="PATH",
            default=None if p is parser else argparse.SUPPRESS,
            help="settings file (TOML; default: config.toml in the user config folder, "
            "or $SEGCAM_CONFIG)",
        )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    rec = sub.add_parser(
        "record",
        parents=[common],
        help="process a camera, video, image(s) or the demo into a video file",
        description="Record the processed video to a file. Outputs: .mp4 is H.264 in fragmented "
        "MP4, .mkv is H.264 in Matroska; both stay playable if segcam is killed mid-way "
        "(everything up to the last second is kept). .webm is VP9 and keeps the alpha "
        "channel with --background none; a folder (or a path like out/%05d.png) gets a PNG "
        "sequence. The audio of an input video is kept. Ctrl+C stops and finalises the file. "
        "A stream URL (rtmp://, udp://, srt://) streams live instead, paced in real time.",
    )
    add_source_options(rec)
    rec.add_argument(
        "--output",
        "-o",
        metavar="OUT",
        help="output file (default: segcam-DATE-TIME.mp4 in the current folder, .webm with "
        "--background none), or a stream URL: rtmp:// or rtmps:// (FLV), udp://HOST:PORT or "
        "srt:// (MPEG-TS), sent in real time",
    )
    rec.add_argument("--frames", type=int, metavar="N", help="stop after N frames")
    rec.add_argument(
        "--duration", type=_duration, metavar="S", help="stop after S seconds of video"
    )
    rec.add_argument("--mirror", action="store_true", help="mirror the recorded video")
    rec.add_argument(
        "--overwrite", action="store_true", help="replace OUT if it exists (else it is refused)"
    )
    rec.add_argument("--loop", action="store_true", help="repeat a video or image list forever")
    add_model_options(rec)

    mask = sub.add_parser(
        "mask",
        parents=[common],
        help="write the person mask of each image as a PNG",
        description="For every input image (folders expand, in name order) write "
        "OUT_DIR/<name>.png: a single-channel 8-bit alpha (255 = person) at the image's own "
        "size. Also a batch background remover for photos.",
    )
    mask.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    mask.add_argument(
        "--out-dir", "-o", required=True, metavar="DIR", help="where to write the masks"
    )
    mask.add_argument(
        "--sequence",
        action="store_true",
        help="the inputs are consecutive video frames: stateful filters carry their state "
        "from one image to the next (otherwise each image is processed on its own)",
    )
    mask.add_argument(
        "--overwrite", action="store_true", help="replace masks that exist (else they are refused)"
    )
    add_model_options(mask)

    ev = sub.add_parser(
        "eval",
        parents=[common],
        help="measure mask quality on images or frame sequences with ground-truth masks",
        description="Score a model + filter chain on every folder under DATA that holds "
        "images/ and masks/ (matched by name): IoU (alpha > 127), boundary F with 1-px "
        "(BF1) and 2-px (BF2) contours matched within --bf-tolerance of the diagonal, and "
        "MAE for stills; the same plus dtSSD for frame sequences (folders under video_gt/, "
        "folders with a shifts.csv, or --sequence). A sequence's shifts.csv (frame,dx,dy: "
        "known camera offsets) adds the motion-compensated warp error; an objects/ folder "
        "(held objects) adds their mean alpha. --jitter turns each still into a ~30-frame "
        "clip with sub-pixel shake, noise and exposure wobble and reports the warp error "
        "(flicker). Composite clips for still cameras: python -m segcam.composites.",
    )
    ev.add_argument("data", metavar="DATA", help="a data folder, e.g. ../shared/data")
    ev.add_argument("--jitter", action="store_true", help="evaluate flicker on jittered stills")
    ev.add_argument("--sequence", action="store_true", help="treat every folder as a sequence")
    ev.add_argument(
        "--baseline",
        action="store_true",
        help="also score the raw landscape model (bilinear upsampling) side by side",
    )
    ev.add_argument(
        "--ablate",
        action="append",
        metavar="SPEC",
        help="also score this filter chain (repeatable), for ablations",
    )
    ev.add_argument("--limit", type=int, metavar="N", help="use the first N items of each set")
    ev.add_argument(
        "--bf-tolerance",
        type=float,
        metavar="SHARE",
        default=0.008,
        help="boundary F's matching distance as a share of the image diagonal "
        "(default 0.008, DAVIS: 8 px at 600x800)",
    )
    ev.add_argument("--json", action="store_true", help="print the results as JSON")
    add_model_options(ev)

    flt = sub.add_parser("filters", parents=[common], help="list the filters and their parameters")
    flt.set_defaults(command="filters")

    for name in COMMAND_MODULES:
        importlib.import_module(f"segcam.commands.{name}").register(sub, common)
    return parser


def _setup_logging(verbose: bool, debug: bool) -> None:
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("segcam: %(message)s"))
    root = logging.getLogger("segcam")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (without the program name); return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except _UsageError as e:
        print(str(e), file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as e:  # --help / --version
        return int(e.code or 0)
    if not args.command:
        # A bare ``segcam`` (global flags allowed) opens the desktop window.
        args = parser.parse_args([*(sys.argv[1:] if argv is None else argv), "gui"])
    _setup_logging(args.verbose, args.debug)
    try:
        if args.command == "record":
            from segcam.commands.record import run_record

            return run_record(args)
        if args.command == "mask":
            from segcam.commands.mask import run_mask

            return run_mask(args)
        if args.command == "eval":
            from segcam.commands.eval import run_eval

            return run_eval(args)
        if args.command == "filters":
            return _list_filters()
        handler = getattr(args, "handler", None)
        if handler is not None:
            return handler(args)
    except SegcamError as e:
        print(f"segcam: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("segcam: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as e:  # a bug: one line, and the traceback only with --debug
        if args.debug:
            raise
        print(
            f"segcam: internal error: {type(e).__name__}: {one_line(e)} "
            "(run with --debug for details)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_USAGE


def _list_filters() -> int:
    from segcam.filters.base import known_filters
    from segcam.filters.chain import DEFAULT_CHAIN

    for info in sorted(known_filters().values(), key=lambda i: (i.stage, i.name)):
        key = f" [{info.hotkey}]" if info.hotkey else ""
        print(f"{info.name}{key} ({info.stage}): {info.help}")
        for p in info.params:
            rng = f" [{p.lo:g}..{p.hi:g}]" if p.lo is not None and p.hi is not None else ""
            print(f"    {p.name}={p.default}{rng}  {p.help}")
    print(f"default chain: {DEFAULT_CHAIN}")
    return EXIT_OK


class StopSignals:
    """Turns SIGINT/SIGTERM into a stop request while a job runs (main thread only).

    The first signal asks the pipeline to stop after the current frame, so the
    recording is finalised; the default handlers come back on exit.
    """

    def __init__(self, on_stop) -> None:
        self.on_stop = on_stop
        self.received: int | None = None
        self._saved: dict[int, object] = {}

    def _handle(self, signum, _frame) -> None:
        self.received = signum
        self.on_stop()

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._saved[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)


def entry_point() -> None:
    """Console-script entry point.

    Once :func:`main` has returned, the job is over (its threads joined, its output
    finalised) and the exit status is decided. A Ctrl+C after that, such as a second
    press while the recording was finalising, must not replace that status with
    "killed by SIGINT" (-2). So SIGINT is ignored from here on. A Python handler
    would not do: interpreter teardown resets such handlers to the default, which
    kills, while an ignored signal stays ignored. (SIGTERM still ends a stuck teardown.)
    """
    try:
        code = main()
    except KeyboardInterrupt:  # before main's own handler was reached
        code = EXIT_INTERRUPTED
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.stdout.flush()
    sys.exit(code)
