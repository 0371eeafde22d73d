"""Installing segcam: nothing is ever written into the installed package.

The trap (issue 14): a regular install's first run let numba write its kernel
cache into ``site-packages/segcam/__pycache__``; pip did not record those files,
so a later ``pip install -e`` left them behind, and the leftover folder turned
``segcam`` into an empty namespace package that shadowed the editable install.

The test does what a user does, in a fresh virtual environment: a regular
install, a run that compiles the kernels, an editable install over it, an import.
The environment sees this one's dependencies through a ``.pth`` line, and pip
installs only segcam itself (``--no-deps --no-build-isolation``), so the test
needs no network.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import REPO


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    assert r.returncode == 0, f"{cmd}: {r.stdout[-2000:]} {r.stderr[-2000:]}"
    return r


def _tracked_copy(dest: Path) -> Path:
    """The checkout's files as git has them (what a clone holds), copied to ``dest``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        src = REPO / name.decode()
        if src.is_file():
            (dest / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name.decode())
    return dest


def _recorded(site: Path) -> set[Path]:
    """Every file pip's RECORD lists for the installed segcam distribution."""
    (record,) = site.glob("segcam-*.dist-info/RECORD")
    with record.open() as f:
        return {(site / row[0]).resolve() for row in csv.reader(f) if row}


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to copy the checkout")
def test_regular_install_then_editable_install_leaves_no_trace_in_site_packages(tmp_path):
    src = _tracked_copy(tmp_path / "src")
    venv = tmp_path / "venv"
    # No pip or setuptools of its own: the ones of this environment (new enough) serve.
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    py = venv / "bin" / "python"
    site = Path(
        _run(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
        ).stdout.strip()
    )
    # This environment's packages (numba, cv2, setuptools, ...) without its segcam.
    ours = Path(sysconfig.get_paths()["purelib"])
    (site / "deps.pth").write_text(f"{ours}\n")
    env = {
        **os.environ,
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "PIP_NO_INDEX": "1",
        "PYTHONNOUSERSITE": "1",
    }
    env.pop("NUMBA_CACHE_DIR", None)
    pip = [str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]

    _run([*pip, str(src)], env=env, cwd=tmp_path)
    package = site / "segcam"
    assert (package / "kernels.py").is_file()
    first = _run(
        [str(py), "-c", "from segcam import kernels; kernels.warm_up()"], env=env, cwd=tmp_path
    )
    # The first compile says so, once; the compiled kernels are in the user cache.
    assert "preparing fast kernels, once" in first.stderr
    assert list((tmp_path / "cache" / "segcam" / "numba").rglob("*.nbi"))
    again = _run(
        [str(py), "-c", "from segcam import kernels; kernels.warm_up()"], env=env, cwd=tmp_path
    )
    assert "preparing fast kernels" not in again.stderr
    written = {p.resolve() for p in package.rglob("*") if p.is_file()} - _recorded(site)
    assert not written, f"segcam wrote into its installed package: {sorted(written)}"

    _run([*pip, "-e", str(src)], env=env, cwd=tmp_path)
    assert not package.exists(), "the regular install left files behind"
    shown = _run(
        [str(py), "-c", "import segcam; print(segcam.__version__, segcam.__file__)"],
        env=env,
        cwd=tmp_path,
    ).stdout.split()
    assert shown[0] and Path(shown[1]).resolve() == (src / "segcam" / "__init__.py").resolve()
