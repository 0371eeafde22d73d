"""The load-time TFLite rewrites give the same masks as the original files.

* ``Convolution2DTransposeBias`` -> ``TRANSPOSE_CONV`` (MediaPipe's models): the
  rewritten file has no custom op, runs on plain built-in kernels (what
  tflite-runtime offers) and under XNNPACK, with the original's output.
* zero/denormal quantisation scales (portrait_video_quant): the repaired file runs
  under XNNPACK, and on the built-in kernels it gives bit-for-bit the original's
  output, which shows the repair itself changes nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from segcam.errors import ModelError
from segcam.inference import Segmenter, load_manifest, resolve_model
from segcam.inference.engine import LiteRtEngine, litert_runtime
from segcam.inference.tflite_model import (
    TRANSPOSE_CONV_BIAS,
    TFLiteModel,
    count_bad_scales,
    fix_quant_scales,
    rewrite_transpose_conv_bias,
)
from tests.conftest import REPO, eg_portraits, seed_manifest, shared_path


def _images(n: int) -> list[np.ndarray]:
    paths = sorted((eg_portraits() / "images").iterdir())[:n]
    return [cv2.imread(str(p)) for p in paths]


def _interpreter(content: bytes, builtin: bool):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kw = {}
    if builtin:
        kw["experimental_op_resolver_type"] = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interp = Interpreter(model_content=bytes(content), num_threads=1, **kw)
    interp.allocate_tensors()
    return interp


def _run(interp, x: np.ndarray) -> np.ndarray:
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    return interp.get_tensor(interp.get_output_details()[0]["index"]).copy()


def test_schema_facts_match_litert_schema():
    """Our slot numbers and enum values agree with the schema module ai-edge-litert ships."""
    from ai_edge_litert import schema_py_generated as schema

    from segcam.inference import tflite_model as tm

    assert schema.BuiltinOperator.TRANSPOSE_CONV == tm.OP_TRANSPOSE_CONV
    assert schema.BuiltinOperator.CUSTOM == tm.OP_CUSTOM
    assert schema.BuiltinOperator.CONV_2D == tm.OP_CONV_2D
    assert schema.BuiltinOperator.DEPTHWISE_CONV_2D == tm.OP_DEPTHWISE_CONV_2D
    assert schema.BuiltinOptions.TransposeConvOptions == tm.OPTIONS_TRANSPOSE_CONV
    assert (schema.Padding.SAME, schema.Padding.VALID) == (tm.PADDING_SAME, tm.PADDING_VALID)
    assert schema.TensorType.INT32 == tm.TENSOR_INT32
    # Reading the same file both ways gives the same graph.
    data = resolve_model("landscape").path.read_bytes()
    ours = TFLiteModel(data)
    theirs = schema.ModelT.InitFromPackedBuf(data, 0)
    assert [c for c, _ in ours.opcodes] == [
        max(c.builtinCode, c.deprecatedBuiltinCode) for c in theirs.operatorCodes
    ]
    sg = theirs.subgraphs[0]
    for i in (0, 10, len(sg.tensors) - 1):
        t = ours.tensor(ours.subgraphs[0], i)
        assert t.name == sg.tensors[i].name.decode()
        assert t.shape == tuple(sg.tensors[i].shape) and t.buffer == sg.tensors[i].buffer


@pytest.mark.parametrize("name", ["landscape", "general"])
def test_transpose_conv_rewrite_gives_the_same_mask(name):
    from ai_edge_litert import schema_py_generated as schema

    info = resolve_model(name)
    data = info.path.read_bytes()
    assert TFLiteModel(data).custom_ops() == [TRANSPOSE_CONV_BIAS]
    new, n = rewrite_transpose_conv_bias(data)
    assert n == 1 and TFLiteModel(new).custom_ops() == []
    # The new op, read back with the official schema: TRANSPOSE_CONV, SAME, stride 2, bias.
    m = schema.ModelT.InitFromPackedBuf(new, 0)
    (op,) = [
        op
        for op in m.subgraphs[0].operators
        if m.operatorCodes[op.opcodeIndex].builtinCode == schema.BuiltinOperator.TRANSPOSE_CONV
    ]
    assert len(op.inputs) == 4
    assert (op.builtinOptions.padding, op.builtinOptions.strideW) == (schema.Padding.SAME, 2)
    shape = np.frombuffer(bytes(m.buffers[m.subgraphs[0].tensors[op.inputs[0]].buffer].data), "<i4")
    assert list(shape) == list(m.subgraphs[0].tensors[op.outputs[0]].shape)

    # The original cannot run without XNNPACK's custom op; the rewrite can, and agrees.
    with pytest.raises(RuntimeError, match="unresolved custom op"):
        _interpreter(data, builtin=True)
    original = _interpreter(data, builtin=False)
    rewritten_xnn = _interpreter(new, builtin=False)
    rewritten_builtin = _interpreter(new, builtin=True)
    w, h = info.input_size
    for image in _images(4):
        x = cv2.cvtColor(cv2.resize(image, (w, h)), cv2.COLOR_BGR2RGB)[None] / np.float32(255)
        want = _run(original, x)
        assert np.array_equal(_run(rewritten_xnn, x), want)
        assert np.abs(_run(rewritten_builtin, x) - want).max() < 1e-3


def test_builtin_kernel_engine_runs_mediapipe_models_via_the_rewrite():
    """The stand-in for tflite-runtime: no XNNPACK, no custom op; the rewrite makes it work."""
    path = resolve_model("landscape").path
    eng = LiteRtEngine(path, builtin_kernels=True)
    assert "built-in kernels" in eng.backend
    assert any("TRANSPOSE_CONV" in note for note in eng.notes)
    ref = LiteRtEngine(path)
    x = cv2.cvtColor(cv2.resize(_images(1)[0], (256, 144)), cv2.COLOR_BGR2RGB)[None]
    x = x.astype(np.float32) / 255
    assert np.abs(eng.run([x])[0] - ref.run([x])[0]).max() < 1e-3
    with pytest.raises(ModelError, match=TRANSPOSE_CONV_BIAS):
        LiteRtEngine(path, builtin_kernels=True, rewrite=False)


def _quant_input(image: np.ndarray, scale: float, zp: int) -> np.ndarray:
    x = cv2.resize(image, (224, 224)).astype(np.float32)
    x = (x - np.array([103.94, 116.78, 123.68], np.float32)) * 0.017
    x = np.concatenate([x, np.zeros((224, 224, 1), np.float32)], -1)
    return np.clip(np.rint(x / scale + zp), -128, 127).astype(np.int8)[None]


def test_scale_repair_is_exact_and_lets_xnnpack_run():
    data = shared_path("models", "seed", "portrait_video_quant.tflite").read_bytes()
    assert count_bad_scales(data) > 100
    with pytest.raises(RuntimeError, match="scale"):
        _interpreter(data, builtin=False)  # XNNPACK refuses the original
    fixed, n = fix_quant_scales(data)
    assert n == count_bad_scales(data) and count_bad_scales(fixed) == 0
    assert len(fixed) == len(data)  # patched in place
    original = _interpreter(data, builtin=True)
    repaired_builtin = _interpreter(fixed, builtin=True)
    repaired_xnn = _interpreter(fixed, builtin=False)
    scale, zp = original.get_input_details()[0]["quantization"]
    for image in _images(4):
        x = _quant_input(image, scale, zp)
        want = _run(original, x)
        # Same kernels, repaired file: bit for bit the same.
        assert np.array_equal(_run(repaired_builtin, x), want)
        # XNNPACK rounds differently, but the masks agree.
        got = _run(repaired_xnn, x)
        assert iou_of(got > 0, want > 0) > 0.99


def iou_of(a: np.ndarray, b: np.ndarray) -> float:
    return np.count_nonzero(a & b) / max(1, np.count_nonzero(a | b))


def test_recurrent_model_without_rewrite_falls_back_to_builtin_kernels(caplog):
    manifest = load_manifest(seed_manifest("portrait_video_quant"))
    with caplog.at_level("INFO", logger="segcam.inference.engine"):
        plain = Segmenter(manifest, rewrite=False)
    assert "built-in kernels" in plain.engine.backend
    assert any("XNNPACK refuses" in r.getMessage() for r in caplog.records)
    fast = Segmenter(manifest)
    assert "XNNPACK" in fast.engine.backend and "built-in" not in fast.engine.backend
    assert any("quantisation scales" in note for note in fast.engine.notes)
    image = _images(1)[0]
    assert iou_of(plain.segment(image) > 0.5, fast.segment(image) > 0.5) > 0.98


def test_no_runtime_is_a_one_line_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.setitem(sys.modules, "tflite_runtime", None)
    with pytest.raises(ModelError, match="pip install ai-edge-litert"):
        litert_runtime()


def test_tflite_runtime_fallback_runs_the_builtin_models(tmp_path):
    """With tflite-runtime and no ai-edge-litert, the MediaPipe models load (rewritten)."""
    pytest.importorskip("tflite_runtime.interpreter")
    code = (
        "import sys; sys.modules['ai_edge_litert'] = None\n"
        "import cv2, numpy as np\n"
        "from segcam.inference import Segmenter\n"
        f"image = cv2.imread({str(sorted((eg_portraits() / 'images').iterdir())[0])!r})\n"
        "s = Segmenter('landscape')\n"
        "assert 'tflite-runtime' in s.engine.backend, s.engine.backend\n"
        "assert any('TRANSPOSE_CONV' in n for n in s.engine.notes)\n"
        f"np.save({str(tmp_path / 'mask.npy')!r}, s.segment(image))\n"
    )
    env = dict(os.environ)
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=REPO)
    mask = np.load(tmp_path / "mask.npy")
    want = Segmenter("landscape").segment(_images(1)[0])
    assert np.abs(mask - want).max() < 1e-3


@pytest.mark.parametrize("which", ["landscape", "portrait_video_quant"])
def test_compiled_model_engine_matches_the_interpreter(which):
    """The GPU engine's code path (CompiledModel, tensor buffers, the rewritten model),
    compiled for the CPU so it runs here: same tensors, same outputs as the interpreter."""
    from segcam.inference.engine import CompiledModelEngine

    path = (
        resolve_model("landscape").path
        if which == "landscape"
        else shared_path("models", "seed", "portrait_video_quant.tflite")
    )
    compiled = CompiledModelEngine(path, gpu=False)
    interp = LiteRtEngine(path)
    assert compiled.inputs == interp.inputs and compiled.outputs == interp.outputs
    rng = np.random.default_rng(0)
    t = interp.inputs[0]
    if t.quantised:
        x = rng.integers(-128, 128, t.shape).astype(t.dtype)
    else:
        x = rng.random(t.shape, np.float32)
    (got,), (want,) = compiled.run([x]), interp.run([x])
    assert got.shape == want.shape and got.dtype == want.dtype
    if t.quantised:
        assert np.mean(got != want) < 0.01
    else:
        assert np.abs(got - want).max() < 1e-4
