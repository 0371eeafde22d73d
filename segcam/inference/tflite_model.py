"""Reading and repairing TFLite flatbuffers, with nothing but the ``flatbuffers`` package.

Two load-time repairs make models run where they otherwise would not:

* :func:`fix_quant_scales` (in place, same size). ``portrait_video_quant`` carries
  zero, denormal and infinite quantisation scales on dead channels; XNNPACK
  refuses them ("unsupported scale value"). A channel with such a scale encodes
  the real value 0 (scale 0 times anything; a denormal scale times at most 127 is
  below float32's smallest normal number; the infinite-scale weights only ever
  multiply an all-zero input). Rewriting the scale to an ordinary positive value
  *and* storing the zero point in the channel's constant data (so it still means
  0) is therefore exact. Replacement scales are chosen so every requantisation
  multiplier around a repaired tensor stays in XNNPACK's accepted range.
* :func:`rewrite_transpose_conv_bias` (a new buffer). MediaPipe's selfie models
  use its custom op ``Convolution2DTransposeBias``, which only ai-edge-litert's
  XNNPACK delegate implements. Each such op becomes the standard
  ``TRANSPOSE_CONV`` with its optional bias input (op version 3, TFLite >= 2.4),
  which tflite-runtime and plain built-in kernels run.

The schema facts used here (table slot numbers, enum values) come from TFLite's
``schema.fbs``; ``tests/test_models_rewrite.py`` cross-checks them against the
schema module that ai-edge-litert ships.

Rewriting keeps the original bytes whole: the new root table, the changed
subgraph and the new operators, tensors and buffers are built *in front of* an
unchanged copy of the original flatbuffer, and point into it. Flatbuffer offsets
are relative and always point forward, so the old bytes stay valid wherever they
sit, and no field we do not understand is ever re-encoded.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import flatbuffers
import numpy as np
from flatbuffers import number_types as nt
from flatbuffers.table import Table

from segcam.errors import ModelError

# schema.fbs: BuiltinOperator
OP_ADD = 0
OP_CONV_2D = 3
OP_DEPTHWISE_CONV_2D = 4
OP_FULLY_CONNECTED = 9
OP_CUSTOM = 32
OP_TRANSPOSE_CONV = 67
# schema.fbs: BuiltinOptions union tag of TransposeConvOptions
OPTIONS_TRANSPOSE_CONV = 49
# schema.fbs: Padding
PADDING_SAME, PADDING_VALID = 0, 1
# schema.fbs: TensorType -> numpy
TENSOR_TYPES: dict[int, type] = {
    0: np.float32,
    1: np.float16,
    2: np.int32,
    3: np.uint8,
    4: np.int64,
    6: np.bool_,
    7: np.int16,
    9: np.int8,
    10: np.float64,
}
TENSOR_INT32 = 2

TRANSPOSE_CONV_BIAS = "Convolution2DTransposeBias"

# Slot numbers of the tables we read (schema.fbs field order).
_MODEL = {"version": 0, "operator_codes": 1, "subgraphs": 2, "buffers": 4}
_MODEL_OFFSET_SLOTS = range(1, 10)  # every Model field but version is an offset
_SUBGRAPH = {"tensors": 0, "inputs": 1, "outputs": 2, "operators": 3, "name": 4, "debug": 5}
_TENSOR = {"shape": 0, "type": 1, "buffer": 2, "name": 3, "quantization": 4}
_QUANT = {"scale": 2, "zero_point": 3, "quantized_dimension": 6}
_OPERATOR = {"opcode_index": 0, "inputs": 1, "outputs": 2, "custom_options": 5}
_OPCODE = {"deprecated_builtin_code": 0, "custom_code": 1, "version": 2, "builtin_code": 3}
_BUFFER = {"data": 0, "offset": 1, "size": 2}
_TRANSPOSE_CONV_OPTIONS = {"padding": 0, "stride_w": 1, "stride_h": 2}


class _T:
    """One flatbuffer table: typed access by slot number."""

    __slots__ = ("buf", "pos", "t")

    def __init__(self, buf: bytes | bytearray, pos: int) -> None:
        self.buf, self.pos = buf, pos
        self.t = Table(buf, pos)

    def _o(self, slot: int) -> int:
        return self.t.Offset(4 + 2 * slot)

    def has(self, slot: int) -> bool:
        return self._o(slot) != 0

    def num_slots(self) -> int:
        vtable = self.pos - struct.unpack_from("<i", self.buf, self.pos)[0]
        return (struct.unpack_from("<H", self.buf, vtable)[0] - 4) // 2

    def scalar(self, slot: int, flags, default):
        o = self._o(slot)
        return self.t.Get(flags, self.pos + o) if o else default

    def target(self, slot: int) -> int | None:
        """Absolute position an offset field points to (its table, vector or string)."""
        o = self._o(slot)
        return self.t.Indirect(self.pos + o) if o else None

    def table(self, slot: int) -> _T | None:
        p = self.target(slot)
        return None if p is None else _T(self.buf, p)

    def tables(self, slot: int) -> list[_T]:
        o = self._o(slot)
        if not o:
            return []
        start, n = self.t.Vector(o), self.t.VectorLen(o)
        return [_T(self.buf, self.t.Indirect(start + 4 * i)) for i in range(n)]

    def array(self, slot: int, dtype) -> np.ndarray | None:
        """The vector as a numpy view into the buffer (writable for a bytearray)."""
        o = self._o(slot)
        if not o:
            return None
        start, n = self.t.Vector(o), self.t.VectorLen(o)
        return np.frombuffer(
            self.buf, dtype=np.dtype(dtype).newbyteorder("<"), count=n, offset=start
        )

    def string(self, slot: int) -> str | None:
        o = self._o(slot)
        return self.t.String(self.pos + o).decode("utf-8", "replace") if o else None


@dataclass(frozen=True, slots=True)
class _Tensor:
    table: _T
    name: str
    shape: tuple[int, ...]
    type: int
    buffer: int


class TFLiteModel:
    """A read (and in-place patch) view of a TFLite flatbuffer.

    Raises :class:`ModelError` when the bytes are not a readable TFLite model.
    Pass a ``bytearray`` to patch buffers and quantisation scales in place.
    """

    def __init__(self, data: bytes | bytearray, name: str = "model") -> None:
        if len(data) < 8 or data[4:8] != b"TFL3":
            raise ModelError(f"{name} is not a TFLite model (no TFL3 header)")
        self.data = data
        self.name = name
        try:
            root = struct.unpack_from("<I", data, 0)[0]
            self.model = _T(data, root)
            self.opcodes = self._read_opcodes()
            self.subgraphs = self.model.tables(_MODEL["subgraphs"])
            self.buffers = self.model.tables(_MODEL["buffers"])
        except (struct.error, IndexError, ValueError):
            raise ModelError(f"{name} is a damaged or truncated TFLite model") from None
        if not self.subgraphs:
            raise ModelError(f"{name} is a TFLite model without a graph")

    def _read_opcodes(self) -> list[tuple[int, str | None]]:
        out = []
        for c in self.model.tables(_MODEL["operator_codes"]):
            dep = c.scalar(_OPCODE["deprecated_builtin_code"], nt.Int8Flags, 0)
            code = c.scalar(_OPCODE["builtin_code"], nt.Int32Flags, 0)
            out.append((max(dep, code), c.string(_OPCODE["custom_code"])))
        return out

    def custom_ops(self) -> list[str]:
        """Names of the custom ops the model's operators use."""
        used = {
            op.scalar(_OPERATOR["opcode_index"], nt.Uint32Flags, 0)
            for sg in self.subgraphs
            for op in sg.tables(_SUBGRAPH["operators"])
        }
        return sorted({name for i, (code, name) in enumerate(self.opcodes) if i in used and name})

    def tensor(self, sg: _T, index: int) -> _Tensor:
        return self.read_tensor(sg.tables(_SUBGRAPH["tensors"])[index], index)

    @staticmethod
    def read_tensor(t: _T, index: int) -> _Tensor:
        shape = t.array(_TENSOR["shape"], np.int32)
        return _Tensor(
            t,
            t.string(_TENSOR["name"]) or f"tensor{index}",
            tuple(int(s) for s in shape) if shape is not None else (),
            t.scalar(_TENSOR["type"], nt.Int8Flags, 0),
            t.scalar(_TENSOR["buffer"], nt.Uint32Flags, 0),
        )

    def buffer_data(self, index: int) -> np.ndarray | None:
        """A constant tensor's bytes (a view), or None for tensors computed at run time."""
        if not 0 <= index < len(self.buffers):
            return None
        b = self.buffers[index]
        data = b.array(_BUFFER["data"], np.uint8)
        if data is not None and data.size:
            return data
        offset = b.scalar(_BUFFER["offset"], nt.Uint64Flags, 0)
        size = b.scalar(_BUFFER["size"], nt.Uint64Flags, 0)
        if offset > 1 and size:
            return np.frombuffer(self.data, np.uint8, count=size, offset=offset)
        return None

    def has_external_buffers(self) -> bool:
        return any(b.scalar(_BUFFER["offset"], nt.Uint64Flags, 0) > 1 for b in self.buffers)


