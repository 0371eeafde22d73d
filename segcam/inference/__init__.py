"""Person segmentation: model registry, LiteRT engine, and the segmenter."""

from segcam.inference.models import BUILTIN_MODELS, ModelInfo, resolve_model
from segcam.inference.segmenter import Segmenter

__all__ = ["BUILTIN_MODELS", "ModelInfo", "Segmenter", "resolve_model"]
