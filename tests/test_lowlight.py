"""Low-light enhancement: when it switches, what it does to the picture and to the mask.

:func:`darken` is the recipe for the dark version of the dev portraits that the
issue's IoU/BF table was measured on (``tests/lowlight_eval.py`` prints it).
"""

from __future__ import annotations

import itertools
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from segcam.config import BackgroundSpec, PipelineSettings
from segcam.errors import ConfigError, ModelError
from segcam.filters.base import make_spec, parse_chain
from segcam.filters.lowlight import HYSTERESIS, LowLight, enhance_input
from segcam.frame import Frame
from segcam.metrics import iou
from tests.conftest import shared_path


def darken(image: np.ndarray, name: str) -> np.ndarray:
    """A dark, noisy version of ``image``: the recipe of the dark dev portraits.

    Per image (seeded by its name, so it is the same every run): a gamma drawn
    uniformly from [2.2, 2.8] on values in [0, 1] (a badly under-exposed sensor:
    the mid-grey 128 becomes 21 to 37), then sensor noise per channel, Gaussian
    with a shot-noise variance proportional to the signal plus read noise,
    ``σ² = 0.6·v + 4`` grey levels², rounded and clipped to uint8.
    """
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    gamma = rng.uniform(2.2, 2.8)
    v = np.power(image.astype(np.float32) / 255.0, np.float32(gamma)) * np.float32(255.0)
    sigma = np.sqrt(np.float32(0.6) * v + np.float32(4.0))
    v += rng.standard_normal(v.shape, dtype=np.float32) * sigma
    return np.clip(np.rint(v), 0, 255).astype(np.uint8)


def grey(level: int, h: int = 72, w: int = 128) -> np.ndarray:
    rng = np.random.default_rng(level)
    img = np.full((h, w, 3), level, np.int16) + rng.integers(-8, 9, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def luma(image: np.ndarray) -> float:
    return float(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).mean()) / 255.0


def test_lowlight_is_registered_with_a_hotkey() -> None:
    spec = make_spec("lowlight", {"strength": "0.5"})
    assert spec.info.stage == "foreground" and spec.info.hotkey == "L"
    with pytest.raises(ConfigError):
        make_spec("lowlight", {"strength": "2"})


def test_a_dark_frame_is_brightened_toward_the_target_and_never_written() -> None:
    f = LowLight(target=0.45)
    dark = grey(30)
    before = dark.copy()
    out = f.enhance(dark)
    assert np.array_equal(dark, before)
    assert out is not dark and f.active
    # The adaptive gamma puts the mean near the target (a flat grey lands on it).
    assert luma(out) == pytest.approx(0.45, abs=0.05)
    # Order is kept: a gamma curve is monotonic.
    ramp = np.repeat(np.arange(0, 80, dtype=np.uint8)[None, :, None], 3, axis=2).repeat(8, 0)
    f.reset()
    r = f.enhance(ramp)
    assert np.all(np.diff(r[0, :, 0].astype(int)) >= 0) and r[0, -1, 0] > ramp[0, -1, 0] + 40


def test_a_normally_lit_frame_is_returned_as_it_is() -> None:
    f = LowLight()
    bright = grey(120)
    assert f.enhance(bright) is bright and not f.active and f.gamma == 1.0


def test_strength_scales_the_correction() -> None:
    dark = grey(30)
    outs = [luma(LowLight(strength=s).enhance(dark)) for s in (0.0, 0.5, 1.0)]
    assert outs[0] == pytest.approx(luma(dark), abs=1e-6)
    assert outs[0] + 0.05 < outs[1] < outs[2] - 0.05


def test_hysteresis_keeps_a_scene_at_the_threshold_from_flickering() -> None:
    f = LowLight(dark=0.3)
    below, inside = grey(round(0.27 * 255)), grey(round((0.3 + HYSTERESIS / 2) * 255))
    above = grey(round((0.3 + HYSTERESIS + 0.04) * 255))
    states = []
    for i, img in enumerate([below, inside, below, inside, inside, below, inside] * 3):
        f.enhance(img, pts=i / 30.0)
        states.append(f.active)
    assert all(states), "inside the band the enhancement must stay on"
    f.enhance(above, pts=1.0)
    assert not f.active
    f.enhance(inside, pts=1.04)
    assert not f.active, "and once off, the band keeps it off"


def test_switching_fades_instead_of_jumping() -> None:
    f = LowLight()
    bright, dark = grey(150), grey(30)
    f.enhance(bright, pts=0.0)
    amounts = []
    for i in range(1, 15):
        f.enhance(dark, pts=i / 30.0)
        amounts.append(f.amount)
    assert amounts[0] < 0.2 and amounts[-1] == pytest.approx(1.0)
    assert all(b >= a for a, b in itertools.pairwise(amounts))


