"""Inference engines: LiteRT (CPU, or GPU through ``CompiledModel``) and ONNX Runtime.

Every engine has the same small interface (:class:`Engine`): the model's input
and output tensors as :class:`TensorInfo` (quantisation read from the file), and
``run(feeds) -> outputs``. What a tensor *means* is the manifest's business
(:mod:`segcam.inference.segmenter`); an engine only loads and runs.

Loading a LiteRT model checks what can be checked before the first frame: the
file exists and is a TFLite flatbuffer, the runtime accepts it and can allocate
its tensors (this is where unresolved custom ops fail). Two repairs happen in
memory on the way (:mod:`segcam.inference.tflite_model`), each logged:

* zero/denormal/infinite quantisation scales, which XNNPACK refuses, are
  rewritten (exactly); with ``rewrite=False`` the model runs on the built-in
  kernels instead, with a logged reason;
* MediaPipe's custom op ``Convolution2DTransposeBias`` becomes the standard
  ``TRANSPOSE_CONV`` where the runtime lacks it (tflite-runtime, built-in kernels)
  and for the GPU.

Runtimes: ``ai-edge-litert`` (preferred) or, where it is not installed,
``tflite-runtime``, which has the same ``Interpreter`` API.

Accelerators (:data:`ACCELERATORS`): ``cpu``; ``gpu`` (LiteRT's ``CompiledModel``
with its WebGPU accelerator, ops it lacks on the CPU; for ONNX a GPU execution
provider) fails with a one-line :class:`ModelError` where there is no usable GPU;
``auto`` tries the GPU and falls back to the CPU, logging one line saying why.

Threading: an engine is used by one thread at a time (the inference worker).
``threads`` sizes the runtime's own thread pool.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import logging
import os
import re
import struct
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segcam import native
from segcam.config import ACCELERATORS
from segcam.errors import ModelError, one_line
from segcam.native import quiet_native_stderr

log = logging.getLogger(__name__)

__all__ = ["ACCELERATORS", "CompiledModelEngine", "Engine", "LiteRtEngine", "TensorInfo"]

_TFLITE_MAGIC = b"TFL3"


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """One input or output tensor. ``shape`` has -1 for dynamic dimensions.

    ``scale``/``zero_point`` are the file's (per-tensor) quantisation: real =
    scale * (q - zero_point); ``scale == 0`` means not quantised.
    """

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    scale: float = 0.0
    zero_point: int = 0

    @property
    def quantised(self) -> bool:
        return self.scale != 0.0 and np.dtype(self.dtype).kind in "iu"

    def describe(self) -> str:
        dims = "x".join("?" if d < 0 else str(d) for d in self.shape)
        q = f" (scale {self.scale:.6g}, zero point {self.zero_point})" if self.quantised else ""
        return f"{self.name}: [{dims}] {np.dtype(self.dtype).name}{q}"


class Engine:
    """Base class: ``inputs``, ``outputs``, ``backend`` (a short description) and ``run``."""

    kind = "engine"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.inputs: tuple[TensorInfo, ...] = ()
        self.outputs: tuple[TensorInfo, ...] = ()
        self.backend = ""
        self.notes: list[str] = []
        """what happened at load time (repairs, fallbacks), for ``segcam models info``."""

    def run(self, feeds: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Run once. ``feeds`` follow ``inputs``; the outputs (fresh arrays the caller
        owns) follow ``outputs``."""
        raise NotImplementedError

    def resize_input(self, index: int, shape: tuple[int, ...]) -> None:
        """Give a dynamic input a concrete shape (engines with static graphs)."""


def check_model_file(path: Path, magic: bytes | None = _TFLITE_MAGIC, what: str = "TFLite") -> None:
    """A clear error for a missing, unreadable, empty or foreign model file."""
    if not path.exists():
        raise ModelError(f"model file not found: {path}")
    if not path.is_file():
        raise ModelError(f"model path is not a file: {path}")
    try:
        with path.open("rb") as f:
            head = f.read(8)
    except OSError as e:
        raise ModelError(f"cannot read model file {path}: {e.strerror}") from None
    if len(head) < 8:
        raise ModelError(f"model file {path} is empty or truncated")
    if magic is not None and head[4:8] != magic:
        raise ModelError(f"{path} is not a {what} model (no {magic.decode()} header)")


