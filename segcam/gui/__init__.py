"""The desktop app (PySide6). Nothing outside this package imports Qt.

Modules, from the outside in:

* :mod:`~segcam.gui.app`: ``segcam gui``: options and config, the Qt environment, the event loop.
* :mod:`~segcam.gui.qt_env`: the OpenCV/Qt variable trap, missing X11 libraries, fatal Qt
  messages as one line (no Qt imported at module level).
* :mod:`~segcam.gui.refcount_guard`: PySide6 6.12.0's None/True reference leak.
* :mod:`~segcam.gui.main_window`: the window: menus and hotkeys, sidebar wiring, status bar,
  snapshot and recording, persistence.
* :mod:`~segcam.gui.session`: the pipeline behind the window: open, apply, pause, record,
  recover from a lost camera.
* :mod:`~segcam.gui.sinks`: the preview sink (frames to the GUI thread by signal) and the
  recorder slot.
* :mod:`~segcam.gui.jobs`: slow work off the GUI thread.
* :mod:`~segcam.gui.video_view`, :mod:`~segcam.gui.sidebar`, :mod:`~segcam.gui.widgets`: widgets.
* :mod:`~segcam.gui.state`, :mod:`~segcam.gui.gallery`, :mod:`~segcam.gui.cameras`: what the
  controls say, the background gallery and the camera list (no Qt).
"""
