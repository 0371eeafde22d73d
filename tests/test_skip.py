"""Inference skipping (segcam/inference/skip.py, the ``skip`` filter): a frame proven
unchanged reuses the last model mask, every other filter still runs on the frame itself,
and a frame that moved always runs the model. The real model and the real clips; the
pixel-level session tests (tests/test_session.py) check the outputs of a running session.
"""

from __future__ import annotations

import av
import numpy as np
import pytest

from segcam.config import PipelineSettings, parse_background
from segcam.filters.base import chain_text, parse_chain
from segcam.filters.chain import effective_filters
from segcam.frame import Frame
from segcam.inference.skip import SkipRule
from segcam.processor import Processor
from tests.conftest import shared_path

LIVE = PipelineSettings(filters=parse_chain("live"), background=parse_background("blur"))


def clip_frames(name: str, n: int) -> list[np.ndarray]:
    with av.open(str(shared_path("data", "videos", name))) as c:
        out = []
        for f in c.decode(video=0):
            out.append(np.ascontiguousarray(f.to_ndarray(format="bgr24")))
            if len(out) == n:
                break
    return out


def noisy(image: np.ndarray, seed: int, amplitude: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.integers(-amplitude, amplitude + 1, image.shape, dtype=np.int16)
    return np.clip(image.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def test_the_live_chain_skips_and_a_chain_can_drop_it():
    assert parse_chain("live")[0].name == "skip"
    assert "skip" not in chain_text(parse_chain("live,-skip"))
    assert "skip" not in chain_text(parse_chain("default"))  # files are processed in full
    # bgsub's background model must see every frame.
    assert "skip" not in [s.name for s in effective_filters(parse_chain("live"), "bgsub")]


def test_a_still_frame_reuses_the_mask_at_most_max_skips_in_a_row():
    """The same picture with sensor noise: the model runs on frames 0, 6, 12 (the cap of
    5 skips in a row), and each reused mask is the key frame's, named by mask_seq."""
    still = clip_frames("talking_head.mp4", 1)[0]
    proc = Processor(LIVE)
    seqs = []
    for seq in range(14):
        frame = proc.process(Frame(seq, noisy(still, seq), seq / 30))
        seqs.append(frame.mask_seq)
    assert seqs == [0, 0, 0, 0, 0, 0, 6, 6, 6, 6, 6, 6, 12, 12]


def test_edge_refinement_runs_on_the_new_frame_when_the_mask_is_reused():
    """A reused frame's alpha comes from its own pixels: two reused frames with different
    noise get different alphas, and each is what the chain makes of that frame from the
    key frame's model mask (not a copy of the key frame's alpha)."""
    still = clip_frames("talking_head.mp4", 1)[0]
    proc = Processor(LIVE)
    key = proc.process(Frame(0, noisy(still, 0, 3), 0.0)).alpha.copy()
    a = proc.process(Frame(1, noisy(still, 1, 3), 1 / 30))
    assert a.mask_seq == 0
    alpha1 = a.alpha.copy()
    b = proc.process(Frame(2, noisy(still, 2, 3), 2 / 30))
    assert b.mask_seq == 0
    assert not np.array_equal(alpha1, key) and not np.array_equal(b.alpha, alpha1)


def test_a_moving_person_never_reuses_a_mask_and_a_still_one_does():
    """The DAVIS parkour clip (a small, fast person, a moving camera): the model runs on
    every frame. The talking head (a person who talks, nods, then holds still): some
    frames are skipped, each within the cap."""
    proc = Processor(LIVE)
    for seq, image in enumerate(clip_frames("parkour.mp4", 40)):
        assert proc.process(Frame(seq, image, seq / 24)).mask_seq == seq
    proc = Processor(LIVE)
    reused = []
    for seq, image in enumerate(clip_frames("talking_head.mp4", 120)):
        f = proc.process(Frame(seq, image, seq / 15))
        if f.mask_seq != seq:
            reused.append(seq - f.mask_seq)
    assert len(reused) >= 10 and max(reused) <= 5


def test_a_new_chain_or_source_runs_the_model_again():
    """A settings change that rebuilds the chain (a threshold tick) and a reset (a new
    source) forget the key frame: the model passes may differ now."""
    still = clip_frames("talking_head.mp4", 1)[0]
    proc = Processor(LIVE)
    proc.process(Frame(0, still, 0.0))
    assert proc.process(Frame(1, still, 0.0)).mask_seq == 0
    other = PipelineSettings(
        filters=parse_chain("skip,crop,temporal,smoothstep:lo=0.3:hi=0.8,refine:detail=2"),
        background=LIVE.background,
    )
    proc.apply(other)
    assert proc.process(Frame(2, still, 0.0)).mask_seq == 2
    assert proc.process(Frame(3, still, 0.0)).mask_seq == 2
    proc.reset()
    assert proc.process(Frame(4, still, 0.0)).mask_seq == 4


@pytest.mark.parametrize("change", ["brightness", "corner"])
def test_the_rule_refuses_a_global_or_a_local_change(change):
    """Exposure (the whole picture 8 grey levels brighter) fails the PSNR bound; a hand
    in one corner (an 8x8 block at model size, 0.2 % of the picture, 40 grey levels
    brighter) fails the window bound though the PSNR stays above 35 dB."""
    rng = np.random.default_rng(0)
    base = rng.integers(60, 190, (144, 256, 3), dtype=np.uint8)
    moved = base.copy()
    if change == "brightness":
        moved += 8
    else:
        moved[4:12, 4:12] += 40
    rule = SkipRule()
    rule.still(base, (256, 144))
    rule.keep(0, np.zeros((1, 1), np.float32), np.zeros((1, 1), np.float32))
    assert rule.still(base, (256, 144))  # unchanged: reused
    assert not rule.still(moved, (256, 144))
    if change == "corner":
        assert rule.last_psnr >= 35.0 and rule.last_motion > rule.motion
    else:
        assert rule.last_psnr < 35.0
