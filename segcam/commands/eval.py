"""``segcam eval``: quality of a model + filter chain on data with ground truth."""

from __future__ import annotations

import argparse
import json
import sys

from segcam.cli import EXIT_OK
from segcam.errors import ConfigError
from segcam.evaluation import Pipeline, Scores, evaluate, find_datasets
from segcam.filters.base import parse_chain
from segcam.image_header import read_image_size
from segcam.metrics import boundary_radius
from segcam.progress import StepBar
from segcam.settings_file import pipeline_settings


def run_eval(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 1:
        # --limit 0 would score nothing and print NaN as if it were a result.
        raise ConfigError(f"invalid --limit {args.limit}: must be at least 1")
    tolerance = getattr(args, "bf_tolerance", None) or 0.008
    if not 0.0 < tolerance <= 0.1:
        raise ConfigError(
            f"invalid --bf-tolerance {tolerance:g}: a share of the diagonal in (0, 0.1]"
        )
    datasets = find_datasets(args.data, sequence=True if args.sequence else None)
    settings = pipeline_settings(args, background="mask")
    pipelines = []
    if args.baseline:
        pipelines.append(Pipeline("raw", "landscape", ()))
    pipelines.append(Pipeline("segcam", settings.model, settings.filters))
    for spec in args.ablate or ():
        pipelines.append(Pipeline(spec, settings.model, parse_chain(spec)))

    def note(text: str) -> None:
        if not args.json:
            print(f"segcam: evaluating {text}", file=sys.stderr)

    step = None if args.json else StepBar("images")  # a bar per data set and pipeline
    results = evaluate(
        pipelines,
        datasets,
        jitter=args.jitter,
        limit=args.limit,
        tolerance=tolerance,
        progress=note,
        step=step,
    )
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "pipeline": p.label,
                        "model": p.model,
                        "filters": p.describe(),
                        "bf_tolerance": tolerance,
                        **s.as_dict(),
                    }
                    for p, s in results
                ],
                indent=2,
            )
        )
        return EXIT_OK
    for p in pipelines:
        print(f"{p.label:>8}: {p.describe()}")
    print(_table(results))
    print(_bf_note(tolerance, datasets))
    return EXIT_OK


def _bf_note(tolerance: float, datasets) -> str:
    """The boundary F's definition, stated under the table: contour widths and tolerance."""
    sizes = []
    for ds in datasets[:3]:
        pairs = ds.pairs()
        size = read_image_size(str(pairs[0][0])) if pairs else None
        if size is not None:
            w, h = size
            sizes.append(f"{boundary_radius((h, w), tolerance)} px at {w}x{h}")
    where = f" ({', '.join(dict.fromkeys(sizes))})" if sizes else ""
    return (
        f"BF1 / BF2: boundary F with 1-px contours / 2-px contours (morphological gradient), "
        f"matched within {100 * tolerance:g}% of the image diagonal{where}"
    )


def _fmt(v: float | None, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _table(results: list[tuple[Pipeline, Scores]]) -> str:
    objects = any("object_alpha" in s.extra for _, s in results)
    head = (
        f"{'data':<24} {'kind':<8} {'pipeline':<10} {'n':>4} {'IoU':>6} {'BF1':>6} {'BF2':>6} "
        f"{'MAE':>7} {'dtSSD':>6} {'warp':>7} {'ms':>6}" + (f" {'object':>6}" if objects else "")
    )
    lines = [head, "-" * len(head)]
    for p, s in sorted(results, key=lambda r: (r[1].kind, r[1].dataset)):
        lines.append(
            f"{s.dataset:<24} {s.kind:<8} {p.label[:10]:<10} {s.n:>4} {_fmt(s.iou):>6} "
            f"{_fmt(s.boundary_f):>6} {_fmt(s.boundary_f2):>6} {_fmt(s.mae, 4):>7} "
            f"{_fmt(s.dtssd, 2):>6} {_fmt(s.warp_error, 4):>7} {_fmt(s.ms_per_frame, 1):>6}"
            + (f" {_fmt(s.extra.get('object_alpha')):>6}" if objects else "")
        )
    return "\n".join(lines)
