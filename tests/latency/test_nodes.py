"""The per-node onnxruntime profile: warm-up runs dropped, executed nodes mapped to the model's convs with their
MACs, nodes timed alone, the one-Conv model of a conv's shape (structure and values, not timings)."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from edgeprune.errors import EdgepruneError
from edgeprune.latency import nodes


def _three_convs(path):
    """x (1,3,12,12) -> c1 3->20 -> BN -> Relu -> c2 20->17 -> Relu -> c3 17->8 (3x3, pad 1)."""
    rng = np.random.default_rng(1)
    widths = [(3, 20), (20, 17), (17, 8)]
    inits, graph_nodes, x = [], [], "x"
    for i, (cin, cout) in enumerate(widths, 1):
        inits += [numpy_helper.from_array(rng.standard_normal((cout, cin, 3, 3)).astype(np.float32), f"w{i}"),
                  numpy_helper.from_array(rng.standard_normal(cout).astype(np.float32), f"b{i}")]
        graph_nodes.append(helper.make_node("Conv", [x, f"w{i}", f"b{i}"], [f"c{i}_out"], name=f"c{i}", pads=[1] * 4,
                                            kernel_shape=[3, 3]))
        x = f"c{i}_out"
        if i == 1:
            for n, v in (("s", 1.5), ("o", 0.1), ("m", 0.2), ("v", 2.0)):
                inits.append(numpy_helper.from_array(np.full(cout, v, np.float32), f"bn_{n}"))
            graph_nodes.append(helper.make_node("BatchNormalization", [x, "bn_s", "bn_o", "bn_m", "bn_v"], ["bn_out"],
                                                name="bn"))
            x = "bn_out"
        if i < 3:
            graph_nodes.append(helper.make_node("Relu", [x], [f"r{i}"], name=f"relu{i}"))
            x = f"r{i}"
    graph = helper.make_graph(graph_nodes, "three", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 12, 12])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, None)], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return {f"c{i}": (cin, cout) for i, (cin, cout) in enumerate(widths, 1)}


def test_profile_maps_every_executed_conv_to_the_model_with_its_macs(tmp_path):
    path = tmp_path / "m.onnx"
    widths = _three_convs(path)
    prof = nodes.profile(str(path), runs=4, warmup=2, cpu_runs=2, cpu_min_ms=0.0)
    assert prof.runs == 4 and prof.warmup == 2
    convs = prof.convs()
    assert sorted(c.source for c in convs) == ["c1", "c2", "c3"]
    for c in convs:
        cin, cout = widths[c.source]
        assert (c.conv["in"], c.conv["out"]) == (cin, cout)
        assert c.model_macs == 12 * 12 * cout * cin * 9
        assert c.macs >= c.model_macs  # NCHWc pads channels up to its block; plain NCHW runs them as they are
        assert c.layout in ("nchwc", "nchw") and c.samples == 4
        assert c.cpu_ms is not None and c.cpu_ms > 0
    assert all(n.samples == 4 for n in prof.nodes)
    totals = prof.per_op()
    assert sum(totals.values()) == pytest.approx(prof.kernel_ms())
    cpu = prof.per_op(cpu=True)
    assert sum(cpu.values()) == pytest.approx(sum(n.cpu_ms if n.cpu_ms is not None else n.ms for n in prof.nodes))
    assert any(k.startswith(("Conv", "FusedConv")) for k in totals)


def test_profile_refuses_bad_arguments_before_running(tmp_path):
    with pytest.raises(EdgepruneError, match="runs >= 1"):
        nodes.profile(str(tmp_path / "m.onnx"), runs=0)
    with pytest.raises(EdgepruneError, match="ONNX file not found"):
        nodes.profile(str(tmp_path / "missing.onnx"), runs=2)


def _event(name, ts, dur, op="Conv"):
    return {"cat": "Node", "name": f"{name}_kernel_time", "ts": ts, "dur": dur,
            "args": {"op_name": op, "input_type_shape": [{"float": [1, 4, 8, 8]}, {"float": [16, 4, 3, 3]}],
                     "output_type_shape": [{"float": [1, 16, 8, 8]}]}}


def test_build_drops_the_warm_up_runs_and_takes_the_median():
    trace = []
    for run, (start, dur) in enumerate([(0, 5000), (10000, 100), (20000, 300), (30000, 200)]):
        trace.append({"cat": "Session", "name": "model_run", "ts": start, "dur": dur + 10})
        trace.append(_event("conv", start + 1, dur))
    model = {"convs": {"conv": {"in": 4, "out": 13, "kernel": [3, 3], "group": 1}}, "producer": {}}
    prof = nodes.build("m.onnx", trace, {"conv": {"domain": "com.microsoft.nchwc", "attrs": {}}}, model, runs=3, warmup=1)
    (node,) = prof.nodes
    assert node.samples == 3 and node.ms == pytest.approx(0.2)  # median of 0.1, 0.3, 0.2 ms; the 5 ms first run dropped
    assert node.layout == "nchwc" and node.source == "conv"
    assert node.macs == 16 * 64 * 36 and node.model_macs == 13 * 64 * 36
    with pytest.raises(EdgepruneError, match="holds 4 runs, expected 5"):
        nodes.build("m.onnx", trace, {}, model, runs=4, warmup=1)


def test_source_conv_walks_back_through_fused_ops_to_the_matching_kernel():
    model = {"convs": {"a": {"kernel": [3, 3]}, "down": {"kernel": [1, 1]}},
             "producer": {"a_out": {"name": "a", "op": "Conv", "inputs": ["x"]},
                          "d_out": {"name": "down", "op": "Conv", "inputs": ["x"]},
                          "sum": {"name": "add", "op": "Add", "inputs": ["a_out", "d_out"]},
                          "relu": {"name": "r", "op": "Relu", "inputs": ["sum"]}}}
    assert nodes.source_conv("relu_nchwc", {"attrs": {"kernel_shape": [3, 3]}}, model) == "a"
    assert nodes.source_conv("relu_nchwc", {"attrs": {"kernel_shape": [1, 1]}}, model) == "down"
    assert nodes.source_conv("a", {}, model) == "a"
    assert nodes.source_conv("Gemm_1", {}, model) is None


def test_executed_macs_of_lstm_and_gemm():
    lstm = nodes.executed_macs("LSTM", [{"float": [32, 1, 122]}, {"float": [1, 2048]}], [{"float": [32, 1, 1, 256]}])
    assert lstm == 32 * 1 * 4 * 256 * (122 + 256)
    assert nodes.executed_macs("Gemm", [{"float": [4, 34]}, {"float": [197]}], [{"float": [4, 197]}]) == 4 * 197 * 34
    assert nodes.executed_macs("Relu", [{"float": [4]}], [{"float": [4]}]) == 0


def test_conv_model_is_the_conv_of_that_shape():
    conv = {"in": 5, "out": 6, "kernel": [3, 3], "group": 1, "strides": [2, 1], "pads": [1, 0, 1, 0],
            "dilations": [1, 1], "bias": True}
    blob = nodes.conv_model(conv, 2, [9, 7], activation="Relu")
    model = onnx.load_from_string(blob)
    w = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    sess = ort.InferenceSession(blob, providers=["CPUExecutionProvider"])
    outs = []
    for seed in (0, 1):
        x = np.random.default_rng(seed).standard_normal((2, 5, 9, 7)).astype(np.float32)
        (y,) = sess.run(None, {"x": x})
        ref = torch.relu(torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w["W"].copy()),
                                                    torch.from_numpy(w["B"].copy()), stride=(2, 1), padding=(1, 0)))
        np.testing.assert_allclose(y, ref.numpy(), rtol=1e-4, atol=1e-4)
        outs.append(y)
    assert y.shape == (2, 6, 5, 5) and not np.allclose(outs[0], outs[1])
