"""The --filters syntax: names, parameters, validation, and the chain's stages."""

from __future__ import annotations

import numpy as np
import pytest

from segcam.config import PipelineSettings
from segcam.errors import ConfigError
from segcam.filters.base import chain_text, parse_chain
from segcam.filters.chain import DEFAULT_CHAIN, MaskChain
from segcam.frame import Frame
from tests.conftest import run_cli


def test_parse_names_params_and_both_param_styles():
    specs = parse_chain("temporal:strength=0.5,smoothstep:lo=0.2,hi=0.8,refine:radius=16")
    assert [s.name for s in specs] == ["temporal", "smoothstep", "refine"]
    assert specs[0].kwargs()["strength"] == 0.5
    assert specs[1].kwargs() == {"lo": 0.2, "hi": 0.8}
    assert specs[2].kwargs()["radius"] == 16 and isinstance(specs[2].kwargs()["radius"], int)
    assert parse_chain("smoothstep:lo=0.2:hi=0.8") == (specs[1],)
    assert chain_text(specs) == "temporal:strength=0.5,smoothstep:lo=0.2:hi=0.8,refine:radius=16"
    assert parse_chain("none") == () and parse_chain("") == ()
    assert parse_chain("default") == parse_chain(DEFAULT_CHAIN)
    assert parse_chain("default,colour") == (*parse_chain(DEFAULT_CHAIN), *parse_chain("colour"))
    assert PipelineSettings().filters == parse_chain(DEFAULT_CHAIN)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sharpen", "unknown filter 'sharpen': valid filters are"),
        ("temporal:speed=2", "unknown parameter 'speed' for filter temporal: valid: strength"),
        ("temporal:strength=2", "temporal:strength=2 is out of range"),
        ("temporal:strength=abc", "invalid value 'abc' for temporal:strength"),
        ("refine:radius=2.5", "invalid value '2.5' for refine:radius: expected an integer"),
        ("smoothstep:lo=0.8:hi=0.2", "lo (0.8) must be below hi (0.2)"),
        ("hi=0.2", "comes before any filter name"),
        ("smoothstep:lo", "expected name=value"),
        ("refine,bilinear", "only one upsampling filter"),
        ("temporal,temporal", "appears twice"),
    ],
)
def test_bad_chains_name_the_problem(text, expected):
    with pytest.raises(ConfigError) as err:
        parse_chain(text)
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_unknown_filter_error_lists_valid_names():
    with pytest.raises(ConfigError) as err:
        parse_chain("blurr")
    for name in ("temporal", "smoothstep", "morphology", "refine", "feather"):
        assert name in str(err.value)


def test_cli_rejects_a_bad_chain_with_one_line(tmp_path, capsys):
    code, _, err = run_cli(
        ["record", "-i", "demo", "-o", str(tmp_path / "x.mp4"), "--filters", "temporal:x=1"], capsys
    )
    assert code == 2
    assert err.strip().count("\n") == 0 and "unknown parameter 'x'" in err
    assert not (tmp_path / "x.mp4").exists()


def test_chain_runs_mask_filters_at_model_resolution_then_upsamples():
    chain = MaskChain(parse_chain("smoothstep,feather"))
    frame = Frame(0, np.zeros((180, 320, 3), np.uint8), 0.0)
    frame.mask = np.full((144, 256), 0.65, np.float32)
    frame.small = np.zeros((144, 256, 3), np.uint8)
    alpha = chain(frame)
    assert alpha.shape == (180, 320) and alpha.dtype == np.uint8
    t = (0.65 - 0.3) / 0.4
    assert abs(int(alpha[90, 160]) - round(255 * (3 * t * t - 2 * t**3))) <= 1
    assert frame.mask[0, 0] == pytest.approx(0.65), "the model's mask is left as it was"


@pytest.mark.parametrize(("model", "runs_per_frame"), [("general", 1), ("landscape", 2)])
def test_the_ensemble_never_averages_the_main_model_with_itself(monkeypatch, model, runs_per_frame):
    from segcam.inference.segmenter import Segmenter
    from segcam.processor import Processor

    calls: list[str] = []
    real = Segmenter.segment

    def counted(self, image):
        calls.append(self.name)
        return real(self, image)

    monkeypatch.setattr(Segmenter, "segment", counted)
    chain = parse_chain("ensemble,temporal")
    proc = Processor(PipelineSettings(model=model, filters=chain))
    rng = np.random.default_rng(0)
    for seq in range(3):
        proc.process(Frame(seq, rng.integers(0, 256, (144, 256, 3), dtype=np.uint8), seq / 30))
    # --model general with the ensemble: one general run a frame, not two.
    assert len(calls) == 3 * runs_per_frame
    assert "ensemble" in [s.name for s in proc.chain.specs] or runs_per_frame == 1
    # Switching the model on a running pipeline brings the ensemble back, or drops it.
    other = "landscape" if model == "general" else "general"
    proc.apply(PipelineSettings(model=other, filters=chain))
    calls.clear()
    proc.process(Frame(9, rng.integers(0, 256, (144, 256, 3), dtype=np.uint8), 0.3))
    assert len(calls) == 3 - runs_per_frame