def open_engine(
    path: Path | str,
    engine: str = "litert",
    *,
    threads: int = 1,
    accelerator: str = "cpu",
    rewrite: bool = True,
) -> Engine:
    """Load ``path`` with the named engine (``litert`` or ``onnx``) on ``accelerator``."""
    path = Path(path)
    if accelerator not in ACCELERATORS:
        raise ModelError(
            f"unknown accelerator {accelerator!r}: use one of {', '.join(ACCELERATORS)}"
        )
    if engine == "onnx":
        from segcam.inference.onnx_engine import OnnxEngine

        return OnnxEngine(path, threads=threads, accelerator=accelerator)
    if engine != "litert":
        raise ModelError(f"unknown engine {engine!r}: use litert or onnx")
    if accelerator == "cpu":
        return LiteRtEngine(path, threads=threads, rewrite=rewrite)
    try:
        return CompiledModelEngine(path, threads=threads)
    except ModelError as e:
        if accelerator == "gpu":
            raise
        log.warning("%s; using the CPU", e)
    cpu = LiteRtEngine(path, threads=threads, rewrite=rewrite)
    cpu.notes.append("accelerator auto: no usable GPU, running on the CPU")
    return cpu


# -- LiteRT --------------------------------------------------------------------------------


def litert_runtime():
    """``(interpreter module, name)``: ai-edge-litert's, else tflite-runtime's."""
    try:
        from ai_edge_litert import interpreter

        return interpreter, "ai-edge-litert"
    except ImportError:
        pass
    try:
        from tflite_runtime import interpreter  # type: ignore[import-not-found]

        return interpreter, "tflite-runtime"
    except ImportError:
        raise ModelError(
            "no LiteRT runtime is installed: pip install ai-edge-litert (or tflite-runtime)"
        ) from None


def _read_tflite(path: Path) -> bytes:
    check_model_file(path)
    try:
        return path.read_bytes()
    except OSError as e:
        raise ModelError(f"cannot read model file {path}: {e.strerror}") from None


def prepare_tflite(
    data: bytes, name: str, *, rewrite: bool, need_standard_ops: bool
) -> tuple[bytes, list[str], bool]:
    """Apply the load-time repairs; return ``(model bytes, notes, needs built-in kernels)``."""
    try:
        return _prepare_tflite(data, name, rewrite=rewrite, need_standard_ops=need_standard_ops)
    except (struct.error, IndexError, ValueError, UnicodeDecodeError):
        raise ModelError(f"{name} is a damaged or truncated TFLite model") from None


def _prepare_tflite(
    data: bytes, name: str, *, rewrite: bool, need_standard_ops: bool
) -> tuple[bytes, list[str], bool]:
    from segcam.inference.tflite_model import (
        TRANSPOSE_CONV_BIAS,
        TFLiteModel,
        count_bad_scales,
        fix_quant_scales,
        rewrite_transpose_conv_bias,
    )

    notes: list[str] = []
    builtin_kernels = False
    model = TFLiteModel(data, name)
    if need_standard_ops and TRANSPOSE_CONV_BIAS in model.custom_ops():
        if not rewrite:
            raise ModelError(
                f"{name} uses MediaPipe's custom op {TRANSPOSE_CONV_BIAS}, which this runtime "
                "lacks (it needs ai-edge-litert with XNNPACK, or the load-time rewrite)"
            )
        data, n = rewrite_transpose_conv_bias(data, name)
        notes.append(f"rewrote {n} {TRANSPOSE_CONV_BIAS} op(s) as TRANSPOSE_CONV")
    bad = count_bad_scales(data)
    if bad:
        if rewrite:
            fixed, n = fix_quant_scales(data)
            data = bytes(fixed)
            notes.append(
                f"rewrote the zero/denormal quantisation scales of {n} tensor(s) (exact) "
                "so XNNPACK accepts them"
            )
        else:
            builtin_kernels = True
            notes.append(
                f"{bad} tensor(s) carry zero/denormal quantisation scales, which XNNPACK "
                "refuses: running on the built-in kernels"
            )
    return data, notes, builtin_kernels


