"""The desktop app's non-Qt parts: config saving and repair, GUI state, snapshot, Qt checks."""

from __future__ import annotations

import itertools
import os
import sys

import cv2
import numpy as np
import pytest

from segcam import settings_file
from segcam.errors import ConfigError, OutputError
from segcam.filters.base import chain_text, parse_chain
from segcam.gui.state import GuiState, parse_window, set_filter, threshold_spec
from segcam.snapshot import save_snapshot


def test_write_then_load_round_trips_every_type(tmp_path):
    path = tmp_path / "sub" / "config.toml"
    values = {
        "model": "general",
        "threads": 2,
        "mirror": False,
        "threshold": 0.55,
        "blur_strength": 30.0,
        "backgrounds": ['/tmp/a "quoted" name.jpg', "/tmp/ünïcode\\back.png"],
        "window": "1024x700+10-5, maximized",
    }
    settings_file.write(values, path)
    assert settings_file.load(path).values == values
    assert not [p for p in path.parent.iterdir() if p.name != "config.toml"]  # no temp left


def test_update_keeps_keys_it_does_not_name_and_removes_none(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('threads = 3\nfilters = "none"\n')
    settings_file.update({"model": "general", "filters": None}, path)
    assert settings_file.load(path).values == {"threads": 3, "model": "general"}


def test_types_are_checked_when_loading_and_saving(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("mirror = 1\n")
    with pytest.raises(ConfigError, match=r"invalid mirror = 1 .*expected true or false"):
        settings_file.load(path)
    path.write_text("backgrounds = [1, 2]\n")
    with pytest.raises(ConfigError, match="expected a list of strings"):
        settings_file.load(path)
    path.write_text("threshold = 1\n")  # an integer is a fine number
    assert settings_file.load(path).values == {"threshold": 1.0}
    with pytest.raises(ConfigError, match="cannot save mirror"):
        settings_file.write({"mirror": "yes"}, path)


@pytest.mark.parametrize("text", ["model = ", 'colour = "red"\n', "threads = 'x'\n"])
def test_corrupt_file_is_backed_up_and_replaced_with_defaults(tmp_path, text):
    path = tmp_path / "config.toml"
    path.write_text(text)
    fs, message = settings_file.load_or_reset(path)
    assert fs.values == {}
    backups = list(tmp_path.glob("config.toml.bak-*"))
    assert len(backups) == 1 and backups[0].read_text() == text
    assert backups[0].name in message and str(path) in message and "\n" not in message
    assert settings_file.load(path).values == {}  # the new file loads
    # The CLI stays strict: the same bad text is still an error there.
    path.write_text(text)
    with pytest.raises(ConfigError):
        settings_file.load(path)


def test_state_toggles_insert_filters_in_chain_order_and_remember_parameters():
    state = GuiState(filters=parse_chain("temporal:strength=0.3,refine"))
    state.set_filter_on("smoothstep", True)
    assert [f.name for f in state.filters] == ["temporal", "smoothstep", "refine"]
    state.set_filter_on("lightwrap", True)
    state.set_filter_on("colour", True)
    state.set_filter_on("clone", True)
    names = [f.name for f in state.filters]
    assert names == ["temporal", "smoothstep", "refine", "colour", "clone", "lightwrap"]
    state.set_filter_on("temporal", False)
    assert "temporal" not in chain_text(state.filters)
    state.set_filter_on("temporal", True)
    assert state.filters[0].kwargs()["strength"] == 0.3  # its parameters came back
    # An upsampler replaces the other one.
    assert [f.name for f in set_filter(state.filters, parse_chain("bilinear")[0], "bilinear")][
        :3
    ] == ["temporal", "smoothstep", "bilinear"]


def test_threshold_moves_the_smoothstep_ramp_and_keeps_its_width():
    state = GuiState(filters=parse_chain("temporal,smoothstep:lo=0.4:hi=0.8,refine"))
    state.half_width = 0.2
    state.set_threshold(0.7)
    p = next(f for f in state.filters if f.name == "smoothstep").kwargs()
    assert p == pytest.approx({"lo": 0.5, "hi": 0.9})
    state.set_threshold(0.9)  # clamped at 1
    p = next(f for f in state.filters if f.name == "smoothstep").kwargs()
    assert p["hi"] == 1.0 and p["lo"] == pytest.approx(0.7)
    assert threshold_spec(0.05, 0.2).kwargs() == {"lo": 0.0, "hi": 0.25}


def test_state_from_settings_validates_app_values():
    from segcam.config import PipelineSettings

    s = PipelineSettings(filters=parse_chain("smoothstep:lo=0.2:hi=0.6"))
    state = GuiState.from_settings(s, {"threshold": 0.9, "mirror": False})
    assert state.threshold == pytest.approx(0.4)  # the chain's ramp wins over the stored value
    assert state.mirror is False
    with pytest.raises(ConfigError, match="blur_strength"):
        GuiState.from_settings(s, {"blur_strength": 500.0})
    with pytest.raises(ConfigError):
        GuiState.from_settings(s, {"background_colour": "not a colour"})


def test_window_geometry_text():
    assert parse_window("1200x700+10+20") == (1200, 700, 10, 20, False)
    assert parse_window("1200x700-10+20, maximized") == (1200, 700, -10, 20, True)
    assert parse_window("garbage") is None and parse_window("10x10+0+0") is None


def test_snapshot_is_an_exact_png_with_a_fresh_name(tmp_path):
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (90, 160, 3), dtype=np.uint8)
    first = save_snapshot(image, tmp_path / "pics")
    second = save_snapshot(image, tmp_path / "pics")
    assert first != second and first.suffix == ".png" and first.name.startswith("segcam-")
    assert np.array_equal(cv2.imread(str(first), cv2.IMREAD_UNCHANGED), image)
    bgra = np.dstack([image, rng.integers(0, 256, (90, 160), dtype=np.uint8)])
    third = save_snapshot(bgra, tmp_path / "pics")
    assert np.array_equal(cv2.imread(str(third), cv2.IMREAD_UNCHANGED), bgra)
    assert sorted(p.name for p in (tmp_path / "pics").iterdir()) == sorted(
        p.name for p in (first, second, third)
    )  # no temporary files left behind
    with pytest.raises(OutputError):
        save_snapshot(image.astype(np.float32), tmp_path)


def test_snapshot_into_an_unusable_folder_is_one_line(tmp_path):
    not_a_folder = tmp_path / "file.txt"
    not_a_folder.write_text("x")
    with pytest.raises(OutputError, match="cannot create the snapshot folder") as err:
        save_snapshot(np.zeros((8, 8, 3), np.uint8), not_a_folder)
    assert "\n" not in str(err.value)


def test_cv2_qt_variables_are_removed_only_when_they_point_into_cv2(monkeypatch, tmp_path):
    import cv2 as cv

    from segcam.gui import qt_env

    cv2_dir = os.path.dirname(cv.__file__)
    monkeypatch.setenv("QT_QPA_PLATFORM_PLUGIN_PATH", os.path.join(cv2_dir, "qt", "plugins"))
    monkeypatch.setenv("QT_QPA_FONTDIR", str(tmp_path))  # the user's own: kept
    assert qt_env.clean_cv2_qt_variables() == ["QT_QPA_PLATFORM_PLUGIN_PATH"]
    assert "QT_QPA_PLATFORM_PLUGIN_PATH" not in os.environ
    assert os.environ["QT_QPA_FONTDIR"] == str(tmp_path)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="xcb is the Linux platform")
