"""Measuring a model on its own: inference time, and raw IoU on images with masks.

This is the protocol of ``../shared/models/README.md`` (and ``segcam models
bench``): the model's mask, with no filter chain, stretched back to the image
size (bilinear), thresholded at P > 0.5, IoU against the ground truth (alpha >
127). Each image is its own stream (:meth:`Segmenter.reset` before each), so a
recurrent model sees a zero prior, as in the README's figures.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from segcam.imaging import load_image
from segcam.metrics import iou


@dataclass(frozen=True, slots=True)
class Timing:
    """Median and 10th-percentile milliseconds, over ``runs`` calls."""

    infer_ms: float
    """``engine.run`` alone: the model."""
    segment_ms: float
    """``segment()``: resize, normalise, the model, decode, map back."""
    infer_p10_ms: float
    runs: int


def time_model(segmenter, image: np.ndarray, runs: int = 30, warmup: int = 3) -> Timing:
    """Time ``segmenter`` on ``image`` (BGR uint8): whole ``segment()`` calls, then inference."""
    for _ in range(warmup):
        segmenter.segment(image)
    seg = []
    for _ in range(runs):
        t = time.perf_counter()
        segmenter.segment(image)
        seg.append(time.perf_counter() - t)
    # The feeds of the last frame are still in place: time the model by itself.
    inf = []
    engine, feeds = segmenter.engine, segmenter._feeds
    for _ in range(runs):
        t = time.perf_counter()
        engine.run(feeds)
        inf.append(time.perf_counter() - t)
    segmenter.reset()
    return Timing(
        1000 * float(np.median(inf)),
        1000 * float(np.median(seg)),
        1000 * float(np.percentile(inf, 10)),
        runs,
    )


def mask_iou(segmenter, image: np.ndarray, gt: np.ndarray) -> float:
    """IoU of the raw mask of ``image`` (a fresh stream) against ``gt`` (uint8 alpha)."""
    segmenter.reset()
    p = segmenter.segment(image)
    h, w = gt.shape[:2]
    up = cv2.resize(p, (w, h), interpolation=cv2.INTER_LINEAR)
    return iou(up > 0.5, gt)


def raw_iou(segmenter, pairs: Iterable[tuple[Path, Path]]) -> tuple[float, int]:
    """Mean :func:`mask_iou` over ``(image, mask)`` file pairs; ``(mean, count)``."""
    scores = []
    for image_path, mask_path in pairs:
        image = load_image(str(image_path))
        gt = load_image(str(mask_path), "mask")[:, :, 0]
        scores.append(mask_iou(segmenter, image, gt))
    return (float(np.mean(scores)) if scores else float("nan")), len(scores)
