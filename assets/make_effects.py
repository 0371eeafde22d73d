"""Before/after pictures of the three effects for the README: assets/effects.jpg.

    python assets/make_effects.py [OUTPUT.jpg]

Run from the repository root. Every picture is rendered by segcam itself from
the ``demo`` source (the public-domain NASA astronaut portrait that scikit-image
ships), with the real model and the live mask chain, at 1280x720, then shrunk
to 480x270 cells. Rows, left before and right after:

1. ``framing`` (auto-framing, head target) after 2 s of the demo;
2. ``lowlight``: a dark version of the demo frame (half the exposure, then the
   dark-portrait recipe of ``tests/test_lowlight.py``), without and with the
   enhancement, the model's input enhanced too (as the processor's
   pre-segmentation hook does);
3. ``focal:far=40`` over ``blur:4``: today's blur, and the focal blur.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from segcam.capture.demo import DemoSource  # noqa: E402
from segcam.config import BackgroundSpec, PipelineSettings  # noqa: E402
from segcam.filters.base import parse_chain  # noqa: E402
from segcam.filters.lowlight import enhance_input  # noqa: E402
from segcam.frame import Frame  # noqa: E402
from segcam.processor import Processor  # noqa: E402
from tests.test_lowlight import darken  # noqa: E402

CELL = (480, 270)


def run(chain: str, background: str | float, frames: list[np.ndarray]) -> np.ndarray:
    """The last output of ``chain`` over ``frames`` (pre-segmentation hook included)."""
    bg = (
        BackgroundSpec("blur", blur=float(background))
        if not isinstance(background, str)
        else BackgroundSpec("colour", colour=(60, 60, 60))
    )
    proc = Processor(PipelineSettings(background=bg, filters=parse_chain(chain)))
    out = None
    for i, image in enumerate(frames):
        frame = Frame(i, image, i / 30.0)
        enhance_input(proc.compositor.filter_instances, frame)
        proc.process(frame)
        out = frame.output
    assert out is not None
    return out.copy()


def label(image: np.ndarray, text: str) -> np.ndarray:
    small = cv2.resize(image, CELL, interpolation=cv2.INTER_AREA)
    cv2.rectangle(small, (0, 0), (CELL[0], 24), (0, 0, 0), -1)
    cv2.putText(small, text, (8, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
    return small


def main() -> int:
    out_path = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "assets" / "effects.jpg"
    demo = DemoSource(resolution=(1280, 720))
    frames = [demo.render(i) for i in range(60)]
    # Half the exposure, then the dark-portrait recipe: a dim room on a small sensor.
    dark = [darken(f // 2, "demo") for f in frames[-10:]]
    rows = [
        (
            label(run("live", 12.0, frames), "blur (no framing)"),
            label(run("live,framing", 12.0, frames), "framing: head target, 2x limit"),
        ),
        (
            label(run("live", 12.0, dark), "dark camera"),
            label(run("live,lowlight", 12.0, dark), "lowlight (model input too)"),
        ),
        (
            label(run("live", 4.0, frames[:5]), "blur:4"),
            label(run("live,focal:far=40", 4.0, frames[:5]), "blur:4 + focal:far=40"),
        ),
    ]
    grid = np.vstack([np.hstack(r) for r in rows])
    cv2.imwrite(str(out_path), grid, [cv2.IMWRITE_JPEG_QUALITY, 82])
    print(f"wrote {out_path} ({out_path.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
