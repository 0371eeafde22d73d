"""``segcam mask``: the person mask of every input image, as PNG files."""

from __future__ import annotations

import argparse
import os
import sys

import cv2

from segcam.capture.images import expand_image_inputs
from segcam.cli import EXIT_FAILED, EXIT_OK
from segcam.errors import InputError, OutputError
from segcam.frame import Frame
from segcam.imaging import load_image
from segcam.processor import Processor
from segcam.progress import Progress
from segcam.settings_file import pipeline_settings


def run_mask(args: argparse.Namespace) -> int:
    settings = pipeline_settings(args, background="mask")
    paths = expand_image_inputs(args.inputs)
    stems: dict[str, str] = {}
    for p in paths:
        stem = os.path.splitext(os.path.basename(p))[0]
        if stem in stems:
            raise InputError(f"{stems[stem]} and {p} would both write {stem}.png; rename one")
        stems[stem] = p
    out_dir = args.out_dir
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create output folder {out_dir}: {e.strerror}") from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise OutputError(f"output folder {out_dir} is not writable")

    processor = Processor(settings)
    progress = Progress(len(paths))
    failed = 0
    for i, path in enumerate(paths):
        try:
            image = load_image(path, "input image")
        except InputError as e:
            progress.close()
            print(f"segcam: error: {e}", file=sys.stderr)
            failed += 1
            continue
        if not args.sequence:
            processor.reset()
        frame = processor.process(Frame(i, image, float(i)))
        stem = os.path.splitext(os.path.basename(path))[0]
        _write_png(os.path.join(out_dir, stem + ".png"), frame.alpha)
        progress.update(i + 1)
    progress.close()
    done = len(paths) - failed
    print(f"wrote {done} mask{'s' if done != 1 else ''} to {out_dir}")
    if failed:
        print(f"segcam: error: {failed} of {len(paths)} inputs could not be read", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _write_png(path: str, alpha) -> None:
    """Write atomically: a crash never leaves a truncated PNG under the final name."""
    ok, data = cv2.imencode(".png", alpha)
    if not ok:
        raise OutputError(f"cannot encode {path}")
    tmp = path + ".tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(data.tobytes())
        os.replace(tmp, path)
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror}") from None
