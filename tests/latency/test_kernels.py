"""The kernel diagnostics: single-layer exports, per-op profile and optimisation levels (structure, not timings)."""

import onnx
import pytest

from edgeprune.latency import kernels


@pytest.mark.parametrize("kind, op, macs", [("conv", "Conv", 16 * 16 * 12 * 12 * 25), ("matmul", "MatMul", 512 * 12 * 12)])
def test_single_layer_export(kind, op, macs, tmp_path):
    module, x, m = kernels.layer(kind, 12)
    assert m == macs and module(x).shape[1 if kind == "conv" else 2] == 12
    path = kernels.export_layer(module, x, tmp_path / "l.onnx")
    assert op in {n.op_type for n in onnx.load(str(path)).graph.node}


def test_sweep_reports_throughput_from_the_measured_latency(tmp_path):
    seen = []

    def measure(paths):
        seen.extend(paths)
        return [{"min": 0.5, "p50": 0.6} for _ in paths]

    rows = kernels.sweep("conv", [8, 9], measure)
    assert len(seen) == 2 and [r["width"] for r in rows] == [8, 9]
    assert rows[1]["gmacs"] == pytest.approx(16 * 16 * 81 * 25 / 0.5e6)


def test_ops_and_levels_on_a_conv(tmp_path):
    module, x, _ = kernels.layer("conv", 16)
    path = str(kernels.export_layer(module, x, tmp_path / "c.onnx"))
    per_op = kernels.ops(path, runs=3)
    assert any("Conv" in k for k in per_op) and all(v >= 0 for v in per_op.values())
    by_level = kernels.levels({"c": path}, runs=2)
    assert set(by_level["c"]) == set(kernels.LEVELS) and all(v > 0 for v in by_level["c"].values())
