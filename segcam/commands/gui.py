"""``segcam gui`` (and a bare ``segcam``): the desktop window.

Nothing heavy is imported here: this module is imported to build ``--help``.
"""

from __future__ import annotations

import argparse

from segcam.cli import add_model_options, add_source_options


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "gui",
        parents=[common],
        help="open the desktop window (what a bare 'segcam' does)",
        description="A live preview of the processed video with a sidebar for the source, "
        "the model, the background gallery, the mask threshold and the filters; "
        "snapshots, recording, the virtual camera and keyboard shortcuts (press ? in the "
        "window). Settings are "
        "kept in the same config file as the command line's. Options given here win over "
        "that file for this run and are remembered.",
    )
    add_source_options(p)
    p.add_argument(
        "--vcam",
        nargs="?",
        const="auto",
        metavar="DEVICE|pipewire",
        help="start with the virtual camera on: the first free v4l2loopback device (or the "
        "OBS Virtual Camera), a device such as /dev/video10, or 'pipewire' for a PipeWire "
        "camera node; the Virtual camera switch under the video turns it on and off",
    )
    # Without --input the window opens the source used last time (else 'auto').
    p.set_defaults(input=None, handler=run)
    add_model_options(p)


def run(args: argparse.Namespace) -> int:
    from segcam.gui.app import run_app

    return run_app(args)
