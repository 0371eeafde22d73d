"""Frame filters: colour transfer, seamless clone, harmonize (classical and DNN), light wrap.

Synthetic scenes make the expected effect exact (a person disc of one colour on a
camera background of another, composited onto a third); the seamless clone is
checked against a full-resolution ``cv2.seamlessClone``; the DNN harmonizer runs
tiny ONNX models that the tests build; the CLI runs the filters on a real clip.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from segcam.compositor import Compositor, blend
from segcam.config import BackgroundSpec
from segcam.errors import ConfigError, ModelError
from segcam.filters.base import known_filters, make_spec, parse_chain
from segcam.filters.frame_filters import SeamlessClone
from segcam.frame import Frame
from tests.conftest import make_clip, read_video, run_cli, shared_path

H, W = 360, 640


def lab_mean(image: np.ndarray, where: np.ndarray) -> np.ndarray:
    lab = cv2.cvtColor(image, cv2.COLOR_BGR2Lab).astype(np.float32)
    return lab[where].mean(axis=0)


def disc_alpha(h: int = H, w: int = W, centre=None, radius: int | None = None, soft=1.5):
    alpha = np.zeros((h, w), np.uint8)
    cx, cy = centre or (w // 2, h // 2)
    cv2.circle(alpha, (cx, cy), radius or h // 3, 255, -1)
    if soft:
        alpha = cv2.GaussianBlur(alpha, (0, 0), soft)
    return alpha


def textured(h: int, w: int, base, amp: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.empty((h, w, 3), np.float32)
    for c in range(3):
        img[..., c] = base[c] + amp * np.sin(xx / (7 + 3 * c)) * np.cos(yy / (9 + 2 * c))
    img += rng.normal(0, 2, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def compose(person: np.ndarray, camera: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha[..., None].astype(np.float32) / 255.0
    return np.clip(person * a + camera * (1 - a) + 0.5, 0, 255).astype(np.uint8)


@pytest.fixture
def scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frame, new background, alpha): a warm textured person on a grey room; a cool background."""
    alpha = disc_alpha()
    person = textured(H, W, (60, 110, 200), 25, 1)  # BGR: warm skin-like
    camera = textured(H, W, (128, 128, 128), 10, 2)
    frame = compose(person, camera, alpha)
    bg = textured(H, W, (140, 95, 30), 30, 3)  # BGR: dark blue-teal
    return frame, bg, alpha


# -- registry -------------------------------------------------------------------------------------


def test_frame_filters_are_registered() -> None:
    filters = known_filters()
    expect = {
        "colour": ("foreground", "C"),
        "clone": ("blend", "S"),
        "harmonize": ("foreground", "H"),
        "lightwrap": ("post", None),
    }
    for name, (stage, hotkey) in expect.items():
        info = filters[name]
        assert (info.stage, info.hotkey) == (stage, hotkey)
        assert info.factory.__doc__ and "Contract" in info.factory.__doc__


