"""The window over the live session (offscreen): nothing is loaded twice, a threshold drag
loads nothing, pause/resume and source switches keep the model, the virtual camera and a
recording. Real model, real Qt; the virtual camera is a fake pyvirtualcam backend."""

# ruff: noqa: F811  (pytest fixtures imported from tests/test_gui.py)
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("PySide6.QtWidgets")
pytest.importorskip("pytestqt")

from segcam.caches import model_key
from tests.conftest import make_clip, read_video
from tests.test_gui import DEMO, WAIT, config, open_window, wait_settings  # noqa: F401
from tests.test_gui_vcam import fake_backend, new_frames, real_frames  # noqa: F401


def instance(w, name: str):
    chain = w.session.pipeline.processor.chain
    return next(f for s, f in zip(chain.specs, chain.instances, strict=True) if s.name == name)


def test_a_model_chosen_in_the_window_is_loaded_once(qtbot, open_window):
    w = open_window(*DEMO)
    core = w.session.core
    assert core.loads["model"] == 1
    w.set_model("general")
    wait_settings(qtbot, w, lambda s: s.model == "general")
    # The check before the switch loaded it; the worker took that very object.
    assert core.loads["model"] == 2
    key = model_key(w.session.pipeline.settings)
    assert w.session.pipeline.processor.segmenter is core.caches.segmenters.peek(key)
    w.set_model("landscape")  # back: still cached
    wait_settings(qtbot, w, lambda s: s.model == "landscape")
    assert core.loads["model"] == 2


def test_a_background_file_is_decoded_once_and_slider_drags_load_nothing(
    qtbot, open_window, tmp_path
):
    image = tmp_path / "beach.png"
    cv2.imwrite(str(image), np.full((720, 1280, 3), (30, 160, 220), np.uint8))
    w = open_window(*DEMO)
    core = w.session.core
    w.add_background_path(str(image))
    wait_settings(qtbot, w, lambda s: s.background.path == str(image))
    loads = core.loads.snapshot()
    assert loads["background"] == 2  # blur at start, then the image: its check's object
    provider = w.session.pipeline.processor.compositor._background
    temporal = instance(w, "temporal")
    for value in range(30, 70, 2):  # a threshold drag
        w.sidebar.threshold.setValue(value)
    wait_settings(qtbot, w, lambda s: s.filters == w.state.pipeline_settings().filters)
    w.set_filter("colour", True)
    wait_settings(qtbot, w, lambda s: "colour" in [f.name for f in s.filters])
    after = core.loads.snapshot()
    assert after["model"] == loads["model"] and after["background"] == loads["background"]
    assert w.session.pipeline.processor.compositor._background is provider
    assert instance(w, "temporal") is temporal  # its state carried on


def test_pause_resume_and_a_source_switch_keep_the_model_vcam_and_recording(
    qtbot, open_window, fake_backend, tmp_path
):
    _, cls = fake_backend
    clip = make_clip(tmp_path / "clip.mp4", frames=15, size=(320, 180), audio=False)
    w = open_window(*DEMO, "--vcam")
    qtbot.waitUntil(lambda: real_frames(cls) >= 5, timeout=WAIT)
    w.controls.record.click()
    qtbot.waitUntil(lambda: w.session.recording, timeout=WAIT)
    path = Path(w.session.recording_path)
    core = w.session.core
    w.set_paused(True)
    qtbot.waitUntil(lambda: w.session.pipeline is None and core.pipeline is None, timeout=WAIT)
    w.set_paused(False)
    qtbot.waitUntil(lambda: w.session.pipeline is not None, timeout=WAIT)
    w.set_source(str(clip))
    qtbot.waitUntil(lambda: "clip.mp4" in w.session.source_name, timeout=WAIT)
    sent, painted = new_frames(w), w.view.painted
    qtbot.waitUntil(
        lambda: new_frames(w) >= sent + 10 and w.view.painted >= painted + 10, timeout=WAIT
    )
    output = w.session._file
    qtbot.waitUntil(lambda: output.packets >= 20, timeout=WAIT)  # the file goes on too
    assert core.runs == 3 and core.loads["model"] == 1  # three opens, one model load
    assert core.loads["filter:temporal"] == 1  # nor were the filters built again
    assert len(cls.opened) == 1 and w.session.vcam_state == "on"  # the device stayed open
    assert w.session.recording
    w.controls.record.click()
    qtbot.waitUntil(lambda: not w.session.recording, timeout=WAIT)
    qtbot.waitUntil(lambda: path.exists() and len(read_video(path)[0]) >= 20, timeout=WAIT)
