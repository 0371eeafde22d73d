"""Packaging: the wheel's data packages, the bundle's data list, desktop integration.

The PyInstaller build itself takes minutes, so it runs only with
``SEGCAM_BUILD_BUNDLE=1`` (and pyinstaller installed); everything else here is quick.
"""

from __future__ import annotations

import importlib.util
import os
import re
import runpy
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PACKAGING = REPO / "packaging"
LINUX = PACKAGING / "linux"
DESKTOP = LINUX / "segcam.desktop"
APP_ID = "io.github.segcam.Segcam"
METAINFO = LINUX / f"{APP_ID}.metainfo.xml"
ICON = LINUX / "segcam.svg"
INSTALL_SH = LINUX / "install.sh"
SCREENSHOT_URL = "https://raw.githubusercontent.com/segcam/segcam/main/assets/screenshot.png"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


bundle_data = _load("segcam_bundle_data", PACKAGING / "bundle_data.py")


def _desktop_entry(path: Path) -> dict[str, str]:
    entry = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            entry[key] = value
    return entry


# --- the wheel: package list and package data --------------------------------------


def _setup_kwargs() -> dict:
    """What setup.py passes to setuptools.setup(), without building anything."""
    setuptools = pytest.importorskip("setuptools")

    captured: dict = {}
    saved = setuptools.setup
    setuptools.setup = lambda **kw: captured.update(kw)
    cwd = os.getcwd()
    try:
        os.chdir(REPO)  # setup.py finds packages relative to the project root, as pip runs it
        runpy.run_path(str(REPO / "setup.py"), run_name="__main__")
    finally:
        setuptools.setup = saved
        os.chdir(cwd)
    return captured


def _package_data() -> dict[str, list[str]]:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    return pyproject["tool"]["setuptools"]["package-data"]


