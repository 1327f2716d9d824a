"""Per-node onnxruntime profile of one ONNX file: each executed node's kernel time (median over the measured runs,
warm-up runs excluded), its layout (NCHWc or plain), shapes, executed and model MACs, and totals per op type."""

from __future__ import annotations

import json
import math
import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from edgeprune.errors import EdgepruneError

# Ops that ORT fuses into a preceding Conv (folded BN, activations, the residual Add/Sum of NCHWc convs): walking
# back from a fused node's output through these reaches the model's Conv.
_FUSED_INTO_CONV = {"Relu", "Clip", "Sigmoid", "HardSigmoid", "LeakyRelu", "Tanh", "Add", "Sum", "BatchNormalization",
                    "Mul", "Identity"}
CONV_OPS = {"Conv", "FusedConv"}


@dataclass
class Node:
    """One executed node: `layout` "nchwc" (ORT's blocked layout, channels padded to the block size) or "nchw"."""

    name: str
    op: str
    layout: str
    ms: float  # median kernel time over the measured runs
    inputs: list
    output: list
    macs: int = 0  # as executed (NCHWc: padded channels)
    model_macs: int = 0  # of the model's own layer (unpadded widths)
    source: str | None = None  # the model's Conv node this one runs (for convs)
    conv: dict | None = None  # the source conv: in/out channels, kernel, strides, pads, dilations, group, input
    activation: str | None = None  # fused into the conv by ORT (e.g. "Relu")
    cpu_ms: float | None = None  # the executed node run alone, thread CPU clock (load-proof); None: not timed
    typed_output: list = field(default_factory=list, repr=False)  # ORT's [{dtype: shape}] per output
    samples: int = 0  # measured runs the median is over

    def gmacs(self) -> float | None:
        return self.model_macs / (self.ms * 1e6) if self.model_macs and self.ms > 0 else None


@dataclass
class NodeProfile:
    path: str
    runs: int  # measured runs (warm-up excluded)
    warmup: int
    run_ms: float  # median wall time of a whole run (ORT's model_run event)
    nodes: list = field(default_factory=list)

    def per_op(self, cpu: bool = False) -> dict[str, float]:
        """Kernel ms per op type (NCHWc nodes as e.g. "Conv[nchwc]"), largest first; with `cpu`, each node's
        thread-CPU time where it was timed alone (its wall median elsewhere)."""
        out: dict[str, float] = {}
        for n in self.nodes:
            key = f"{n.op}[nchwc]" if n.layout == "nchwc" and n.op in CONV_OPS else n.op
            out[key] = out.get(key, 0.0) + (n.cpu_ms if cpu and n.cpu_ms is not None else n.ms)
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))

    def convs(self) -> list[Node]:
        return [n for n in self.nodes if n.op in CONV_OPS]

    def kernel_ms(self) -> float:
        return sum(n.ms for n in self.nodes)


