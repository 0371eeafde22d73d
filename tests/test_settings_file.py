"""The TOML config file: strict loading, and the command line winning over it."""

from __future__ import annotations

import numpy as np
import pytest

from segcam.errors import ConfigError
from segcam.settings_file import load
from tests.conftest import read_video, run_cli


def write(tmp_path, text):
    p = tmp_path / "config.toml"
    p.write_text(text)
    return p


def test_missing_default_file_is_fine_missing_explicit_file_is_not(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGCAM_CONFIG", str(tmp_path / "nope.toml"))
    assert load().values == {}
    with pytest.raises(ConfigError, match="config file not found"):
        load(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('colour = "red"', "unknown setting 'colour'"),
        ("threads = 'two'", "invalid threads = 'two'"),
        ("model = 3", "invalid model = 3"),
        ("model = ", "not valid TOML"),
    ],
)
def test_bad_files_name_the_problem(tmp_path, text, expected):
    with pytest.raises(ConfigError) as err:
        load(write(tmp_path, text))
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_file_values_apply_and_options_win(tmp_path, capsys, clip_with_audio, monkeypatch):
    cfg = write(tmp_path, 'background = "#00ff00"\nfilters = "none"\n')
    monkeypatch.setenv("SEGCAM_CONFIG", str(cfg))
    out = tmp_path / "a.mkv"
    code, _, err = run_cli(
        ["record", "-i", str(clip_with_audio), "-o", str(out), "--frames", "2"], capsys
    )
    assert code == 0, err
    frames, _ = read_video(out)
    corner = frames[0][:20, :20].reshape(-1, 3)
    assert np.median(corner, axis=0)[1] > 200 and np.median(corner, axis=0)[2] < 60  # green
    out2 = tmp_path / "b.mkv"
    args = ["record", "-i", str(clip_with_audio), "-o", str(out2), "--frames", "2", "-b", "#0000ff"]
    code, _, err = run_cli(args, capsys)
    assert code == 0, err
    corner = read_video(out2)[0][0][:20, :20].reshape(-1, 3)
    assert np.median(corner, axis=0)[0] > 200  # blue (BGR order): the option won


def test_bad_value_in_file_is_reported_with_the_file(tmp_path, capsys, monkeypatch):
    cfg = write(tmp_path, 'filters = "temporal:strength=5"\n')
    monkeypatch.setenv("SEGCAM_CONFIG", str(cfg))
    code, _, err = run_cli(["mask", str(tmp_path), "--out-dir", str(tmp_path / "o")], capsys)
    assert code == 2
    assert "out of range" in err and str(cfg) in err and err.strip().count("\n") == 0
