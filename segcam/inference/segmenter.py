"""From a BGR frame to a person-probability mask, as a model's manifest describes.

Preprocessing: the frame is fitted to the model's input size by the manifest's
aspect policy (``stretch``: the whole frame, resized; ``letterbox``: the whole
frame, scaled to fit, centred between bars of grey level ``pad``;
``centre-crop``: the largest centred region with the model's aspect), with a
bilinear resize (what MediaPipe feeds its models: on ../shared/data the sharper
input scores the same on portraits and far better on small, distant people,
DAVIS IoU 0.725 vs 0.660 with INTER_AREA, and it is the cheapest resize). Then
colour order, ``y = (x - mean) / std * scale`` per channel, the prior-mask
channel of recurrent models, quantisation with the file's scale and zero point,
and the layout (NHWC or NCHW).

Output: decoded to P(person) (a probability, a sigmoid of a logit, or the
softmax of class logits at the person channel, computed as one sigmoid of a
difference for two classes), then mapped back so the mask covers exactly the
frame: for ``stretch`` it is the model's output grid itself; for ``letterbox``
the bars are cut off; for ``centre-crop`` the mask is placed in a zero
(background) canvas the shape of the whole frame. Stretching the returned mask to
the frame's size is therefore always correct.

At load the manifest is checked against the model's real tensors (input and
output shapes, dtypes, channel counts, state and constant inputs), and one
warm-up inference on a grey frame checks the output decodes to finite values.
Any mismatch is a one-line :class:`~segcam.errors.ModelError` naming the field.

Recurrent models: the prior channel holds the previous frame's P(person) at input
resolution, zeros after :meth:`Segmenter.reset` (call it when the source
changes); ``[[state]]`` tensors are fed back the same way.

Threading: one :class:`Segmenter` belongs to one worker thread. It owns small,
preallocated model-resolution buffers; the returned mask is a fresh array the
caller owns (it travels with its :class:`~segcam.frame.Frame`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import cv2
import numpy as np

from segcam.errors import ModelError, one_line
from segcam.inference.engine import Engine, TensorInfo, open_engine
from segcam.inference.manifest import ModelManifest, bare_tflite_manifest
from segcam.inference.models import ModelInfo, info_from_manifest, resolve_model
from segcam.native import quiet_native_stderr
from segcam.probability import floor_probabilities

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Geometry:
    """How one frame size maps to the model input and the output back to the frame."""

    frame_roi: tuple[int, int, int, int]
    """x, y, w, h of the frame region fed to the model."""
    input_roi: tuple[int, int, int, int]
    """x, y, w, h that region occupies in the model input (letterbox: inside the bars)."""
    crop: tuple[int, int, int, int]
    """x, y, w, h of the output grid that shows the frame."""
    mask_size: tuple[int, int]
    """(w, h) of the returned mask."""
    place: tuple[int, int]
    """where the crop goes in the returned mask (centre-crop: the frame's centre)."""


class Segmenter:
    """Runs one segmentation model on BGR frames."""

    def __init__(
        self,
        model: ModelInfo | ModelManifest | str | os.PathLike,
        threads: int = 1,
        accelerator: str = "cpu",
        *,
        rewrite: bool = True,
    ) -> None:
        if isinstance(model, str | os.PathLike):
            model = resolve_model(os.fspath(model))
        elif isinstance(model, ModelManifest):
            model = info_from_manifest(model)
        self.model: ModelInfo = model
        self.manifest: ModelManifest = model.manifest or bare_tflite_manifest(model.path)
        m = self.manifest
        self._where = str(m.source) if m.source else m.path.name if m.path else m.name
        self.engine: Engine = open_engine(
            model.path, m.engine, threads=threads, accelerator=accelerator, rewrite=rewrite
        )
        self._bind_inputs()
        w, h = self.input_size
        c = m.input.channels
        self._small_bgr = np.empty((h, w, 3), np.uint8)
        self._small_rgb = np.empty((h, w, 3), np.uint8)
        self._hwc = np.empty((h, w, c), np.float32)
        self._prior = np.zeros((h, w), np.float32)
        full = (1, h, w, c) if m.input.layout == "NHWC" else (1, c, h, w)
        self._feed = np.empty(full, self._image.dtype)
        self._last_small = self._small_bgr
        self._small_view: np.ndarray | None = None
        self._geometry: dict[tuple[int, int], _Geometry] = {}
        self._affine()
        self.reset()
        self._feeds: list[np.ndarray] = [
            self._constants.get(i, self._feed) for i in range(len(self.engine.inputs))
        ]
        self._state_feed = [(slot, k) for k, slot in enumerate(self._state_slots)]
        self._out_index = 0
        self._warm_up()

    # -- public --------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def last_small(self) -> np.ndarray:
        """The BGR image (at model scale) the last mask covers (segmenter-owned)."""
        return self._last_small

    def segment(self, image: np.ndarray) -> np.ndarray:
        """Return P(person) for ``image`` (BGR uint8), float32, covering the whole frame.

        The shape is the model's output grid (for ``stretch``, ``(h, w)`` of the model);
        for the other aspect policies it has the frame's aspect at the model's scale.
        """
        geo = self._geometry_for(image.shape[1], image.shape[0])
        self._preprocess(image, geo.frame_roi, geo.input_roi)
        outputs = self.engine.run(self._feeds)
        for k, j in self._state_outputs:
            self._states[k] = outputs[j]
        p = self._decode(outputs[self._out_index])
        if self.manifest.input.prior == "channel":
            if p.shape == self._prior.shape:
                np.copyto(self._prior, p)
            else:
                cv2.resize(p, self.input_size, dst=self._prior, interpolation=cv2.INTER_LINEAR)
        return self._map_back(p, image, geo)

    def reset(self) -> None:
        """Forget per-stream state: the prior mask becomes zeros, states their initial value."""
        self._prior.fill(0.0)
        self._states = [np.zeros(shape, dtype) for shape, dtype in self._state_init]

    def describe(self) -> str:
        """One line: model, input, engine backend."""
        w, h = self.input_size
        return f"{self.name}: {w}x{h} {self.manifest.input.aspect}, {self.engine.backend}"

    # -- binding the manifest to the tensors ----------------------------------------------

    def _err(self, key: str, message: str) -> ModelError:
        return ModelError(f"{self._where}: {key} {message}")

    def _bind_inputs(self) -> None:
        m, eng = self.manifest, self.engine
        name = eng.path.name
        by_name = {t.name: i for i, t in enumerate(eng.inputs)}
        names = ", ".join(t.name for t in eng.inputs)
        claimed: dict[int, str] = {}
        for k, s in enumerate(m.states):
            if s.input not in by_name:
                raise self._err(
                    f"state[{k}].input", f"= {s.input!r} is not an input of {name} ({names})"
                )
            if s.output not in {t.name for t in eng.outputs}:
                outs = ", ".join(t.name for t in eng.outputs)
                raise self._err(
                    f"state[{k}].output", f"= {s.output!r} is not an output of {name} ({outs})"
                )
            claimed[by_name[s.input]] = "state"
        for k, c in enumerate(m.constants):
            if c.input not in by_name:
                raise self._err(
                    f"constant[{k}].input", f"= {c.input!r} is not an input of {name} ({names})"
                )
            claimed[by_name[c.input]] = "constant"
        if m.input.tensor is not None:
            if m.input.tensor not in by_name:
                raise self._err(
                    "input.tensor", f"= {m.input.tensor!r} is not an input of {name} ({names})"
                )
            image = by_name[m.input.tensor]
        else:
            free = [i for i in range(len(eng.inputs)) if i not in claimed]
            if len(free) != 1:
                if m.origin == "bare":
                    raise ModelError(
                        f"model {name} has {len(eng.inputs)} inputs; a model without a manifest "
                        "must have one image input"
                    )
                raise self._err(
                    "input.tensor",
                    f"is needed: {name} has {len(free)} inputs not described by the manifest "
                    f"({', '.join(eng.inputs[i].name for i in free) or 'none'}); name the image "
                    "input and declare the others as [[state]] or [[constant]]",
                )
            image = free[0]
        self._image_index = image
        self._check_image_input(eng.inputs[image])
        self._image = self.engine.inputs[image]  # may have been resized

        # Feeds in the engine's input order; states and constants keep their arrays.
        self._state_init: list[tuple[tuple[int, ...], np.dtype]] = []
        self._state_slots: list[int] = []
        out_index = {t.name: j for j, t in enumerate(eng.outputs)}
        self._state_outputs: list[tuple[int, int]] = []
        for k, s in enumerate(m.states):
            t = eng.inputs[by_name[s.input]]
            shape = s.shape or tuple(1 if d < 0 else d for d in t.shape)
            if all(d >= 0 for d in t.shape) and s.shape and tuple(s.shape) != t.shape:
                raise self._err(
                    f"state[{k}].shape", f"= {list(s.shape)} but {s.input!r} is {list(t.shape)}"
                )
            self._state_init.append((shape, t.dtype))
            self._state_slots.append(by_name[s.input])
            self._state_outputs.append((k, out_index[s.output]))
        self._constants: dict[int, np.ndarray] = {}
        for k, c in enumerate(m.constants):
            t = eng.inputs[by_name[c.input]]
            value = np.asarray(c.value, dtype=t.dtype)
            static = all(d >= 0 for d in t.shape)
            if static and value.size == int(np.prod(t.shape)):
                value = value.reshape(t.shape)
            elif static:
                raise self._err(
                    f"constant[{k}].value",
                    f"has {value.size} values but {c.input!r} is {list(t.shape)}",
                )
            self._constants[by_name[c.input]] = value

    def _check_image_input(self, t: TensorInfo) -> None:
        m = self.manifest.input
        name = self.engine.path.name
        shape = t.shape
        if len(shape) != 4:
            raise self._err(
                "input.layout", f"= {m.layout!r} needs a 4-D image input; {name}'s is {list(shape)}"
            )
        if m.layout == "NHWC":
            n, h, w, c = shape
        else:
            n, c, h, w = shape
        if n not in (1, -1):
            raise self._err("input", f"of {name} has batch size {n}; segcam feeds one frame")
        want = m.channels
        if c != want and self.manifest.origin == "bare":
            raise ModelError(
                f"model {name} input shape {list(shape)} is not an NHWC RGB image "
                "[1, H, W, 3]; give it a manifest (see models/README.md)"
            )
        if c != want:
            other = shape[1] if m.layout == "NHWC" else shape[3]
            if other == want:
                flip = "NCHW" if m.layout == "NHWC" else "NHWC"
                raise self._err(
                    "input.layout",
                    f"= {m.layout!r} but {name}'s input {list(shape)} looks {flip}",
                )
            if c == 4 and m.prior == "none":
                raise self._err(
                    "input.prior",
                    f'is "none" but {name} takes 4 channels: a recurrent model needs '
                    'prior = "channel"',
                )
            raise self._err(
                "input", f"expects {want} channels (colour + prior) but {name} takes {c}"
            )
        if h < 0 or w < 0:
            if m.size is None:
                raise self._err("input.size", f"is needed: {name}'s input size is dynamic")
            w, h = m.size
            full = (1, h, w, c) if m.layout == "NHWC" else (1, c, h, w)
            self.engine.resize_input(self._image_index, full)
        elif m.size is not None and m.size != (w, h):
            raise self._err("input.size", f"= [{m.size[0]}, {m.size[1]}] but {name} takes {w}x{h}")
        self.input_size: tuple[int, int] = (w, h)
        dtype = np.dtype(t.dtype).name
        if dtype != m.dtype:
            if self.manifest.origin == "bare":
                raise ModelError(
                    f"model {name} takes {dtype} input; a model without a manifest must take "
                    "float32 (see models/README.md)"
                )
            raise self._err("input.dtype", f'= "{m.dtype}" but {name} takes {dtype}')
        if dtype in ("int8", "uint8") and not t.quantised:
            raise self._err("input.dtype", f"= {dtype}: {name} has no quantisation parameters")

    def _affine(self) -> None:
        """Fold normalisation (and input quantisation) into y = x * a + b per channel."""
        m = self.manifest.input
        a = np.array([m.scale / s for s in m.std], np.float32)
        b = np.array([-mu * m.scale / s for mu, s in zip(m.mean, m.std, strict=True)], np.float32)
        prior_a = np.float32(m.prior_scale)
        t = self._image
        self._quant: tuple[float, float, float] | None = None
        if t.quantised:
            info = np.iinfo(t.dtype)
            a /= t.scale
            b = b / t.scale + t.zero_point
            prior_a = prior_a / np.float32(t.scale)
            self._quant = (float(t.zero_point), float(info.min), float(info.max))
        self._a, self._b, self._prior_a = a, b, float(prior_a)
        self._uniform = bool(np.all(a == a[0]) and np.all(b == 0.0))

    def _warm_up(self) -> None:
        w, h = self.input_size
        grey = np.full((h, w, 3), 128, np.uint8)
        self._preprocess(grey, *self._input_rois(w, h))
        try:
            with quiet_native_stderr():
                outputs = self.engine.run(self._feeds)
        except ModelError:
            raise
        except (RuntimeError, ValueError) as e:
            raise ModelError(
                f"model {self.engine.path.name} failed its first inference: {one_line(e)}"
            ) from None
        self._bind_output(outputs)
        p = self._decode(outputs[self._out_index])
        if not np.all(np.isfinite(p)):
            raise self._err(
                "output",
                f"of {self.engine.path.name} is not finite on a grey frame: check the "
                "input normalisation (input.normalise / mean / std / scale)",
            )
        self.reset()
        log.info("loaded %s", self.describe())

    def _bind_output(self, outputs: list[np.ndarray]) -> None:
        m, eng = self.manifest.output, self.engine
        name = eng.path.name
        state_outs = {j for _, j in self._state_outputs}
        if m.tensor is not None:
            names = [t.name for t in eng.outputs]
            if m.tensor not in names:
                raise self._err(
                    "output.tensor",
                    f"= {m.tensor!r} is not an output of {name} ({', '.join(names)})",
                )
            j = names.index(m.tensor)
        else:
            free = [j for j in range(len(eng.outputs)) if j not in state_outs]
            if not free:
                raise self._err("output.tensor", f"is needed: {name} has no output left")
            j = free[0]
        self._out_index = j
        t = eng.outputs[j]
        arr = outputs[j]
        dtype = arr.dtype
        if dtype.kind in "iu":
            if not t.quantised:
                raise self._err(
                    "output", f"of {name} is {dtype.name} without quantisation parameters"
                )
            self._deq: tuple[float, float] | None = (float(t.zero_point), float(t.scale))
        elif dtype.kind == "f":
            self._deq = None
        else:
            raise self._err("output", f"of {name} is {dtype.name}, which cannot be decoded")
        shape = arr.shape
        layout = m.layout or {2: "flat", 3: "HW", 4: self.manifest.input.layout}.get(len(shape))
        w_in, h_in = self.input_size
        if layout == "flat":
            if len(shape) not in (1, 2) or (len(shape) == 2 and shape[0] != 1):
                raise self._err("output.layout", f'= "flat" but {name}\'s output is {list(shape)}')
            ow, oh = m.size or (w_in, h_in)
            total = int(np.prod(shape))
            if total % (ow * oh):
                raise self._err(
                    "output.size",
                    f"= [{ow}, {oh}] does not divide {name}'s {total} output values "
                    "(set output.size to the output's width and height)",
                )
            c = total // (ow * oh)
        elif layout == "HW":
            if shape[0] != 1:
                raise self._err("output", f"of {name} has batch size {shape[0]}")
            oh, ow, c = shape[1], shape[2], 1
        else:
            if len(shape) != 4 or shape[0] != 1:
                raise self._err(
                    "output.layout",
                    f"= {layout!r} needs a [1, ...] 4-D output; {name}'s is {list(shape)}",
                )
            if layout == "NHWC":
                oh, ow, c = shape[1], shape[2], shape[3]
            else:
                c, oh, ow = shape[1], shape[2], shape[3]
        if self.manifest.origin == "bare" and (c != 1 or (ow, oh) != (w_in, h_in)):
            raise ModelError(
                f"model {name} output shape {list(shape)} is not one value per input pixel "
                f"({h_in}x{w_in}); it is not a one-channel person-probability model "
                "(give it a manifest: see models/README.md)"
            )
        channel = m.channel
        if channel is None:
            if c != 1:
                raise self._err(
                    "output.channel",
                    f"is needed: {name}'s output has {c} channels (which one is the person?)",
                )
            channel = 0
        if channel >= c:
            raise self._err("output.channel", f"= {channel} but {name}'s output has {c} channel(s)")
        if m.decode == "softmax" and c < 2:
            raise self._err(
                "output.decode",
                f'= "softmax" needs class logits, but {name}\'s output has 1 channel '
                '(use "sigmoid" for a logit or "probability")',
            )
        self._layout, self._channels, self._channel = layout, c, channel
        self.output_size: tuple[int, int] = (ow, oh)
        if m.decode == "probability":
            raw = outputs[j]
            if self._deq is not None:
                raw = (raw.astype(np.float32) - self._deq[0]) * self._deq[1]
            p = self._planes(raw)[channel]
            lo, hi = float(p.min()), float(p.max())
            if lo < -0.5 or hi > 1.5:
                raise self._err(
                    "output.decode",
                    f'= "probability" but {name} gives values in [{lo:.3g}, {hi:.3g}] on a grey '
                    'frame: use "sigmoid" (a logit) or "softmax" (class logits)',
                )

    # -- per frame -------------------------------------------------------------------------

    def _input_rois(self, fw: int, fh: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        w, h = self.input_size
        aspect = self.manifest.input.aspect
        if aspect == "letterbox":
            s = min(w / fw, h / fh)
            nw, nh = max(1, min(w, round(fw * s))), max(1, min(h, round(fh * s)))
            return (0, 0, fw, fh), ((w - nw) // 2, (h - nh) // 2, nw, nh)
        if aspect == "centre-crop":
            if fw * h > fh * w:  # the frame is wider than the model: crop the sides
                cw, ch = max(1, min(fw, round(fh * w / h))), fh
            else:
                cw, ch = fw, max(1, min(fh, round(fw * h / w)))
            return ((fw - cw) // 2, (fh - ch) // 2, cw, ch), (0, 0, w, h)
        return (0, 0, fw, fh), (0, 0, w, h)

    def _geometry_for(self, fw: int, fh: int) -> _Geometry:
        geo = self._geometry.get((fw, fh))
        if geo is not None:
            return geo
        frame_roi, input_roi = self._input_rois(fw, fh)
        ow, oh = self.output_size
        w, h = self.input_size
        aspect = self.manifest.input.aspect
        if aspect == "letterbox":
            sx, sy = ow / w, oh / h
            x0, y0, nw, nh = input_roi
            mx, my = min(ow - 1, round(x0 * sx)), min(oh - 1, round(y0 * sy))
            mw, mh = max(1, min(ow - mx, round(nw * sx))), max(1, min(oh - my, round(nh * sy)))
            geo = _Geometry(frame_roi, input_roi, (mx, my, mw, mh), (mw, mh), (0, 0))
        elif aspect == "centre-crop":
            cx, cy, cw, ch = frame_roi
            kx, ky = ow / cw, oh / ch
            mw, mh = max(ow, round(fw * kx)), max(oh, round(fh * ky))
            place = (min(mw - ow, round(cx * kx)), min(mh - oh, round(cy * ky)))
            geo = _Geometry(frame_roi, input_roi, (0, 0, ow, oh), (mw, mh), place)
        else:
            geo = _Geometry(frame_roi, input_roi, (0, 0, ow, oh), (ow, oh), (0, 0))
        self._geometry[(fw, fh)] = geo
        return geo

    def _preprocess(self, image: np.ndarray, frame_roi, input_roi) -> None:
        """Fill ``self._feeds`` for ``image`` (the frame region ``frame_roi`` of it)."""
        m = self.manifest.input
        w, h = self.input_size
        fx, fy, fw, fh = frame_roi
        x0, y0, nw, nh = input_roi
        src = image if (fw, fh) == image.shape[1::-1] else image[fy : fy + fh, fx : fx + fw]
        small = self._small_bgr
        if (nw, nh) == (w, h):
            cv2.resize(src, (w, h), dst=small, interpolation=cv2.INTER_LINEAR)
        else:
            small.fill(m.pad)
            small[y0 : y0 + nh, x0 : x0 + nw] = cv2.resize(
                src, (nw, nh), interpolation=cv2.INTER_LINEAR
            )
        if m.colour == "RGB":
            cv2.cvtColor(small, cv2.COLOR_BGR2RGB, dst=self._small_rgb)
            pixels = self._small_rgb
        else:
            pixels = small
        hwc = self._hwc
        colour = hwc if hwc.shape[2] == 3 else hwc[:, :, :3]
        colour[...] = pixels
        if self._uniform:
            colour *= self._a[0]
        else:
            colour *= self._a
            colour += self._b
        if m.prior == "channel":
            np.multiply(self._prior, self._prior_a, out=hwc[:, :, 3])
            if self._quant is not None:
                hwc[:, :, 3] += self._quant[0]
        if self._quant is not None:
            np.rint(hwc, out=hwc)
            np.clip(hwc, self._quant[1], self._quant[2], out=hwc)
        if m.layout == "NCHW":
            self._feed[0] = hwc.transpose(2, 0, 1)
            feed = self._feed
        elif self._feed.dtype == np.float32:
            feed = hwc[None]  # no copy: the engine copies it into its tensor
        else:
            self._feed[0] = hwc
            feed = self._feed
        self._feeds[self._image_index] = feed
        for slot, k in self._state_feed:
            self._feeds[slot] = self._states[k]

    def _planes(self, arr: np.ndarray) -> np.ndarray:
        """The output as channel planes, ``(C, oh, ow)`` (a view where possible)."""
        ow, oh = self.output_size
        if self._layout == "flat":
            return np.moveaxis(arr.reshape(oh, ow, self._channels), 2, 0)
        if self._layout == "HW":
            return arr[0][None]
        if self._layout == "NHWC":
            return np.moveaxis(arr[0], 2, 0)
        return arr[0]

    def _decode(self, arr: np.ndarray) -> np.ndarray:
        """P(person) on the output grid, a fresh float32 array, with no subnormals
        (:func:`~segcam.probability.floor_probabilities`)."""
        return floor_probabilities(self._probability(arr))

    def _probability(self, arr: np.ndarray) -> np.ndarray:
        if self._deq is not None:
            zp, scale = self._deq
            arr = arr.astype(np.float32)
            arr -= zp
            arr *= scale
        planes = self._planes(arr)
        c = self._channel
        decode = self.manifest.output.decode
        if decode == "probability":
            p = np.array(planes[c], dtype=np.float32, order="C")
            np.clip(p, 0.0, 1.0, out=p)
            return p
        if decode == "sigmoid" or self._channels == 2:
            # sigmoid(l) = 1 / (1 + exp(-l)); a 2-class softmax is sigmoid(l_c - l_other),
            # which costs one exp instead of a softmax over both planes.
            if decode == "sigmoid":
                d = np.negative(planes[c], dtype=np.float32)
            else:
                d = np.subtract(planes[1 - c], planes[c], dtype=np.float32)
            np.clip(d, -80.0, 80.0, out=d)
            np.exp(d, out=d)
            d += 1.0
            np.reciprocal(d, out=d)
            return d
        stack = np.asarray(planes, dtype=np.float32)
        e = stack - stack.max(axis=0, keepdims=True)
        np.exp(e, out=e)
        return np.ascontiguousarray(e[c] / e.sum(axis=0))

    def _map_back(self, p: np.ndarray, image: np.ndarray, geo: _Geometry) -> np.ndarray:
        aspect = self.manifest.input.aspect
        if aspect == "stretch":
            self._last_small = self._small_bgr
            return p
        mx, my, mw, mh = geo.crop
        if aspect == "letterbox":
            x0, y0, nw, nh = geo.input_roi
            self._last_small = self._reuse_small((nh, nw))
            np.copyto(self._last_small, self._small_bgr[y0 : y0 + nh, x0 : x0 + nw])
            return np.ascontiguousarray(p[my : my + mh, mx : mx + mw])
        # centre-crop: a mask of the whole frame, background outside the crop
        fw, fh = geo.mask_size
        out = np.zeros((fh, fw), np.float32)
        px, py = geo.place
        out[py : py + mh, px : px + mw] = p
        self._last_small = self._reuse_small((fh, fw))
        cv2.resize(image, (fw, fh), dst=self._last_small, interpolation=cv2.INTER_LINEAR)
        return out

    def _reuse_small(self, shape: tuple[int, int]) -> np.ndarray:
        buf = self._small_view
        if buf is None or buf.shape[:2] != shape:
            buf = self._small_view = np.empty((*shape, 3), np.uint8)
        return buf
