"""Deployment ONNX without what no runtime reads: shape annotations (value_info) and long initializer names.

Once a small model's weights are 8-bit, these are a fifth of its file (tv-audio at WSR 0.8: 71 k one-byte weights
beside the quantiser's names such as `onnx::Conv_125_quantized_zero_point`, each written twice, and shape
annotations for every intermediate tensor; 89.9 kB -> 83.8 kB with both gone). Runtimes infer shapes themselves
and look weights up by whatever name they have, so both go: initializers get short names (node names and graph
input/output names, which profiles and users read, stay).
"""

from __future__ import annotations

from itertools import count


def lean(proto) -> dict:
    """Strip `proto` in place; return {"value_info_removed": n, "initializers_renamed": n}."""
    graph = proto.graph
    removed = len(graph.value_info)
    del graph.value_info[:]
    graph_io = {v.name for v in list(graph.input) + list(graph.output)}
    taken = set(graph_io)
    if _collect_names(graph, taken):  # a subgraph may shadow an outer name: renaming is not worth that risk
        return {"value_info_removed": removed, "initializers_renamed": 0}
    fresh = (f"i{n}" for n in count())
    renames: dict[str, str] = {}
    for init in graph.initializer:
        if init.name in graph_io:  # an initializer listed as a graph input is a default a caller may override
            continue
        new = next(fresh)
        while new in taken:
            new = next(fresh)
        if len(new) < len(init.name):
            renames[init.name] = new
            init.name = new
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in renames:
                node.input[i] = renames[name]
    return {"value_info_removed": removed, "initializers_renamed": len(renames)}


def _collect_names(graph, names: set) -> bool:
    """Add every tensor name of `graph` to `names` (so a short name never collides); True if it has subgraphs."""
    from onnx import AttributeProto

    names.update(i.name for i in graph.initializer)
    subgraphs = False
    for node in graph.node:
        names.update(node.input)
        names.update(node.output)
        subgraphs |= any(a.type in (AttributeProto.GRAPH, AttributeProto.GRAPHS) for a in node.attribute)
    return subgraphs
