"""A thin, validated wrapper around LiteRT's ``Interpreter``.

Loading checks everything that can be checked before the first frame: the file
exists and is a TFLite flatbuffer, LiteRT accepts it, tensors can be allocated
(this is where unresolved custom ops fail), the input and output shapes fit a
person-segmentation model, and one warm-up inference runs. A broken model
therefore fails at load time with a :class:`ModelError`, never as garbage masks.

Threading: an :class:`Engine` is used by one thread at a time (the inference
worker). LiteRT's own thread pool size is ``threads``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from segcam.errors import ModelError, one_line
from segcam.native import quiet_native_stderr

log = logging.getLogger(__name__)

_TFLITE_MAGIC = b"TFL3"


class Engine:
    """One LiteRT model with one float32 image input and one output.

    Attributes:
        input_shape: the input tensor's shape, ``(1, H, W, C)``.
        output_shape: the output tensor's shape.
    """

    def __init__(self, path: Path | str, threads: int = 1) -> None:
        path = Path(path)
        self.path = path
        _check_file(path)
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:  # pragma: no cover - depends on the install
            raise ModelError("LiteRT is not installed: pip install ai-edge-litert") from None
        try:
            with quiet_native_stderr():
                self._interp = Interpreter(model_path=str(path), num_threads=threads)
                self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            raise ModelError(f"cannot load model {path.name}: {one_line(e)}") from None
        inputs = self._interp.get_input_details()
        outputs = self._interp.get_output_details()
        if len(inputs) != 1:
            raise ModelError(
                f"model {path.name} has {len(inputs)} inputs; "
                "a segmentation model needs one image input"
            )
        if not outputs:
            raise ModelError(f"model {path.name} has no outputs")
        inp, out = inputs[0], outputs[0]
        shape = tuple(int(s) for s in inp["shape"])
        if len(shape) != 4 or shape[0] != 1 or shape[3] != 3:
            raise ModelError(
                f"model {path.name} input shape {list(shape)} is not an NHWC RGB image [1, H, W, 3]"
            )
        if inp["dtype"] != np.float32:
            raise ModelError(
                f"model {path.name} takes {np.dtype(inp['dtype']).name} input; "
                "only float32 models are supported for --model PATH"
            )
        if out["dtype"] != np.float32:
            raise ModelError(
                f"model {path.name} gives {np.dtype(out['dtype']).name} output, not float32"
            )
        self.input_shape: tuple[int, ...] = shape
        self.output_shape: tuple[int, ...] = tuple(int(s) for s in out["shape"])
        h, w = shape[1], shape[2]
        if int(np.prod(self.output_shape)) != h * w:
            raise ModelError(
                f"model {path.name} output shape {list(self.output_shape)} is not one value per "
                f"input pixel ({h}x{w}); it is not a one-channel person-probability model"
            )
        self._in_index = inp["index"]
        self._out_index = out["index"]
        try:
            with quiet_native_stderr():
                self.run(np.zeros(shape, np.float32))
        except RuntimeError as e:
            raise ModelError(
                f"model {path.name} failed its first inference: {one_line(e)}"
            ) from None
        log.info(
            "loaded %s: input %s, output %s, %d thread(s)",
            path.name,
            list(shape),
            list(self.output_shape),
            threads,
        )

    @property
    def input_size(self) -> tuple[int, int]:
        """``(width, height)`` of the model input."""
        return self.input_shape[2], self.input_shape[1]

    def input_view(self) -> np.ndarray:
        """A writable view of the input tensor, ``(H, W, 3)`` float32.

        Write the preprocessed image into it, drop the reference, then call
        :meth:`invoke`: LiteRT refuses to run while a view of its buffers is alive.
        """
        return self._interp.tensor(self._in_index)()[0]

    def invoke(self) -> np.ndarray:
        """Run the model on the input tensor; return a copy of the output, ``(H, W)`` float32."""
        self._interp.invoke()
        h, w = self.input_shape[1], self.input_shape[2]
        return self._interp.get_tensor(self._out_index).reshape(h, w)

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Set the whole input tensor from ``batch`` and invoke (used for warm-up and tests)."""
        self._interp.set_tensor(self._in_index, batch)
        return self.invoke()


def _check_file(path: Path) -> None:
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
    if head[4:8] != _TFLITE_MAGIC:
        raise ModelError(f"{path} is not a TFLite model (no TFL3 header)")
