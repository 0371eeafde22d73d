"""Measuring mask quality on data with ground truth (``segcam eval``).

Three kinds of evaluation, all through :class:`~segcam.processor.Processor`, so
what is measured is exactly what ``record`` and ``mask`` produce:

* **stills** (a folder with ``images/`` and ``masks/``): every image on its own
  (state reset); IoU (alpha > 127), boundary F (DAVIS style, 0.8 % of the
  diagonal) and MAE, averaged over images.
* **sequences** (consecutive frames with masks, e.g. DAVIS): one stream with
  state carried over; IoU and dtSSD.
* **jitter** (stills made into flicker sequences): each still becomes ``frames``
  frames with sub-pixel camera shake, sensor noise and exposure wobble; the
  mask is moved identically. We report IoU against the moved mask and the
  motion-compensated warp error ``mean |a_t − shift(a_{t−1})|``, the flicker a
  viewer sees on a still person.

Ground truth is never resized: predictions are made at the image's own size.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from segcam.config import BackgroundSpec, PipelineSettings
from segcam.errors import InputError
from segcam.filters.base import FilterSpec, chain_text
from segcam.frame import Frame
from segcam.imaging import is_image_path, load_image, natural_key
from segcam.metrics import boundary_f, dtssd, iou, mae
from segcam.processor import Processor


@dataclass(frozen=True, slots=True)
class DataSet:
    """A folder of ``images/`` with same-named ``masks/``; ``sequence`` if they are video frames."""

    name: str
    root: Path
    sequence: bool

    def pairs(self) -> list[tuple[Path, Path]]:
        """``(image, mask)`` paths, in natural name order; images without a mask are left out."""
        images = self.root / "images"
        masks = self.root / "masks"
        out = []
        try:
            names = os.listdir(images)
        except OSError as e:
            raise InputError(f"cannot list {images}: {e.strerror}") from None
        for name in sorted(names, key=natural_key):
            if not is_image_path(name):
                continue
            mask = masks / (Path(name).stem + ".png")
            if mask.exists():
                out.append((images / name, mask))
        return out


def find_datasets(root: str | Path, sequence: bool | None = None) -> list[DataSet]:
    """Every folder at or below ``root`` (3 levels) holding ``images/`` and ``masks/``.

    Folders under a ``video_gt`` folder, folders with a ``shifts.csv`` (composite
    clips, :mod:`segcam.composites`), or all of them with ``sequence=True``, are
    sequences.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"evaluation data not found: {root}")
    found: list[DataSet] = []
    for dirpath, dirnames, _ in os.walk(root, followlinks=True):  # depth-limited below
        depth = len(Path(dirpath).relative_to(root).parts)
        if depth > 3:
            dirnames[:] = []
            continue
        if "images" in dirnames and "masks" in dirnames:
            p = Path(dirpath)
            is_seq = (
                sequence
                if sequence is not None
                else "video_gt" in p.parts or (p / "shifts.csv").exists()
            )
            found.append(DataSet(p.name, p, is_seq))
            dirnames[:] = []
    if not found:
        raise InputError(f"no images/ + masks/ folders found under {root}")
    for ds in found:
        # A set with nothing to score would average to NaN and look like a result.
        if not ds.pairs():
            raise InputError(
                f"no image in {ds.root / 'images'} has a mask of the same name in "
                f"{ds.root / 'masks'} (masks are PNG files named after the image)"
            )
    return sorted(found, key=lambda d: (d.sequence, d.name))


def load_pair(img_path: Path, mask_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """An image (BGR) and its ground-truth mask (grey), checked to have the same size.

    Ground truth is never resized (that would score the resize), so a mask of
    another size is an :class:`InputError` naming both files.
    """
    image = load_image(str(img_path))
    gt = load_image(str(mask_path), "mask", grey=True)
    if gt.shape[:2] != image.shape[:2]:
        raise InputError(
            f"mask {mask_path} is {gt.shape[1]}x{gt.shape[0]} but image {img_path} is "
            f"{image.shape[1]}x{image.shape[0]}: a mask must have its image's size"
        )
    return image, gt


@dataclass
class Scores:
    """Averages for one data set under one pipeline."""

    dataset: str
    kind: str
    n: int = 0
    iou: float | None = None
    boundary_f: float | None = None
    """boundary F with 1-px contours (:func:`~segcam.metrics.boundary_f`)"""
    boundary_f2: float | None = None
    """boundary F with 2-px contours (the morphological gradient)"""
    mae: float | None = None
    dtssd: float | None = None
    warp_error: float | None = None
    ms_per_frame: float | None = None
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None and v != {}}


