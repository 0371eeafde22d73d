"""Person segmentation: model manifests and registry, engines, the segmenter, and bgsub."""

from __future__ import annotations

from typing import TYPE_CHECKING

from segcam.inference.bgsub import BgSubSegmenter, is_bgsub, make_bgsub
from segcam.inference.engine import ACCELERATORS
from segcam.inference.manifest import ModelManifest, load_manifest
from segcam.inference.models import BUILTIN_MODELS, ModelInfo, resolve_model
from segcam.inference.segmenter import Segmenter

if TYPE_CHECKING:
    from segcam.config import PipelineSettings


def make_segmenter(
    model: str, threads: int = 1, accelerator: str = "cpu"
) -> Segmenter | BgSubSegmenter:
    """The segmenter ``--model`` asks for.

    ``bgsub`` (optionally ``bgsub:learn=N:threshold=T``) is model-free static
    background subtraction (:mod:`segcam.inference.bgsub`; ``threads`` and
    ``accelerator`` do not apply); anything else is a built-in model name, the
    name of a user manifest, a manifest path or a ``.tflite`` path
    (:func:`~segcam.inference.models.resolve_model`). ``accelerator`` is one of
    :data:`ACCELERATORS` (``cpu``, ``gpu``, ``auto``).
    """
    if is_bgsub(model):
        return make_bgsub(model)
    return Segmenter(model, threads=threads, accelerator=accelerator)


def segmenter_for(settings: PipelineSettings) -> Segmenter | BgSubSegmenter:
    """The segmenter a :class:`~segcam.config.PipelineSettings` snapshot asks for."""
    return make_segmenter(
        settings.model, threads=settings.threads, accelerator=settings.accelerator
    )


__all__ = [
    "ACCELERATORS",
    "BUILTIN_MODELS",
    "BgSubSegmenter",
    "ModelInfo",
    "ModelManifest",
    "Segmenter",
    "load_manifest",
    "make_segmenter",
    "resolve_model",
    "segmenter_for",
]
