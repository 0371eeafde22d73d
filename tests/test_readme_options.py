"""The README's option table for ``segcam record`` names every model option."""

from __future__ import annotations

import argparse

from segcam.cli import add_model_options
from tests.conftest import REPO


def test_every_model_option_is_in_the_readme_option_table():
    parser = argparse.ArgumentParser()
    add_model_options(parser)
    options = [o for a in parser._actions for o in a.option_strings if o.startswith("--")]
    options.remove("--help")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start = readme.index("### `segcam record`")
    table = readme[start : readme.index("**Output formats", start)]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert "--accelerator" in options
    missing = [o for o in options if not any(row.startswith(f"| `{o}") for row in rows)]
    assert not missing, f"options missing from the README's table: {missing}"