@pytest.mark.parametrize(
    "text",
    ["colour:strength=2", "clone:scale=0", "lightwrap:width=0", "harmonize:band=1", "clone:x=1"],
)
def test_frame_filter_params_are_validated(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_chain(text)


def test_foreground_filters_never_modify_their_inputs(scene) -> None:
    frame, bg, alpha = scene
    copies = frame.copy(), bg.copy(), alpha.copy()
    for name in ("colour", "harmonize"):
        f = make_spec(name).build()
        out = f(frame, bg, alpha, None)
        assert out is not frame and not np.shares_memory(out, frame)
        assert not np.array_equal(out, frame)
    out = np.empty_like(frame)
    make_spec("clone").build()(frame, bg, alpha, out)
    for a, b in zip((frame, bg, alpha), copies, strict=True):
        assert np.array_equal(a, b)


# -- colour transfer ------------------------------------------------------------------------------


def test_colour_moves_the_person_toward_the_background(scene) -> None:
    frame, bg, alpha = scene
    person = alpha == 255
    visible = alpha == 0
    target = lab_mean(bg, visible)
    before = lab_mean(frame, person)
    half = lab_mean(make_spec("colour").build()(frame, bg, alpha, None), person)
    full = lab_mean(make_spec("colour", {"strength": 1}).build()(frame, bg, alpha, None), person)
    for c in range(3):
        gap = abs(before[c] - target[c])
        assert gap > 15  # the scene really differs in every Lab channel
        assert abs(half[c] - target[c]) < 0.65 * gap
        assert abs(full[c] - target[c]) < 0.1 * gap + 2
    # Reinhard also matches the spread: the person's L contrast becomes the background's.
    lab_full = cv2.cvtColor(
        make_spec("colour", {"strength": 1}).build()(frame, bg, alpha, None), cv2.COLOR_BGR2Lab
    )
    l_bg = cv2.cvtColor(bg, cv2.COLOR_BGR2Lab)[..., 0][visible].std()
    assert abs(lab_full[..., 0][person].std() - l_bg) < 0.15 * l_bg


def test_colour_leaves_the_frame_alone_without_a_person(scene) -> None:
    frame, bg, _ = scene
    empty = np.zeros(frame.shape[:2], np.uint8)
    assert make_spec("colour").build()(frame, bg, empty, None) is frame
    assert make_spec("harmonize").build()(frame, bg, empty, None) is frame


# -- harmonize, classical -------------------------------------------------------------------------


def test_harmonize_matches_the_background_near_the_person() -> None:
    alpha = disc_alpha(radius=90)
    person = textured(H, W, (90, 100, 120), 20, 4)
    frame = compose(person, textured(H, W, (128,) * 3, 5, 5), alpha)
    # The background is bright near the person and dark far away: the person must take on
    # the near band's light, not the whole background's average.
    bg = np.full((H, W, 3), 40, np.uint8)
    cv2.circle(bg, (W // 2, H // 2), 90 + 60, (225, 225, 225), -1)
    inside = alpha == 255
    before = lab_mean(frame, inside)
    band = (cv2.dilate((alpha > 127).astype(np.uint8), np.ones((41, 41), np.uint8)) > 0) & (
        alpha == 0
    )
    near, overall = lab_mean(bg, band), lab_mean(bg, alpha == 0)
    assert near[0] > overall[0] + 40
    after = lab_mean(make_spec("harmonize", {"strength": 1}).build()(frame, bg, alpha), inside)
    assert abs(after[0] - near[0]) < 0.1 * abs(before[0] - near[0]) + 2
    half = lab_mean(make_spec("harmonize").build()(frame, bg, alpha), inside)
    assert before[0] < half[0] < after[0]
    # Chroma moves to the band's mean (neutral grey here).
    for c in (1, 2):
        assert abs(after[c] - near[c]) < 0.2 * abs(before[c] - near[c]) + 1.5


def test_harmonize_statistics_are_smoothed_over_frames(scene) -> None:
    frame, bg, alpha = scene
    f = make_spec("harmonize", {"smooth": 0.9}).build()
    first = f(frame, bg, alpha).copy()
    dark = (bg // 3).astype(np.uint8)
    second = f(frame, dark, alpha).copy()
    fresh = make_spec("harmonize", {"smooth": 0.9}).build()(frame, dark, alpha)
    person = alpha == 255
    # The smoothed filter moves only a tenth of the way toward the new background.
    l1, l2, lf = (lab_mean(x, person)[0] for x in (first, second, fresh))
    assert abs(l2 - l1) < 0.2 * abs(lf - l1)
    f.reset()
    assert np.array_equal(f(frame, dark, alpha), fresh)


# -- harmonize, DNN ------------------------------------------------------------------------------

S = 32  # side of the tiny test models


def conv_model(
    path: Path, weight: np.ndarray, bias: np.ndarray, *, two_inputs: bool = False
) -> Path:
    """An ONNX 1x1 convolution: 1x4xSxS (or data 1x3xSxS + mask 1x1xSxS) -> 1xCxSxS."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    out_ch, in_ch = weight.shape[:2]
    inits = [
        numpy_helper.from_array(weight.astype(np.float32), "W"),
        numpy_helper.from_array(bias.astype(np.float32), "B"),
    ]
    conv = helper.make_node("Conv", ["x", "W", "B"], ["output"], kernel_shape=[1, 1])
    if two_inputs:
        inputs = [
            helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, S, S]),
            helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, 1, S, S]),
        ]
        nodes = [helper.make_node("Concat", ["data", "mask"], ["x"], axis=1), conv]
    else:
        inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, in_ch, S, S])]
        nodes = [conv]
    graph = helper.make_graph(
        nodes,
        "tiny",
        inputs,
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, out_ch, S, S])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def identity_weights(mask_gain: float = 0.0) -> np.ndarray:
    w = np.zeros((3, 4, 1, 1), np.float32)
    for c in range(3):
        w[c, c] = 1.0
        w[c, 3] = mask_gain
    return w


#: Inputs in [0, 1] (x/255, mask/255), outputs decoded back to 0..255.
UNIT = f"size={S}:mean=0:scale=0.00392157:mask_mean=0"


def composite(chain: str, frame: np.ndarray, alpha: np.ndarray, bgr=(50, 50, 50)) -> np.ndarray:
    comp = Compositor(BackgroundSpec("colour", colour=bgr), parse_chain(chain))
    f = Frame(0, frame, 0.0)
    f.alpha = alpha
    comp.process(f)
    assert f.output is not None
    return f.output.copy()


def test_harmonize_runs_a_users_onnx_model(tmp_path: Path, scene) -> None:
    # out = composite + 0.1 (in [0, 1] units): the network brightens by 25.5 grey levels.
    model = conv_model(tmp_path / "brighten.onnx", identity_weights(), np.full(3, 0.1))
    frame, _, alpha = scene
    person, outside = alpha == 255, alpha == 0
    plain = composite("none", frame, alpha)
    full = composite(f"harmonize:model={model}:{UNIT}:strength=1", frame, alpha).astype(int)
    half = composite(f"harmonize:model={model}:{UNIT}", frame, alpha).astype(int)
    gain_full = (full - plain)[person].mean()
    gain_half = (half - plain)[person].mean()
    assert 23 < gain_full < 28
    assert 11 < gain_half < 14.5
    assert np.array_equal(full[outside], plain[outside])  # the background is not the model's


def test_harmonize_feeds_the_mask_to_a_two_input_model(tmp_path: Path, scene) -> None:
    # out = composite + 0.1·mask, as two inputs named like the seed's (data, mask).
    model = conv_model(tmp_path / "two.onnx", identity_weights(0.1), np.zeros(3), two_inputs=True)
    frame, _, alpha = scene
    f = make_spec("harmonize", {"model": str(model), **_unit(), "strength": 1}).build()
    assert f.dnn is not None and f.dnn.inputs == ["data", "mask"]
    out = f(frame, np.full_like(frame, 50), alpha).astype(int)
    diff = out - frame
    assert 23 < diff[alpha == 255].mean() < 28  # mask = 1 inside the person
    core = cv2.erode((alpha == 0).astype(np.uint8), np.ones((41, 41), np.uint8)) > 0
    assert np.abs(diff[core]).max() <= 1  # mask = 0 away from the person


def _unit() -> dict[str, str]:
    return dict(p.split("=") for p in UNIT.split(":"))


def test_harmonize_rgb_models_get_rgb(tmp_path: Path, scene) -> None:
    # A model that adds 0.2 to its first channel only: with rgb=true that is red.
    w = identity_weights()
    model = conv_model(tmp_path / "red.onnx", w, np.array([0.2, 0, 0]))
    frame, _, alpha = scene
    out = make_spec(
        "harmonize", {"model": str(model), **_unit(), "strength": 1, "rgb": True}
    ).build()(frame, frame, alpha)
    gain = (out.astype(int) - frame)[alpha == 255].mean(axis=0)
    assert gain[2] > 40 and abs(gain[0]) < 2 and abs(gain[1]) < 2


def error_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and "Traceback" not in msg
    return msg


def test_harmonize_model_errors_come_when_the_chain_is_built(tmp_path: Path) -> None:
    bg = BackgroundSpec("colour", colour=(0, 0, 0))

    def build(chain: str):
        return Compositor(bg, parse_chain(chain))

    with pytest.raises(ConfigError) as e:
        build(f"harmonize:model={tmp_path / 'missing.onnx'}")
    assert "not found" in error_line(e) and "missing.onnx" in str(e.value)
    # The seed's Caffe harmonizer, whose weights are not available.
    prototxt = shared_path("models", "seed", "deploy_512.prototxt")
    assert prototxt.is_file()
    with pytest.raises(ConfigError) as e:
        build(f"harmonize:model={prototxt}")
    assert "weights" in error_line(e)
    with pytest.raises(ConfigError) as e:
        build(f"harmonize:model={prototxt}:weights={tmp_path / 'w.caffemodel'}")
    assert "w.caffemodel" in error_line(e)
    text = tmp_path / "model.txt"
    text.write_text("not a model")
    with pytest.raises(ConfigError) as e:
        build(f"harmonize:model={text}")
    assert ".onnx" in error_line(e)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x08\x07garbage" * 50)
    with pytest.raises(ModelError) as e:
        build(f"harmonize:model={junk}")
    assert "junk.onnx" in error_line(e)
    one_channel = conv_model(tmp_path / "gray.onnx", np.ones((1, 4, 1, 1)), np.zeros(1))
    with pytest.raises(ModelError) as e:
        build(f"harmonize:model={one_channel}:size={S}")
    assert "1x3xHxW" in error_line(e) and "1x1x32x32" in str(e.value)
    three_in = conv_model(tmp_path / "rgb_only.onnx", np.ones((3, 3, 1, 1)), np.zeros(3))
    with pytest.raises(ModelError) as e:
        build(f"harmonize:model={three_in}:size={S}")
    assert "does not fit" in error_line(e) and "1x4x32x32" in str(e.value)
    good = conv_model(tmp_path / "ok.onnx", identity_weights(), np.zeros(3))
    with pytest.raises(ConfigError) as e:
        build(f"harmonize:model={good}:size={S}:inputs=nope")
    assert "nope" in error_line(e)
    with pytest.raises(ConfigError) as e:
        build(f"harmonize:model={good}:size={S}:mean=1/2")
    assert "mean" in error_line(e)


# -- seamless clone -------------------------------------------------------------------------------


def clone_scene(h: int, w: int, centre, axes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    camera = np.dstack(
        [140 + 20 * np.sin(xx / 50), 120 + 15 * np.cos(yy / 40), 110 + 10 * np.sin((xx + yy) / 70)]
    )
    person = np.dstack(
        [
            110 + 25 * np.sin(xx / 9) * np.cos(yy / 13),
            120 + 20 * np.cos(xx / 17),
            140 + 25 * np.sin(yy / 11),
        ]
    )
    alpha = np.zeros((h, w), np.uint8)
    cv2.ellipse(alpha, centre, axes, 0, 0, 360, 255, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 2)
    noise = np.random.default_rng(7).normal(0, 2, (h, w, 3))
    a = alpha[..., None] / 255.0
    frame = np.clip(person * a + camera * (1 - a) + noise, 0, 255).astype(np.uint8)
    bg = np.dstack([90 + 0.05 * xx, 130 + 0.03 * yy, 150 - 0.04 * xx]).clip(0, 255)
    return frame, bg.astype(np.uint8), alpha


def test_clone_matches_a_full_resolution_seamless_clone() -> None:
    """Golden test: the ROI + reduced-scale path against cv2.seamlessClone on the full frame."""
    h, w = 720, 1280
    frame, bg, alpha = clone_scene(h, w, (640, 380), (200, 280))
    r = SeamlessClone(scale=1.0).solve_grow(h)  # the same clone region, at full resolution
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    mask = cv2.dilate(((alpha > 127) * 255).astype(np.uint8), kernel)
    x, y, bw, bh = cv2.boundingRect(mask)
    # A copy: seamlessClone erodes the mask it is given in place (opencv/opencv#12053).
    ref = cv2.seamlessClone(frame, bg, mask.copy(), (x + bw // 2, y + bh // 2), cv2.NORMAL_CLONE)
    person = cv2.erode(((alpha == 255) * 255).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert np.abs(ref.astype(int) - frame)[person].mean() > 15  # the clone changes a lot
    for scale, mean_tol, p99_tol in ((1.0, 0.05, 0), (0.5, 0.5, 2), (0.25, 0.6, 2)):
        out = np.empty_like(frame)
        SeamlessClone(scale=scale)(frame, bg, alpha, out)
        err = np.abs(out.astype(int) - ref)[person]
        assert err.mean() <= mean_tol, scale
        assert np.percentile(err, 99) <= p99_tol, scale
    # Away from the person's box the output is the plain alpha blend.
    plain = blend(frame, bg, alpha, np.empty_like(frame))
    far = np.ones(alpha.shape, bool)
    far[y - 40 : y + bh + 40, x - 40 : x + bw + 40] = False
    assert np.array_equal(out[far], plain[far])


def test_clone_without_a_person_is_the_background(scene) -> None:
    frame, bg, _ = scene
    out = np.empty_like(frame)
    make_spec("clone").build()(frame, bg, np.zeros(frame.shape[:2], np.uint8), out)
    assert np.array_equal(out, bg)


@pytest.mark.parametrize("where", ["bottom", "corner"])
def test_clone_of_a_person_cut_by_the_frame_border(where: str) -> None:
    h, w = 360, 640
    centre = (320, 330) if where == "bottom" else (40, 340)
    frame, bg, alpha = clone_scene(h, w, centre, (140, 200))
    out = np.empty_like(frame)
    make_spec("clone", {"scale": 0.5}).build()(frame, bg, alpha, out)
    person = cv2.erode(((alpha == 255) * 255).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    corr = out.astype(int) - frame
    # The person is pulled toward the background's colours where they meet it ...
    ring = (cv2.dilate((alpha > 0).astype(np.uint8), np.ones((25, 25), np.uint8)) > 0) & (
        alpha == 0
    )
    expected = (bg.astype(int) - frame)[ring].mean(axis=0)
    assert np.allclose(corr[person].mean(axis=0), expected, atol=6)
    # ... and not toward the background's own colour where the frame cuts them off.
    edge = person.copy()
    edge[: h - 4] = False
    if where == "corner":
        edge = person.copy()
        edge[:, 4:] = False
    assert edge.sum() > 50
    assert np.allclose(corr[edge].mean(axis=0), expected, atol=8)


# -- light wrap ----------------------------------------------------------------------------------


def test_lightwrap_only_brightens_the_persons_edge() -> None:
    alpha = disc_alpha(radius=100, soft=1.0)
    frame = np.zeros((H, W, 3), np.uint8)
    frame[:] = (30, 30, 30)  # a dark person
    bg = np.full((H, W, 3), 230, np.uint8)  # a bright background
    out = composite("none", frame, alpha, bgr=(230, 230, 230))
    before = out.copy()
    width = 12.0
    f = make_spec("lightwrap", {"width": width, "strength": 0.8}).build()
    assert f(out, bg, alpha) is out
    diff = out.astype(int) - before
    assert diff.min() >= 0  # a screen blend only brightens
    changed = diff.max(axis=2) > 0
    assert changed.sum() > 500
    assert not changed[alpha == 0].any()  # never the background
    inside = (alpha > 0).astype(np.uint8)
    depth = cv2.distanceTransform(inside, cv2.DIST_L2, 5)
    assert depth[changed].max() < 4 * width  # only near the edge
    assert diff[(depth > 1) & (depth < 4)].mean() > 20  # and clearly there
    assert not changed[depth > 4 * width].any()


# -- end to end ----------------------------------------------------------------------------------


def test_frame_filters_through_the_compositor(scene) -> None:
    frame, _, alpha = scene
    light = (210, 190, 170)
    plain = composite("none", frame, alpha, light)
    for chain in ("colour", "harmonize", "clone", "lightwrap", "colour,harmonize,clone,lightwrap"):
        out = composite(chain, frame, alpha, light)
        assert out.shape == frame.shape and out.dtype == np.uint8
        assert np.abs(out.astype(int) - plain).mean() > 0.5, chain


@pytest.fixture(scope="module")
def small_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(
        tmp_path_factory.mktemp("ff") / "talk.mp4", frames=6, size=(256, 144), audio=False
    )


@pytest.mark.slow
def test_record_with_frame_filters(small_clip: Path, tmp_path: Path, capsys) -> None:
    image = shared_path("data", "portraits", "ccp_fashion", "images")
    background = str(sorted(image.glob("*.jpg"))[0])
    mask_chain = "temporal,smoothstep,refine,feather"
    results = {}
    for chain in (
        mask_chain,
        mask_chain + ",colour:strength=1,harmonize,lightwrap",
        "colour:strength=0.8,clone:scale=0.5,lightwrap:width=20",
    ):
        out = tmp_path / f"out{len(results)}.mp4"
        argv = ["record", "--input", str(small_clip), "--output", str(out)]
        argv += ["--background", background, "--filters", chain]
        code, _, err = run_cli(argv, capsys)
        assert code == 0, err
        frames, info = read_video(out)
        assert len(frames) == 6 and info["size"] == (256, 144)
        results[chain] = np.stack(frames).astype(np.int16)
    plain, *filtered = results.values()
    for video in filtered:  # the frame filters really ran (the person's colours changed)
        assert np.abs(video - plain).mean() > 2
