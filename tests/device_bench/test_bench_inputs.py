"""Inputs synthesised from declared shapes and dtypes; --shape overrides."""

import numpy as np
import pytest

from edgeprune.device_bench.errors import BenchError
from edgeprune.device_bench.inputs import (InputSpec, exported_shapes, parse_shape_overrides, resolve_shape,
                                          synthesise)


def test_parse_shape_overrides():
    assert parse_shape_overrides(["fbank=1,128,40", "lips=1x32x88x88"]) == {
        "fbank": (1, 128, 40), "lips": (1, 32, 88, 88)}
    assert parse_shape_overrides(None) == {}
    for bad in ("fbank", "fbank=", "=1,2", "fbank=1,a", "fbank=0,3"):
        with pytest.raises(BenchError, match="bad --shape"):
            parse_shape_overrides([bad])


def test_resolve_shape_dynamic_axes_and_overrides():
    assert resolve_shape("x", ["batch", 40, None, -1], {}) == ((1, 40, 1, 1), (0, 2, 3))
    assert resolve_shape("x", ["batch", 40, "T"], {"x": (2, 40, 128)}) == ((2, 40, 128), (0, 2))
    with pytest.raises(BenchError, match="axis 1 is fixed to 40"):
        resolve_shape("x", ["batch", 40, "T"], {"x": (2, 41, 128)})
    with pytest.raises(BenchError, match="2 axes given"):
        resolve_shape("x", ["batch", 40, "T"], {"x": (2, 40)})


def test_synthesise_dtypes_and_ranges():
    rng = np.random.default_rng(0)
    f = synthesise(InputSpec("f", (2, 3), np.dtype(np.float32)), rng)
    assert f.dtype == np.float32 and f.shape == (2, 3) and np.isfinite(f).all()
    q = synthesise(InputSpec("q", (4096,), np.dtype(np.int8)), rng)
    assert q.dtype == np.int8 and q.min() < -100 and q.max() > 100
    i = synthesise(InputSpec("i", (1000,), np.dtype(np.int64)), rng)
    assert i.dtype == np.int64 and 0 <= i.min() and i.max() < 10
    b = synthesise(InputSpec("b", (100,), np.dtype(np.bool_)), rng)
    assert b.dtype == np.bool_ and b.any() and not b.all()
    with pytest.raises(BenchError, match="cannot synthesise"):
        synthesise(InputSpec("s", (1,), np.dtype("U3")), rng)


def test_exported_shapes_fill_dynamic_axes_unless_overridden():
    exported = exported_shapes({"inputs": '{"fbank": [1, 128, 40], "lips": [1, 32, 0, 96]}'})
    assert exported == {"fbank": (1, 128, 40)}  # a shape with a 0 is ignored
    assert exported_shapes({"inputs": "not json"}) == {} and exported_shapes({}) == {}
    assert resolve_shape("fbank", ["batch", "T", 40], {}, exported) == ((1, 128, 40), (0, 1))
    assert resolve_shape("fbank", ["batch", "T", 40], {"fbank": (2, 64, 40)}, exported) == ((2, 64, 40), (0, 1))
    # An exported shape that contradicts a fixed axis is not used (the dynamic axes fall back to 1).
    assert resolve_shape("fbank", ["batch", "T", 80], {}, exported) == ((1, 1, 80), (0, 1))