def _alpha(processor: Processor, image: np.ndarray, seq: int) -> np.ndarray:
    return processor.process(Frame(seq, image, seq / 30.0)).alpha.copy()


#: Boundary F's matching distance, as a share of the image diagonal (DAVIS: 0.8 %).
BF_TOLERANCE = 0.008


def eval_stills(
    processor: Processor,
    ds: DataSet,
    limit: int | None = None,
    *,
    tolerance: float = BF_TOLERANCE,
    step: Callable[[int, int], None] | None = None,
) -> Scores:
    """Every image on its own (state reset): IoU, boundary F (1 and 2 px), MAE."""
    ious, bfs, bf2s, maes, times = [], [], [], [], []
    pairs = ds.pairs()[:limit]
    for i, (img_path, mask_path) in enumerate(pairs):
        image, gt = load_pair(img_path, mask_path)
        processor.reset()
        frame = processor.process(Frame(i, image, 0.0))
        a = frame.alpha
        ious.append(iou(a, gt))
        bfs.append(boundary_f(a, gt, tolerance, width=1))
        bf2s.append(boundary_f(a, gt, tolerance, width=2))
        maes.append(mae(a, gt))
        times.append(sum(frame.timings.get(k, 0.0) for k in ("segment", "mask_filters")))
        if step:
            step(i + 1, len(pairs))
    return Scores(
        ds.name,
        "stills",
        len(ious),
        _mean(ious),
        _mean(bfs),
        _mean(bf2s),
        _mean(maes),
        ms_per_frame=1000 * _mean(times),
    )


#: A frame pair whose ground truth changes by more than this mean |Δ| (on [0, 1]
#: alpha) after undoing the known shift has a scene change (the person came or
#: went): it is left out of the warp error, which measures flicker only.
SCENE_CHANGE = 0.002


def read_shifts(path: Path, n: int) -> list[tuple[float, float]]:
    """``shifts.csv`` (``frame,dx,dy``: each frame's offset from frame 0, pixels).

    Raises :class:`InputError` naming the file for a missing column, a value that is
    not a number, or a frame of the sequence without a row."""
    import csv

    try:
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from None
    by_frame: dict[int, tuple[float, float]] = {}
    for k, row in enumerate(rows, start=2):
        try:
            by_frame[int(row["frame"])] = (float(row["dx"]), float(row["dy"]))
        except (KeyError, TypeError, ValueError):
            raise InputError(
                f"{path}, line {k}: expected the columns frame,dx,dy with numbers"
            ) from None
    missing = [t for t in range(n) if t not in by_frame]
    if missing:
        raise InputError(f"{path} has no row for frame {missing[0]} (frames count from 0)")
    return [by_frame[t] for t in range(n)]


