"""Package list for setuptools; everything else is in pyproject.toml.

pyproject.toml cannot both *find* packages and *add* mapped ones, and we need both:
every ``segcam.*`` package is found (so a new subpackage ships without an edit
here), and the top-level ``models/`` and ``assets/`` folders are shipped as the data
packages ``segcam._models`` and ``segcam._assets`` (their subfolders too), which is
where :mod:`segcam.resources` looks in an installed wheel. Which files of them go in
is ``[tool.setuptools.package-data]`` in pyproject.toml.
"""

from setuptools import find_namespace_packages, find_packages, setup
from setuptools.command.build_py import build_py

DATA_PACKAGES = {"segcam._models": "models", "segcam._assets": "assets"}


def _data_packages() -> list[str]:
    names = []
    for package, folder in DATA_PACKAGES.items():
        names.append(package)
        names += [f"{package}.{sub}" for sub in find_namespace_packages(where=folder)]
    return names


class BuildPy(build_py):
    """Data packages carry data only: a script kept beside the assets (such as the
    generator of the built-in backgrounds) is not installed as a module."""

    def find_package_modules(self, package, package_dir):
        if package in DATA_PACKAGES or package.startswith(tuple(f"{p}." for p in DATA_PACKAGES)):
            return []
        return super().find_package_modules(package, package_dir)


setup(
    packages=[*find_packages(include=["segcam", "segcam.*"]), *_data_packages()],
    package_dir=dict(DATA_PACKAGES),
    cmdclass={"build_py": BuildPy},
)
