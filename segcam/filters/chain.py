"""The mask chain: from the model's probability mask to the full-resolution alpha.

:class:`MaskChain` runs the chain's ``mask`` filters at model resolution, its
upsampler (``bilinear`` unless the chain names ``refine``), then its ``alpha``
filters. The default chain was chosen by measurement with ``segcam eval``
(see the README's "Mask quality" section).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from segcam.filters.base import FilterSpec, known_filters
from segcam.frame import Frame

#: The chain segcam uses for files and images unless told otherwise. Picked on
#: ``validation/`` (never on ``portraits/``, where we report) by this rule: among the
#: candidate chains, take those whose *worst* gain over the raw model, over the three
#: subsets (EG, CCP, mixed) and three measures (IoU, boundary F with 1-px and 2-px
#: contours), is within 0.002 of the best worst gain; of those, the one with the
#: largest mean gain; then the cheapest. Candidates: {no second pass, ensemble
#: (confidence / gated), crop pass (6 % / 12 % margin)} x {no smoothstep, 0.3-0.7,
#: 0.4-0.8} x {bilinear, refine (radius 12 / 6, detail 1 / 2)}. The crop pass (the
#: general model on an aspect-matched crop around the person) won: worst gain
#: +0.005 (EG IoU), mean gain +0.030, against +0.007 / +0.021 for the best
#: ensemble chain, whose gain on mixed photos is a third of the crop's. So the
#: ensemble is no longer in the default: the crop pass is the second model's role.
#: README "Filters and mask quality" has the tables. Later, by the same rule, the
#: crop's mirror pass (``crop:flip=true``: the crop segmented mirrored as well, the two
#: masks averaged) was added: on every subset and measure of ``validation/`` it gains
#: (IoU +0.0006 to +0.0015, BF1 +0.0042 to +0.0043, BF2 +0.0029 to +0.0046). Three
#: model runs a frame; the live chain leaves the mirror pass out for its cost.
DEFAULT_CHAIN = "crop:flip=true,temporal,smoothstep:lo=0.4:hi=0.8,refine"

#: The chain for live sources (camera, demo, virtual camera, desktop app) unless told
#: otherwise: the default chain without the crop's mirror pass (one model run fewer),
#: with the guided filter at half resolution (a quarter of its full-size passes, for
#: about 0.004 less boundary F), and inference skipping
#: (``skip``: a frame proven unchanged reuses the last model mask; the filters after the
#: model passes still run on it, see :mod:`segcam.inference.skip`). The crop pass runs
#: on every frame the model runs on: it is what keeps a small or fast-moving person (the
#: parkour clip) and full-body shots right, for one run of the general model (README
#: "Speed"). Gating it by the person's size (``crop:max_area``) was measured on
#: ``validation/`` and rejected: 0.7 already costs EG 0.002 IoU / 0.018 BF1 and mixed
#: photos 0.016 IoU (the crop of a portrait-shaped picture covers most of it).
LIVE_CHAIN = "skip,crop,temporal,smoothstep:lo=0.4:hi=0.8,refine:detail=2"

#: Filters that run a neural model of their own (left out under ``--model bgsub``).
NEURAL_SECOND_PASSES = ("ensemble", "crop")

#: The inference-skipping rule (:mod:`segcam.inference.skip`): in the live chain, left
#: out under ``bgsub`` (its background model must see every frame) and of file chains
#: by default (a file is processed for quality, not for time).
SKIP = "skip"

#: Chain names ``--filters`` accepts, alone or inside a longer chain.
NAMED_CHAINS = {"default": DEFAULT_CHAIN, "live": LIVE_CHAIN}


def same_model(a: str, b: str) -> bool:
    """Whether two ``--model`` values name the same model: the same name (any case), or
    two spellings that resolve to the same file. Values that do not resolve (``bgsub``,
    a missing file) are only equal by name; loading them reports the problem."""
    if a.strip().lower() == b.strip().lower():
        return True
    from segcam.errors import SegcamError
    from segcam.inference.models import resolve_model

    try:
        return resolve_model(a).path.resolve() == resolve_model(b).path.resolve()
    except (SegcamError, OSError):
        return False


def effective_filters(specs: tuple[FilterSpec, ...], model: str | None) -> tuple[FilterSpec, ...]:
    """``specs`` as they run with ``model`` as the main model.

    An ``ensemble`` whose second model *is* the main model is left out: it would
    average the model's mask with itself, the same mask at twice the cost. Under
    ``bgsub`` the neural second passes (:data:`NEURAL_SECOND_PASSES`) are left out.
    ``model`` None keeps every filter. (A ``crop`` pass with the main model is kept:
    on a crop the same model sees the person at a higher resolution.) ``skip`` is
    left out under ``bgsub`` too.
    """
    if model is None:
        return specs
    from segcam.inference.bgsub import is_bgsub

    if is_bgsub(model):
        # A neural second pass would put a network's mask back into the model-free
        # one; bgsub users chose bgsub to avoid exactly that. Skipping would freeze
        # bgsub's background model, which learns from every frame.
        return tuple(s for s in specs if s.name not in (*NEURAL_SECOND_PASSES, SKIP))
    return tuple(
        s
        for s in specs
        if not (s.name == "ensemble" and same_model(str(s.kwargs().get("model", "")), model))
    )


class MaskChain:
    """Instances of the chain's mask filters, in order. One per worker thread.

    Args:
        specs: the chain (frame filters in it are ignored here).
        model: the main model; an ensemble of it with itself is skipped (see
            :func:`effective_filters`).
        build: makes the instance for one spec (default ``spec.build()``); a live
            session passes one that hands back the previous chain's instance of an
            unchanged spec, so a threshold change keeps the temporal filter's state
            and never reloads an ensemble's model (:mod:`segcam.processor`).
    """

    def __init__(
        self,
        specs: tuple[FilterSpec, ...],
        model: str | None = None,
        *,
        build: Callable[[FilterSpec], Any] | None = None,
    ) -> None:
        known_filters()
        specs = effective_filters(specs, model)
        self.specs = tuple(s for s in specs if s.info.stage in ("mask", "upsample", "alpha"))
        self.mask_filters: list[Any] = []
        self.alpha_filters: list[Any] = []
        self.instances: list[Any] = []
        """One instance per entry of :attr:`specs`, in order (the upsampler included)."""
        self.gate: Any | None = None
        """The ``skip`` rule (:class:`~segcam.inference.skip.SkipRule`), or None."""
        upsampler = None
        for spec in self.specs:
            f = spec.build() if build is None else build(spec)
            self.instances.append(f)
            stage = spec.info.stage
            if spec.name == SKIP:
                self.gate = f.rule
                # A new chain may have other model passes: the kept mask is not theirs.
                self.gate.reset()
            elif stage == "mask":
                self.mask_filters.append(f)
            elif stage == "upsample":
                upsampler = f
            else:
                self.alpha_filters.append(f)
        if upsampler is None:
            upsampler = known_filters()["bilinear"].factory()
        self.upsampler = upsampler
        # The model passes: the mask filters up to the last one that runs a model.
        # A frame that reuses a mask (``gate``) skips them and starts after them.
        names = [s.name for s in self.specs if s.info.stage == "mask" and s.name != SKIP]
        last = max((i for i, n in enumerate(names) if n in NEURAL_SECOND_PASSES), default=-1)
        self.model_passes = self.mask_filters[: last + 1]
        self.after_model = self.mask_filters[last + 1 :]
        self.crop_tracks = names[: last + 1] == ["crop"]
        """Whether the only model pass is a crop: the skip rule may then run just the
        crop on a frame that changed only inside it (:mod:`segcam.inference.skip`)."""

    def crop_solid(self) -> tuple[float, float, float, float] | None:
        """The part of the frame the crop pass's last mask owns alone (``CropPass.solid``),
        when the crop is the only model pass (:attr:`crop_tracks`); else None."""
        if not self.crop_tracks:
            return None
        return self.model_passes[0].crop.solid

    def reset(self) -> None:
        for f in (*self.mask_filters, self.upsampler, *self.alpha_filters):
            f.reset()
        if self.gate is not None:
            self.gate.reset()

    def learn_background(self) -> bool:
        """Ask every filter with a learned background (``cleanplate``) to learn it again
        (the GUI's "Learn background"); False when the chain has none. Any thread."""
        found = False
        for f in (*self.mask_filters, *self.alpha_filters):
            if hasattr(f, "relearn"):
                f.relearn()
                found = True
        return found

    def refine_mask(self, mask: np.ndarray, frame: Frame) -> np.ndarray:
        """Run the model-resolution filters only (float32 in [0, 1])."""
        for f in self.mask_filters:
            mask = f(mask, frame)
        return mask

    def model_mask(self, frame: Frame) -> np.ndarray:
        """``frame.mask`` through the model passes (:attr:`model_passes`): what a
        frame that reuses a mask takes instead of running them."""
        assert frame.mask is not None
        mask = frame.mask
        for f in self.model_passes:
            mask = f(mask, frame)
        return mask

    def finish(self, mask: np.ndarray, frame: Frame) -> np.ndarray:
        """The rest of the chain from a :meth:`model_mask`: the filters after the model
        passes, the upsampler, the alpha filters; returns the uint8 alpha (a buffer
        owned by the last filter, valid until the next call)."""
        for f in self.after_model:
            mask = f(mask, frame)
        alpha = self.upsampler(mask, frame)
        for f in self.alpha_filters:
            alpha = f(alpha, frame)
        return alpha

    def __call__(self, frame: Frame) -> np.ndarray:
        """Full-resolution uint8 alpha for ``frame`` (its ``mask`` must be set).

        The result is a buffer owned by the last filter; valid until the next call.
        """
        return self.finish(self.model_mask(frame), frame)
