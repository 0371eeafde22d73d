"""Frame filters: how the person meets the background.

The compositor (:mod:`segcam.compositor`) calls them at three points:

* ``foreground`` filters, ``f(fg, bg, alpha, frame) -> fg'``, adjust the person
  before the blend: :class:`ColourTransfer` (``colour``, the seed's [C]) and
  :class:`Harmonize` (``harmonize``, [H]).
* a ``blend`` filter, ``f(fg, bg, alpha, out) -> out``, replaces the alpha blend:
  :class:`SeamlessClone` (``clone``, [S]).
* ``post`` filters, ``f(out, bg, alpha, frame) -> out``, work on the composite:
  :class:`LightWrap` (``lightwrap``).

``fg``, ``bg`` and ``out`` are BGR uint8 ``(H, W, 3)`` at full resolution and
``alpha`` is uint8 ``(H, W)`` (255 = person). A foreground filter never writes to
``fg`` (which may be ``frame.image``): it returns ``fg`` itself when it has nothing
to do, else a buffer it owns. The blend filter writes ``out``; post filters
modify ``out`` (the compositor's output buffer) in place and return it. Arrays a
filter returns are valid until its next call.

Cost: statistics come from a subsample about 180 lines high, Poisson blending and
blurs run at reduced resolution, and smooth corrections are computed small and
upsampled; full-resolution work is limited to the person's bounding box (where
``alpha > 4``) and is done in uint8 or int16 with reused buffers, never float64.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

import cv2
import numpy as np

from segcam.errors import ConfigError, ModelError, one_line
from segcam.filters.base import Param, register
from segcam.frame import Frame
from segcam.kernels import blend
from segcam.scratch import Scratch, shrink_area

log = logging.getLogger(__name__)

#: Statistics are taken on a subsample of about this many lines.
STAT_LINES = 180
#: Fewer person (or background) pixels than this in the subsample: no statistics.
MIN_PIXELS = 32
#: Alpha at or below this is "not the person" when bounding the work region.
BOX_ALPHA = 4


def _stat_size(h: int, w: int) -> tuple[int, int]:
    f = max(1, round(h / STAT_LINES))
    return max(1, w // f), max(1, h // f)


def _person_box(alpha: np.ndarray, scratch: Scratch) -> tuple[int, int, int, int] | None:
    """``(x, y, w, h)`` bounding the pixels where ``alpha > BOX_ALPHA``; None if there are none."""
    binary = scratch("box", alpha.shape)
    cv2.threshold(alpha, BOX_ALPHA, 255, cv2.THRESH_BINARY, dst=binary)
    x, y, bw, bh = cv2.boundingRect(binary)
    return None if bw == 0 or bh == 0 else (x, y, bw, bh)


class _LabAffine:
    """Per-channel affine maps in OpenCV's 8-bit Lab, applied at full resolution.

    In 8-bit Lab, ``L = L*·255/100`` and ``a = a* + 128``, ``b = b* + 128``: linear
    in the true Lab values, so an affine map here is the same affine map in Lab.
    The map becomes one 256-entry LUT per channel; only the person's bounding box
    is converted (BGR -> Lab, LUT, Lab -> BGR), the rest of the output is ``fg``.
    """

    def __init__(self) -> None:
        self._scratch = Scratch()
        self._lut = np.empty((1, 256, 3), np.uint8)
        self._ramp = np.arange(256, dtype=np.float32)[:, None]

    def apply(
        self, fg: np.ndarray, alpha: np.ndarray, gain: np.ndarray, offset: np.ndarray
    ) -> np.ndarray:
        """``fg`` with Lab channel ``c`` mapped to ``gain[c]·x + offset[c]`` on the person."""
        box = _person_box(alpha, self._scratch)
        if box is None:
            return fg
        values = self._ramp * gain.astype(np.float32) + offset.astype(np.float32)
        np.rint(values, out=values)
        np.clip(values, 0.0, 255.0, out=values)
        self._lut[0] = values
        out = self._scratch("out", fg.shape)
        np.copyto(out, fg)
        x, y, bw, bh = box
        # A view of a full-size buffer: a moving box reallocates nothing.
        lab = self._scratch("lab", fg.shape)[:bh, :bw]
        cv2.cvtColor(fg[y : y + bh, x : x + bw], cv2.COLOR_BGR2Lab, dst=lab)
        cv2.LUT(lab, self._lut, dst=lab)
        cv2.cvtColor(lab, cv2.COLOR_Lab2BGR, dst=out[y : y + bh, x : x + bw])
        return out


class _LabStats:
    """Subsampled Lab copies of the person and background, for their statistics.

    Subsampling (nearest pixel) rather than area-averaging keeps the standard
    deviations honest: averaging would shrink the spread of textured regions.
    """

    def __init__(self) -> None:
        self.scratch = Scratch()

    def prepare(
        self, fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Lab subsamples of fg and bg, the person mask (alpha > 127) and its pixel count."""
        h, w = alpha.shape
        sw, sh = _stat_size(h, w)
        s = self.scratch
        fg_s = s("fg", (sh, sw, 3))
        bg_s = s("bg", (sh, sw, 3))
        a_s = s("alpha", (sh, sw))
        cv2.resize(fg, (sw, sh), dst=fg_s, interpolation=cv2.INTER_NEAREST)
        cv2.resize(bg, (sw, sh), dst=bg_s, interpolation=cv2.INTER_NEAREST)
        cv2.resize(alpha, (sw, sh), dst=a_s, interpolation=cv2.INTER_NEAREST)
        cv2.cvtColor(fg_s, cv2.COLOR_BGR2Lab, dst=fg_s)
        cv2.cvtColor(bg_s, cv2.COLOR_BGR2Lab, dst=bg_s)
        person = s("person", (sh, sw))
        cv2.threshold(a_s, 127, 255, cv2.THRESH_BINARY, dst=person)
        return fg_s, bg_s, person, cv2.countNonZero(person)


