"""``segcam mask``: the person mask of every input image, as PNG files.

``DIR/<name>.png`` per input. Before any image is processed, every target is
checked: one that is an input (the same file, by device and inode: ``mask
d/photo.png --out-dir d``) is refused even with ``--overwrite``, because segcam
never writes over its inputs; one that merely exists is refused unless
``--overwrite``. Each mask is written atomically (see :mod:`segcam.outputs`).
"""

from __future__ import annotations

import argparse
import os
import sys

import cv2

from segcam.capture.images import expand_image_inputs
from segcam.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from segcam.errors import InputError, OutputError, midway
from segcam.frame import Frame
from segcam.imaging import load_image
from segcam.outputs import which_input, write_file
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
    overwrite = bool(getattr(args, "overwrite", False))
    targets = [os.path.join(out_dir, stem + ".png") for stem in stems]
    _check_targets(targets, paths, overwrite)

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
        try:
            _write_png(os.path.join(out_dir, stem + ".png"), frame.alpha, overwrite=overwrite)
        except OutputError as e:
            progress.close()
            # Masks already written are kept: the run failed part-way (exit 1).
            raise (midway(e) if i > failed else e) from None
        progress.update(i + 1)
    progress.close()
    done = len(paths) - failed
    print(f"wrote {done} mask{'s' if done != 1 else ''} to {out_dir}")
    if failed:
        print(f"segcam: error: {failed} of {len(paths)} inputs could not be read", file=sys.stderr)
        # Nothing done is exit 2, like any bad input; some masks written is exit 1.
        return EXIT_USAGE if failed == len(paths) else EXIT_FAILED
    return EXIT_OK


def _check_targets(targets: list[str], inputs: list[str], overwrite: bool) -> None:
    """Refuse, before any work, a batch that would write over an input or, without
    ``overwrite``, over any existing file."""
    for target in targets:
        hit = which_input(target, inputs)
        if hit is not None:
            raise OutputError(
                f"the mask of {hit} would be written over the input itself ({target}); "
                "segcam never writes over its inputs: choose another --out-dir"
            )
    existing = [t for t in targets if os.path.lexists(t)]
    if existing and not overwrite:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise OutputError(
            f"{existing[0]}{more} already exist{'s' if not more else ''}; "
            "use --overwrite to replace them"
        )


def _write_png(path: str, alpha, *, overwrite: bool) -> None:
    """Write atomically: a crash never leaves a truncated PNG under the final name, and
    a failure (a full disk) removes the temporary file."""
    ok, data = cv2.imencode(".png", alpha)
    if not ok:
        raise OutputError(f"cannot encode {path}")
    write_file(path, data.tobytes(), overwrite=overwrite)
