"""The refinement targets: the default chain against the raw landscape model, same run.

Raw = MediaPipe landscape, bilinear upsampling, no filters. The default chain is
what `segcam` uses unless told otherwise. Figures come from segcam.evaluation,
the code behind `segcam eval`.
"""

from __future__ import annotations

import pytest

from segcam.evaluation import Pipeline, evaluate, find_datasets
from segcam.filters.base import parse_chain
from tests.conftest import DATA

RAW = Pipeline("raw", "landscape", ())
CHAIN = Pipeline("segcam", "landscape", parse_chain("default"))


def _pair(datasets, **kw):
    results = evaluate([RAW, CHAIN], datasets, **kw)
    raw = [s for p, s in results if p is RAW]
    chain = [s for p, s in results if p is CHAIN]
    for r, c in zip(raw, chain, strict=True):
        print(f"\n[targets] {r.dataset} {r.kind}: raw {r.as_dict()} | chain {c.as_dict()}")
    return raw, chain


@pytest.fixture(scope="module")
def stills(shared_data):
    sets = find_datasets(DATA / "portraits")
    return dict(zip([d.name for d in sets], zip(*_pair(sets), strict=True), strict=True))


def test_eg_boundary_gain_with_no_iou_loss(stills):
    raw, chain = stills["eg_portrait_shen2016"]
    assert chain.boundary_f >= raw.boundary_f + 0.03
    assert chain.iou >= raw.iou


@pytest.mark.parametrize("name", ["ccp_fashion", "vikram_human_seg"])
def test_ccp_and_mixed_no_worse(stills, name):
    raw, chain = stills[name]
    assert chain.iou >= raw.iou
    assert chain.boundary_f >= raw.boundary_f


def test_jitter_flicker_is_damped(shared_data):
    eg = [d for d in find_datasets(DATA / "portraits") if d.name == "eg_portrait_shen2016"]
    (raw,), (chain,) = _pair(eg, jitter=True, limit=10)
    assert chain.warp_error <= 0.6 * raw.warp_error
    assert chain.iou >= raw.iou


def test_davis_sequence_iou_and_temporal_coherence(shared_data):
    seqs = find_datasets(DATA / "video_gt")
    (raw,), (chain,) = _pair(seqs)
    assert chain.iou >= raw.iou
    assert chain.dtssd < raw.dtssd
