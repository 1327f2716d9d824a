"""A one-input-channel Conv3d of a fixed-shape ONNX graph rewritten as a Conv2d over the kt stacked frames.

onnxruntime runs a Conv3d through 3-D im2col + sgemm: for misp-video's stem (1 -> C, 5x7x7 on 32 x 96 x 96) the
im2col buffer is 245 x 73,728 floats whatever C is, so the pruned stem costs nearly what the dense one does
(measured alone, one thread: C = 64 16.2 ms, C = 32 11.2 ms). With temporal stride 1 the same conv is a Conv2d
of kt input channels on each output frame's kt padded neighbours, which runs in ORT's NCHWc kernel (fewer than 16
input channels: no input reorder): 12.5 and 6.9 ms.
"""

from __future__ import annotations

import numpy as np

from edgeprune.errors import EdgepruneError


def rewritable(node, weights: dict, shapes: dict) -> str | None:
    """Why Conv `node` cannot be rewritten (None when it can): 5-D weight, 1 input channel, group 1, temporal
    stride and dilation 1, static input shape."""
    from onnx import helper

    if node.op_type != "Conv" or len(node.input) < 2 or node.input[1] not in weights:
        return "not a Conv with constant weights"
    w = weights[node.input[1]]
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if w.ndim != 5 or w.shape[1] != 1:
        return "not a Conv3d with one input channel"
    if attrs.get("group", 1) != 1 or list(attrs.get("dilations", [1, 1, 1])) != [1, 1, 1]:
        return "grouped or dilated"
    if list(attrs.get("strides", [1, 1, 1]))[0] != 1 or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        return "temporal stride or auto_pad"
    shape = shapes.get(node.input[0])
    if not shape or len(shape) != 5 or not all(isinstance(d, int) and d > 0 for d in shape):
        return "input shape not static"
    return None


def rewrite(model):
    """A copy of `model` (onnx.ModelProto with static shapes) with every rewritable Conv3d replaced by
    Reshape -> Pad -> kt Slices -> Concat -> Reshape -> Conv2d -> Reshape -> Transpose; returns (model, count)."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.shape_inference.infer_shapes(model)
    weights = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    shapes = {v.name: [d.dim_value if d.HasField("dim_value") else None for d in v.type.tensor_type.shape.dim]
              for v in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output)}
    new_nodes, inits, count = [], [], 0
    for node in model.graph.node:
        if rewritable(node, weights, shapes) is not None:
            new_nodes.append(node)
            continue
        count += 1
        p = f"{node.name or node.output[0]}_as2d"
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        w = weights[node.input[1]]
        c, _, kt, kh, kw = w.shape
        b, _, t, h, wd = shapes[node.input[0]]
        pads = list(attrs.get("pads", [0] * 6))
        strides = list(attrs.get("strides", [1, 1, 1]))
        t_out = t + pads[0] + pads[3] - kt + 1
        out_shape = shapes.get(node.output[0])
        if not out_shape or None in out_shape:
            raise EdgepruneError(f"{node.name}: output shape not static")

        def const(name, array):
            inits.append(numpy_helper.from_array(np.asarray(array), f"{p}_{name}"))
            return f"{p}_{name}"

        seq = [helper.make_node("Reshape", [node.input[0], const("s0", np.array([b, t, h, wd], np.int64))], [f"{p}_x"]),
               helper.make_node("Pad", [f"{p}_x", const("pads", np.array([0, pads[0], 0, 0, 0, pads[3], 0, 0], np.int64))],
                                [f"{p}_xp"])]
        frames = []
        for i in range(kt):
            seq.append(helper.make_node("Slice", [f"{p}_xp", const(f"st{i}", np.array([i], np.int64)),
                                                  const(f"en{i}", np.array([i + t_out], np.int64)),
                                                  const("ax1", np.array([1], np.int64))], [f"{p}_f{i}"]))
            seq.append(helper.make_node("Unsqueeze", [f"{p}_f{i}", const("ax2", np.array([2], np.int64))], [f"{p}_u{i}"]))
            frames.append(f"{p}_u{i}")
        conv_in = [f"{p}_stack2d", const("w", np.ascontiguousarray(w[:, 0]))]
        if len(node.input) > 2 and node.input[2]:
            conv_in.append(node.input[2])
        seq += [helper.make_node("Concat", frames, [f"{p}_stack"], axis=2),
                helper.make_node("Reshape", [f"{p}_stack", const("s1", np.array([b * t_out, kt, h, wd], np.int64))],
                                 [f"{p}_stack2d"]),
                helper.make_node("Conv", conv_in, [f"{p}_y2d"], name=p, kernel_shape=[kh, kw], strides=strides[1:],
                                 pads=[pads[1], pads[2], pads[4], pads[5]]),
                helper.make_node("Reshape", [f"{p}_y2d", const("s2", np.array([b, t_out, c, *out_shape[3:]], np.int64))],
                                 [f"{p}_y5"]),
                helper.make_node("Transpose", [f"{p}_y5"], [node.output[0]], perm=[0, 2, 1, 3, 4])]
        new_nodes += seq
    out = onnx.ModelProto()
    out.CopyFrom(model)
    del out.graph.node[:]
    out.graph.node.extend(new_nodes)
    seen = {i.name for i in out.graph.initializer}
    out.graph.initializer.extend(i for i in inits if i.name not in seen and not seen.add(i.name))
    onnx.checker.check_model(out)
    return out, count
