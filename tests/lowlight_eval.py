"""The low-light table: raw-model IoU / boundary F on dark portraits, with and without
enhancing the model's input (not a test; run it by hand).

    python -m tests.lowlight_eval validation --sweep   # choose the settings
    python -m tests.lowlight_eval portraits            # report with the chosen ones

The dark images come from :func:`tests.test_lowlight.darken`. "Raw model" means
no mask filters (``--filters none``: the landscape model and a bilinear upsample),
so the table shows what the enhancement does for the model itself.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from segcam.config import BackgroundSpec, PipelineSettings
from segcam.evaluation import BF_TOLERANCE, find_datasets, load_pair
from segcam.filters.lowlight import LowLight
from segcam.frame import Frame
from segcam.metrics import boundary_f, iou
from segcam.processor import Processor
from tests.conftest import DATA
from tests.test_lowlight import darken


def scores(processor: Processor, image: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    processor.reset()
    frame = Frame(0, image, 0.0)
    processor.process(frame)
    return iou(frame.alpha, gt), boundary_f(frame.alpha, gt, BF_TOLERANCE, width=1)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("split", choices=("validation", "portraits"))
    p.add_argument("--sweep", action="store_true", help="try several target/dark settings")
    p.add_argument("--model", default="landscape")
    p.add_argument("--target", type=float, default=0.5)
    p.add_argument("--dark", type=float, default=0.4)
    args = p.parse_args()
    settings = [(args.target, args.dark)]
    if args.sweep:
        settings = [(t, d) for t in (0.4, 0.5, 0.6) for d in (0.25, 0.3, 0.35, 0.4)]
    processor = Processor(
        PipelineSettings(
            model=args.model,
            background=BackgroundSpec("colour", colour=(0, 0, 0)),
            filters=(),
        )
    )
    rows: dict[str, dict[str, list[tuple[float, float]]]] = {}
    switched: dict[str, int] = {}
    for ds in find_datasets(DATA / args.split):
        if ds.sequence:
            continue
        r = rows.setdefault(ds.name, {})
        for img_path, mask_path in ds.pairs():
            image, gt = load_pair(img_path, mask_path)
            dark = darken(image, img_path.stem)
            r.setdefault("normal", []).append(scores(processor, image, gt))
            r.setdefault("dark", []).append(scores(processor, dark, gt))
            for target, level in settings:
                f = LowLight(target=target, dark=level)
                key = f"t={target:g},d={level:g}"
                r.setdefault("dark+" + key, []).append(scores(processor, f.enhance(dark), gt))
                f.reset()
                out = f.enhance(image)
                switched[key] = switched.get(key, 0) + (out is not image)
                r.setdefault("normal+" + key, []).append(scores(processor, out, gt))
        print(f"{ds.name}: {len(ds.pairs())} pairs", file=sys.stderr)
    print(f"split {args.split}, model {args.model}, raw model (no mask filters); IoU / BF")
    for name, r in rows.items():
        print(f"\n{name}")
        for key, vals in r.items():
            a = np.array(vals)
            print(f"  {key:<24} {a[:, 0].mean():.4f} / {a[:, 1].mean():.4f}")
    print("\nnormal-light images the enhancer switched on for:", switched)
    return 0


if __name__ == "__main__":
    sys.exit(main())