def test_missing_xcb_libraries_name_the_debian_packages(monkeypatch):
    import ctypes

    from segcam.gui import qt_env

    real = ctypes.CDLL

    def fake_cdll(name, *a, **kw):
        if name in ("libxcb-cursor.so.0", "libxkbcommon-x11.so.0"):
            raise OSError(f"{name}: cannot open shared object file")
        return real(name, *a, **kw)

    monkeypatch.setattr(ctypes, "CDLL", fake_cdll)
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setenv("DISPLAY", ":0")
    with pytest.raises(qt_env.QtUnavailable) as err:
        qt_env.check_platform()
    text = str(err.value)
    assert "apt-get install libxcb-cursor0 libxkbcommon-x11-0" in text and "\n" not in text
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert qt_env.check_platform() == "offscreen"


def test_cameras_are_listed_by_name_from_sysfs(tmp_path):
    from segcam.gui.cameras import list_linux_cameras

    def device(n: int, name: str, index: int, virtual: bool = False) -> None:
        real = tmp_path / ("devices/virtual" if virtual else "devices/pci0/usb1") / f"video{n}"
        real.mkdir(parents=True)
        (real / "name").write_text(name + "\n")
        (real / "index").write_text(f"{index}\n")
        (tmp_path / "class").mkdir(exist_ok=True)
        (tmp_path / "class" / f"video{n}").symlink_to(real)

    device(0, "Integrated Camera: Integrated C", 0)
    device(1, "Integrated Camera: Integrated C", 1)  # its metadata node
    device(2, "HD Pro Webcam C920", 0)
    device(10, "segcam", 0, virtual=True)  # our own output: never an input
    device(11, "OBS Virtual Camera", 0, virtual=True)
    cams = list_linux_cameras(tmp_path / "class")
    assert [(c.spec, c.name, c.virtual) for c in cams] == [
        ("0", "Integrated Camera", False),
        ("2", "HD Pro Webcam C920", False),
        ("11", "OBS Virtual Camera", True),
    ]
    assert cams[0].label() == "Integrated Camera (/dev/video0)"
    assert list_linux_cameras(tmp_path / "nothing") == []


