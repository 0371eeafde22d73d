"""``segcam models list | info | check | bench``, ``--model`` with manifests, and
``--accelerator`` (GPU where there is one, the one-line error / CPU fallback where not)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from segcam.errors import ModelError
from segcam.inference import Segmenter
from tests.conftest import eg_portraits, run_cli, run_segcam, seed_manifest, shared_path


def test_models_list(capsys):
    code, out, err = run_cli(["models", "list", "--json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    by_name = {m["name"]: m for m in data["models"]}
    assert by_name["landscape"]["input"] == "256x144" and by_name["landscape"]["size_bytes"] > 1e5
    assert by_name["general"]["source"] == "built-in"
    assert by_name["landscape"]["file"].endswith("selfie_segmentation_landscape.tflite")
    code, out, _ = run_cli(["models", "list"], capsys)
    assert code == 0 and out.startswith("NAME") and "250 KB" in out


def test_models_info_shows_tensors_and_manifest(capsys):
    code, out, err = run_cli(["models", "info", str(seed_manifest("portrait_video_quant"))], capsys)
    assert code == 0, err
    assert "input.1: [1x224x224x4] int8 (scale 0.018316, zero point -13)" in out
    assert "Identity: [1x50176] int8 (scale 0.00390625, zero point -128)" in out
    assert "rewrote the zero/denormal quantisation scales" in out
    assert "check: ok" in out and 'prior = "channel"' in out
    code, out, _ = run_cli(["models", "info", "general"], capsys)
    assert code == 0 and "custom ops: Convolution2DTransposeBias" in out


def test_models_check(tmp_path, capsys):
    image = sorted((eg_portraits() / "images").iterdir())[0]
    code, out, err = run_cli(
        ["models", "check", str(seed_manifest("sinet")), "--image", str(image)], capsys
    )
    assert code == 0, err
    assert out.startswith("ok: sinet: 320x320") and "mask 320x320" in out
    bad = tmp_path / "bad.toml"
    bad.write_text(f'file = "{shared_path("models", "seed", "mnv3_seg_float.tflite")}"\n')
    code, out, err = run_cli(["models", "check", str(bad)], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "output.channel is needed" in err
    code, _, err = run_cli(["models", "check", str(tmp_path / "none.toml")], capsys)
    assert code == 2 and "manifest not found" in err
    code, _, err = run_cli(["models"], capsys)
    assert code == 2 and "needs an action" in err


def test_models_bench_json_with_iou(capsys):
    code, out, err = run_cli(
        [
            "models",
            "bench",
            "landscape",
            str(seed_manifest("mnv3_seg_float")),
            "--data",
            str(eg_portraits()),
            "--limit",
            "5",
            "--runs",
            "3",
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    data = json.loads(out)
    rows = {r["model"]: r for r in data["results"]}
    assert set(rows) == {"landscape", "mnv3_seg_float"}
    for r in rows.values():
        assert r["infer_ms"] > 0 and r["segment_ms"] > 0
        score = r["iou"]["eg_portrait_shen2016"]
        assert score["n"] == 5 and score["iou"] > 0.9


def test_mask_command_takes_a_manifest(tmp_path, capsys):
    images = sorted((eg_portraits() / "images").iterdir())[:2]
    code, _, err = run_cli(
        [
            "mask",
            *map(str, images),
            "-o",
            str(tmp_path),
            "--model",
            str(seed_manifest("bilinear_fin_munet_uint8")),
            "--filters",
            "none",
        ],
        capsys,
    )
    assert code == 0, err
    for p in images:
        pred = cv2.imread(str(tmp_path / (p.stem + ".png")), 0)
        gt = cv2.imread(str(eg_portraits() / "masks" / (p.stem + ".png")), 0)
        inter = np.count_nonzero((pred > 127) & (gt > 127))
        assert inter / np.count_nonzero((pred > 127) | (gt > 127)) > 0.9


def test_loading_models_prints_nothing(tmp_path):
    """LiteRT's and ONNX Runtime's own console noise is silenced."""
    for manifest in ("sinet", "portrait_video_quant"):
        r = run_segcam(["models", "check", str(seed_manifest(manifest))])
        assert r.returncode == 0, r.stderr
        assert r.stderr == "" and r.stdout.count("\n") == 1


def _gpu_or_error(model: str):
    try:
        return Segmenter(model, accelerator="gpu"), None
    except ModelError as e:
        return None, str(e)


def test_gpu_accelerator_runs_or_fails_in_one_line():
    """On a machine with a usable GPU the GPU mask matches the CPU's; without one,
    --accelerator gpu is a one-line error that names the reason."""
    gpu, error = _gpu_or_error("landscape")
    if gpu is None:
        assert error.startswith("no usable GPU for selfie_segmentation_landscape.tflite: ")
        assert "\n" not in error and len(error) < 300
        return
    assert "GPU" in gpu.engine.backend
    image = cv2.imread(str(sorted((eg_portraits() / "images").iterdir())[0]))
    cpu = Segmenter("landscape").segment(image)
    assert np.abs(gpu.segment(image) - cpu).mean() < 0.01


def test_auto_accelerator_falls_back_with_one_line(capsys):
    r = run_segcam(["models", "check", "landscape", "--accelerator", "auto"])
    assert r.returncode == 0, r.stderr
    gpu, _ = _gpu_or_error("landscape")
    if gpu is None:
        lines = r.stderr.splitlines()
        assert len(lines) == 1 and "using the CPU" in lines[0] and "no usable GPU" in lines[0]
        assert "CPU (XNNPACK)" in r.stdout
    else:
        assert "GPU" in r.stdout


@pytest.mark.parametrize("accelerator", ["gpu", "auto"])
def test_record_style_options_accept_the_accelerator(accelerator, capsys):
    import argparse

    from segcam.settings_file import pipeline_settings

    args = argparse.Namespace(
        config=None, model=None, threads=None, filters="none", background=None
    )
    args.accelerator = accelerator
    assert pipeline_settings(args).accelerator == accelerator
    code, _, err = run_cli(["record", "--accelerator", "tpu", "-o", "x.mp4"], capsys)
    assert code == 2 and "invalid choice: 'tpu'" in err
