"""The ``onnx`` engine: ONNX models on ONNX Runtime (the optional extra ``segcam[onnx]``).

ONNX Runtime is imported only when an ONNX model loads. Its console output is
silenced: some exporters list every weight as a graph input (SINet does), and
ONNX Runtime warns about each one at load; the default logger and the session
log at severity 3 (errors only).

Accelerators: ``cpu`` is the CPU execution provider. ``gpu`` uses the first GPU
execution provider the installed ONNX Runtime offers (CUDA, ROCm, DirectML,
CoreML; the ``onnxruntime-gpu`` and platform wheels have them) and fails with a
one-line error if there is none; ``auto`` tries that and falls back to the CPU
with one logged line.

Threading: one session is used by one thread at a time; ``threads`` sets ONNX
Runtime's intra-op pool (inter-op is 1: these graphs are sequential).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from segcam.errors import ModelError, one_line
from segcam.inference.engine import Engine, TensorInfo, check_model_file
from segcam.native import quiet_native_stderr

log = logging.getLogger(__name__)

GPU_PROVIDERS = (
    "CUDAExecutionProvider",
    "ROCMExecutionProvider",
    "DmlExecutionProvider",
    "CoreMLExecutionProvider",
)

_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(uint8)": np.uint8,
    "tensor(int8)": np.int8,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
    "tensor(bool)": np.bool_,
}


def import_onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise ModelError(
            "ONNX models need onnxruntime, which is not installed: pip install segcam[onnx]"
        ) from None
    return onnxruntime


class OnnxEngine(Engine):
    """One ONNX model in an ONNX Runtime session."""

    kind = "onnx"

    def __init__(self, path: Path | str, threads: int = 1, accelerator: str = "cpu") -> None:
        super().__init__(Path(path))
        check_model_file(self.path, magic=None)
        ort = import_onnxruntime()
        ort.set_default_logger_severity(3)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        available = ort.get_available_providers()
        gpu = [p for p in GPU_PROVIDERS if p in available]
        providers = ["CPUExecutionProvider"]
        if accelerator in ("gpu", "auto"):
            if gpu:
                providers = [gpu[0], "CPUExecutionProvider"]
            elif accelerator == "gpu":
                raise ModelError(
                    "no GPU execution provider in this onnxruntime "
                    f"({', '.join(available)}): install onnxruntime-gpu, or use --accelerator cpu"
                )
            else:
                log.warning(
                    "accelerator auto: onnxruntime has no GPU execution provider; using the CPU"
                )
                self.notes.append("accelerator auto: no GPU execution provider, running on the CPU")
        try:
            with quiet_native_stderr():
                self._session = ort.InferenceSession(
                    str(self.path), sess_options=options, providers=providers
                )
        except Exception as e:  # onnxruntime raises its own exception classes
            raise ModelError(f"cannot load ONNX model {self.path.name}: {_reason(e)}") from None
        used = self._session.get_providers()
        if accelerator == "gpu" and used[0] == "CPUExecutionProvider":
            raise ModelError(f"{providers[0]} did not start for {self.path.name}")
        self.inputs = tuple(_info(t) for t in self._session.get_inputs())
        self.outputs = tuple(_info(t) for t in self._session.get_outputs())
        self._in_names = [t.name for t in self.inputs]
        self.backend = f"onnxruntime {ort.__version__} ({used[0]}), {threads} thread(s)"

    def run(self, feeds: Sequence[np.ndarray]) -> list[np.ndarray]:
        feed = dict(zip(self._in_names, feeds, strict=True))
        try:
            return self._session.run(None, feed)
        except Exception as e:
            raise ModelError(f"ONNX model {self.path.name} failed to run: {_reason(e)}") from None


def _info(t) -> TensorInfo:
    dtype = _DTYPES.get(t.type)
    if dtype is None:
        raise ModelError(f"tensor {t.name!r} has type {t.type}, which segcam cannot feed or read")
    shape = tuple(d if isinstance(d, int) and d >= 0 else -1 for d in (t.shape or []))
    return TensorInfo(t.name, shape, np.dtype(dtype))


def _reason(e: BaseException) -> str:
    text = one_line(e)
    # "[ONNXRuntimeError] : 7 : INVALID_PROTOBUF : Load model from x failed:Protobuf ..."
    return text.split(" : ")[-1].strip() if "ONNXRuntimeError" in text else text
