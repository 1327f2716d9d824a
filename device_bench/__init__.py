"""device_bench: latency and memory of ONNX/TFLite models on the machine it runs on (numpy + one runtime only).

Relative imports only, so a plain copy of this folder runs on a board as `python -m device_bench`.
"""

from .errors import BenchError, ModelLoadError, NoRuntimeError

__all__ = ["BenchError", "ModelLoadError", "NoRuntimeError", "bench", "Budget"]


def __getattr__(name):
    if name == "bench":
        from .bench import bench

        return bench
    if name == "Budget":
        from .budget import Budget

        return Budget
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