def test_every_segcam_package_and_the_data_packages_are_in_the_wheel():
    kw = _setup_kwargs()
    packages = set(kw["packages"])
    on_disk = {
        ".".join(p.parent.relative_to(REPO).parts)
        for p in (REPO / "segcam").rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    assert on_disk and on_disk <= packages
    assert kw["package_dir"] == {"segcam._models": "models", "segcam._assets": "assets"}
    assert {"segcam._models", "segcam._assets"} <= packages


def test_every_folder_of_segcam_code_is_a_regular_package():
    """A folder of modules without __init__.py imports from a checkout (as a namespace
    package) but is left out of the wheel and of the bundle's submodule scan."""
    folders = {p.parent for p in (REPO / "segcam").rglob("*.py") if "__pycache__" not in p.parts}
    missing = sorted(str(f.relative_to(REPO)) for f in folders if not (f / "__init__.py").is_file())
    assert not missing, f"add an __init__.py to: {', '.join(missing)}"


def test_package_data_takes_manifests_and_assets_but_no_model_files(tmp_path):
    """The pyproject patterns, applied the way setuptools does, to a sample tree."""
    data = _package_data()
    tree = {
        "models/landscape.toml": "keep",
        "models/more/extra.toml": "keep",
        "models/README.md": "keep",
        "models/stray.tflite": "drop",
        "assets/backgrounds/gradient.png": "keep",
        "assets/icons/segcam.svg": "keep",
        "assets/README.md": "keep",
    }
    for rel in tree:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    kept = set()
    for package, folder in (("segcam._models", "models"), ("segcam._assets", "assets")):
        for pattern in data[package]:
            kept |= {
                p.relative_to(tmp_path).as_posix()
                for p in (tmp_path / folder).glob(pattern)
                if p.is_file()
            }
    assert kept == {rel for rel, what in tree.items() if what == "keep"}
    # The bundle takes the same files as the wheel.
    for folder, (_dest, patterns) in bundle_data.PROJECT_DATA.items():
        assert list(patterns) == data[f"segcam._{folder}"]


def _build_wheel(src: Path, out: Path) -> Path:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = out.glob("segcam-*.whl")
    return wheel


def test_built_wheel_carries_models_and_assets_as_data_packages(tmp_path):
    """Build a real wheel from a copy of the project with sample data files added."""
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ("segcam", "models", "assets", "packaging"):
        shutil.copytree(REPO / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy2(REPO / name, src / name)
    (src / "models" / "sample.toml").write_text('name = "sample"\n')
    (src / "models" / "sample.tflite").write_bytes(b"TFL3")
    (src / "assets" / "backgrounds").mkdir(exist_ok=True)
    (src / "assets" / "backgrounds" / "sample.png").write_bytes(b"\x89PNG")
    (src / "assets" / "make_sample.py").write_text("print('generates the assets')\n")

    wheel = _build_wheel(src, tmp_path / "dist")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "segcam/_models/sample.toml" in names
    assert "segcam/_assets/backgrounds/sample.png" in names
    assert not any(n.endswith((".tflite", ".onnx")) for n in names)
    assert not any(
        n.startswith(("segcam/_assets/", "segcam/_models/")) and n.endswith(".py") for n in names
    )  # data packages carry no code
    for p in (REPO / "models").glob("*.toml"):
        assert f"segcam/_models/{p.name}" in names
    modules = {
        p.relative_to(src).as_posix()
        for p in (src / "segcam").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert modules <= names
    version = re.search(r'__version__ = "([^"]+)"', (REPO / "segcam/__init__.py").read_text())[1]
    assert wheel.name.startswith(f"segcam-{version}-")


def test_resources_find_the_checkout_folders():
    from segcam import resources

    # This checkout runs from source (or an editable install of it).
    assert resources.models_dir() == REPO / "models"
    assert resources.assets_dir() == REPO / "assets"


# --- the bundle's data list ----------------------------------------------------------


def _all_entries():
    return [*bundle_data.all_datas(), *bundle_data.litert_binaries()]


def test_every_bundle_entry_points_at_an_existing_file():
    entries = _all_entries()
    assert entries
    for src, dest in entries:
        assert Path(src).is_file(), src
        assert not Path(dest).is_absolute() and ".." not in Path(dest).parts, dest


def test_bundle_takes_only_the_selfie_models_from_mediapipe():
    entries = [(Path(s), d) for s, d in bundle_data.all_datas() if d.startswith("mediapipe")]
    assert {s.name for s, _ in entries} == {
        "selfie_segmentation.tflite",
        "selfie_segmentation_landscape.tflite",
    }
    assert {d for _, d in entries} == {"mediapipe/modules/selfie_segmentation"}
    assert "mediapipe" in bundle_data.EXCLUDES  # the python package itself stays out


def test_bundle_takes_only_the_demo_photo_from_scikit_image():
    entries = [(Path(s), d) for s, d in bundle_data.all_datas() if d.startswith("skimage")]
    assert [(s.name, d) for s, d in entries] == [("astronaut.png", "skimage/data")]
    assert "skimage" in bundle_data.EXCLUDES


def test_bundle_takes_litert_runtime_libraries_but_not_its_npu_compilers():
    dests = {Path(s).name: d for s, d in bundle_data.litert_binaries()}
    assert dests["libpywrap_litert_common.so"] == "ai_edge_litert"
    assert "libLiteRt.so" in dests
    assert not any("compiler" in Path(d).parts for d in dests.values())


def test_project_data_globs_pick_up_new_files(tmp_path):
    for rel in (
        "models/a.toml",
        "models/sub/b.toml",
        "models/notes.txt",
        "models/c.tflite",
        "assets/x.png",
        "assets/sub/y.svg",
        "assets/.hidden",
        "assets/__pycache__/z.pyc",
        "assets/make_things.py",
    ):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    got = {
        (Path(s).relative_to(tmp_path).as_posix(), d)
        for s, d in bundle_data.project_datas(tmp_path)
    }
    assert got == {
        ("models/a.toml", "segcam/_models"),
        ("models/sub/b.toml", "segcam/_models/sub"),
        ("assets/x.png", "segcam/_assets"),
        ("assets/sub/y.svg", "segcam/_assets/sub"),
    }


def test_manifests_pointing_into_packages_are_bundled():
    refs = set()
    for manifest in (REPO / "models").glob("**/*.toml"):
        text = manifest.read_text("utf-8")
        refs |= set(re.findall(r"package:([\w.-]+/[^\"']+)", text))
        # The built-in store's files travel where its fallback lookup finds them.
        refs |= {
            f"mediapipe/{bundle_data.MEDIAPIPE_MODELS}/{name}"
            for name in re.findall(r"builtin:([^\"']+)", text)
        }
    if not refs:
        pytest.skip("no model manifest refers to a file inside a package yet")
    bundled = {f"{d}/{Path(s).name}" for s, d in bundle_data.all_datas()}
    assert refs <= bundled


def test_segcam_finds_its_data_in_the_bundle_layout(tmp_path):
    """Lay the data entries out as the bundle does, beside a copy of the segcam package,
    and run segcam's own lookups there with nothing else on the import path."""
    root = tmp_path / "_internal"
    shutil.copytree(REPO / "segcam", root / "segcam", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "segcam" / "_models").mkdir()  # as for a checkout with no manifests yet
    (root / "segcam" / "_assets").mkdir()
    for src, dest in bundle_data.all_datas():
        (root / dest).mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, root / dest)
    probe = textwrap.dedent(
        f"""
        import sys
        stdlib = (sys.base_prefix, sys.base_exec_prefix)
        sys.path[:] = [{str(root)!r}] + [
            p for p in sys.path if p.startswith(stdlib) and "-packages" not in p
        ]
        sys._MEIPASS = {str(root)!r}
        from segcam import resources
        from segcam.packages import find_package_file
        print(resources.models_dir())
        print(resources.assets_dir())
        print(find_package_file(
            "mediapipe", "modules/selfie_segmentation/selfie_segmentation_landscape.tflite"))
        print(find_package_file("skimage", "data/astronaut.png"))
        # The store module alone (segcam.inference's __init__ needs cv2 and LiteRT).
        import importlib.util
        spec = importlib.util.spec_from_file_location(
            "builtin_store", {str(root / "segcam/inference/builtin_store.py")!r})
        builtin_store = sys.modules["builtin_store"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(builtin_store)
        print(builtin_store.find("selfie_segmentation.tflite").path)
        """
    )
    # An empty model store: the frozen app finds the files it carries, fetching nothing.
    env = {**os.environ, "SEGCAM_BUILTIN_MODELS": str(tmp_path / "empty-store")}
    proc = subprocess.run(
        [sys.executable, "-S", "-c", probe], capture_output=True, text=True, timeout=60, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [
        str(root / "segcam" / "_models"),
        str(root / "segcam" / "_assets"),
        str(root / "mediapipe/modules/selfie_segmentation/selfie_segmentation_landscape.tflite"),
        str(root / "skimage/data/astronaut.png"),
        str(root / "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite"),
    ]


# --- Linux desktop integration -------------------------------------------------------


def _validator(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian: desktop-file-utils / appstream)")
    return path


def test_desktop_file_validates():
    tool = _validator("desktop-file-validate")
    proc = subprocess.run([tool, str(DESKTOP)], capture_output=True, text=True)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr


def test_metainfo_validates():
    tool = _validator("appstreamcli")
    proc = subprocess.run(
        [tool, "validate", "--no-net", str(METAINFO)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_desktop_file_metainfo_and_icon_agree():
    from segcam import __version__
    from segcam.cli import COMMAND_MODULES

    entry = _desktop_entry(DESKTOP)
    assert entry["Exec"].split() == ["segcam", "gui"] and "gui" in COMMAND_MODULES
    assert entry["Icon"] == ICON.stem
    root = ET.parse(METAINFO).getroot()
    assert root.findtext("id") == APP_ID
    assert root.findtext("launchable") == DESKTOP.name
    assert root.findtext("icon") == ICON.stem
    assert root.findtext("provides/binary") == "segcam"
    assert root.find("releases/release").get("version") == __version__
    assert root.findtext("screenshots/screenshot/image") == SCREENSHOT_URL
    categories = [c.text for c in root.findall("categories/category")]
    assert categories == [c for c in entry["Categories"].split(";") if c]


def test_icon_is_a_square_svg_drawing():
    root = ET.parse(ICON).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    _, _, w, h = (float(v) for v in root.get("viewBox").split())
    assert w == h
    assert root.find("{http://www.w3.org/2000/svg}image") is None  # drawn, not embedded


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")
def test_install_script_installs_a_bundle_into_the_menu_and_removes_it(tmp_path):
    download = tmp_path / "Downloads" / "segcam"  # a bundle as unpacked by a user
    (download / "_internal").mkdir(parents=True)
    exe = download / "segcam"
    exe.write_text("#!/bin/sh\necho segcam 0\n")
    exe.chmod(0o755)
    shutil.copytree(LINUX, download / "desktop")
    prefix = tmp_path / "my prefix"  # a space, which Exec= must quote
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path / "home")}

    def install(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["sh", str(download / "desktop" / "install.sh"), "--prefix", str(prefix), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

    proc = install()
    assert proc.returncode == 0, proc.stderr
    installed = prefix / "lib" / "segcam" / "segcam"
    desktop = prefix / "share" / "applications" / "segcam.desktop"
    entry = _desktop_entry(desktop)
    assert entry["Exec"] == f'"{installed}" gui'
    assert entry["TryExec"] == str(installed)
    assert (prefix / "share/icons/hicolor/scalable/apps/segcam.svg").read_bytes() == (
        ICON.read_bytes()
    )
    assert (prefix / "share/metainfo" / METAINFO.name).is_file()
    link = prefix / "bin" / "segcam"
    assert link.is_symlink() and link.resolve() == installed.resolve()
    assert subprocess.run([str(link)], capture_output=True, text=True).stdout == "segcam 0\n"
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(["desktop-file-validate", str(desktop)], capture_output=True)
        assert check.returncode == 0, check.stdout

    proc = install("--uninstall")
    assert proc.returncode == 0, proc.stderr
    assert not desktop.exists() and not link.exists() and not installed.exists()
    assert not (prefix / "share/metainfo" / METAINFO.name).exists()
    assert exe.is_file()  # the user's download is left alone


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")
def test_install_script_refuses_without_a_segcam_program(tmp_path):
    proc = subprocess.run(
        ["sh", str(INSTALL_SH), "--prefix", str(tmp_path), "--exec", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "not an executable program" in proc.stderr
    assert not (tmp_path / "share").exists()


# --- the bundle build (minutes): SEGCAM_BUILD_BUNDLE=1 only --------------------------


@pytest.mark.skipif(
    os.environ.get("SEGCAM_BUILD_BUNDLE") != "1",
    reason="builds the PyInstaller bundle (minutes): set SEGCAM_BUILD_BUNDLE=1",
)
@pytest.mark.timeout(1800)
def test_bundle_builds_and_runs_without_python():
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.fail("SEGCAM_BUILD_BUNDLE=1 needs pyinstaller: pip install 'pyinstaller>=6'")
    proc = subprocess.run(
        ["bash", str(PACKAGING / "build_bundle.sh"), "--check"],
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=1700,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    assert "bundle OK" in proc.stdout