# -- quantisation scales ---------------------------------------------------------------

_TINY = float(np.finfo(np.float32).tiny)


def _bad(scale: np.ndarray) -> np.ndarray:
    return ~(np.isfinite(scale) & (scale >= _TINY))


def count_bad_scales(data: bytes | bytearray) -> int:
    """How many tensors carry zero, denormal, negative or non-finite quantisation scales."""
    m = TFLiteModel(data)
    n = 0
    for sg in m.subgraphs:
        for t in sg.tables(_SUBGRAPH["tensors"]):
            q = t.table(_TENSOR["quantization"])
            scale = None if q is None else q.array(_QUANT["scale"], np.float32)
            if scale is not None and _bad(scale).any():
                n += 1
    return n


def fix_quant_scales(data: bytes | bytearray) -> tuple[bytearray, int]:
    """Repair unusable quantisation scales (see the module docstring); return (model, count).

    ``count`` is the number of tensors changed; with 0 the input comes back as a
    bytearray copy, unchanged.
    """
    buf = bytearray(data)
    m = TFLiteModel(buf)
    fixed = 0
    for sg in m.subgraphs:
        fixed += _fix_subgraph(m, sg)
    return buf, fixed


def _fix_subgraph(m: TFLiteModel, sg: _T) -> int:
    tensors = sg.tables(_SUBGRAPH["tensors"])
    info: dict[int, tuple[np.ndarray, np.ndarray | None, int]] = {}
    for i, t in enumerate(tensors):
        q = t.table(_TENSOR["quantization"])
        if q is None:
            continue
        scale = q.array(_QUANT["scale"], np.float32)
        if scale is None or not scale.size:
            continue
        zp = q.array(_QUANT["zero_point"], np.int64)
        info[i] = (scale, zp, q.scalar(_QUANT["quantized_dimension"], nt.Int32Flags, 0))
    bad = {i: _bad(s).copy() for i, (s, _, _) in info.items() if _bad(s).any()}
    if not bad:
        return 0
    repaired = len(bad)
    ops = sg.tables(_SUBGRAPH["operators"])
    op_io = []
    for op in ops:
        code = m.opcodes[op.scalar(_OPERATOR["opcode_index"], nt.Uint32Flags, 0)][0]
        ins = op.array(_OPERATOR["inputs"], np.int32)
        outs = op.array(_OPERATOR["outputs"], np.int32)
        op_io.append((code, [] if ins is None else list(ins), [] if outs is None else list(outs)))

    def const(i: int) -> bool:
        return m.buffer_data(m.read_tensor(tensors[i], i).buffer) is not None

    def zero_channels(i: int, channels: np.ndarray) -> None:
        """Store the zero point in the given channels of a constant tensor (real value 0)."""
        t = m.read_tensor(tensors[i], i)
        raw = m.buffer_data(t.buffer)
        dtype = TENSOR_TYPES.get(t.type)
        if raw is None or dtype is None:
            return
        values = raw.view(np.dtype(dtype).newbyteorder("<"))
        if t.shape and values.size == int(np.prod(t.shape)):
            values = values.reshape(t.shape)
        scale, zp, qdim = info[i]
        if scale.size == 1:
            values[...] = zp[0] if zp is not None and zp.size else 0
            return
        axis = qdim if values.ndim > qdim else 0
        moved = np.moveaxis(values, axis, 0)
        for c in np.flatnonzero(channels):
            moved[c] = zp[c] if zp is not None and zp.size > c else 0

    # 1. Activations (run-time tensors), in execution order, so a chain of dead
    # tensors (conv -> pad -> depthwise) all take their producer's input scale and
    # ops that need equal input and output scales (pad, reshape) still have them.
    producers = {out: ins for _, ins, outs in op_io for out in outs}
    for i in sorted(bad, key=lambda i: _order(i, op_io)):
        if const(i):
            continue
        scale = info[i][0]
        src = [j for j in producers.get(i, []) if j in info and not _bad(info[j][0]).all()]
        scale[bad[i]] = float(np.median(info[src[0]][0])) if src else 1.0
    # 2. Weights and biases of conv-like ops: a repaired channel gets the scale that
    # makes its requantisation multiplier exactly 1 (in * w / out), and its bias the
    # matching in * w; both hold the zero point, so the channel still computes 0.
    conv_like = (OP_CONV_2D, OP_DEPTHWISE_CONV_2D, OP_FULLY_CONNECTED, OP_TRANSPOSE_CONV)
    for code, ins, outs in op_io:
        if code not in conv_like or not outs:
            continue
        padded = [*ins, -1, -1, -1, -1]
        if code == OP_TRANSPOSE_CONV:  # output_shape, weights, input, bias
            x, w, b = padded[2], padded[1], padded[3]
        else:  # input, weights, bias
            x, w, b = padded[0], padded[1], padded[2]
        y = outs[0]
        if w not in bad and b not in bad:
            continue
        if x not in info or y not in info or w not in info:
            continue
        s_in, s_out = float(info[x][0][0]), float(info[y][0][0])
        w_scale = info[w][0]
        channels = bad.get(w, np.zeros(w_scale.shape, bool))
        if b in bad and bad[b].size == channels.size:
            channels = channels | bad[b]
        w_scale[channels] = s_out / s_in
        zero_channels(w, channels)
        if b in info:
            b_scale = info[b][0]
            if b_scale.size == w_scale.size:
                b_scale[channels] = s_in * w_scale[channels]
            elif b_scale.size == 1 and _bad(b_scale).any():
                b_scale[...] = s_in * float(w_scale[0])
            zero_channels(b, channels if b_scale.size == channels.size else np.ones(1, bool))
        bad.pop(w, None)
        bad.pop(b, None)
    # 3. Any other constant: zero the channels, then any ordinary scale will do.
    for i in bad:
        scale = info[i][0]
        now_bad = _bad(scale)
        if not now_bad.any():
            continue
        if const(i):
            zero_channels(i, now_bad)
        good = scale[~now_bad]
        scale[now_bad] = float(np.median(good)) if good.size else 1.0
    return repaired


