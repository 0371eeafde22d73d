"""Model manifests: parsing, strictness, checks against the real tensors, lookup,
aspect policies, and ONNX recurrent states (on a tiny ONNX model built here)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from segcam.errors import ModelError
from segcam.inference import Segmenter, load_manifest, resolve_model
from segcam.inference.modelbench import mask_iou
from segcam.metrics import iou
from tests.conftest import eg_portraits, seed_manifest, shared_path

LANDSCAPE = "builtin:selfie_segmentation_landscape.tflite"
# The spelling manifests used before the built-in store: still the same file.
GENERAL = "package:mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite"


def seed_file(name: str):
    return shared_path("models", "seed", name)


def write(folder, text: str, name: str = "m.toml"):
    p = folder / name
    p.write_text(text)
    return p


def load_error(tmp_path, text: str) -> str:
    """The one-line error of loading (manifest + model) a manifest with ``text``."""
    with pytest.raises(ModelError) as err:
        Segmenter(load_manifest(write(tmp_path, text)))
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def portrait() -> tuple[np.ndarray, np.ndarray]:
    p = sorted((eg_portraits() / "images").iterdir())[5]
    return cv2.imread(str(p)), cv2.imread(str(eg_portraits() / "masks" / (p.stem + ".png")), 0)


# -- parsing -------------------------------------------------------------------------------


def test_manifest_fields_and_defaults(tmp_path):
    m = load_manifest(
        write(
            tmp_path,
            f"""
            description = "test"
            file = "{GENERAL}"
            [input]
            size = [256, 256]
            colour = "bgr"
            normalise = "imagenet"
            aspect = "center-crop"
            [output]
            decode = "probability"
            """,
        )
    )
    assert m.name == "m" and m.engine == "litert" and m.path.name == "selfie_segmentation.tflite"
    i = m.input
    assert (i.layout, i.dtype, i.colour, i.aspect, i.prior) == (
        "NHWC",
        "float32",
        "BGR",
        "centre-crop",
        "none",
    )
    # The imagenet preset is given in RGB order and reversed for a BGR model.
    assert i.mean == (103.53, 116.28, 123.675) and i.std[0] == 57.375
    # A manifest written back out reads in again as the same manifest.
    again = load_manifest(write(tmp_path, m.to_toml(), "again.toml"))
    assert again.input == m.input and again.output == m.output and again.path == m.path


def test_relative_file_is_relative_to_the_manifest(tmp_path):
    m = load_manifest(seed_manifest("prisma-net"))
    assert (
        m.path == seed_file("prisma-net.tflite")
        or m.path.resolve() == (seed_file("prisma-net.tflite")).resolve()
    )
    assert m.input.normalise == "unit" and m.output.layout == "flat"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('file = "x.tflite"\ncolour = "RGB"', "colour is not a manifest field"),
        ('file = "x.tflite"\n[input]\nsise = [1, 2]', "input.sise is not a manifest field"),
        ('file = "x.tflite"\n[output]\nchanel = 1', "output.chanel is not a manifest field"),
        ('file = "x.tflite"\nengine = "tensorflow"', "engine = 'tensorflow' is unknown"),
        (
            'file = "x.tflite"\n[input]\nnormalise = "zscore"',
            "input.normalise = 'zscore' is unknown",
        ),
        ('file = "x.tflite"\n[input]\nnormalise = "unit"\nmean = 0', "input.normalise and mean"),
        ('file = "x.tflite"\n[input]\nstd = [1, 0, 1]', "input.std must not contain 0"),
        ('file = "x.tflite"\n[input]\nmean = [1, 2]', "input.mean needs 1 or 3 values"),
        ('file = "x.tflite"\n[input]\nsize = [256]', "input.size must be [width, height]"),
        ('file = "x.tflite"\n[input]\nsize = "256x256"', "input.size must be [width, height]"),
        ('file = "x.tflite"\n[input]\nlayout = "CHW"', "input.layout = 'CHW' is unknown"),
        ('file = "x.tflite"\n[input]\naspect = "fill"', "input.aspect = 'fill' is unknown"),
        ('file = "x.tflite"\n[input]\npad = 300', "input.pad = 300 is out of range"),
        ('file = "x.tflite"\n[output]\ndecode = "argmax"', "output.decode = 'argmax' is unknown"),
        ('file = "x.tflite"\n[output]\nchannel = "one"', "output.channel must be an integer"),
        ('file = "x.tflite"\n[output]\nsize = [4, 4]', "output.size applies only to"),
        ('file = "x.tflite"\ninput = 3', "input must be a table"),
        ('file = "x.tflite"\n[[state]]\ninput = "a"', "state[0].output is missing"),
        ('file = "x.tflite"\n[[constant]]\ninput = "a"', "constant[0].value is missing"),
        ('name = "a/b"\nfile = "x.tflite"', "name = 'a/b' is not a usable model name"),
        ("[input]\nsize = [1, 1]", "file is missing"),
    ],
)
def test_manifest_errors_name_the_field(tmp_path, text, field):
    with pytest.raises(ModelError) as err:
        load_manifest(write(tmp_path, text))
    msg = str(err.value)
    assert "\n" not in msg and str(tmp_path / "m.toml") in msg
    assert field in msg


def test_manifest_file_errors(tmp_path):
    with pytest.raises(ModelError, match="manifest not found"):
        load_manifest(tmp_path / "none.toml")
    with pytest.raises(ModelError, match="not valid TOML"):
        load_manifest(write(tmp_path, "file = \n"))
    # The model file is checked when the model is resolved or loaded.
    with pytest.raises(ModelError, match=r"model file not found: .*missing\.tflite \(file in"):
        resolve_model(str(write(tmp_path, 'file = "missing.tflite"')))
    write(tmp_path, "this is text, not a model", "text.tflite")
    with pytest.raises(ModelError, match="is not a TFLite model"):
        Segmenter(load_manifest(write(tmp_path, 'file = "text.tflite"')))
    write(tmp_path, "this is text, not a model", "text.onnx")
    with pytest.raises(ModelError, match=r"cannot load ONNX model text\.onnx"):
        Segmenter(load_manifest(write(tmp_path, 'file = "text.onnx"\nengine = "onnx"')))
    with pytest.raises(ModelError, match="is not installed"):
        resolve_model(str(write(tmp_path, 'file = "package:no_such_package_xyz/m.tflite"')))


# -- checks against the model's tensors --------------------------------------------------


def test_wrong_input_size_is_named(tmp_path):
    msg = load_error(tmp_path, f'file = "{LANDSCAPE}"\n[input]\nsize = [256, 256]')
    assert "input.size = [256, 256] but selfie_segmentation_landscape.tflite takes 256x144" in msg


def test_wrong_dtype_layout_prior_and_channels_are_named(tmp_path):
    quant = seed_file("portrait_video_quant.tflite")
    msg = load_error(tmp_path, f'file = "{quant}"\n[input]\nprior = "channel"')
    assert 'input.dtype = "float32" but portrait_video_quant.tflite takes int8' in msg
    msg = load_error(tmp_path, f'file = "{quant}"\n[input]\ndtype = "int8"')
    assert 'input.prior is "none" but portrait_video_quant.tflite takes 4 channels' in msg
    sinet = seed_file("SINet.onnx")
    msg = load_error(tmp_path, f'file = "{sinet}"\nengine = "onnx"')
    assert "input.layout = 'NHWC' but SINet.onnx's input [1, 3, 320, 320] looks NCHW" in msg
    msg = load_error(tmp_path, f'file = "{GENERAL}"\n[input]\nprior = "channel"')
    assert "input expects 4 channels (colour + prior) but selfie_segmentation.tflite takes 3" in msg


def test_undecodable_outputs_are_named(tmp_path):
    msg = load_error(tmp_path, f'file = "{LANDSCAPE}"\n[output]\ndecode = "softmax"')
    assert 'output.decode = "softmax" needs class logits' in msg
    msg = load_error(tmp_path, f'file = "{LANDSCAPE}"\n[output]\nchannel = 1')
    assert "output.channel = 1 but selfie_segmentation_landscape.tflite's output has 1" in msg
    mnv3 = seed_file("mnv3_seg_float.tflite")
    msg = load_error(tmp_path, f'file = "{mnv3}"\n[input]\nnormalise = "symmetric"')
    assert "output.channel is needed: mnv3_seg_float.tflite's output has 2 channels" in msg
    prisma = seed_file("prisma-net.tflite")
    msg = load_error(tmp_path, f'file = "{prisma}"\n[output]\nlayout = "flat"\nsize = [100, 100]')
    assert "output.size = [100, 100] does not divide prisma-net.tflite's 65536" in msg
    msg = load_error(tmp_path, f'file = "{prisma}"\n[output]\nlayout = "NHWC"')
    assert "output.layout = 'NHWC' needs a [1, ...] 4-D output" in msg
    # Logits declared as probabilities: caught on the warm-up frame.
    deeplab = seed_file("deeplab_aiseg513_dm05_float.tflite")
    msg = load_error(
        tmp_path,
        f'file = "{deeplab}"\n[input]\nnormalise = "symmetric"\n[output]\nchannel = 1',
    )
    assert 'output.decode = "probability" but deeplab_aiseg513_dm05_float.tflite gives' in msg


def test_bare_tflite_keeps_the_builtin_contract(tmp_path):
    info = resolve_model(str(resolve_model("landscape").path))
    assert info.manifest.origin == "bare" and info.input_size == (0, 0)
    seg = Segmenter(info)
    assert seg.input_size == (256, 144)
    # A .tflite of another contract needs a manifest, and the error says so.
    with pytest.raises(ModelError, match=r"not one value per input pixel.*manifest"):
        Segmenter(str(seed_file("mnv3_seg_float.tflite")))
    with pytest.raises(ModelError, match=r"not an NHWC RGB image.*manifest"):
        Segmenter(str(seed_file("portrait_video_quant.tflite")))
    with pytest.raises(ModelError, match="an ONNX model needs a manifest"):
        resolve_model(str(seed_file("SINet.onnx")))


# -- lookup: built-ins, user manifests, paths --------------------------------------------


def test_user_manifests_are_found_by_name(tmp_path, monkeypatch, capsys):
    from tests.conftest import run_cli

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    folder = tmp_path / "data" / "segcam" / "models"
    folder.mkdir(parents=True)
    write(folder, f'name = "Mine"\nfile = "{GENERAL}"\n[input]\naspect = "letterbox"', "a.toml")
    write(folder, f'file = "{GENERAL}"', "landscape.toml")  # shadowed by the built-in
    write(folder, 'file = "x.tflite"\nbogus = 1', "broken.toml")
    info = resolve_model("mine")
    assert info.name == "Mine" and info.manifest.origin == "user"
    assert info.manifest.input.aspect == "letterbox"
    assert resolve_model("landscape").manifest.origin == "builtin"
    with pytest.raises(ModelError, match="bogus is not a manifest field"):
        resolve_model("broken")
    with pytest.raises(ModelError, match=r"unknown model 'nosuch': use one of .*Mine|mine"):
        resolve_model("nosuch")
    code, out, _ = run_cli(["models", "list"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[1].startswith("landscape") and any(line.startswith("Mine ") for line in lines)
    assert "ignored" in out and "broken" in out and str(folder) in out


# -- aspect policies -------------------------------------------------------------------------


def test_letterbox_maps_the_mask_back_to_the_frame(tmp_path):
    image, _ = portrait()  # 600x800, portrait orientation
    seg = Segmenter(
        load_manifest(write(tmp_path, f'file = "{GENERAL}"\n[input]\naspect = "letterbox"'))
    )
    mask = seg.segment(image)
    # Scaled to fit 256x256: 192x256, centred; the bars are cut off again.
    assert mask.shape == (256, 192)
    assert seg.last_small.shape == (256, 192, 3)
    # The bars are padding (grey level 0), not picture: the model input shows them.
    assert np.all(seg._small_bgr[:, :32] == 0) and np.all(seg._small_bgr[:, -32:] == 0)
    # Mapped back correctly, the mask scores like the stretched one on the same photos
    # (a mask misplaced by the bars' width would lose far more).
    stretched = Segmenter("general")
    paths = sorted((eg_portraits() / "images").iterdir())[:40:8]
    pairs = [
        (cv2.imread(str(p)), cv2.imread(str(p.parent.parent / "masks" / (p.stem + ".png")), 0))
        for p in paths
    ]
    lb = np.mean([mask_iou(seg, i, g) for i, g in pairs])
    st = np.mean([mask_iou(stretched, i, g) for i, g in pairs])
    assert lb > 0.93 and lb > st - 0.02


def test_centre_crop_covers_the_whole_frame(tmp_path):
    image, gt = portrait()
    # Widen the portrait with grey sides: the crop is the original picture, the sides
    # must come back as background.
    wide = cv2.copyMakeBorder(image, 0, 0, 300, 300, cv2.BORDER_CONSTANT, value=(128, 128, 128))
    wide_gt = cv2.copyMakeBorder(gt, 0, 0, 300, 300, cv2.BORDER_CONSTANT, value=0)
    seg = Segmenter(
        load_manifest(write(tmp_path, f'file = "{GENERAL}"\n[input]\naspect = "centre-crop"'))
    )
    mask = seg.segment(wide)
    h, w = wide.shape[:2]
    assert mask.shape == (256, round(w * 256 / 800)) and seg.last_small.shape[:2] == mask.shape
    assert mask[:, :50].max() == 0.0 and mask[:, -50:].max() == 0.0
    up = cv2.resize(mask, (w, h))
    assert iou(up > 0.5, wide_gt) > 0.9


# -- ONNX recurrent states and constants ---------------------------------------------------


def _tiny_recurrent_onnx(path):
    """pha = sigmoid((mean_c(src) - 0.5) * gain + r1i); r1o = pha. Dynamic H and W."""
    import onnx
    from onnx import TensorProto, helper

    src = helper.make_tensor_value_info("src", TensorProto.FLOAT, [1, 3, "h", "w"])
    r1i = helper.make_tensor_value_info("r1i", TensorProto.FLOAT, [1, 1, "h", "w"])
    gain = helper.make_tensor_value_info("gain", TensorProto.FLOAT, [1])
    pha = helper.make_tensor_value_info("pha", TensorProto.FLOAT, [1, 1, "h", "w"])
    r1o = helper.make_tensor_value_info("r1o", TensorProto.FLOAT, [1, 1, "h", "w"])
    half = helper.make_tensor("half", TensorProto.FLOAT, [1], [0.5])
    nodes = [
        helper.make_node("ReduceMean", ["src"], ["m"], axes=[1], keepdims=1),
        helper.make_node("Sub", ["m", "half"], ["c"]),
        helper.make_node("Mul", ["c", "gain"], ["g"]),
        helper.make_node("Add", ["g", "r1i"], ["z"]),
        helper.make_node("Sigmoid", ["z"], ["pha"]),
        helper.make_node("Identity", ["pha"], ["r1o"]),
    ]
    graph = helper.make_graph(nodes, "tiny", [src, r1i, gain], [pha, r1o], [half])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def test_onnx_recurrent_state_and_constant(tmp_path):
    _tiny_recurrent_onnx(tmp_path / "tiny.onnx")
    base = 'file = "tiny.onnx"\nengine = "onnx"\n[input]\nlayout = "NCHW"\n'
    msg = load_error(tmp_path, base)
    assert "input.size is needed" in msg or "input.tensor is needed" in msg
    msg = load_error(tmp_path, base + "size = [32, 24]\n")
    assert "input.tensor is needed: tiny.onnx has 3 inputs not described" in msg
    full = (
        base
        + 'size = [32, 24]\n[output]\ntensor = "pha"\ndecode = "probability"\n'
        + '[[state]]\ninput = "r1i"\noutput = "r1o"\nshape = [1, 1, 24, 32]\n'
        + '[[constant]]\ninput = "gain"\nvalue = 10.0\n'
    )
    seg = Segmenter(load_manifest(write(tmp_path, full)))
    frame = np.full((48, 64, 3), 153, np.uint8)  # 0.6 after the unit normalisation
    first = seg.segment(frame)
    assert first.shape == (24, 32)
    want1 = 1 / (1 + np.exp(-1.0))  # sigmoid((0.6 - 0.5) * 10 + 0)
    np.testing.assert_allclose(first, want1, atol=1e-4)
    second = seg.segment(frame)  # the state is the first output
    np.testing.assert_allclose(second, 1 / (1 + np.exp(-(1.0 + want1))), atol=1e-4)
    seg.reset()
    np.testing.assert_allclose(seg.segment(frame), want1, atol=1e-4)
    bad_state = full.replace('output = "r1o"', 'output = "r9o"')
    msg = load_error(tmp_path, bad_state)
    assert "state[0].output = 'r9o' is not an output of tiny.onnx (pha, r1o)" in msg
