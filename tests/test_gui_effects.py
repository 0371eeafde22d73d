"""The effects' controls in the window (offscreen): low light's strength, focal blur's
``far`` and auto-framing's ``size`` reach the running filter, rebuild that filter alone,
are enabled only while their effect is on, survive a restart exactly, and keep the
keyboard working. Real model, real pipeline on the demo source."""

# ruff: noqa: F811  (pytest fixtures imported from tests/test_gui.py)
from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("PySide6.QtWidgets")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt

from segcam import settings_file
from tests.test_gui import DEMO, WAIT, config, names, open_window, wait_settings  # noqa: F401

#: effect -> (its key, the parameter its control sets, a slider position away from
#: the default, and the value that position means).
EFFECTS = {
    "lowlight": (Qt.Key.Key_L, "strength", 57, 0.57),
    "focal": (Qt.Key.Key_F, "far", 61, 61.0),
    "framing": (Qt.Key.Key_A, "size", 73, 0.73),
}


def spec_param(settings, name: str, param: str) -> Any:
    """The parameter of filter ``name`` in a settings snapshot (None: not in the chain)."""
    spec = next((f for f in settings.filters if f.name == name), None)
    return None if spec is None else spec.kwargs()[param]


def running(w, name: str) -> Any:
    """The filter instance the worker's compositor runs for ``name``."""
    comp = w.session.pipeline.processor.compositor
    return next(
        f for s, f in zip(comp.filter_specs, comp.filter_instances, strict=True) if s.name == name
    )


def every_instance(w) -> dict[str, Any]:
    """Every filter instance the worker runs (mask chain and frame filters), by name."""
    proc = w.session.pipeline.processor
    pairs = [
        *zip(proc.chain.specs, proc.chain.instances, strict=True),
        *zip(proc.compositor.filter_specs, proc.compositor.filter_instances, strict=True),
    ]
    return {s.name: f for s, f in pairs}


@pytest.mark.parametrize("name", list(EFFECTS))
def test_an_effect_control_sets_its_running_filter_and_rebuilds_only_it(qtbot, open_window, name):
    _, param, position, value = EFFECTS[name]
    w = open_window(*DEMO, "--filters", f"live,{name}")
    row = w.sidebar.effects[name]
    assert row.slider.isEnabled()
    assert getattr(running(w, name), param) != value
    core = w.session.core
    loads = core.loads.snapshot()
    others = {n: f for n, f in every_instance(w).items() if n != name}
    background = w.session.pipeline.processor.compositor._background

    row.slider.setValue(position)
    assert row.value.text() == (f"{value:.2f}" if value < 2 else f"{value:.0f}")
    wait_settings(qtbot, w, lambda s: spec_param(s, name, param) == value)
    assert getattr(running(w, name), param) == value  # the instance runs with it
    after = core.loads.snapshot()
    assert after[f"filter:{name}"] == loads[f"filter:{name}"] + 1  # rebuilt once
    assert {k: v for k, v in after.items() if k != f"filter:{name}"} == {
        k: v for k, v in loads.items() if k != f"filter:{name}"
    }  # nothing else loaded: model, background, the other filters
    now = every_instance(w)
    assert all(now[n] is f for n, f in others.items())  # the others kept their state
    assert w.session.pipeline.processor.compositor._background is background
    painted = w.view.painted
    qtbot.waitUntil(lambda: w.view.painted >= painted + 2, timeout=WAIT)  # and it runs


def test_effect_controls_are_enabled_only_while_their_effect_is_on(qtbot, open_window, config):
    config.parent.mkdir(parents=True)
    config.write_text("lowlight_strength = 0.3\n")
    w = open_window(*DEMO)
    assert not any(e in names(w.session.pipeline.settings) for e in EFFECTS)
    rows = w.sidebar.effects
    assert not any(r.slider.isEnabled() for r in rows.values())
    assert rows["lowlight"].slider.value() == 30  # the saved value, shown while off
    qtbot.keyClick(w, Qt.Key.Key_L)
    wait_settings(qtbot, w, lambda s: "lowlight" in names(s))
    assert rows["lowlight"].slider.isEnabled() and rows["lowlight"].value.isEnabled()
    assert not rows["focal"].slider.isEnabled() and not rows["framing"].slider.isEnabled()
    assert spec_param(w.session.pipeline.settings, "lowlight", "strength") == 0.3
    assert running(w, "lowlight").strength == 0.3  # it came on with the control's value
    qtbot.keyClick(w, Qt.Key.Key_L)
    wait_settings(qtbot, w, lambda s: "lowlight" not in names(s))
    assert not rows["lowlight"].slider.isEnabled()


def test_effect_values_survive_closing_and_reopening_the_window(qtbot, open_window, config):
    w = open_window(*DEMO)
    for name, (key, param, position, value) in EFFECTS.items():
        qtbot.keyClick(w, key)
        wait_settings(qtbot, w, lambda s, n=name: n in names(s))
        w.sidebar.effects[name].slider.setValue(position)
        wait_settings(qtbot, w, lambda s, n=name, p=param, v=value: spec_param(s, n, p) == v)
    qtbot.keyClick(w, Qt.Key.Key_A)  # framing off: its value is kept by its own key alone
    wait_settings(qtbot, w, lambda s: "framing" not in names(s))
    w.close()
    saved = settings_file.load(config).values
    assert (saved["lowlight_strength"], saved["focal_far"], saved["framing_size"]) == (
        0.57,
        61.0,
        0.73,
    )

    again = open_window("--resolution", "320x180")  # the last source, the saved chain
    settings = again.session.pipeline.settings
    assert spec_param(settings, "lowlight", "strength") == 0.57
    assert spec_param(settings, "focal", "far") == 61.0
    assert "framing" not in names(settings)
    assert running(again, "lowlight").strength == 0.57 and running(again, "focal").far == 61.0
    for name, (_, _, position, value) in EFFECTS.items():
        row = again.sidebar.effects[name]
        assert row.slider.value() == position and again.state.effects[name] == value
    assert not again.sidebar.effects["framing"].slider.isEnabled()
    qtbot.keyClick(again, Qt.Key.Key_A)
    wait_settings(qtbot, again, lambda s: spec_param(s, "framing", "size") == 0.73)
    assert running(again, "framing").size == 0.73


def test_a_focused_effect_slider_keeps_its_arrow_keys_and_the_hotkeys_still_work(
    qtbot, open_window
):
    w = open_window(*DEMO, "--filters", "live,focal")
    slider = w.sidebar.effects["focal"].slider
    row = w.sidebar.gallery.currentRow()
    slider.setFocus()
    qtbot.waitUntil(slider.hasFocus, timeout=WAIT)
    before = slider.value()
    qtbot.keyClick(slider, Qt.Key.Key_Left)
    assert slider.value() == before - 1
    wait_settings(qtbot, w, lambda s: spec_param(s, "focal", "far") == float(before - 1))
    assert w.sidebar.gallery.currentRow() == row  # not the previous background
    qtbot.keyClick(slider, Qt.Key.Key_N)  # letters still reach the window
    assert w.sidebar.gallery.currentRow() == row + 1
    qtbot.keyClick(slider, Qt.Key.Key_F)  # its own effect's key switches it off
    wait_settings(qtbot, w, lambda s: "focal" not in names(s))
    assert not slider.isEnabled()
