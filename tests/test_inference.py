"""Model lookup and LiteRT inference with the real built-in models."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import cv2
import numpy as np
import pytest

from segcam.errors import ModelError
from segcam.inference import Segmenter, resolve_model
from segcam.inference.builtin_store import FILES
from segcam.inference.engine import LiteRtEngine
from tests.conftest import eg_portraits


def test_builtin_models_are_found_without_importing_mediapipe():
    code = (
        "import sys\n"
        "from segcam.inference import Segmenter\n"
        "s = Segmenter('landscape'); g = Segmenter('general')\n"
        "assert s.input_size == (256, 144) and g.input_size == (256, 256)\n"
        "assert 'mediapipe' not in sys.modules, 'mediapipe was imported'\n"
        "assert 'skimage' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_resolve_model_names_and_paths(tmp_path):
    m = resolve_model("landscape")
    assert m.path.name == "selfie_segmentation_landscape.tflite" and m.input_size == (256, 144)
    assert resolve_model("GENERAL").path.name == "selfie_segmentation.tflite"
    user = resolve_model(str(m.path))
    assert user.path == m.path
    with pytest.raises(ModelError, match="unknown model"):
        resolve_model("nosuchmodel")
    with pytest.raises(ModelError, match="not found"):
        resolve_model(str(tmp_path / "missing.tflite"))


@pytest.mark.parametrize("threads", [1, 2])
def test_segmenter_gives_a_probability_mask_of_the_person(threads):
    image_path = sorted((eg_portraits() / "images").iterdir())[0]
    gt = cv2.imread(str(eg_portraits() / "masks" / (image_path.stem + ".png")), 0)
    image = cv2.imread(str(image_path))
    seg = Segmenter("landscape", threads=threads)
    mask = seg.segment(image)
    assert mask.shape == (144, 256) and mask.dtype == np.float32
    assert mask.min() >= 0.0 and mask.max() <= 1.0
    small_gt = cv2.resize(gt, (256, 144), interpolation=cv2.INTER_AREA) > 127
    assert mask[small_gt].mean() > 0.85
    assert mask[~small_gt].mean() < 0.15
    # The input must be RGB: feeding BGR (swapped) changes the answer, proving the conversion runs.
    swapped = seg.segment(np.ascontiguousarray(image[:, :, ::-1]))
    assert np.abs(swapped - mask).max() > 0.01
    # No float32 subnormals (they make every later float pass slow): tiny
    # probabilities, which the model does emit, are exactly 0.
    assert not np.any((mask > 0) & (mask < 1e-6))
    assert np.count_nonzero(mask == 0) > 0


def test_engine_rejects_models_that_are_not_segmenters(tmp_path):
    real = resolve_model("landscape").path
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x1c\x00\x00\x00TFL3" + b"\x00" * 64)
    for load in (LiteRtEngine, Segmenter):
        with pytest.raises(ModelError) as err:
            load(bad)
        assert "\n" not in str(err.value)
    half = tmp_path / "half.tflite"
    half.write_bytes(real.read_bytes()[: real.stat().st_size // 2])
    with pytest.raises(ModelError, match="damaged or truncated"):
        Segmenter(str(half))
    text = tmp_path / "notes.tflite"
    text.write_text("not a model at all\n")
    with pytest.raises(ModelError, match="not a TFLite model"):
        Segmenter(str(text))


def test_engine_reports_real_tensors_with_quantisation():
    eng = LiteRtEngine(resolve_model("landscape").path)
    (inp,) = eng.inputs
    assert inp.shape == (1, 144, 256, 3) and inp.dtype == np.float32 and not inp.quantised
    assert eng.outputs[0].shape == (1, 144, 256, 1)
    out = eng.run([np.zeros(inp.shape, np.float32)])
    assert out[0].shape == (1, 144, 256, 1) and out[0].dtype == np.float32
    assert "XNNPACK" in eng.backend


def test_builtin_models_are_manifests_of_the_builtin_store():
    from segcam.inference.models import BUILTIN_MODELS
    from segcam.resources import models_dir

    assert next(iter(BUILTIN_MODELS)) == "landscape"  # the default first
    assert {"landscape", "general"} <= set(BUILTIN_MODELS)
    for name in ("landscape", "general"):
        m = BUILTIN_MODELS[name]
        assert m.source is not None and m.source.parent == models_dir()
        assert m.file.startswith("builtin:selfie_segmentation")
        assert m.origin == "builtin" and m.path is not None and m.path.is_file()
        assert hashlib.sha256(m.path.read_bytes()).hexdigest() == FILES[m.path.name]