def test_rate_meter_reads_the_rate_over_its_window_not_one_step():
    from segcam.gui.rates import RateMeter

    meter = RateMeter(window=2.0)
    assert meter.rate() is None
    count = 0
    for step in range(10):  # 30 fps, sampled every 0.5 s, one sample a frame late
        count += 15 + (1 if step == 7 else -1 if step == 8 else 0)
        meter.add(0.5 * step, count)
    assert meter.rate() == 30.0  # one step alone would read 28 or 32 fps
    meter.add(5.0, 3)  # a new run: its count starts again
    assert meter.rate() is None


def test_effect_controls_set_their_parameter_on_or_off_and_round_trip_exactly(tmp_path):
    """The three effect controls: a value set while the effect is off is the one it
    comes on with; while on, only that filter's spec changes; the saved values load
    back as the same floats (slider steps are decimal literals, not ``n * 0.01``)."""
    from segcam.config import PipelineSettings
    from segcam.gui.state import EFFECTS

    state = GuiState(filters=parse_chain("live"))
    strength = EFFECTS["lowlight"].value(57)
    assert strength == 0.57 != 57 * 0.01
    state.set_effect("lowlight", strength)
    assert state.filters == parse_chain("live")  # off: the chain is untouched
    state.set_filter_on("lowlight", True)
    spec = next(f for f in state.filters if f.name == "lowlight")
    assert spec.kwargs()["strength"] == 0.57
    state.set_filter_on("focal", True)
    before = state.filters
    state.set_effect("focal", 57.0)
    changed = [(a, b) for a, b in zip(before, state.filters, strict=True) if a != b]
    assert [(a.name, b.kwargs()["far"]) for a, b in changed] == [("focal", 57.0)]
    state.set_effect("framing", EFFECTS["framing"].value(95))
    state.set_filter_on("focal", False)  # its value is still kept
    with pytest.raises(ConfigError):
        state.set_effect("focal", 500.0)
    assert state.effects["focal"] == 57.0

    path = tmp_path / "config.toml"
    settings_file.write({k: v for k, v in state.file_values().items() if v is not None}, path)
    values = settings_file.load(path).values
    assert (values["lowlight_strength"], values["focal_far"], values["framing_size"]) == (
        0.57,
        57.0,
        0.95,
    )
    filters = parse_chain(values["filters"])
    again = GuiState.from_settings(PipelineSettings(filters=filters), values)
    assert again.effects == {"lowlight": 0.57, "focal": 57.0, "framing": 0.95}
    again.set_filter_on("framing", True)
    assert next(f for f in again.filters if f.name == "framing").kwargs()["size"] == 0.95


def test_the_chain_wins_over_a_saved_effect_value_and_bad_values_are_refused():
    from segcam.config import PipelineSettings

    s = PipelineSettings(filters=parse_chain("live,lowlight:strength=0.4"))
    state = GuiState.from_settings(s, {"lowlight_strength": 0.8, "focal_far": 60.0})
    assert state.effects["lowlight"] == 0.4  # what runs is what the control shows
    assert state.effects["focal"] == 60.0
    assert state.effect_shown("framing") == 0.4  # size 0: the head's default
    state.set_filter_on("framing", True)
    state.filters = parse_chain("live,framing:target=box")
    assert state.effect_shown("framing") == 0.7
    with pytest.raises(ConfigError, match=r"invalid framing_size = 3: must be between 0 and 1"):
        GuiState.from_settings(s, {"framing_size": 3.0})


def test_a_control_change_keeps_framings_window_and_lowlights_fade():
    """A control change rebuilds its filter with ``adopt(old)`` (segcam.processor): the
    auto-framing window glides from where it was instead of jumping back to the whole
    frame, and a new low-light strength fades in as switching does."""
    from segcam.filters.framing import AutoFraming
    from segcam.filters.lowlight import LowLight
    from tests.test_framing import H, person, run
    from tests.test_lowlight import grey

    alpha = person(640.0)
    old = AutoFraming(size=0.2)
    settled = run(old, [alpha] * 90)[-1]
    assert settled[3] < 0.9 * H  # zoomed in on the head
    new = AutoFraming(size=0.3)
    new.adopt(old)
    windows = run(new, [alpha] * 90, start=90)
    assert abs(windows[0][3] - settled[3]) < 0.02 * H  # no jump back to the whole frame
    heights = [w[3] for w in windows]
    assert heights[-1] < settled[3] - 0.1 * H  # then closer, for the larger size
    assert all(b <= a + 1e-6 for a, b in itertools.pairwise(heights))

    dark = grey(30)
    light = LowLight(strength=1.0)
    for i in range(10):
        light.enhance(dark, pts=i / 30.0)
    assert light.amount == pytest.approx(1.0)
    weaker = LowLight(strength=0.5)
    weaker.adopt(light)
    amounts = []
    for i in range(10, 30):
        weaker.enhance(dark, pts=i / 30.0)
        amounts.append(weaker.amount)
    assert amounts[0] > 0.8 and amounts[-1] == pytest.approx(0.5)
    assert all(b <= a for a, b in itertools.pairwise(amounts))