def eval_sequence(
    processor: Processor,
    ds: DataSet,
    limit: int | None = None,
    *,
    tolerance: float = BF_TOLERANCE,
    step: Callable[[int, int], None] | None = None,
) -> Scores:
    """One stream, state carried over: IoU, boundary F (1 and 2 px), MAE, dtSSD.

    IoU and boundary F are averaged over the frames that show a person; on frames
    whose ground truth is empty (a period with nobody in view) they would be 0 for a
    single stray pixel, so those frames report ``empty_false_person`` instead: the
    mean share of the frame wrongly called person.

    With a ``shifts.csv`` beside ``images/`` (known camera offsets per frame), also
    the warp error: ``mean |a_t − shift(a_{t−1})|`` over frame pairs whose ground
    truth does not change beyond the shift (see :data:`SCENE_CHANGE`). With an
    ``objects/`` folder (held objects, drawn alone), also ``object_alpha``: the mean
    alpha over object pixels (1 = solid, lower = a see-through ghost) and
    ``object_flicker``, the mean |Δ alpha| there between frames.
    """
    processor.reset()
    pairs = ds.pairs()[:limit]
    shifts_file = ds.root / "shifts.csv"
    shifts = read_shifts(shifts_file, len(pairs)) if shifts_file.exists() else None
    objects = ds.root / "objects"
    preds, gts, ious, bfs, bf2s, maes, warps = [], [], [], [], [], [], []
    empty_fp: list[float] = []
    obj_alpha: list[float] = []
    obj_flicker: list[float] = []
    prev_obj = None
    for i, (img_path, mask_path) in enumerate(pairs):
        image, gt = load_pair(img_path, mask_path)
        a = _alpha(processor, image, i)
        if shifts is not None and preds:
            (x0, y0), (x1, y1) = shifts[i - 1], shifts[i]
            gt_moved = shift(gts[-1], x1 - x0, y1 - y0)
            if float(np.mean(cv2.absdiff(gt, gt_moved))) / 255.0 <= SCENE_CHANGE:
                aligned = shift(preds[-1], x1 - x0, y1 - y0)
                warps.append(float(np.mean(cv2.absdiff(a, aligned))) / 255.0)
        obj_path = objects / (img_path.stem + ".png")
        if obj_path.exists():
            obj = cv2.imread(str(obj_path), cv2.IMREAD_GRAYSCALE)
            on = obj is not None and obj.shape == a.shape and np.count_nonzero(obj > 127) > 0
            if on:
                sel = obj > 127
                obj_alpha.append(float(np.mean(a[sel])) / 255.0)
                if prev_obj is not None:
                    obj_flicker.append(float(np.mean(cv2.absdiff(a, prev_obj)[sel])) / 255.0)
            prev_obj = a if on else None
        preds.append(a)
        gts.append(gt)
        maes.append(mae(a, gt))
        if np.any(gt > 127):
            ious.append(iou(a, gt))
            bfs.append(boundary_f(a, gt, tolerance, width=1))
            bf2s.append(boundary_f(a, gt, tolerance, width=2))
        else:
            empty_fp.append(float(np.count_nonzero(a > 127)) / a.size)
        if step:
            step(i + 1, len(pairs))
    extra = {}
    if empty_fp:
        extra["empty_frames"] = len(empty_fp)
        extra["empty_false_person"] = _mean(empty_fp)
    if obj_alpha:
        extra["object_alpha"] = _mean(obj_alpha)
        extra["object_flicker"] = _mean(obj_flicker)
    return Scores(
        ds.name,
        "sequence",
        len(preds),
        _mean(ious),
        _mean(bfs),
        _mean(bf2s),
        _mean(maes),
        dtssd=dtssd(preds, gts) if len(preds) > 1 else None,
        warp_error=_mean(warps) if shifts is not None else None,
        extra=extra,
    )


@dataclass(frozen=True, slots=True)
class JitterSettings:
    frames: int = 30
    shake: float = 0.6
    """standard deviation of the per-frame camera offset, pixels"""
    noise: float = 3.0
    """sensor noise, grey levels (standard deviation)"""
    exposure: float = 0.03
    """exposure wobble, relative gain amplitude"""