def _mean_std(lab: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    mean, std = cv2.meanStdDev(lab, mask=mask)
    return mean.ravel().astype(np.float32), std.ravel().astype(np.float32)


class _Ema:
    """Exponential smoothing of a statistics vector between frames (damps flicker)."""

    def __init__(self, keep: float) -> None:
        self.keep = keep
        self.value: np.ndarray | None = None

    def __call__(self, new: np.ndarray) -> np.ndarray:
        if self.value is None or self.value.shape != new.shape or self.keep <= 0:
            self.value = new.copy()
        else:
            self.value += (1.0 - self.keep) * (new - self.value)
        return self.value


@register(
    "colour",
    "foreground",
    (
        Param("strength", 0.5, 0.0, 1.0, "how far the colours move (1 = full Reinhard transfer)"),
        Param("smooth", 0.5, 0.0, 0.95, "share of the last frame's statistics kept (anti-flicker)"),
    ),
    "the seed's [C] colour transfer: Reinhard mean/std matching in Lab, background to person",
    hotkey="C",
)
class ColourTransfer:
    """Reinhard et al. (2001) colour transfer in Lab, from the background to the person.

    Contract: ``f(fg, bg, alpha, frame) -> fg'``. Statistics: the person's Lab mean
    and standard deviation over ``alpha > 127`` in ``fg``; the background's over the
    *visible* background (``alpha <= 127``) in ``bg``, or all of ``bg`` when the
    person covers more than 95% of the frame. Per Lab channel::

        x' = x + strength · (μ_bg + k·(x − μ_person) − x),   k = σ_bg / σ_person

    with ``k`` clamped to [0.4, 2.5] so a flat region cannot explode. The statistics
    come from a subsample about 180 lines high and are smoothed over frames
    (``smooth``); the map is applied at full resolution as a LUT in 8-bit Lab on
    the person's bounding box (see :class:`_LabAffine`). With no person visible,
    ``fg`` is returned unchanged. Returns a filter-owned buffer otherwise.
    """

    def __init__(self, strength: float = 0.5, smooth: float = 0.5) -> None:
        self.strength = strength
        self._stats = _LabStats()
        self._ema = _Ema(smooth)
        self._map = _LabAffine()

    def reset(self) -> None:
        self._ema.value = None

    def __call__(
        self, fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray, frame: Frame | None = None
    ) -> np.ndarray:
        if self.strength <= 0:
            return fg
        fg_s, bg_s, person, n = self._stats.prepare(fg, bg, alpha)
        if n < MIN_PIXELS:
            return fg
        mp, sp = _mean_std(fg_s, person)
        back = self._stats.scratch("back", person.shape)
        cv2.bitwise_not(person, dst=back)
        visible = cv2.countNonZero(back) >= max(MIN_PIXELS, 0.05 * back.size)
        mb, sb = _mean_std(bg_s, back if visible else None)
        mp, sp, mb, sb = np.split(self._ema(np.concatenate([mp, sp, mb, sb])), 4)
        k = np.clip(sb / np.maximum(sp, 1.0), 0.4, 2.5)
        s = np.float32(self.strength)
        gain = 1.0 - s + s * k
        offset = s * (mb - k * mp)
        return self._map.apply(fg, alpha, gain, offset)


@register(
    "harmonize",
    "foreground",
    (
        Param("strength", 0.5, 0.0, 1.0, "how far the person moves toward the target look"),
        Param("band", 40.0, 2.0, 400.0, "background band matched, px (720p) around the person"),
        Param("smooth", 0.5, 0.0, 0.95, "share of the last frame's statistics kept (anti-flicker)"),
        Param("model", "", help="harmonization network: .onnx, or .prototxt with weights="),
        Param("weights", "", help="the .caffemodel weights of a .prototxt model"),
        Param("size", 512, 16, 4096, "model input side: composite and mask go in as size x size"),
        Param(
            "mean",
            "104.00699/116.66877/122.67892",
            help="subtracted from the image, B/G/R or one number (default: the seed model's)",
        ),
        Param("scale", 1.0, 1e-6, 1e6, "model input = (x − mean)·scale; output/scale + mean"),
        Param("mask_mean", 128.0, -1000.0, 1000.0, "subtracted from the 0..255 mask before scale"),
        Param("rgb", False, help="the model takes and gives RGB (default BGR, as the seed's)"),
        Param("inputs", "", help="input names: NAME (one 4-channel input) or IMAGE/MASK"),
        Param("output", "", help="output name (default: the first 1x3xHxW output)"),
    ),
    "the seed's [H] harmonization: match the person to the nearby background, or run a model",
    hotkey="H",
)
class Harmonize:
    """Make the person look lit like the background near them.

    Contract: ``f(fg, bg, alpha, frame) -> fg'``; returns ``fg`` unchanged when no
    person is visible, else a filter-owned buffer.

    **Classical** (no ``model``): statistics in Lab, from a subsample about 180 lines
    high. The target is a band of the *background* around the person: the person
    mask (``alpha > 127``) dilated by ``band`` pixels (of a 720-line frame), minus
    the person; when that band is nearly empty (the person fills the frame) the
    whole background is used. The person's luminance takes on the band's mean and
    contrast, and its colour the band's mean chroma::

        L' = L + strength·(μL_band + k·(L − μL_person) − L),  k = σL_band/σL_person ∈ [0.5, 2]
        a' = a + strength·(μa_band − μa_person),  b' likewise

    Chroma spread is left alone (unlike ``colour``, which also rescales it): the
    person keeps their own colours, shifted toward the light around them. The
    statistics are smoothed over frames (``smooth``); the map is applied as a
    per-channel LUT in 8-bit Lab on the person's bounding box.

    **Model** (``model=...``): a user-supplied harmonization network run with
    OpenCV's DNN module (``.onnx``, or Caffe ``.prototxt`` + ``weights=``), such as
    the seed's Tsai et al. (CVPR 2017) network (``deploy_512.prototxt``; the default
    ``mean``, ``scale`` and ``mask_mean`` are that model's). The composite and the
    mask are resized to ``size`` x ``size`` and fed as two inputs (the model's
    ``data`` and ``mask``, or ``inputs=IMAGE/MASK``) or as one 1x4xSxS input
    (``inputs=NAME``, or the model's only input). The image input is
    ``(x − mean)·scale`` (BGR, or RGB with ``rgb=true``), the mask input
    ``(alpha − mask_mean)·scale``; the 1x3xHxW output is decoded as
    ``y/scale + mean``. Only the *change* the network makes (output − composite) is
    used: it is upsampled and added, times ``strength``, to the full-resolution
    person, who keeps their full detail. The model is loaded and run once on a
    test input when the filter is built, so a missing file or a model whose inputs
    or outputs don't fit fails there with one :class:`~segcam.errors.ConfigError`
    or :class:`~segcam.errors.ModelError` line, not per frame.
    """

    def __init__(
        self,
        strength: float = 0.5,
        band: float = 40.0,
        smooth: float = 0.5,
        model: str = "",
        weights: str = "",
        size: int = 512,
        mean: str = "104.00699/116.66877/122.67892",
        scale: float = 1.0,
        mask_mean: float = 128.0,
        rgb: bool = False,
        inputs: str = "",
        output: str = "",
    ) -> None:
        self.strength = strength
        self.band = band
        self._stats = _LabStats()
        self._ema = _Ema(smooth)
        self._map = _LabAffine()
        self._kernel: tuple[int, np.ndarray] | None = None
        self.dnn: _DnnHarmonizer | None = None
        mean_bgr = _parse_mean(mean)  # validated even when unused: no silent typos
        if model:
            self.dnn = _DnnHarmonizer(
                model, weights, size, mean_bgr, scale, mask_mean, rgb, inputs, output
            )
        elif weights:
            raise ConfigError("harmonize: weights= needs model=FILE.prototxt")

    def reset(self) -> None:
        self._ema.value = None

    def __call__(
        self, fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray, frame: Frame | None = None
    ) -> np.ndarray:
        if self.strength <= 0:
            return fg
        if self.dnn is not None:
            return self.dnn(fg, bg, alpha, self.strength)
        fg_s, bg_s, person, n = self._stats.prepare(fg, bg, alpha)
        if n < MIN_PIXELS:
            return fg
        mp, sp = _mean_std(fg_s, person)
        ring = self._stats.scratch("ring", person.shape)
        r = max(1, round(self.band * person.shape[0] / 720.0))  # band in subsample pixels
        if self._kernel is None or self._kernel[0] != r:
            self._kernel = (r, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
        cv2.dilate(person, self._kernel[1], dst=ring)
        cv2.subtract(ring, person, dst=ring)
        if cv2.countNonZero(ring) < MIN_PIXELS:
            cv2.bitwise_not(person, dst=ring)  # the whole visible background
            if cv2.countNonZero(ring) < MIN_PIXELS:
                ring = None
        mb, sb = _mean_std(bg_s, ring)
        mp, sp, mb, sb = np.split(self._ema(np.concatenate([mp, sp, mb, sb])), 4)
        s = np.float32(self.strength)
        k = float(np.clip(sb[0] / max(float(sp[0]), 1.0), 0.5, 2.0))
        gain = np.array([1.0 - s + s * k, 1.0, 1.0], np.float32)
        offset = np.array(
            [s * (mb[0] - k * mp[0]), s * (mb[1] - mp[1]), s * (mb[2] - mp[2])], np.float32
        )
        return self._map.apply(fg, alpha, gain, offset)


def _parse_mean(text: str) -> np.ndarray:
    parts = [p for p in re.split(r"[/\s]+", str(text).strip()) if p]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) == 1:
        values *= 3
    if len(values) != 3 or not all(math.isfinite(v) for v in values):
        raise ConfigError(
            f"invalid value {text!r} for harmonize:mean: expected one number or B/G/R, "
            "e.g. 104/117/123"
        )
    return np.array(values, np.float32)


_CV_ERROR = re.compile(r"error: \(-?\d+:[^)]*\)\s*(.*?)(?:\s+in function '[^']*')?\s*$")


def _cv_message(err: BaseException) -> str:
    """The useful part of an OpenCV error: no version, source path or function name."""
    line = one_line(err)
    m = _CV_ERROR.search(line)
    return m.group(1).strip() if m and m.group(1).strip() else line


@contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own [ERROR] log lines while we turn its errors into ours."""
    get, set_ = getattr(cv2, "getLogLevel", None), getattr(cv2, "setLogLevel", None)
    if get is None or set_ is None:
        yield
        return
    old = get()
    set_(0)  # LOG_LEVEL_SILENT
    try:
        yield
    finally:
        set_(old)


#: Names tried, with ``mask``, for a two-input model when ``inputs`` is not given.
_IMAGE_INPUT_NAMES = ("data", "image", "input", "img", "composite", "x")


class _DnnHarmonizer:
    """The model path of :class:`Harmonize`: an OpenCV-DNN network, checked when built."""

    def __init__(
        self,
        model: str,
        weights: str,
        size: int,
        mean: np.ndarray,
        scale: float,
        mask_mean: float,
        rgb: bool,
        inputs: str,
        output: str,
    ) -> None:
        self.path = model
        self.size = size
        self.mean = mean
        self.scale = np.float32(scale)
        self.mask_mean = np.float32(mask_mean)
        self.rgb = rgb
        self._scratch = Scratch()
        self._blob = np.zeros((1, 4, size, size), np.float32)
        self.net = load_dnn(model, weights)
        self.inputs = self._input_names(inputs)
        self.output = self._probe(output)
        log.info(
            "harmonize: model %s, inputs %s, output %s",
            model,
            "/".join(self.inputs) or "(first)",
            self.output,
        )

    def _input_names(self, inputs: str) -> list[str]:
        first = self.net.getLayer(0)

        def known(name: str) -> bool:
            return first.outputNameToIndex(name) >= 0

        if inputs:
            names = [n.strip() for n in inputs.split("/") if n.strip()]
            if len(names) not in (1, 2):
                raise ConfigError(
                    f"invalid value {inputs!r} for harmonize:inputs: expected NAME (one "
                    "4-channel input) or IMAGE/MASK (two inputs)"
                )
            for n in names:
                if not known(n):
                    raise ConfigError(f"harmonize: model {self.path} has no input named {n!r}")
            return names
        if known("mask"):
            for name in _IMAGE_INPUT_NAMES:
                if known(name):
                    return [name, "mask"]
        return [""]  # one input: the model's first

    def _set_inputs(self, comp: np.ndarray, mask: np.ndarray) -> None:
        """``comp`` (S x S BGR uint8) and ``mask`` (S x S uint8) into the network's input(s)."""
        blob = self._blob
        image = comp
        if self.rgb:
            image = self._scratch("rgb", comp.shape)
            cv2.cvtColor(comp, cv2.COLOR_BGR2RGB, dst=image)
        for c in range(3):
            np.subtract(image[:, :, c], self.mean[c], out=blob[0, c], dtype=np.float32)
        np.subtract(mask, self.mask_mean, out=blob[0, 3], dtype=np.float32)
        if self.scale != 1:
            blob *= self.scale
        if len(self.inputs) == 2:
            self.net.setInput(blob[:, :3], self.inputs[0])
            self.net.setInput(blob[:, 3:], self.inputs[1])
        else:
            self.net.setInput(blob, self.inputs[0])

    def _probe(self, output: str) -> str:
        """Run the network once on a test composite; return the output name to use."""
        s = self.size
        comp = np.full((s, s, 3), 128, np.uint8)
        mask = np.zeros((s, s), np.uint8)
        mask[s // 4 : s - s // 4, s // 4 : s - s // 4] = 255
        outputs = list(self.net.getUnconnectedOutLayersNames())
        if output and output not in outputs and output not in self.net.getLayerNames():
            raise ConfigError(
                f"harmonize: model {self.path} has no output named {output!r}; "
                f"its outputs are {', '.join(outputs)}"
            )
        names = [output] if output else outputs
        with _quiet_opencv():
            try:
                self._set_inputs(comp, mask)
                results = self.net.forward(names)
            except cv2.error as e:
                raise ModelError(
                    f"harmonization model {self.path} does not fit: it must take the composite "
                    f"and the mask as one 1x4x{s}x{s} input or as two inputs (name them with "
                    f"harmonize:inputs=IMAGE/MASK): {_cv_message(e)}"
                ) from None
        for name, res in zip(names, results, strict=True):
            if res.ndim == 4 and res.shape[0] == 1 and res.shape[1] == 3:
                return name
        shapes = ", ".join(
            f"{n} {'x'.join(str(d) for d in r.shape)}" for n, r in zip(names, results, strict=True)
        )
        raise ModelError(
            f"harmonization model {self.path} does not fit: it gives no 1x3xHxW image "
            f"(outputs: {shapes})"
        )

    def __call__(
        self, fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray, strength: float
    ) -> np.ndarray:
        buf = self._scratch
        box = _person_box(alpha, buf)
        if box is None:
            return fg
        s = self.size
        fg_s = buf("fg_s", (s, s, 3))
        bg_s = buf("bg_s", (s, s, 3))
        a_s = buf("a_s", (s, s))
        cv2.resize(fg, (s, s), dst=fg_s, interpolation=cv2.INTER_AREA)
        cv2.resize(bg, (s, s), dst=bg_s, interpolation=cv2.INTER_AREA)
        cv2.resize(alpha, (s, s), dst=a_s, interpolation=cv2.INTER_AREA)
        comp = blend(fg_s, bg_s, a_s, buf("comp", (s, s, 3)))
        self._set_inputs(comp, a_s)
        try:
            res = self.net.forward(self.output)
        except cv2.error as e:  # the probe passed, so this is not the user's doing
            raise RuntimeError(f"harmonization model failed: {_cv_message(e)}") from e
        ho, wo = res.shape[2:]
        harm = buf("harm", (ho, wo, 3), np.float32)
        cv2.merge([res[0, 0], res[0, 1], res[0, 2]], dst=harm)
        if self.rgb:
            cv2.cvtColor(harm, cv2.COLOR_RGB2BGR, dst=harm)
        harm *= 1.0 / self.scale
        harm += self.mean
        if (ho, wo) != (s, s):
            comp_o = buf("comp_o", (ho, wo, 3))
            cv2.resize(comp, (wo, ho), dst=comp_o, interpolation=cv2.INTER_AREA)
            comp = comp_o
        harm -= comp  # the network's change to the composite
        delta = buf("delta", (ho, wo, 3), np.int16)
        np.multiply(harm, np.float32(strength), out=harm)
        np.rint(harm, out=harm)
        np.clip(harm, -255, 255, out=harm)
        delta[...] = harm
        h, w = alpha.shape
        full = buf("delta_full", (h, w, 3), np.int16)
        cv2.resize(delta, (w, h), dst=full, interpolation=cv2.INTER_LINEAR)
        out = buf("out", fg.shape)
        np.copyto(out, fg)
        x, y, bw, bh = box
        roi = (slice(y, y + bh), slice(x, x + bw))
        cv2.add(fg[roi], full[roi], dst=out[roi], dtype=cv2.CV_8U)
        return out


def load_dnn(
    model: str,
    weights: str = "",
    *,
    owner: str = "harmonize",
    role: str = "harmonization",
    caffe: bool = True,
) -> cv2.dnn.Net:
    """A user's network for OpenCV's DNN module, or one clear error line.

    ``owner`` is the filter named in errors and ``role`` what the model is for
    ("harmonization", "enhancement"); ``caffe`` also accepts a ``.prototxt`` with
    ``weights``. Used by ``harmonize`` and ``lowlight``; called when the filter is
    built, never per frame.
    """
    ext = os.path.splitext(model)[1].lower()
    if ext != ".onnx" and not (caffe and ext == ".prototxt"):
        more = ", or a .prototxt with weights=FILE.caffemodel" if caffe else ""
        raise ConfigError(f"{owner}: unsupported model {model}: give an .onnx file{more}")
    if not os.path.isfile(model):
        raise ConfigError(f"{owner}: model file not found: {model}")
    if ext == ".onnx" and weights:
        raise ConfigError(f"{owner}: weights= is only for Caffe (.prototxt) models")
    if ext == ".prototxt":
        if not weights:
            raise ConfigError(
                f"{owner}: the Caffe model {model} needs its weights: add "
                f"{owner}:weights=FILE.caffemodel"
            )
        if not os.path.isfile(weights):
            raise ConfigError(f"{owner}: weights file not found: {weights}")
    with _quiet_opencv():
        try:
            if ext == ".onnx":
                net = cv2.dnn.readNetFromONNX(model)
            else:
                net = cv2.dnn.readNetFromCaffe(model, weights)
        except cv2.error as e:
            raise ModelError(f"cannot load {role} model {model}: {_cv_message(e)}") from None
    if net.empty():
        raise ModelError(f"cannot load {role} model {model}: it has no layers")
    return net


@register(
    "clone",
    "blend",
    (
        Param("scale", 0.25, 0.1, 1.0, "solve at this fraction of the frame size (cost ~ scale²)"),
        Param("grow", 8.0, 0.0, 64.0, "the cloned region extends this far around the person, px"),
    ),
    "the seed's [S] seamless clone: Poisson blending of the person into the background",
    hotkey="S",
)
class SeamlessClone:
    """``cv2.seamlessClone`` (NORMAL_CLONE) of the person onto the background, bounded in cost.

    Contract: ``f(fg, bg, alpha, out) -> out``. The clone region is the person
    (``alpha > 127``) dilated by ``grow`` pixels (of a 720-line frame). Its
    bounding box plus a margin is cut out of ``fg`` and ``bg`` and shrunk to
    ``scale``; the Poisson problem is solved only there, which bounds the cost by
    the person's size times ``scale²`` instead of the frame size.

    The *correction* the clone makes (clone − source) is a membrane: smooth inside
    the region. It is upsampled (int16, bilinear) and added to the full-resolution
    person, so the result keeps the person's full detail. The corrected person is
    then alpha-blended onto ``bg``; outside the box the output is the plain alpha
    blend.

    Why ``scale=0.25`` by default: on a synthetic 1280x720 scene the result is within
    1 grey level (99th percentile) of a full-resolution ``cv2.seamlessClone`` at
    scales 0.25 to 1 (the golden test), and on a real portrait within about 2 on
    average; with a 540x656 person at 720p it costs about 22 ms on one core (of
    which ``cv2.seamlessClone`` itself about 14 ms) against about 65 ms at 0.5 and
    about 100 ms at full resolution.

    Edges: with no person (no ``alpha > 127``) the output is the plain blend. Where
    the person touches the frame border, the region is padded past the border and
    the boundary value there is the source plus the *mean* correction along the
    person's silhouette, so the person is not pulled toward the background's colour
    at the frame edge (what a plain seamlessClone does there) and no region ever
    falls outside the destination (which makes seamlessClone fail).
    """

    #: Padding (small pixels) around the solve region: OpenCV zeroes the mask's outer
    #: pixel and erodes it by 3, so 5 keeps the whole frame inside the eroded mask.
    _PAD = 5

    def __init__(self, scale: float = 0.25, grow: float = 8.0) -> None:
        self.scale = scale
        self.grow = grow
        # With scale = 1/n, boxes are made multiples of n: INTER_AREA's fast integer path.
        n = round(1.0 / scale)
        self._n = n if n > 1 and abs(n * scale - 1.0) < 1e-6 else 1
        self._scratch = Scratch()
        self._kernels: dict[int, np.ndarray] = {}

    def reset(self) -> None:
        pass

    def solve_grow(self, h: int) -> int:
        """How far (in pixels of the solve scale) the clone mask extends past ``alpha > 127``.

        ``grow`` (scaled to the frame height and the solve scale) plus 4 pixels:
        OpenCV uses the source's gradients only inside the mask eroded by 3 pixels
        (seamless_cloning_impl.cpp), so without the extra margin the person's own
        edge falls outside that region at small scales, and the whole person
        shifts toward the background's colour.
        """
        return round(self.grow * h / 720.0 * self.scale) + 4

    def _kernel(self, r: int) -> np.ndarray:
        if r not in self._kernels:
            self._kernels[r] = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        return self._kernels[r]

    def __call__(
        self, fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray, out: np.ndarray
    ) -> np.ndarray:
        buf = self._scratch
        h, w = alpha.shape
        person = buf("person", (h, w))
        cv2.threshold(alpha, 127, 255, cv2.THRESH_BINARY, dst=person)
        x, y, bw, bh = cv2.boundingRect(person)
        if bw == 0 or bh == 0:
            return blend(fg, bg, alpha, out)
        sc = self.scale
        grow_s = self.solve_grow(h)  # in small pixels
        m = math.ceil((grow_s + 3) / sc)  # full-res margin: room for the grown mask
        x0, x1 = _align(max(0, x - m), min(w, x + bw + m), self._n, w)
        y0, y1 = _align(max(0, y - m), min(h, y + bh + m), self._n, h)
        rw, rh = x1 - x0, y1 - y0
        sw, sh = max(8, round(rw * sc)), max(8, round(rh * sc))
        roi = (slice(y0, y1), slice(x0, x1))
        p = self._PAD
        # Views of buffers sized for the whole frame: a moving box reallocates nothing.
        cap_h, cap_w = max(8, round(h * sc)) + 2 * p + 1, max(8, round(w * sc)) + 2 * p + 1
        src_p = buf("src_p", (cap_h, cap_w, 3))[: sh + 2 * p, : sw + 2 * p]
        dst_p = buf("dst_p", (cap_h, cap_w, 3))[: sh + 2 * p, : sw + 2 * p]
        mask_p = buf("mask_p", (cap_h, cap_w))[: sh + 2 * p, : sw + 2 * p]
        src_s = src_p[p : p + sh, p : p + sw]
        dst_s = dst_p[p : p + sh, p : p + sw]
        mask_s = mask_p[p : p + sh, p : p + sw]
        cv2.resize(fg[roi], (sw, sh), dst=src_s, interpolation=cv2.INTER_AREA)
        cv2.resize(bg[roi], (sw, sh), dst=dst_s, interpolation=cv2.INTER_AREA)
        cv2.resize(person[roi], (sw, sh), dst=mask_s, interpolation=cv2.INTER_AREA)
        cv2.threshold(mask_s, 127, 255, cv2.THRESH_BINARY, dst=mask_s)
        cv2.dilate(mask_s, self._kernel(grow_s), dst=mask_s)
        # Replicate the edges into the padding.
        for img in (src_p, dst_p, mask_p):
            img[:p, p : p + sw] = img[p : p + 1, p : p + sw]
            img[p + sh :, p : p + sw] = img[p + sh - 1 : p + sh, p : p + sw]
            img[:, :p] = img[:, p : p + 1]
            img[:, p + sw :] = img[:, p + sw - 1 : p + sw]
        touching = self._touching(mask_s)
        if touching:
            self._border_values(src_p, dst_p, src_s, dst_s, mask_s, touching)
        # OpenCV zeroes the mask's outermost pixels; do it here so we know the region.
        mask_p[0, :] = mask_p[-1, :] = 0
        mask_p[:, 0] = mask_p[:, -1] = 0
        mx, my, mw, mh = cv2.boundingRect(mask_p)
        if mw == 0 or mh == 0:
            return blend(fg, bg, alpha, out)
        centre = (mx + mw // 2, my + mh // 2)
        # seamlessClone erodes the mask it is given in place (opencv/opencv#12053): give it
        # a copy, always, or the region shrinks a little with every call.
        cloned = cv2.seamlessClone(
            np.ascontiguousarray(src_p),
            np.ascontiguousarray(dst_p),
            mask_p.copy(),
            centre,
            cv2.NORMAL_CLONE,
        )
        delta_s = buf("delta_s", (cap_h, cap_w, 3), np.int16)[:sh, :sw]
        cv2.subtract(cloned[p : p + sh, p : p + sw], src_s, dst=delta_s, dtype=cv2.CV_16S)
        delta = buf("delta", (h, w, 3), np.int16)[:rh, :rw]
        cv2.resize(delta_s, (rw, rh), dst=delta, interpolation=cv2.INTER_LINEAR)
        fg2 = buf("fg2", fg.shape)
        np.copyto(fg2, fg)
        cv2.add(fg[roi], delta, dst=fg2[roi], dtype=cv2.CV_8U)
        return blend(fg2, bg, alpha, out)

    @staticmethod
    def _touching(mask_s: np.ndarray) -> tuple[str, ...]:
        """The sides of the solve region that the clone mask reaches."""
        sides = []
        if mask_s[0].any():
            sides.append("top")
        if mask_s[-1].any():
            sides.append("bottom")
        if mask_s[:, 0].any():
            sides.append("left")
        if mask_s[:, -1].any():
            sides.append("right")
        return tuple(sides)

    def _border_values(
        self,
        src_p: np.ndarray,
        dst_p: np.ndarray,
        src_s: np.ndarray,
        dst_s: np.ndarray,
        mask_s: np.ndarray,
        sides: tuple[str, ...],
    ) -> None:
        """Boundary values past a frame border: the source plus the mean silhouette correction."""
        ring = self._scratch("ring", mask_s.shape)
        cv2.dilate(mask_s, self._kernel(1), dst=ring)
        cv2.subtract(ring, mask_s, dst=ring)
        if cv2.countNonZero(ring):
            d = np.subtract(cv2.mean(dst_s, ring)[:3], cv2.mean(src_s, ring)[:3])
        else:
            d = np.zeros(3)
        shift = np.rint(d).astype(np.int16)
        p = self._PAD
        bands = {
            "top": (slice(0, p), slice(None)),
            "bottom": (slice(-p, None), slice(None)),
            "left": (slice(None), slice(0, p)),
            "right": (slice(None), slice(-p, None)),
        }
        for side in sides:
            band = bands[side]
            vals = src_p[band].astype(np.int16) + shift
            np.clip(vals, 0, 255, out=vals)
            dst_p[band] = vals


def _align(lo: int, hi: int, n: int, limit: int) -> tuple[int, int]:
    """Grow ``[lo, hi)`` to a multiple of ``n`` long, staying within ``[0, limit)`` if it can."""
    if n <= 1:
        return lo, hi
    length = -(-(hi - lo) // n) * n
    if length > limit:
        return lo, hi
    hi2 = lo + length
    if hi2 > limit:
        lo, hi2 = limit - length, limit
    return lo, hi2


@register(
    "lightwrap",
    "post",
    (
        Param("strength", 0.5, 0.0, 1.0, "how much background light reaches the person's edge"),
        Param("width", 12.0, 1.0, 100.0, "how far the light reaches in, px of a 720-line frame"),
    ),
    "background light bleeds softly onto the person's edge (screen blend)",
)
class LightWrap:
    """Light wrap: the visible background's light spills a little onto the person's edge.

    Contract: ``f(out, bg, alpha, frame) -> out``, modifying ``out`` in place. At
    reduced resolution (a factor that keeps the blur's sigma at 2 px or more):

    * ``spill = blur(1 − a)``: how much background is within ``width`` pixels (of a
      720-line frame) of each point: about 0.5 at the person's edge, 0 deep inside;
    * ``light = blur(bg·(1 − a)) / blur(1 − a)``: the colour of that *visible*
      background (the part of ``bg`` the person hides does not shine);
    * ``wrap = light · min(1, 2·strength·spill)``.

    ``wrap`` is upsampled and screened onto the output, weighted by the
    full-resolution alpha: ``out += (wrap·a/255)·(255 − out)/255``. So only the
    person's pixels near their edge change; the background (``alpha = 0``) and the
    person's interior are left as they are. Full-resolution work is one bilinear
    upsampling of ``wrap`` and a few uint8 operations on the person's bounding box.
    """

    _EPS = 1e-4

    def __init__(self, strength: float = 0.5, width: float = 12.0) -> None:
        self.strength = strength
        self.width = width
        self._scratch = Scratch()

    def reset(self) -> None:
        pass

    def __call__(
        self, out: np.ndarray, bg: np.ndarray, alpha: np.ndarray, frame: Frame | None = None
    ) -> np.ndarray:
        if self.strength <= 0:
            return out
        buf = self._scratch
        box = _person_box(alpha, buf)
        if box is None:
            return out
        h, w = alpha.shape
        sigma = self.width * h / 720.0
        f = int(max(1, min(8, sigma // 2)))
        sw, sh = max(1, w // f), max(1, h // f)
        a_s = shrink_area(alpha, (sw, sh), buf, "alpha")
        inv = buf("inv", (sh, sw), np.float32)
        np.subtract(255.0, a_s, out=inv, dtype=np.float32)
        inv *= 1.0 / 255.0
        bg_s = shrink_area(bg, (sw, sh), buf, "bg")
        num = buf("num", (sh, sw, 3), np.float32)
        np.multiply(bg_s, inv[:, :, None], out=num, dtype=np.float32)
        sig = max(0.5, sigma / f)
        cv2.GaussianBlur(num, (0, 0), sig, dst=num)
        spill = buf("spill", (sh, sw), np.float32)
        cv2.GaussianBlur(inv, (0, 0), sig, dst=spill)
        # wrap = num/(spill+eps) · min(1, 2·strength·spill)
        amount = buf("amount", (sh, sw), np.float32)
        np.multiply(spill, np.float32(2.0 * self.strength), out=amount)
        np.minimum(amount, 1.0, out=amount)
        spill += self._EPS
        np.divide(amount, spill, out=amount)
        np.multiply(num, amount[:, :, None], out=num)
        wrap_s = buf("wrap_s", (sh, sw, 3))
        cv2.convertScaleAbs(num, dst=wrap_s)
        wrap = buf("wrap", (h, w, 3))
        cv2.resize(wrap_s, (w, h), dst=wrap, interpolation=cv2.INTER_LINEAR)
        x, y, bw, bh = box
        roi = (slice(y, y + bh), slice(x, x + bw))
        a3 = buf("a3", (h, w, 3))[:bh, :bw]
        tmp = buf("tmp", (h, w, 3))[:bh, :bw]
        o = out[roi]
        cv2.cvtColor(alpha[roi], cv2.COLOR_GRAY2BGR, dst=a3)
        cv2.multiply(wrap[roi], a3, dst=a3, scale=1.0 / 255.0)  # the light on the person
        cv2.bitwise_not(o, dst=tmp)
        cv2.multiply(a3, tmp, dst=tmp, scale=1.0 / 255.0)  # screen: t·(255 − out)/255
        cv2.add(o, tmp, dst=o)
        return out


# The effects in modules of their own register with the same registry when the
# frame filters are loaded (segcam.filters.base imports this module).
from segcam.filters import focal, framing, lowlight  # noqa: E402, F401