def _order(tensor: int, op_io: list) -> int:
    """Index of the op that produces ``tensor`` (-1 for graph inputs and constants)."""
    for k, (_, _, outs) in enumerate(op_io):
        if tensor in outs:
            return k
    return -1


# -- Convolution2DTransposeBias -> TRANSPOSE_CONV ------------------------------------------

# TfLiteTransposeConvParams as MediaPipe stores it in custom_options: int32 padding
# (TfLitePadding: 1 same, 2 valid), stride_width, stride_height.
_TFLITE_PADDING = {1: PADDING_SAME, 2: PADDING_VALID}


def rewrite_transpose_conv_bias(data: bytes | bytearray, name: str = "model") -> tuple[bytes, int]:
    """Replace every ``Convolution2DTransposeBias`` op by ``TRANSPOSE_CONV`` with bias.

    Returns ``(new model bytes, number of ops rewritten)``; with 0 the input comes
    back unchanged. Raises :class:`ModelError` if an op cannot be rewritten.
    """
    m = TFLiteModel(bytes(data), name)
    targets = {i for i, (code, custom) in enumerate(m.opcodes) if custom == TRANSPOSE_CONV_BIAS}
    if not targets:
        return bytes(data), 0
    if m.has_external_buffers():
        raise ModelError(
            f"{name}: cannot rewrite {TRANSPOSE_CONV_BIAS} in a model with external buffers"
        )
    if m.model.num_slots() > max(_MODEL_OFFSET_SLOTS) + 1:
        raise ModelError(f"{name}: cannot rewrite {TRANSPOSE_CONV_BIAS}: unknown model fields")

    old = bytes(m.data)
    b = flatbuffers.Builder(len(old) + 65536)
    # The whole original model, as one 16-byte-aligned blob at the end of the new buffer.
    b.StartVector(1, len(old), 16)
    b.head -= len(old)
    b.Bytes[b.head : b.head + len(old)] = old
    end = b.Offset()  # builder offset of the blob's first byte
    b.EndVector()

    def ref(abs_pos: int) -> int:
        """Builder offset of an object inside the original model."""
        return end - abs_pos

    new_buffers: list[int] = []  # builder offsets of Buffer tables to append
    n_old_buffers = len(m.buffers)
    subgraph_refs: list[int] = []
    rewritten = 0
    for sg in m.subgraphs:
        ops = sg.tables(_SUBGRAPH["operators"])
        tensors = sg.tables(_SUBGRAPH["tensors"])
        new_tensors: list[int] = []
        op_refs: list[int] = []
        changed = False
        for op in ops:
            index = op.scalar(_OPERATOR["opcode_index"], nt.Uint32Flags, 0)
            if index not in targets:
                op_refs.append(ref(op.pos))
                continue
            ins = op.array(_OPERATOR["inputs"], np.int32)
            outs = op.array(_OPERATOR["outputs"], np.int32)
            opts = op.array(_OPERATOR["custom_options"], np.uint8)
            if ins is None or len(ins) != 3 or outs is None or len(outs) != 1:
                raise ModelError(
                    f"{name}: a {TRANSPOSE_CONV_BIAS} op without 3 inputs and 1 output"
                )
            if opts is None or opts.size < 12:
                raise ModelError(f"{name}: a {TRANSPOSE_CONV_BIAS} op without its parameters")
            padding, stride_w, stride_h = struct.unpack_from("<3i", opts.tobytes(), 0)
            if padding not in _TFLITE_PADDING:
                raise ModelError(f"{name}: {TRANSPOSE_CONV_BIAS} with unknown padding {padding}")
            out = m.read_tensor(tensors[int(outs[0])], int(outs[0]))
            if len(out.shape) != 4:
                raise ModelError(f"{name}: {TRANSPOSE_CONV_BIAS} output is not 4-D")
            # A constant int32 tensor holding the output shape (TRANSPOSE_CONV's input 0).
            shape_bytes = np.asarray(out.shape, "<i4").tobytes()
            b.StartVector(1, len(shape_bytes), 16)
            b.head -= len(shape_bytes)
            b.Bytes[b.head : b.head + len(shape_bytes)] = shape_bytes
            data_off = b.EndVector()
            b.StartObject(3)
            b.PrependUOffsetTRelativeSlot(_BUFFER["data"], data_off, 0)
            new_buffers.append(b.EndObject())
            buffer_index = n_old_buffers + len(new_buffers) - 1
            shape_tensor = len(tensors) + len(new_tensors)
            new_tensors.append(_int32_tensor(b, (4,), buffer_index, f"{out.name}/output_shape"))
            op_refs.append(
                _transpose_conv_op(
                    b,
                    opcode_index=index,
                    inputs=(shape_tensor, int(ins[1]), int(ins[0]), int(ins[2])),
                    outputs_ref=ref(op.target(_OPERATOR["outputs"])),
                    padding=_TFLITE_PADDING[padding],
                    stride=(stride_w, stride_h),
                )
            )
            rewritten += 1
            changed = True
        if not changed:
            subgraph_refs.append(ref(sg.pos))
            continue
        tensors_vec = _offset_vector(b, [ref(t.pos) for t in tensors] + new_tensors)
        ops_vec = _offset_vector(b, op_refs)
        b.StartObject(6)
        b.PrependUOffsetTRelativeSlot(_SUBGRAPH["tensors"], tensors_vec, 0)
        b.PrependUOffsetTRelativeSlot(_SUBGRAPH["operators"], ops_vec, 0)
        for key in ("inputs", "outputs", "name"):
            target = sg.target(_SUBGRAPH[key])
            if target is not None:
                b.PrependUOffsetTRelativeSlot(_SUBGRAPH[key], ref(target), 0)
        if sg.has(_SUBGRAPH["debug"]):
            b.PrependInt32Slot(
                _SUBGRAPH["debug"], sg.scalar(_SUBGRAPH["debug"], nt.Int32Flags, -1), -1
            )
        subgraph_refs.append(b.EndObject())

    # The custom opcode entry becomes TRANSPOSE_CONV v3 (the version with a bias input);
    # its operators all changed, so their opcode_index stays valid.
    code_refs = []
    for i, c in enumerate(m.model.tables(_MODEL["operator_codes"])):
        if i not in targets:
            code_refs.append(ref(c.pos))
            continue
        b.StartObject(4)
        b.PrependInt32Slot(_OPCODE["builtin_code"], OP_TRANSPOSE_CONV, 0)
        b.PrependInt32Slot(_OPCODE["version"], 3, 1)
        b.PrependInt8Slot(_OPCODE["deprecated_builtin_code"], OP_TRANSPOSE_CONV, 0)
        code_refs.append(b.EndObject())
    codes_vec = _offset_vector(b, code_refs)
    subgraphs_vec = _offset_vector(b, subgraph_refs)
    buffers_vec = _offset_vector(b, [ref(x.pos) for x in m.buffers] + new_buffers)

    slots = m.model.num_slots()
    b.StartObject(max(slots, 5))
    b.PrependUint32Slot(_MODEL["version"], m.model.scalar(_MODEL["version"], nt.Uint32Flags, 0), 0)
    b.PrependUOffsetTRelativeSlot(_MODEL["operator_codes"], codes_vec, 0)
    b.PrependUOffsetTRelativeSlot(_MODEL["subgraphs"], subgraphs_vec, 0)
    b.PrependUOffsetTRelativeSlot(_MODEL["buffers"], buffers_vec, 0)
    for slot in _MODEL_OFFSET_SLOTS:
        if slot in _MODEL.values() or slot >= slots:
            continue
        target = m.model.target(slot)
        if target is not None:
            b.PrependUOffsetTRelativeSlot(slot, ref(target), 0)
    b.Finish(b.EndObject(), file_identifier=b"TFL3")
    return bytes(b.Output()), rewritten


