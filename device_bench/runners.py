"""One interface over three runtimes: onnxruntime ("ort"), ai-edge-litert ("litert") and tflite-runtime."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
import os

import numpy as np

from .errors import BenchError, ModelLoadError, NoRuntimeError
from .inputs import ORT_DTYPES, InputSpec, exported_shapes, resolve_shape, synthesise

RUNTIMES = ("ort", "litert", "tflite-runtime")
# runtime -> (module to import, pip package that provides it)
_MODULES = {
    "ort": ("onnxruntime", "onnxruntime"),
    "litert": ("ai_edge_litert.interpreter", "ai-edge-litert"),
    "tflite-runtime": ("tflite_runtime.interpreter", "tflite-runtime"),
}
_PACKAGES = {"ort": "onnxruntime", "litert": "ai_edge_litert", "tflite-runtime": "tflite_runtime"}
# Beside edgeprune (not on a bare board) the TFLite runtime comes with edgeprune's optional extra.
_TFLITE_HINT = 'pip install ai-edge-litert; beside edgeprune: pip install "edgeprune[tflite]"'


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def import_runtime(runtime: str):
    """Import a runtime's module, or raise NoRuntimeError naming the package to install."""
    module, package = _MODULES[runtime]
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        hint = _TFLITE_HINT if runtime == "litert" else f"pip install {package}"
        raise NoRuntimeError(f"runtime {runtime!r} is not available in this Python: {_first_line(exc)} "
                             f"({hint})") from None


def runtime_version(runtime: str) -> str:
    """The installed version of a runtime's package (after import_runtime succeeded)."""
    package = importlib.import_module(_PACKAGES[runtime])
    version = getattr(package, "__version__", None)
    if version is None:
        from importlib.metadata import version as dist_version

        version = dist_version(_MODULES[runtime][1])
    return str(version)


def choose_runtime(path: str, requested: str) -> str:
    """The runtime for a model file: the requested one if it fits the extension, else the default for it."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".onnx", ".tflite"):
        raise BenchError(f"{path}: unknown model type {ext or '(no extension)'!r}; expected .onnx or .tflite")
    if requested == "auto":
        if ext == ".onnx":
            return "ort"
        try:
            import_runtime("litert")
            return "litert"
        except NoRuntimeError:
            pass
        try:
            import_runtime("tflite-runtime")
        except NoRuntimeError:
            raise NoRuntimeError(f"{path}: no TFLite runtime in this Python ({_TFLITE_HINT}; "
                                 "or tflite-runtime with numpy<2)") from None
        return "tflite-runtime"
    if requested not in RUNTIMES:
        raise BenchError(f"unknown runtime {requested!r}; choose one of auto, {', '.join(RUNTIMES)}")
    if (requested == "ort") != (ext == ".onnx"):
        raise BenchError(f"{path}: runtime {requested!r} cannot run a {ext} model")
    return requested


class Runner(ABC):
    """A loaded model with synthesised inputs; `run()` does one inference and returns its outputs."""

    runtime: str
    version: str

    def __init__(self, path: str, inputs: list[InputSpec], outputs: list[dict], metadata: dict):
        self.path = path
        self.inputs = inputs
        self.outputs = outputs
        self.metadata = metadata

    @abstractmethod
    def run(self):
        """One inference on the runner's prepared inputs."""


class OrtRunner(Runner):
    """onnxruntime InferenceSession on the CPU provider, sequential execution, `threads` intra-op threads."""

    runtime = "ort"

    def __init__(self, path: str, threads: int, overrides: dict, seed: int):
        ort = import_runtime("ort")
        self.version = runtime_version("ort")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 4  # errors reach the user as one BenchError line
        try:
            self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ModelLoadError(f"cannot load {path} with onnxruntime {self.version}: {_first_line(exc)}") from None
        metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        exported = exported_shapes(metadata)
        specs = []
        for arg in self.session.get_inputs():
            if arg.type not in ORT_DTYPES:
                raise ModelLoadError(f"{path}: input {arg.name!r} has type {arg.type}, which device_bench cannot feed")
            shape, dynamic = resolve_shape(arg.name, list(arg.shape), overrides, exported)
            specs.append(InputSpec(arg.name, shape, np.dtype(ORT_DTYPES[arg.type]), dynamic))
        outputs = [{"name": o.name, "shape": [d if isinstance(d, int) else str(d) for d in o.shape], "type": o.type}
                   for o in self.session.get_outputs()]
        super().__init__(path, specs, outputs, metadata)
        rng = np.random.default_rng(seed)
        self.feeds = {spec.name: synthesise(spec, rng) for spec in specs}

    def run(self):
        return self.session.run(None, self.feeds)


class TfliteRunner(Runner):
    """A TFLite Interpreter (ai-edge-litert or tflite-runtime: the same API) with `threads` threads."""

    def __init__(self, runtime: str, path: str, threads: int, overrides: dict, seed: int):
        self.runtime = runtime
        module = import_runtime(runtime)
        self.version = runtime_version(runtime)
        try:
            interpreter = module.Interpreter(model_path=path, num_threads=threads)
        except Exception as exc:
            if runtime == "tflite-runtime" and int(np.__version__.split(".")[0]) >= 2 and "_ARRAY_API" in str(exc):
                raise NoRuntimeError(f"tflite-runtime {self.version} needs numpy<2 (this Python has numpy "
                                     f"{np.__version__}); use --runtime litert or install 'numpy<2'") from None
            raise ModelLoadError(f"cannot load {path} with {runtime} {self.version}: {_first_line(exc)}") from None
        specs = []
        try:
            for detail in interpreter.get_input_details():
                declared = list(detail.get("shape_signature", detail["shape"]))
                shape, dynamic = resolve_shape(detail["name"], declared, overrides)
                if dynamic or tuple(shape) != tuple(int(d) for d in detail["shape"]):
                    interpreter.resize_tensor_input(detail["index"], list(shape))
                specs.append(InputSpec(detail["name"], shape, np.dtype(detail["dtype"]), dynamic))
            interpreter.allocate_tensors()
        except BenchError:
            raise
        except Exception as exc:
            raise ModelLoadError(f"cannot prepare {path} with {runtime} {self.version}: {_first_line(exc)}") from None
        outputs = [{"name": d["name"], "shape": [int(x) for x in d["shape"]], "type": np.dtype(d["dtype"]).name}
                   for d in interpreter.get_output_details()]
        super().__init__(path, specs, outputs, {})
        self.interpreter = interpreter
        rng = np.random.default_rng(seed)
        details = interpreter.get_input_details()
        self.feeds = [(d["index"], synthesise(spec, rng)) for d, spec in zip(details, specs)]
        self.output_indices = [d["index"] for d in interpreter.get_output_details()]

    def run(self):
        for index, value in self.feeds:
            self.interpreter.set_tensor(index, value)
        self.interpreter.invoke()
        return [self.interpreter.get_tensor(i) for i in self.output_indices]


def open_runner(path: str, runtime: str, threads: int, overrides: dict | None = None, seed: int = 0) -> Runner:
    """Load `path` with `runtime` (one of RUNTIMES, already chosen) and prepare its inputs."""
    if not os.path.isfile(path):
        raise BenchError(f"model file not found: {path}")
    if runtime == "ort":
        return OrtRunner(path, threads, overrides or {}, seed)
    from .stepped import stepped_bench_runner  # a stepped file (export --lstm step) runs pre, every step, post

    return stepped_bench_runner(TfliteRunner(runtime, path, threads, overrides or {}, seed))
