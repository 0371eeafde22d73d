"""Settings for the commands that stream: the config file, the options, and the
chain that suits the source."""

from __future__ import annotations

import dataclasses
from typing import Any

from segcam.config import PipelineSettings


def settings_for(args: Any, *, live: bool, background: str | None = None) -> PipelineSettings:
    """:func:`segcam.settings_file.pipeline_settings`, with the live chain for live sources.

    When neither ``--filters`` nor the config file names a chain, a live source
    (camera, demo) gets :data:`~segcam.filters.chain.LIVE_CHAIN` and a file gets
    :data:`~segcam.filters.chain.DEFAULT_CHAIN`. A chain the user named (even
    ``default``) is kept as it is.
    """
    from segcam.filters.base import parse_chain
    from segcam.filters.chain import LIVE_CHAIN
    from segcam.settings_file import load, pipeline_settings

    settings = pipeline_settings(args, background=background)
    chosen = (
        getattr(args, "filters", None) is not None
        or "filters" in load(getattr(args, "config", None)).values
    )
    if live and not chosen and not settings.model.lower().startswith("bgsub"):
        settings = dataclasses.replace(settings, filters=parse_chain(LIVE_CHAIN))
    return settings
