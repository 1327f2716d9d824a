"""export/onnx_lean.py: exported files carry no shape annotations and short initializer names, run the same, and
an int8 export of a small model shrinks by what that removes."""

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from edgeprune.export import export_model
from edgeprune.export.onnx_lean import lean


def _run(proto, x):
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


def _two_layers(with_default_input: bool = False):
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.standard_normal((8, 4)).astype(np.float32), "a_long_weight_name::MatMul_1")
    w2 = numpy_helper.from_array(rng.standard_normal((3, 8)).astype(np.float32), "another_long_name::MatMul_2")
    bias = numpy_helper.from_array(np.ones(3, np.float32), "bias_default")
    nodes = [helper.make_node("Gemm", ["x", w1.name], ["hidden_tensor"], transB=1),
             helper.make_node("Relu", ["hidden_tensor"], ["hidden_relu"]),
             helper.make_node("Gemm", ["hidden_relu", w2.name, bias.name], ["y"], transB=1)]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4])]
    if with_default_input:  # an initializer that is also a graph input: a default the caller may override
        inputs.append(helper.make_tensor_value_info(bias.name, TensorProto.FLOAT, [3]))
    graph = helper.make_graph(nodes, "two", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 3])],
                              [w1, w2, bias])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return onnx.shape_inference.infer_shapes(model)


def test_lean_renames_initializers_drops_shapes_and_runs_the_same():
    model = _two_layers()
    assert len(model.graph.value_info) == 2  # the shapes of hidden_tensor and hidden_relu
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    before = _run(model, x)
    report = lean(model)
    assert report == {"value_info_removed": 2, "initializers_renamed": 3}
    assert len(model.graph.value_info) == 0
    names = [i.name for i in model.graph.initializer]
    assert names == ["i0", "i1", "i2"]
    assert [n.output[0] for n in model.graph.node] == ["hidden_tensor", "hidden_relu", "y"]  # activations keep theirs
    onnx.checker.check_model(model, full_check=True)
    np.testing.assert_array_equal(_run(model, x), before)
    assert _run(model, x).std() > 0.1  # the comparison is between outputs that vary


def test_an_initializer_that_is_a_graph_input_keeps_its_name():
    model = _two_layers(with_default_input=True)
    lean(model)
    assert "bias_default" in [i.name for i in model.graph.initializer]
    assert "bias_default" in [i for n in model.graph.node for i in n.input]


def test_a_graph_with_subgraphs_only_loses_its_shapes():
    model = _two_layers()
    then = helper.make_graph([helper.make_node("Identity", ["y"], ["t"])], "then", [],
                             [helper.make_tensor_value_info("t", TensorProto.FLOAT, None)])
    other = helper.make_graph([helper.make_node("Neg", ["y"], ["e"])], "else", [],
                              [helper.make_tensor_value_info("e", TensorProto.FLOAT, None)])
    cond = numpy_helper.from_array(np.array(True), "cond_value")
    model.graph.initializer.append(cond)
    model.graph.node.append(helper.make_node("If", ["cond_value"], ["z"], then_branch=then, else_branch=other))
    assert lean(model)["initializers_renamed"] == 0
    assert "a_long_weight_name::MatMul_1" in [i.name for i in model.graph.initializer]


def test_float_and_int8_exports_carry_no_shapes_and_short_names(tmp_path, standin, fbank):
    net = standin.build()
    for name, int8 in (("f.onnx", False), ("q.onnx", True)):
        export_model(net, "onnx", tmp_path / name, int8=int8, calib="random" if int8 else None, example_inputs=fbank,
                     input_names=("fbank",))
        proto = onnx.load(str(tmp_path / name))
        assert len(proto.graph.value_info) == 0, name
        assert [i.name for i in proto.graph.input] == ["fbank"]
        assert proto.graph.initializer and all(len(i.name) <= 4 for i in proto.graph.initializer), name
