"""Synthesised model inputs: random arrays built from the shapes and dtypes a model declares."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import BenchError

# ONNX Runtime's type strings -> numpy dtypes (the ones a wake-word or vision model can take).
ORT_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(int16)": np.int16,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
    "tensor(bool)": np.bool_,
}


@dataclass(frozen=True)
class InputSpec:
    """One model input: name, concrete shape (dynamic axes resolved) and numpy dtype."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    dynamic_axes: tuple[int, ...] = ()

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "shape": list(self.shape),
            "dtype": np.dtype(self.dtype).name,
            "dynamic_axes": list(self.dynamic_axes),
        }


def parse_shape_overrides(items: list[str] | None) -> dict[str, tuple[int, ...]]:
    """Parse `NAME=D0,D1,...` (or `NAME=D0xD1x...`) items into {name: shape}."""
    shapes: dict[str, tuple[int, ...]] = {}
    for item in items or ():
        name, sep, dims = item.partition("=")
        dims = dims.replace("x", ",")
        try:
            shape = tuple(int(d) for d in dims.split(",") if d.strip())
        except ValueError:
            shape = ()
        if not sep or not name or not shape or min(shape) < 1:
            raise BenchError(f"bad --shape {item!r}: expected NAME=D0,D1,... with positive integers")
        shapes[name] = shape
    return shapes


def exported_shapes(metadata: dict) -> dict[str, tuple[int, ...]]:
    """Example input shapes that edgeprune export records in the model metadata (`inputs`: JSON {name: shape});
    used for dynamic axes when no --shape is given. {} when absent or malformed."""
    import json

    try:
        shapes = json.loads(metadata.get("inputs", ""))
        return {str(k): tuple(int(d) for d in v) for k, v in shapes.items()
                if isinstance(v, list) and v and all(isinstance(d, int) and d >= 1 for d in v)}
    except (ValueError, TypeError, AttributeError):
        return {}


def resolve_shape(name: str, declared, overrides: dict[str, tuple[int, ...]],
                  exported: dict[str, tuple[int, ...]] | None = None) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Concrete shape for a declared one: `overrides[name]` if given (fixed axes must match); else the exported
    example shape when it fits the declared one; else dynamic axes (None, strings, values < 1) set to 1."""
    dynamic = tuple(i for i, d in enumerate(declared) if not isinstance(d, (int, np.integer)) or d < 1)

    def conflict(shape) -> str | None:
        if len(shape) != len(declared):
            return f"{len(shape)} axes given, the model declares {len(declared)} ({list(declared)})"
        for i, (given, want) in enumerate(zip(shape, declared)):
            if i not in dynamic and given != int(want):
                return f"axis {i} is fixed to {int(want)} in the model, got {given}"
        return None

    if name in overrides:
        problem = conflict(overrides[name])
        if problem:
            raise BenchError(f"--shape {name}: {problem}")
        return tuple(overrides[name]), dynamic
    if exported and name in exported and conflict(exported[name]) is None:
        return tuple(exported[name]), dynamic
    return tuple(1 if i in dynamic else int(d) for i, d in enumerate(declared)), dynamic


def synthesise(spec: InputSpec, rng: np.random.Generator) -> np.ndarray:
    """A random array for one input: standard normal floats, small integers, or any value of an int8/uint8 range."""
    dtype = np.dtype(spec.dtype)
    if dtype.kind == "f":
        return rng.standard_normal(spec.shape).astype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, spec.shape).astype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        low, high = (int(info.min), int(info.max) + 1) if dtype.itemsize == 1 else (0, 10)
        return rng.integers(low, high, spec.shape).astype(dtype)
    raise BenchError(f"input {spec.name!r} has dtype {dtype.name}, which device_bench cannot synthesise")
