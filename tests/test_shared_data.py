"""Without ../shared the tests that need it skip, each with one line; under CI they fail.

Runs pytest itself on a few test modules with SEGCAM_SHARED pointing nowhere, as
on a bare clone.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.conftest import REPO

# Modules that need the data throughout (seed models, portraits, the talking head).
MODULES = ["tests/test_models_seed.py", "tests/test_bgsub.py", "tests/test_quality_targets.py"]


def _pytest(tmp_path, ci: bool) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SEGCAM_SHARED": str(tmp_path / "no-shared-here")}
    env.pop("CI", None)
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *MODULES],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_bare_clone_skips_what_needs_the_data_with_one_line_each(tmp_path):
    r = _pytest(tmp_path, ci=False)
    assert r.returncode == 0, r.stdout[-3000:]
    summary = r.stdout.strip().splitlines()[-1]
    skipped = int(re.search(r"(\d+) skipped", summary).group(1))
    assert skipped >= 25 and "failed" not in summary and "error" not in summary, summary
    reasons = [ln for ln in r.stdout.splitlines() if ln.startswith("SKIPPED")]
    assert reasons and all("needs shared/" in ln and "SEGCAM_SHARED" in ln for ln in reasons)


def test_under_ci_missing_data_is_an_error_not_a_skip(tmp_path):
    r = _pytest(tmp_path, ci=True)
    assert r.returncode == 1, r.stdout[-3000:]
    summary = r.stdout.strip().splitlines()[-1]
    assert "skipped" not in summary and ("failed" in summary or "error" in summary), summary
    assert "CI=true: needs shared/" in r.stdout
