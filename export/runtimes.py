"""Run an exported file in its runtime: onnxruntime for .onnx, ai-edge-litert or tflite-runtime for .tflite.

A runner takes {input name: float32 array with a batch axis} and returns the first output as float32,
quantising int8 inputs and de-quantising int8 outputs itself (full-integer TFLite files have int8 I/O).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np

from edgeprune.errors import EdgepruneError
from edgeprune.export.tflite_extra import tflite_extra_error

# The TFLite interpreters with the same API, in order of preference (PITFALLS.md "TFLite").
_TFLITE_MODULES = (("ai_edge_litert.interpreter", "ai-edge-litert"), ("tflite_runtime.interpreter", "tflite-runtime"))


class OrtRunner:
    """An onnxruntime session (CPU, one thread) that takes the whole batch at once."""

    runtime = "onnxruntime"

    def __init__(self, path: Path):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise EdgepruneError(f"onnxruntime cannot load {path}: {str(exc).splitlines()[0]}") from None
        self.input_names = [i.name for i in self.session.get_inputs()]
        # A file exported with a fixed batch axis takes one sample at a time.
        self.batch_dynamic = all(not isinstance(i.shape[0], int) for i in self.session.get_inputs())

    def __call__(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        feeds = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in feeds.items()}
        if self.batch_dynamic:
            return np.asarray(self.session.run(None, feeds)[0], dtype=np.float32)
        batch = len(next(iter(feeds.values())))
        outs = [self.session.run(None, {k: v[i : i + 1] for k, v in feeds.items()})[0] for i in range(batch)]
        return np.concatenate(outs).astype(np.float32)


def tflite_interpreter_class():
    """The Interpreter class of ai-edge-litert, else of tflite-runtime; a clear error naming the extra."""
    errors = []
    for module_name, _package in _TFLITE_MODULES:
        try:
            return importlib.import_module(module_name).Interpreter
        except ImportError as exc:
            errors.append(exc)
    raise tflite_extra_error(errors[0], "running a .tflite file")


class TfliteRunner:
    """A TFLite interpreter; the files have a fixed batch of 1, so a batch is run one sample at a time."""

    runtime = "tflite"

    def __init__(self, path: Path):
        from edgeprune.export.quiet import quiet

        interpreter_class = tflite_interpreter_class()
        try:
            with quiet():  # "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." on fd 2
                self.interpreter = interpreter_class(model_path=str(path), num_threads=1)
                self.interpreter.allocate_tensors()
        except Exception as exc:
            raise EdgepruneError(f"the TFLite interpreter cannot load {path}: {str(exc).splitlines()[0]}") from None
        self.inputs = self.interpreter.get_input_details()
        self.output = self.interpreter.get_output_details()[0]
        self.input_names = [_tflite_input_name(d["name"]) for d in self.inputs]

    def __call__(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        batch = len(next(iter(feeds.values())))
        results = []
        for i in range(batch):
            for detail, name in zip(self.inputs, self.input_names):
                value = feeds[name][i : i + 1]
                self.interpreter.set_tensor(detail["index"], _quantise(value, detail))
            self.interpreter.invoke()
            results.append(_dequantise(self.interpreter.get_tensor(self.output["index"]), self.output))
        return np.concatenate([r.reshape(1, *r.shape[1:]) if r.ndim else r.reshape(1) for r in results])


def _tflite_input_name(tensor_name: str) -> str:
    # litert-torch names signature inputs "serving_default_<kwarg name>" (and may add ":0").
    name = tensor_name.split(":")[0]
    return name[len("serving_default_"):] if name.startswith("serving_default_") else name


def _quantise(value: np.ndarray, detail: dict) -> np.ndarray:
    dtype = np.dtype(detail["dtype"])
    if dtype == np.float32:
        return np.ascontiguousarray(value, dtype=np.float32)
    scale, zero = detail["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(value / scale) + zero, info.min, info.max).astype(dtype)


def _dequantise(value: np.ndarray, detail: dict) -> np.ndarray:
    if np.dtype(detail["dtype"]) == np.float32:
        return value.astype(np.float32)
    scale, zero = detail["quantization"]
    return ((value.astype(np.float32) - zero) * scale).astype(np.float32)


def open_runner(path):
    """The runner for an .onnx or .tflite file (device_bench.stepped.SteppedRunner for a stepped .tflite)."""
    path = Path(path)
    if path.suffix == ".onnx":
        return OrtRunner(path)
    if path.suffix == ".tflite":
        runner = TfliteRunner(path)
        from edgeprune.device_bench.stepped import SteppedRunner, is_stepped

        # a stepped file (export --lstm step) runs pre, every time step, post; its first signature alone is `pre`
        return SteppedRunner(runner.interpreter) if is_stepped(runner.interpreter.get_signature_list()) else runner
    raise EdgepruneError(f"{path}: cannot run a {path.suffix or 'suffix-less'} file (expected .onnx or .tflite)")