def session(path: "str | bytes", threads: int = 1, level: str = "ORT_ENABLE_ALL", profile_prefix: str | None = None,
            optimized: str | None = None):
    """An onnxruntime CPU session as device_bench opens it (sequential, `threads` intra-op threads)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    options.log_severity_level = 4
    if profile_prefix:
        options.enable_profiling, options.profile_file_prefix = True, profile_prefix
    if optimized:
        options.optimized_model_filepath = optimized
    try:
        return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise EdgepruneError(f"onnxruntime cannot load {path}: {str(exc).splitlines()[0]}") from None


def feeds(sess, seed: int = 0) -> dict:
    """Inputs for every model input, shaped as exported (device_bench's synthesiser)."""
    import numpy as np

    from edgeprune.device_bench.inputs import ORT_DTYPES, InputSpec, exported_shapes, resolve_shape, synthesise

    exported = exported_shapes(dict(sess.get_modelmeta().custom_metadata_map))
    rng, out = np.random.default_rng(seed), {}
    for arg in sess.get_inputs():
        shape, _ = resolve_shape(arg.name, list(arg.shape), {}, exported)
        out[arg.name] = synthesise(InputSpec(arg.name, shape, np.dtype(ORT_DTYPES[arg.type])), rng)
    return out


def profile(path: str, runs: int = 20, warmup: int = 3, threads: int = 1, level: str = "ORT_ENABLE_ALL",
            cpu_runs: int = 0, cpu_min_ms: float = 0.02) -> NodeProfile:
    """Run `warmup + runs` inferences with ORT's profiler on; per node, the median kernel time over the last
    `runs` (the first runs hold one-off costs: weight prepacking, arena growth; ORT's first LSTM run is ~100x).
    ORT's node times are wall-clock: on a loaded machine long kernels are preempted. With `cpu_runs`, every node
    of at least `cpu_min_ms` whose inputs are float tensors or constants is also cut out of the optimised graph
    (same op, layout and prepared weights) and timed alone with the thread CPU clock (`cpu_ms`, min of runs)."""
    if not isinstance(runs, int) or runs < 1 or not isinstance(warmup, int) or warmup < 0:
        raise EdgepruneError(f"profile needs runs >= 1 and warmup >= 0, got runs={runs!r}, warmup={warmup!r}")
    if not Path(path).is_file():
        raise EdgepruneError(f"ONNX file not found: {path}")
    with tempfile.TemporaryDirectory(prefix="edgeprune-nodes.") as tmp:
        optimized = str(Path(tmp) / "optimized.onnx")
        sess = session(path, threads, level, str(Path(tmp) / "p"), optimized)
        data = feeds(sess)
        for _ in range(warmup + runs):
            sess.run(None, data)
        trace = json.loads(Path(sess.end_profiling()).read_text())
        graph = executed_graph(optimized)
        prof = build(path, trace, graph, model_convs(path), runs, warmup)
        if cpu_runs:
            time_nodes(optimized, prof, cpu_runs, threads, cpu_min_ms)
    return prof


def executed_graph(optimized: str) -> dict[str, dict]:
    """{node name: {"op", "domain", "attrs", "inputs"}} of the graph ORT runs (saved after optimisation)."""
    import onnx

    model = onnx.load(optimized)
    out = {}
    for n in model.graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        out[n.name] = {"op": n.op_type, "domain": n.domain, "attrs": attrs, "inputs": list(n.input)}
    return out


def model_convs(path: str) -> dict:
    """The model's own Conv nodes and tensor producers: {"convs": {name: conv dict}, "producer": {tensor: node}}."""
    import onnx

    model = onnx.shape_inference.infer_shapes(onnx.load(path))
    inits = {i.name: list(i.dims) for i in model.graph.initializer}
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output)}
    producer, convs = {}, {}
    for n in model.graph.node:
        for o in n.output:
            producer[o] = {"name": n.name, "op": n.op_type, "inputs": list(n.input)}
        if n.op_type == "Conv" and n.input[1] in inits:
            w = inits[n.input[1]]
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
            group = int(attrs.get("group", 1))
            nd = len(w) - 2
            convs[n.name] = {"in": w[1] * group, "out": w[0], "kernel": w[2:], "group": group,
                             "strides": list(attrs.get("strides", [1] * nd)),
                             "pads": list(attrs.get("pads", [0] * 2 * nd)),
                             "dilations": list(attrs.get("dilations", [1] * nd)),
                             "bias": len(n.input) > 2 and bool(n.input[2]),
                             "input": shapes.get(n.input[0]), "output": shapes.get(n.output[0])}
    return {"convs": convs, "producer": producer}


def source_conv(name: str, executed: dict, model: dict) -> str | None:
    """The model's Conv node that executed node `name` runs: the same name (Conv, FusedConv), or for an NCHWc
    node "<tensor>_nchwc" the Conv reached walking back from <tensor> through ops fused into it; among several
    (a residual Add of two convs) the one whose kernel size matches."""
    if name in model["convs"]:
        return name
    if not name.endswith("_nchwc"):
        return None
    start = model["producer"].get(name[: -len("_nchwc")])
    found, queue, seen = [], [start] if start else [], set()
    while queue:
        node = queue.pop(0)
        if node["name"] in seen:
            continue
        seen.add(node["name"])
        if node["name"] in model["convs"]:
            found.append(node["name"])
        elif node["op"] in _FUSED_INTO_CONV:
            queue += [model["producer"][t] for t in node["inputs"] if t in model["producer"]]
    kernel = executed.get("attrs", {}).get("kernel_shape")
    matching = [f for f in found if kernel is None or list(model["convs"][f]["kernel"]) == list(kernel)]
    return (matching or found or [None])[0]


