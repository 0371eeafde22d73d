"""Live sources default to the live chain; files and explicit choices keep theirs."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from segcam.commands.settings import settings_for
from segcam.filters.base import chain_text, parse_chain
from segcam.filters.chain import DEFAULT_CHAIN, LIVE_CHAIN


def _args(**kw) -> argparse.Namespace:
    base = {"model": None, "threads": None, "background": None, "filters": None, "config": None}
    base.update(kw)
    return argparse.Namespace(**base)


def test_live_source_gets_the_live_chain() -> None:
    assert chain_text(settings_for(_args(), live=True).filters) == LIVE_CHAIN
    assert chain_text(settings_for(_args(), live=False).filters) == DEFAULT_CHAIN


@pytest.mark.parametrize("chosen", ["default", "none", "temporal"])
def test_a_chain_the_user_names_is_kept_for_live_sources(chosen: str) -> None:
    settings = settings_for(_args(filters=chosen), live=True)
    assert settings.filters == parse_chain(chosen)


def test_a_chain_from_the_config_file_is_kept(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('filters = "default"\n')
    settings = settings_for(_args(config=str(cfg)), live=True)
    assert chain_text(settings.filters) == DEFAULT_CHAIN


def test_live_is_a_chain_name() -> None:
    assert parse_chain("live,colour") == parse_chain(LIVE_CHAIN + ",colour")