class LiteRtEngine(Engine):
    """A ``.tflite`` model on the CPU through the LiteRT ``Interpreter`` (XNNPACK)."""

    kind = "litert"

    def __init__(
        self,
        path: Path | str,
        threads: int = 1,
        *,
        rewrite: bool = True,
        builtin_kernels: bool = False,
    ) -> None:
        super().__init__(Path(path))
        module, runtime = litert_runtime()
        name = self.path.name
        data = _read_tflite(self.path)
        self._data, notes, needs_builtin = prepare_tflite(
            data,
            name,
            rewrite=rewrite,
            need_standard_ops=runtime != "ai-edge-litert" or builtin_kernels,
        )
        self.notes += notes
        for note in notes:
            log.info("%s: %s", name, note)
        builtin_kernels = builtin_kernels or needs_builtin
        try:
            self._interp = self._load(module, threads, builtin_kernels)
        except ModelError as e:
            if builtin_kernels or "XNNPACK" not in str(e):
                raise
            log.info("%s: XNNPACK refused the model (%s); using the built-in kernels", name, e)
            self.notes.append(f"XNNPACK refused it ({e}): running on the built-in kernels")
            builtin_kernels = True
            self._interp = self._load(module, threads, builtin_kernels)
        kernels = "built-in kernels" if builtin_kernels else "XNNPACK"
        self.backend = f"{runtime} CPU ({kernels}), {threads} thread(s)"
        self._read_details()

    def _load(self, module, threads: int, builtin_kernels: bool):
        kw = {}
        if builtin_kernels:
            kw["experimental_op_resolver_type"] = (
                module.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
            )
        try:
            with quiet_native_stderr():
                interp = module.Interpreter(model_content=self._data, num_threads=threads, **kw)
                interp.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            raise ModelError(f"cannot load model {self.path.name}: {_litert_reason(e)}") from None
        return interp

    def _read_details(self) -> None:
        def info(d) -> TensorInfo:
            scale, zp = d.get("quantization", (0.0, 0))
            sig = d.get("shape_signature")
            shape = sig if sig is not None and len(sig) == len(d["shape"]) else d["shape"]
            return TensorInfo(
                d["name"], tuple(int(s) for s in shape), np.dtype(d["dtype"]), float(scale), int(zp)
            )

        self._in_details = self._interp.get_input_details()
        self._out_details = self._interp.get_output_details()
        self.inputs = tuple(info(d) for d in self._in_details)
        self.outputs = tuple(info(d) for d in self._out_details)
        self._in_index = [d["index"] for d in self._in_details]
        self._out_index = [d["index"] for d in self._out_details]

    def resize_input(self, index: int, shape: tuple[int, ...]) -> None:
        try:
            self._interp.resize_tensor_input(self._in_index[index], list(shape))
            self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            raise ModelError(
                f"model {self.path.name} cannot take input shape {list(shape)}: {one_line(e)}"
            ) from None
        self._read_details()
        self.inputs = tuple(
            TensorInfo(
                t.name, tuple(shape) if i == index else t.shape, t.dtype, t.scale, t.zero_point
            )
            for i, t in enumerate(self.inputs)
        )

    def run(self, feeds: Sequence[np.ndarray]) -> list[np.ndarray]:
        interp = self._interp
        for index, feed in zip(self._in_index, feeds, strict=True):
            interp.set_tensor(index, feed)
        interp.invoke()
        return [interp.get_tensor(i) for i in self._out_index]


def _litert_reason(e: BaseException) -> str:
    text = str(e)
    m = re.search(r"Encountered unresolved custom op: ([\w.]+)", text)
    if m:
        return f"it uses the custom op {m.group(1)}, which this runtime does not provide"
    return one_line(e)


class CompiledModelEngine(Engine):
    """A ``.tflite`` model on the GPU through ai-edge-litert's ``CompiledModel``.

    Ops the GPU accelerator lacks run on the CPU inside the same compiled model
    (``GPU | CPU``); ``backend`` says whether the graph is fully on the GPU.
    Raises :class:`ModelError` (one line, with the runtime's reason) when no GPU is
    usable, which the caller turns into a CPU fallback for ``auto``.
    """

    kind = "litert"

    def __init__(self, path: Path | str, threads: int = 1, *, gpu: bool = True) -> None:
        """``gpu=False`` compiles for the CPU alone: the same code path, for testing it
        on machines without a GPU."""
        super().__init__(Path(path))
        name = self.path.name
        try:
            from ai_edge_litert import __file__ as litert_file
            from ai_edge_litert.compiled_model import (
                CompiledModel,
                CpuOptions,
                Environment,
                HardwareAccelerator,
                Options,
            )
        except ImportError:
            raise ModelError(
                "the GPU accelerator needs ai-edge-litert's CompiledModel: "
                "pip install ai-edge-litert"
            ) from None
        # The CPU interpreter reads the tensors (with quantisation) and proves the
        # model itself is sound, so a GPU failure below is a GPU problem.
        cpu = LiteRtEngine(self.path, threads=threads)
        data, notes, _ = prepare_tflite(
            _read_tflite(self.path), name, rewrite=True, need_standard_ops=True
        )
        self.notes += notes
        hardware = HardwareAccelerator.CPU
        if gpu:
            hardware |= HardwareAccelerator.GPU
        options = Options(
            hardware_accelerators=hardware, cpu_options=CpuOptions(num_threads=threads)
        )
        # LiteRT explains a GPU failure only in its log on fd 2 (the exception says
        # "ERROR: [file:line]"), so the log is captured and the reason read from it.
        global _teardown_quieted
        if not _teardown_quieted:
            atexit.register(_quiet_native_teardown)
            _teardown_quieted = True
        with capture_native_stderr() as log_text:
            env = Environment.create(runtime_path=str(Path(litert_file).parent))
            compiled, error = _compile(CompiledModel, data, env, options)
            if compiled is None:
                env.close()  # destroy it here, inside the capture: it logs as it goes
                del env
                gc.collect()
        if compiled is None:
            reason = gpu_failure_reason(error + "\n" + "".join(log_text))
            raise ModelError(f"no usable GPU for {name}: {reason}")
        self._model, self._in, self._out, full = compiled
        self._data = data  # the compiled model may refer to the buffer
        sig = self._model.get_signature_by_index(0)
        self.inputs = _match_tensors(cpu.inputs, sig.get("inputs", []))
        self.outputs = _match_tensors(cpu.outputs, sig.get("outputs", []))
        if len(self._in) != len(self.inputs) or len(self._out) != len(self.outputs):
            raise ModelError(f"no usable GPU for {name}: its signature does not match the graph")
        if gpu:
            self.backend = "ai-edge-litert GPU (WebGPU)" + ("" if full else ", some ops on the CPU")
        else:
            self.backend = f"ai-edge-litert CompiledModel CPU, {threads} thread(s)"
        log.info("%s: running on %s", name, self.backend)

    def run(self, feeds: Sequence[np.ndarray]) -> list[np.ndarray]:
        for buf, feed in zip(self._in, feeds, strict=True):
            buf.write(feed)
        self._model.run_by_index(0, self._in, self._out)
        return [
            buf.read(int(np.prod(t.shape)), t.dtype).reshape(t.shape)
            for buf, t in zip(self._out, self.outputs, strict=True)
        ]