def test_the_hook_enhances_the_models_input_once() -> None:
    f = LowLight()
    dark = grey(30)
    frame = Frame(7, dark, 0.0)
    enhance_input([object(), f], frame)
    assert frame.image is not dark and luma(frame.image) > luma(dark) + 0.2
    # The foreground call of the same frame leaves the (already enhanced) person alone.
    assert f(frame.image, frame.image, np.zeros(dark.shape[:2], np.uint8), frame) is frame.image
    # Without the hook, the foreground call enhances the person itself.
    g = LowLight()
    out = g(dark, dark, np.zeros(dark.shape[:2], np.uint8), Frame(8, dark, 0.0))
    assert luma(out) > luma(dark) + 0.2


def test_the_processor_feeds_the_model_the_enhanced_frame() -> None:
    """With ``lowlight`` in the chain, the model sees the brightened frame (its
    model-size input, ``frame.small``), and the output is brightened outside the
    person too (a background made from the frame)."""
    from segcam.processor import Processor

    blur = BackgroundSpec("blur", blur=4.0)
    dark = grey(30, 144, 256)

    def run(chain: str) -> Frame:
        proc = Processor(PipelineSettings(filters=parse_chain(chain), background=blur))
        return proc.process(Frame(0, dark.copy(), 0.0))

    plain, lit = run("temporal"), run("temporal,lowlight")
    assert luma(lit.small) > luma(plain.small) + 0.2
    assert luma(lit.output) > luma(plain.output) + 0.2


# -- a user's ONNX model --------------------------------------------------------------


def gain_model(path: Path, gain: float, size: int = 32) -> Path:
    """An ONNX model ``y = min(gain·x, 1)`` on 1x3xSxS: a toy enhancement network."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = np.zeros((3, 3, 1, 1), np.float32)
    for c in range(3):
        w[c, c] = gain
    nodes = [
        helper.make_node("Conv", ["x", "W"], ["y"], kernel_shape=[1, 1]),
        helper.make_node("Clip", ["y", "lo", "hi"], ["out"]),
    ]
    graph = helper.make_graph(
        nodes,
        "gain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 3, size, size])],
        [
            numpy_helper.from_array(w, "W"),
            numpy_helper.from_array(np.array(0.0, np.float32), "lo"),
            numpy_helper.from_array(np.array(1.0, np.float32), "hi"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def test_a_users_onnx_model_enhances_dark_frames(tmp_path: Path) -> None:
    model = gain_model(tmp_path / "gain.onnx", 3.0)
    spec = parse_chain(f"lowlight:model={model}:size=32")[0]
    f = spec.build()
    dark = np.full((72, 128, 3), 30, np.uint8)
    dark[:, :64] = 20
    out = f.enhance(dark)
    # The network triples every value; its change is applied at full resolution (the
    # change is upsampled from the model's size, so the step between halves is soft).
    inner = (slice(None), np.r_[0:56, 72:128])
    assert np.abs(out[inner].astype(int) - 3 * dark[inner].astype(int)).max() <= 1
    half = LowLight(model=str(model), size=32, strength=0.5).enhance(dark)
    assert np.abs(half[inner].astype(int) - 2 * dark[inner].astype(int)).max() <= 1
    bright = grey(150)
    f.reset()
    assert f.enhance(bright) is bright  # not dark: the model does not run


def test_onnx_model_errors_come_when_the_filter_is_built(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        LowLight(model=str(tmp_path / "missing.onnx"))
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ModelError, match=r"junk\.onnx"):
        LowLight(model=str(junk))
    with pytest.raises(ConfigError, match=r"\.onnx"):
        LowLight(model=str(tmp_path / "x.pb"))


# -- the real model on dark portraits --------------------------------------------------

EG = "eg_portrait_shen2016"


def _segment_iou(processor, image: np.ndarray, gt: np.ndarray) -> float:
    processor.reset()
    frame = Frame(0, image, 0.0)
    processor.process(frame)
    return iou(frame.alpha, gt)


def test_enhancing_the_models_input_helps_the_mask_on_dark_portraits() -> None:
    from segcam.evaluation import load_pair
    from segcam.processor import Processor

    root = shared_path("data", "validation", EG)
    names = sorted(p.stem for p in (root / "images").glob("*.jpg"))[::30][:10]
    processor = Processor(
        PipelineSettings(background=BackgroundSpec("colour", colour=(0, 0, 0)), filters=())
    )
    enhancer = LowLight()
    plain, enhanced, normal, normal_enh = [], [], [], []
    for name in names:
        image, gt = load_pair(root / "images" / f"{name}.jpg", root / "masks" / f"{name}.png")
        dark = darken(image, name)
        plain.append(_segment_iou(processor, dark, gt))
        enhancer.reset()
        enhanced.append(_segment_iou(processor, enhancer.enhance(dark), gt))
        normal.append(_segment_iou(processor, image, gt))
        enhancer.reset()
        normal_enh.append(_segment_iou(processor, enhancer.enhance(image), gt))
    assert np.mean(enhanced) > np.mean(plain) + 0.01, (np.mean(plain), np.mean(enhanced))
    # On normally lit portraits it costs nothing.
    assert np.mean(normal_enh) >= np.mean(normal)