def _shape(arg: dict) -> list:
    return next(iter(arg.values())) if isinstance(arg, dict) and arg else []


def executed_macs(op: str, inputs: list, output: list) -> int:
    """MACs of one executed node from the shapes ORT recorded (Conv/FusedConv: output elements x the filter's
    per-output size; Gemm/MatMul: output elements x the inner size; LSTM: T x B x 4H x (I + H))."""
    if not output or not inputs:
        return 0
    out = _shape(output[0])
    if op in CONV_OPS and len(inputs) > 1 and len(_shape(inputs[1])) >= 3:
        return math.prod(out) * math.prod(_shape(inputs[1])[1:])
    if op in ("Gemm", "MatMul") and _shape(inputs[0]):
        return math.prod(out) * _shape(inputs[0])[-1]
    if op == "LSTM" and len(_shape(inputs[0])) == 3 and len(out) == 4:
        t, b, i = _shape(inputs[0])
        h = out[-1]
        return t * b * 4 * h * (i + h) * out[1]
    return 0


def conv_macs(conv: dict, output_spatial: list) -> int:
    """MACs of a model conv at its own widths, over the executed output's batch x spatial size."""
    return math.prod(output_spatial) * conv["out"] * (conv["in"] // conv["group"]) * math.prod(conv["kernel"])


def build(path: str, trace: list, graph: dict, model: dict, runs: int, warmup: int) -> NodeProfile:
    """A NodeProfile from ORT's trace events: node events are assigned to the run (model_run event) that holds
    them; the first `warmup` runs are dropped."""
    spans = sorted((e["ts"], e["ts"] + e["dur"], e["dur"]) for e in trace
                   if e.get("cat") == "Session" and e.get("name") == "model_run")
    if len(spans) != runs + warmup:
        raise EdgepruneError(f"the profile of {path} holds {len(spans)} runs, expected {runs + warmup}")
    kept = spans[warmup:]
    durations: dict[str, list[float]] = {}
    first: dict[str, dict] = {}
    for e in trace:
        if e.get("cat") != "Node" or not e.get("name", "").endswith("_kernel_time"):
            continue
        if not any(a <= e["ts"] <= b for a, b, _ in kept):
            continue
        name = e["name"][: -len("_kernel_time")]
        durations.setdefault(name, []).append(e["dur"] / 1000.0)
        first.setdefault(name, e)
    nodes = []
    for name, durs in durations.items():
        args = first[name].get("args", {})
        op = args.get("op_name", "?")
        inputs, output = args.get("input_type_shape", []), args.get("output_type_shape", [])
        executed = graph.get(name, {})
        layout = "nchwc" if executed.get("domain") == "com.microsoft.nchwc" else "nchw"
        node = Node(name, op, layout, statistics.median(durs), [_shape(a) for a in inputs],
                    [_shape(a) for a in output], executed_macs(op, inputs, output))
        node.typed_output, node.samples = output, len(durs)
        act = executed.get("attrs", {}).get("activation")
        node.activation = act.decode() if isinstance(act, bytes) else act
        if op in CONV_OPS:
            node.source = source_conv(name, executed, model)
            if node.source:
                node.conv = model["convs"][node.source]
                out = node.output[0] if node.output else []
                node.model_macs = conv_macs(node.conv, [out[0]] + list(out[2:])) if out else 0
        else:
            node.model_macs = node.macs
        nodes.append(node)
    nodes.sort(key=lambda n: first[n.name]["ts"])
    return NodeProfile(path, runs, warmup, statistics.median(d for _, _, d in kept) / 1000.0, nodes)


def conv_model(conv: dict, batch: int, spatial: list, activation: str | None = None) -> bytes:
    """A one-Conv ONNX model (random weights) of `conv`'s shape on a (batch, in, *spatial) input, + an
    activation node when the model's conv had one fused: the layer alone, as the runtime's kernel sees it."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = rng.standard_normal([conv["out"], conv["in"] // conv["group"], *conv["kernel"]]).astype(np.float32)
    inits = [numpy_helper.from_array(w, "W")]
    inputs = ["x", "W"]
    if conv["bias"]:
        inits.append(numpy_helper.from_array(rng.standard_normal(conv["out"]).astype(np.float32), "B"))
        inputs.append("B")
    nodes = [helper.make_node("Conv", inputs, ["c" if activation else "y"], name="conv", group=conv["group"],
                              kernel_shape=list(conv["kernel"]), strides=conv["strides"], pads=conv["pads"],
                              dilations=conv["dilations"])]
    if activation:
        nodes.append(helper.make_node(activation, ["c"], ["y"], name="act"))
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, conv["in"], *spatial])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph(nodes, "conv", [x], [y], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def alone(node: Node, runs: int = 10, warmup: int = 3, threads: int = 1, cpu_runs: int = 10) -> Node | None:
    """The conv of `node` alone: a one-Conv model of its model widths (same batch and spatial size, the activation
    ORT fused into it), through ORT's own optimiser; its conv node, timed with the thread CPU clock: what the
    runtime's kernel does for that shape with nothing else around it (its lone Reorder nodes are not counted)."""
    if node.conv is None or not node.inputs or len(node.inputs[0]) < 3:
        return None
    activation = node.activation if node.activation in ("Relu", "Sigmoid", "Tanh") else None
    with tempfile.TemporaryDirectory(prefix="edgeprune-alone.") as tmp:
        path = Path(tmp) / "conv.onnx"
        path.write_bytes(conv_model(node.conv, node.inputs[0][0], node.inputs[0][2:], activation))
        prof = profile(str(path), runs, warmup, threads, cpu_runs=cpu_runs, cpu_min_ms=0.0)
    convs = prof.convs()
    return convs[0] if convs else None


_DTYPES = {"float": 1, "int64": 7, "int32": 6, "bool": 9}  # onnx.TensorProto element types


def time_nodes(optimized: str, prof: NodeProfile, runs: int, threads: int, min_ms: float) -> None:
    """Fill `cpu_ms` of the profiled nodes that can run alone: each is cut out of the optimised graph with its
    constant inputs and fed random float tensors of the shapes ORT recorded (nodes fed computed integer tensors,
    e.g. a Reshape's shape, keep only their wall time)."""
    import time

    import numpy as np
    import onnx
    from onnx import helper

    model = onnx.load(optimized)
    protos = {n.name: n for n in model.graph.node}
    inits = {i.name: i for i in model.graph.initializer}
    typed = {i.name: (i.type.tensor_type.elem_type, [d.dim_value for d in i.type.tensor_type.shape.dim])
             for i in model.graph.input}
    for node in prof.nodes:
        proto = protos.get(node.name)
        if proto is None:
            continue
        for k, out in enumerate(proto.output):
            if k < len(node.typed_output):
                (dtype, shape), = node.typed_output[k].items()
                typed[out] = (_DTYPES.get(dtype, 0), list(shape))
    rng = np.random.default_rng(0)
    for node in prof.nodes:
        proto = protos.get(node.name)
        if proto is None or node.ms < min_ms:
            continue
        graph_inputs, feeds, used = [], {}, []
        for name in proto.input:
            if not name or name in inits:
                used += [inits[name]] if name else []
                continue
            dtype, shape = typed.get(name, (0, None))
            if dtype != 1 or shape is None:
                break
            graph_inputs.append(helper.make_tensor_value_info(name, dtype, shape))
            feeds[name] = rng.standard_normal(shape).astype(np.float32)
        else:
            outputs = [helper.make_tensor_value_info(o, typed.get(o, (1, None))[0] or 1, None) for o in proto.output if o]
            graph = helper.make_graph([proto], "node", graph_inputs, outputs, used)
            one = helper.make_model(graph, opset_imports=list(model.opset_import), ir_version=model.ir_version)
            sess = session(one.SerializeToString(), threads, "ORT_DISABLE_ALL")
            sess.run(None, feeds)
            best = float("inf")
            for _ in range(runs):
                t0 = time.thread_time()
                sess.run(None, feeds)
                best = min(best, (time.thread_time() - t0) * 1e3)
            node.cpu_ms = best