def _compile(compiled_model, data: bytes, env, options):
    """``((model, inputs, outputs, fully on GPU), "")`` or ``(None, error text)``.

    A function of its own so the exception (and the frames holding the environment)
    is gone when it returns.
    """
    try:
        model = compiled_model.from_buffer(data, environment=env, options=options)
        ins, outs = model.create_input_buffers(0), model.create_output_buffers(0)
        # The first run sets up the GPU pipelines, and logs as it does: run it here,
        # inside the caller's capture.
        model.run_by_index(0, ins, outs)
        return (model, ins, outs, model.is_fully_accelerated()), ""
    except (RuntimeError, ValueError) as e:
        return None, str(e)


@contextlib.contextmanager
def capture_native_stderr() -> Iterator[list[str]]:
    """Like :func:`segcam.native.quiet_native_stderr`, but keep the text.

    The yielded list receives what native code wrote to fd 2 once the block ends.
    What it wrote to fd 1 is kept there too: LiteRT's GPU set-up prints log lines
    ("INFO: Loaded OpenCL library with dlopen.") on stdout, where they would break
    ``--json`` output (seen on an H200 machine).
    """
    out: list[str] = []
    with native._lock:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            saved = (os.dup(1), os.dup(2))
        except (OSError, ValueError, AttributeError):
            yield out
            return
        with tempfile.TemporaryFile() as tmp:
            os.dup2(tmp.fileno(), 1)
            os.dup2(tmp.fileno(), 2)
            try:
                yield out
            finally:
                for fd, old in zip((1, 2), saved, strict=True):
                    os.dup2(old, fd)
                    os.close(old)
                tmp.seek(0)
                out.append(tmp.read().decode("utf-8", "replace"))


_teardown_quieted = False


def _quiet_native_teardown() -> None:
    """At exit, after everything segcam prints, send native teardown logs to /dev/null.

    LiteRT's accelerator registry logs one "DestroyAccelerator" line per accelerator
    on fd 2 when its objects are destroyed at interpreter shutdown, after the last
    line segcam means to print. Registered once, by the first CompiledModel engine.
    """
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _match_tensors(infos: tuple[TensorInfo, ...], names: list[str]) -> tuple[TensorInfo, ...]:
    """The interpreter's tensors in the signature's order (by name where names match)."""
    by_name = {t.name: t for t in infos}
    if names and all(n in by_name for n in names):
        return tuple(by_name[n] for n in names)
    return infos


def gpu_failure_reason(e: BaseException) -> str:
    """The useful part of LiteRT's multi-line GPU failure (its log is in the message)."""
    text = str(e)
    parts = []
    m = re.search(r"Failed to initialize WebGPU environment: (?:INTERNAL: )?([^\n]+)", text)
    if m:
        parts.append(f"WebGPU: {m.group(1).strip()}")
    m = re.search(r"Couldn't load Vulkan: ([^\n]+)", text) or re.search(
        r"Warning: (Vulkan [^\n]+)", text
    )
    if m:
        parts.append(f"Vulkan: {m.group(1).strip()}")
    if parts:
        return "; ".join(parts)
    for line in text.splitlines():
        line = line.strip().lstrip("└").strip()
        if line.startswith("ERROR:"):
            rest = re.sub(r"^ERROR:\s*(\[[^\]]*\])?\s*", "", line)
            if rest:
                return rest
    return one_line(e)
