"""Person-probability masks (float32 P(person) at model resolution): shared rules.

Kept free of heavy imports (numba) so the segmenter can use it without them.
"""

from __future__ import annotations

import cv2
import numpy as np

PROBABILITY_FLOOR = 1e-6
"""Probabilities under this are stored as exactly 0 (see :func:`floor_probabilities`)."""


def floor_probabilities(p: np.ndarray) -> np.ndarray:
    """Set float32 ``p`` under :data:`PROBABILITY_FLOOR` to 0, in place; returns ``p``.

    Models emit probabilities down in the float32 subnormal range, and a still
    background decays into it through the temporal filter; x86 computes on
    subnormals about 100x slower, in every later float pass.
    """
    cv2.threshold(p, PROBABILITY_FLOOR, 0.0, cv2.THRESH_TOZERO, dst=p)
    return p