def jitter_sequence(
    image: np.ndarray, mask: np.ndarray, seed: int, js: JitterSettings = JitterSettings()
) -> Iterator[tuple[np.ndarray, np.ndarray, tuple[float, float]]]:
    """Yield ``(frame, moved_mask, (dx, dy))`` for a still made into a flickery clip."""
    rng = np.random.default_rng(seed)
    h, w = image.shape[:2]
    base = image.astype(np.float32)
    for t in range(js.frames):
        dx, dy = rng.normal(0.0, js.shake, 2) if t else (0.0, 0.0)
        m = np.float32([[1, 0, dx], [0, 1, dy]])
        frame = cv2.warpAffine(
            base, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        gain = 1.0 + js.exposure * np.sin(2 * np.pi * t / 11.0)
        frame *= gain
        frame += rng.normal(0.0, js.noise, frame.shape).astype(np.float32)
        moved = cv2.warpAffine(
            mask, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        yield np.clip(frame, 0, 255).astype(np.uint8), moved, (float(dx), float(dy))


def shift(alpha: np.ndarray, dx: float, dy: float) -> np.ndarray:
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    h, w = alpha.shape
    return cv2.warpAffine(alpha, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def eval_jitter(
    processors: list[Processor],
    ds: DataSet,
    limit: int | None = None,
    js: JitterSettings = JitterSettings(),
    step: Callable[[int, int], None] | None = None,
) -> list[Scores]:
    """Score several processors on the same jitter clips (each clip is generated once).

    ``step(done, total)`` is called after each image's clip (progress display)."""
    n = len(processors)
    ious: list[list[float]] = [[] for _ in range(n)]
    warps: list[list[float]] = [[] for _ in range(n)]
    dts: list[list[float]] = [[] for _ in range(n)]
    pairs = ds.pairs()[:limit]
    for k, (img_path, mask_path) in enumerate(pairs):
        image, gt = load_pair(img_path, mask_path)
        clip = list(jitter_sequence(image, gt, seed=k, js=js))
        moved_gts = [moved for _, moved, _ in clip]
        for i, proc in enumerate(processors):
            proc.reset()
            preds = []
            for t, (frame, moved, d) in enumerate(clip):
                a = _alpha(proc, frame, t)
                ious[i].append(iou(a, moved))
                if preds:
                    pd = clip[t - 1][2]
                    aligned = shift(preds[-1], d[0] - pd[0], d[1] - pd[1])
                    warps[i].append(float(np.mean(cv2.absdiff(a, aligned))) / 255.0)
                preds.append(a)
            dts[i].append(dtssd(preds, moved_gts))
        if step:
            step(k + 1, len(pairs))
    return [
        Scores(
            ds.name,
            "jitter",
            len(dts[i]),
            _mean(ious[i]),
            dtssd=_mean(dts[i]),
            warp_error=_mean(warps[i]),
            extra={"frames": js.frames},
        )
        for i in range(n)
    ]


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


@dataclass(frozen=True, slots=True)
class Pipeline:
    """A named pipeline to evaluate: model + filter chain."""

    label: str
    model: str
    filters: tuple[FilterSpec, ...]

    def processor(self, threads: int = 1) -> Processor:
        settings = PipelineSettings(
            model=self.model,
            threads=threads,
            background=BackgroundSpec("mask"),
            filters=self.filters,
        )
        return Processor(settings)

    def describe(self) -> str:
        return f"{self.model} | {chain_text(self.filters)}"


def evaluate(
    pipelines: list[Pipeline],
    datasets: list[DataSet],
    *,
    jitter: bool = False,
    limit: int | None = None,
    tolerance: float = BF_TOLERANCE,
    progress: Callable[[str], None] | None = None,
    step: Callable[[int, int], None] | None = None,
) -> list[tuple[Pipeline, Scores]]:
    """Score every pipeline on every data set (stills, sequences, or jitter clips).

    ``progress(text)`` names each data set (and pipeline) as it starts;
    ``step(done, total)`` counts its images or frames (a bar per data set)."""
    processors = [p.processor() for p in pipelines]
    results = []
    for ds in datasets:
        kind = "sequence" if ds.sequence else "jitter" if jitter else "stills"
        if jitter and not ds.sequence:
            if progress:
                progress(f"{ds.name} ({kind})")
            results.extend(
                zip(pipelines, eval_jitter(processors, ds, limit, step=step), strict=True)
            )
            continue
        for p, proc in zip(pipelines, processors, strict=True):
            if progress:
                progress(f"{ds.name} ({kind}) with {p.label}")
            run = eval_sequence if ds.sequence else eval_stills
            results.append((p, run(proc, ds, limit, tolerance=tolerance, step=step)))
    return results
