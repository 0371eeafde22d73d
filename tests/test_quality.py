"""Quality of `segcam mask` with the real default model on the shared portrait sets.

These run real LiteRT inference through the CLI, so they fail if inference,
preprocessing (colour order, scaling, resize) or the mask upsampling breaks.
Thresholds sit just under what the raw MediaPipe landscape model reaches
(DESIGN.md §7: 0.963 / 0.903 / 0.881 IoU on EG / CCP / mixed).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from segcam.metrics import boundary_f, iou, mae
from tests.conftest import DATA, run_cli

# source -> (min mean IoU, min mean boundary F)
THRESHOLDS = {
    "eg_portrait_shen2016": (0.95, 0.75),
    "ccp_fashion": (0.89, 0.83),
    "vikram_human_seg": (0.87, 0.77),
}


def score_folder(pred_dir: Path, source: str) -> tuple[float, float, float, int]:
    gt_dir = DATA / "portraits" / source / "masks"
    ious, bfs, maes = [], [], []
    for name in sorted(os.listdir(gt_dir)):
        gt = cv2.imread(str(gt_dir / name), cv2.IMREAD_GRAYSCALE)
        pred = cv2.imread(str(pred_dir / (Path(name).stem + ".png")), cv2.IMREAD_UNCHANGED)
        assert pred is not None, f"no mask written for {name}"
        assert pred.ndim == 2 and pred.dtype == np.uint8, "masks must be single-channel uint8"
        assert pred.shape == gt.shape, "masks must have the input image's own size"
        ious.append(iou(pred, gt))
        bfs.append(boundary_f(pred, gt))
        maes.append(mae(pred, gt))
    return float(np.mean(ious)), float(np.mean(bfs)), float(np.mean(maes)), len(ious)


@pytest.mark.parametrize("source", list(THRESHOLDS))
def test_mask_quality_default_model(source, tmp_path, capsys, shared_data):
    images = shared_data / "portraits" / source / "images"
    code, _, err = run_cli(["mask", str(images), "--out-dir", str(tmp_path)], capsys)
    assert code == 0, err
    m_iou, m_bf, m_mae, n = score_folder(tmp_path, source)
    with capsys.disabled():
        print(f"\n[quality] {source}: n={n} IoU={m_iou:.3f} BF={m_bf:.3f} MAE={m_mae:.4f}")
    min_iou, min_bf = THRESHOLDS[source]
    assert m_iou >= min_iou
    assert m_bf >= min_bf


def test_general_model_also_segments(tmp_path, capsys, shared_data):
    images = sorted((shared_data / "portraits" / "eg_portrait_shen2016" / "images").iterdir())[:10]
    code, _, err = run_cli(
        ["mask", *map(str, images), "--out-dir", str(tmp_path), "--model", "general"], capsys
    )
    assert code == 0, err
    ious = []
    for p in images:
        gt = cv2.imread(str(p.parent.parent / "masks" / (p.stem + ".png")), cv2.IMREAD_GRAYSCALE)
        pred = cv2.imread(str(tmp_path / (p.stem + ".png")), cv2.IMREAD_GRAYSCALE)
        ious.append(iou(pred, gt))
    assert np.mean(ious) >= 0.93
