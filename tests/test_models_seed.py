"""The seed project's research models, loaded through manifests, on real portraits.

The model files live in ../shared/models/seed (not ours to ship); their manifests
live in tests/model_manifests. Each model must reach the EG-portraits IoU that
../shared/models/README.md lists, within 0.01, with the README's protocol
(:mod:`segcam.inference.modelbench`: the raw mask stretched back to the image,
P > 0.5). All 75 images are used, except for deeplab (0.4-0.7 s per image here),
which is scored on every 5th image.
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from segcam.inference import Segmenter, load_manifest
from segcam.inference.modelbench import mask_iou
from segcam.metrics import iou
from tests.conftest import eg_portraits, seed_manifest, shared_path

# manifest -> (README's EG-portraits IoU, every n-th image scored)
EXPECTED = {
    "landscape": (0.96, 1),
    "general": (0.96, 1),
    "mnv3_seg_float": (0.97, 1),
    "bilinear_fin_munet_uint8": (0.97, 1),
    "portrait_segmentation": (0.97, 1),
    "slim_reshape_v2": (0.97, 1),
    "prisma-net": (0.94, 1),
    "sinet": (0.96, 1),
    "portrait_video_quant": (0.96, 1),
    "deeplab_aiseg513": (0.96, 5),
}


def seed(name: str):
    """The loaded manifest of a seed model (built-ins by name)."""
    return load_manifest(seed_manifest(name))


@pytest.fixture(scope="module")
def eg_set(shared_data) -> list[tuple[str, np.ndarray, np.ndarray]]:
    out = []
    for image_path in sorted((eg_portraits() / "images").iterdir()):
        gt = cv2.imread(str(eg_portraits() / "masks" / (image_path.stem + ".png")), 0)
        out.append((image_path.stem, cv2.imread(str(image_path)), gt))
    assert len(out) == 75
    return out


def test_every_seed_model_has_a_manifest():
    files = {
        p.name for p in shared_path("models", "seed").iterdir() if p.suffix in (".tflite", ".onnx")
    }
    named = {seed(n).path.name for n in EXPECTED if n not in ("landscape", "general")}
    assert files == named


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXPECTED))
def test_seed_model_reaches_readme_iou(name, eg_set):
    expected, step = EXPECTED[name]
    model = name if name in ("landscape", "general") else seed(name)
    seg = Segmenter(model)
    scores = [mask_iou(seg, image, gt) for _, image, gt in eg_set[::step]]
    mean = float(np.mean(scores))
    print(f"\n[seed] {name}: EG IoU {mean:.4f} (n={len(scores)}), README ~{expected:.2f}")
    assert abs(mean - expected) <= 0.01


def test_sinet_runs_on_the_onnx_engine(eg_set):
    seg = Segmenter(seed("sinet"))
    assert seg.engine.kind == "onnx" and "CPUExecutionProvider" in seg.engine.backend
    (inp,) = seg.engine.inputs
    assert inp.name == "data" and inp.shape == (1, 3, 320, 320)
    _, image, gt = eg_set[0]
    mask = seg.segment(image)
    assert mask.shape == (320, 320) and mask.dtype == np.float32
    assert mask.min() >= 0.0 and mask.max() <= 1.0
    assert mask_iou(seg, image, gt) > 0.9
    # NCHW BGR with SINet's own normalisation: the feed is exactly that.
    feed = seg._feeds[0]
    small = cv2.resize(image, (320, 320), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    mean = np.array([102.890, 111.252, 126.912], np.float32)
    std = np.array([62.933, 62.821, 66.356], np.float32)
    want = ((small - mean) / std / 255.0).transpose(2, 0, 1)
    np.testing.assert_allclose(feed[0], want, atol=1e-5)


def test_onnx_engine_needs_onnxruntime(monkeypatch):
    import sys

    from segcam.errors import ModelError

    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ModelError, match=r"pip install segcam\[onnx\]") as err:
        Segmenter(seed("sinet"))
    assert "\n" not in str(err.value)


def test_recurrent_model_receives_the_previous_mask(eg_set):
    """Changing the prior changes the output; the prior is the last mask; reset zeroes it."""
    seg = Segmenter(seed("portrait_video_quant"))
    inp = seg.engine.inputs[0]
    assert inp.shape == (1, 224, 224, 4) and inp.dtype == np.int8 and inp.quantised
    _, image, gt = eg_set[3]

    seg.reset()
    first = seg.segment(image)
    # First frame: channel 4 held P = 0, i.e. the input's zero point.
    assert np.all(seg._feeds[0][0, :, :, 3] == inp.zero_point)
    second = seg.segment(image)
    # Second frame: channel 4 held the first mask, quantised with the input's parameters.
    want = np.clip(np.rint(first / inp.scale + inp.zero_point), -128, 127)
    assert np.array_equal(seg._feeds[0][0, :, :, 3], want.astype(np.int8))
    assert np.abs(second - first).max() > 0.05, "the prior channel had no effect"

    # A prior that says "person everywhere" ruins the mask (README: IoU ~0.71 on stills).
    seg.reset()
    seg._prior.fill(1.0)
    h, w = gt.shape
    ones = iou(cv2.resize(seg.segment(image), (w, h)) > 0.5, gt)
    zero = iou(cv2.resize(first, (w, h)) > 0.5, gt)
    assert zero > 0.9 and ones < zero - 0.05

    # reset() brings back the zero prior: the first frame's answer, exactly.
    seg.reset()
    assert np.array_equal(seg.segment(image), first)


def test_recurrent_prior_steadies_a_real_video(shared_data):
    """On the talking-head video, feeding back the mask makes it flip less per frame."""
    import av

    from tests.conftest import TALKING_HEAD

    frames = []
    with av.open(str(TALKING_HEAD)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i % 2 == 0:
                frames.append(f.to_ndarray(format="bgr24"))
            if len(frames) == 24:
                break
    seg = Segmenter(seed("portrait_video_quant"))

    def flips(recurrent: bool) -> float:
        seg.reset()
        masks = []
        for f in frames:
            if not recurrent:
                seg.reset()
            masks.append(seg.segment(f) > 0.5)
        return float(np.mean([np.mean(a != b) for a, b in itertools.pairwise(masks)]))

    with_prior, without = flips(True), flips(False)
    print(f"\n[recurrent] flipped pixels per frame: {without:.4f} alone, {with_prior:.4f} fed back")
    assert with_prior < without
