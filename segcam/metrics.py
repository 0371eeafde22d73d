"""Quality metrics for masks and mask sequences (definitions in DESIGN.md §7).

All functions take uint8 alpha (0..255) or boolean masks of the same size.
Predictions must be resized to the ground truth's size by the caller (resize
predictions, never the ground truth).
"""

from __future__ import annotations

import math

import cv2
import numpy as np


def binarize(alpha: np.ndarray) -> np.ndarray:
    """Person = alpha > 127."""
    return alpha > 127 if alpha.dtype != bool else alpha


def iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """Intersection over union of the person regions; 1.0 when both are empty."""
    p, g = binarize(pred), binarize(gt)
    union = np.count_nonzero(p | g)
    return 1.0 if union == 0 else np.count_nonzero(p & g) / union


def mae(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean absolute alpha error in [0, 1]."""
    return float(np.mean(np.abs(pred.astype(np.float32) - gt.astype(np.float32)))) / 255.0


#: Boundary widths :func:`boundary_f` offers, in pixels.
BOUNDARY_WIDTHS = (1, 2)


def _boundary(mask: np.ndarray, width: int = 1) -> np.ndarray:
    """The mask's contour: ``width`` 1 = the inner contour (mask minus its 4-neighbour
    erosion); 2 = the morphological gradient (3x3 dilation minus 3x3 erosion), a
    2-pixel band across the edge, as the wider measures use."""
    m = mask.astype(np.uint8)
    if width == 1:
        k = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
        return (m - cv2.erode(m, k, borderType=cv2.BORDER_REPLICATE)).astype(bool)
    k = np.ones((3, 3), np.uint8)
    grad = cv2.morphologyEx(m, cv2.MORPH_GRADIENT, k, borderType=cv2.BORDER_REPLICATE)
    return grad.astype(bool)


def boundary_radius(shape: tuple[int, ...], tolerance: float = 0.008) -> int:
    """The matching distance in pixels: ``tolerance`` × the image diagonal, at least 1."""
    h, w = shape[:2]
    return max(1, math.ceil(tolerance * math.hypot(h, w)))


def boundary_f(pred: np.ndarray, gt: np.ndarray, tolerance: float = 0.008, width: int = 1) -> float:
    """DAVIS-style boundary F-measure.

    Contour pixels of prediction and ground truth match when they lie within
    ``tolerance`` × the image diagonal of each other (:func:`boundary_radius`;
    8 px on a 600x800 image). ``width`` picks the contour: 1 px (the inner
    contour, segcam's historical figure) or 2 px (the morphological gradient; it
    reads 0.01-0.04 higher on portraits, since a 2-px band forgives a
    one-pixel offset of the edge). Returns 1.0 when neither has a boundary, 0.0
    when only one has.
    """
    if width not in BOUNDARY_WIDTHS:
        raise ValueError(f"boundary width must be one of {BOUNDARY_WIDTHS}, got {width}")
    p, g = _boundary(binarize(pred), width), _boundary(binarize(gt), width)
    radius = boundary_radius(g.shape, tolerance)
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    n_p, n_g = np.count_nonzero(p), np.count_nonzero(g)
    if n_p == 0 and n_g == 0:
        return 1.0
    if n_p == 0 or n_g == 0:
        return 0.0
    g_dil = cv2.dilate(g.astype(np.uint8), disk).astype(bool)
    p_dil = cv2.dilate(p.astype(np.uint8), disk).astype(bool)
    precision = np.count_nonzero(p & g_dil) / n_p
    recall = np.count_nonzero(g & p_dil) / n_g
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def dtssd(preds: list[np.ndarray], gts: list[np.ndarray]) -> float:
    """Temporal coherence: RMS of (d/dt pred − d/dt gt) on [0, 1] alpha, ×100; lower is steadier."""
    if len(preds) != len(gts) or len(preds) < 2:
        raise ValueError("dtssd needs two equally long sequences of at least 2 frames")
    total = 0.0
    for t in range(1, len(preds)):
        dp = preds[t].astype(np.float32) - preds[t - 1].astype(np.float32)
        dg = gts[t].astype(np.float32) - gts[t - 1].astype(np.float32)
        total += math.sqrt(float(np.mean((dp - dg) ** 2))) / 255.0
    return 100.0 * total / (len(preds) - 1)
