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


def test_a_person_moving_inside_the_crop_runs_only_the_crops_model():
    """The talking head (a still camera, a person who talks and nods): frames that moved
    but changed nothing outside the crop run only the crop's model; the whole frame is
    still segmented at least every ``whole_every`` frames, and each crop-only frame
    names the frame its outer mask came from."""
    proc = Processor(LIVE)
    crop_only, gaps = 0, []
    for seq, image in enumerate(clip_frames("talking_head.mp4", 90)):
        f = proc.process(Frame(seq, image, seq / 15))
        if f.crop_only:
            crop_only += 1
            assert f.mask_seq == seq and f.whole_seq < seq
        gaps.append(seq - f.whole_seq)
    assert crop_only >= 10
    assert max(gaps) < 15


def test_a_change_outside_the_crop_runs_the_whole_model():
    """The same moving person with a bright block flashing on and off in the frame's
    corner (someone walking in, far from the person's crop): every frame with the block
    changed runs the whole model; without it, crop-only frames happen."""
    frames = clip_frames("talking_head.mp4", 40)
    proc = Processor(LIVE)
    whole = []
    for seq, image in enumerate(frames):
        image = image.copy()
        if seq % 2:
            image[:60, :60] = 255
        f = proc.process(Frame(seq, image, seq / 15))
        assert not f.crop_only
        whole.append(f.whole_seq == seq or f.mask_seq != seq)
    assert all(whole)


@pytest.mark.parametrize("chain", ["skip:whole_every=1,crop,refine", "skip,temporal,refine"])
def test_crop_only_frames_need_a_crop_pass_and_can_be_turned_off(chain):
    """whole_every=1 turns crop-only frames off; a chain whose model passes are not a
    crop has none (the whole model runs on every frame that is not skipped)."""
    proc = Processor(PipelineSettings(filters=parse_chain(chain), background=LIVE.background))
    for seq, image in enumerate(clip_frames("talking_head.mp4", 40)):
        f = proc.process(Frame(seq, image, seq / 15))
        assert not f.crop_only
        assert f.whole_seq == f.mask_seq


def test_the_crop_only_test_looks_only_outside_the_crops_own_part():
    """A change inside the region the crop owned at the outer key passes the test; the
    same change just outside it fails; without a region there are no crop-only frames."""
    rng = np.random.default_rng(1)
    base = rng.integers(60, 190, (144, 256, 3), dtype=np.uint8)
    rule = SkipRule()
    rule.still(base, (256, 144))
    rule.keep(0, np.zeros((1, 1), np.float32), np.zeros((1, 1), np.float32), (0.25, 0.0, 0.75, 1.0))
    inside, outside = base.copy(), base.copy()
    inside[40:80, 100:150] += 50  # well inside x 64..192
    outside[40:80, 20:40] += 50
    assert not rule.still(inside, (256, 144)) and rule.crop_only()
    assert not rule.still(outside, (256, 144)) and not rule.crop_only()
    assert rule.last_outer_motion > rule.motion
    bare = SkipRule()
    bare.still(base, (256, 144))
    bare.keep(0, np.zeros((1, 1), np.float32), np.zeros((1, 1), np.float32))
    assert not bare.still(inside, (256, 144)) and not bare.crop_only()