def _offset_vector(b: flatbuffers.Builder, offsets: list[int]) -> int:
    b.StartVector(4, len(offsets), 4)
    for off in reversed(offsets):
        b.PrependUOffsetTRelative(off)
    return b.EndVector()


def _int_vector(b: flatbuffers.Builder, values) -> int:
    b.StartVector(4, len(values), 4)
    for v in reversed(values):
        b.PrependInt32(int(v))
    return b.EndVector()


def _int32_tensor(b: flatbuffers.Builder, shape, buffer_index: int, name: str) -> int:
    shape_vec = _int_vector(b, shape)
    name_off = b.CreateString(name)
    b.StartObject(5)
    b.PrependUOffsetTRelativeSlot(_TENSOR["shape"], shape_vec, 0)
    b.PrependUOffsetTRelativeSlot(_TENSOR["name"], name_off, 0)
    b.PrependUint32Slot(_TENSOR["buffer"], buffer_index, 0)
    b.PrependInt8Slot(_TENSOR["type"], TENSOR_INT32, 0)
    return b.EndObject()


def _transpose_conv_op(
    b: flatbuffers.Builder,
    *,
    opcode_index: int,
    inputs: tuple[int, int, int, int],
    outputs_ref: int,
    padding: int,
    stride: tuple[int, int],
) -> int:
    b.StartObject(3)
    b.PrependInt32Slot(_TRANSPOSE_CONV_OPTIONS["stride_w"], stride[0], 0)
    b.PrependInt32Slot(_TRANSPOSE_CONV_OPTIONS["stride_h"], stride[1], 0)
    b.PrependInt8Slot(_TRANSPOSE_CONV_OPTIONS["padding"], padding, -1)
    options = b.EndObject()
    ins = _int_vector(b, inputs)
    b.StartObject(5)
    b.PrependUOffsetTRelativeSlot(4, options, 0)  # builtin_options
    b.PrependUint8Slot(3, OPTIONS_TRANSPOSE_CONV, 0)  # builtin_options_type
    b.PrependUOffsetTRelativeSlot(_OPERATOR["outputs"], outputs_ref, 0)
    b.PrependUOffsetTRelativeSlot(_OPERATOR["inputs"], ins, 0)
    b.PrependUint32Slot(_OPERATOR["opcode_index"], opcode_index, 0)
    return b.EndObject()
