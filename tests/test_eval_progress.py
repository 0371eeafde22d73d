"""``segcam eval --jitter`` shows how far it is (it runs minutes on the full data)."""

from __future__ import annotations

import sys

from tests.conftest import EG_PORTRAITS, run_cli


def test_jitter_evaluation_draws_a_progress_bar_on_a_terminal(
    shared_data, capsys, monkeypatch, tmp_path
):
    # The bar is drawn only on a terminal: make captured stderr say it is one.
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    data = tmp_path / "eg"
    data.mkdir()
    for sub in ("images", "masks"):
        (data / sub).symlink_to(EG_PORTRAITS / sub)
    code, out, err = run_cli(
        ["eval", str(data), "--jitter", "--limit", "2", "--filters", "temporal"], capsys
    )
    assert code == 0, err
    assert "1/2" in err and "2/2" in err and "100.0%" in err
    assert "jitter" in out
