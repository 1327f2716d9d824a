"""The optional `tflite` extra (litert-torch, ai-edge-litert, ai-edge-quantizer): one line when it is missing."""

# The core install slims, exports ONNX (float and int8) and benchmarks with onnxruntime. TFLite is an extra
# because litert-torch pulls in jax, transformers and a large converter (about 1 GB more installed).

from __future__ import annotations

import importlib.util
from pathlib import Path

from edgeprune.errors import EdgepruneError

# Top-level modules the extra provides (tflite_runtime: the older interpreter some boards carry).
TFLITE_MODULES = frozenset({"litert_torch", "ai_edge_litert", "ai_edge_quantizer", "tflite_runtime"})


def install_command() -> str:
    """How to add the extra: the clone's editable form when edgeprune runs from a source checkout."""
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file() and (checkout / "export" / Path(__file__).name).is_file():
        return f'pip install -c constraints.txt -e ".[tflite]" (in {checkout})'
    return 'pip install "edgeprune[tflite]"'


def tflite_extra_error(exc: ImportError, needed_by: str = "--format tflite") -> EdgepruneError:
    """The error for a failed import of the extra: missing -> how to install it; broken -> what failed."""
    missing = (getattr(exc, "name", None) or "").split(".")[0]
    if isinstance(exc, ModuleNotFoundError) and missing in TFLITE_MODULES:
        return EdgepruneError(f"{needed_by} needs the tflite extra: {install_command()}")
    first = (str(exc).strip() or type(exc).__name__).splitlines()[0][:300]
    return EdgepruneError(f"{needed_by}: the tflite extra is installed but does not import ({first}); "
                          f"reinstall it: {install_command()}")


def require_tflite(int8: bool = False) -> None:
    """Raise the one-line error before any work when the extra's converter (and quantiser) are not installed.

    find_spec locates the packages without importing them (importing litert-torch takes seconds).
    """
    needed = ("litert_torch", "ai_edge_quantizer") if int8 else ("litert_torch",)
    for module in needed:
        if not _installed(module):
            raise tflite_extra_error(ModuleNotFoundError(f"No module named {module!r}", name=module),
                                     "--format tflite --int8" if int8 else "--format tflite")


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: the module is blocked (None) in sys.modules
        return False
