"""Person segmentation: model registry, LiteRT engine, the segmenter, and bgsub."""

from __future__ import annotations

from segcam.inference.bgsub import BgSubSegmenter, is_bgsub, make_bgsub
from segcam.inference.models import BUILTIN_MODELS, ModelInfo, resolve_model
from segcam.inference.segmenter import Segmenter


def make_segmenter(model: str, threads: int = 1) -> Segmenter | BgSubSegmenter:
    """The segmenter ``--model`` asks for.

    ``bgsub`` (optionally ``bgsub:learn=N:threshold=T``) is model-free static
    background subtraction (:mod:`segcam.inference.bgsub`; ``threads`` does not
    apply); anything else is a built-in model name or a ``.tflite`` path.
    """
    if is_bgsub(model):
        return make_bgsub(model)
    return Segmenter(model, threads=threads)


__all__ = [
    "BUILTIN_MODELS",
    "BgSubSegmenter",
    "ModelInfo",
    "Segmenter",
    "make_segmenter",
    "resolve_model",
]
