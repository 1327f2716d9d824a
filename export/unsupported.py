"""Turn a converter failure into one line naming the rejected op and the layer that calls it.

The converters name the ATen op ("aten._linalg_svd.default") but not the module; torch.export's graph
records each node's module path (node.meta["nn_module_stack"]), so the op is looked up there.
"""

from __future__ import annotations

import re

import torch

from edgeprune.errors import EdgepruneError

_OP = re.compile(r"aten[.:]{1,2}[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)?")


def rejected_op(exc: BaseException) -> str | None:
    """The first ATen op named in the exception text or its causes, e.g. 'aten._linalg_svd.default'."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        match = _OP.search(str(exc))
        if match:
            return match.group(0).replace("::", ".")
        exc = exc.__cause__ or exc.__context__
    return None


def layer_of(model: torch.nn.Module, example: tuple, op: str) -> str | None:
    """'name (Class)' of the innermost module whose forward calls `op`, from torch.export's graph."""
    try:
        program = torch.export.export(model, example, strict=False)
    except Exception:
        return None
    base = op.split(".")[1]  # "aten._linalg_svd.default" -> "_linalg_svd"
    for graph_program in (program, _decomposed(program)):
        if graph_program is None:
            continue
        for node in graph_program.graph.nodes:
            if node.op == "call_function" and _matches(node.target, base):
                stack = node.meta.get("nn_module_stack") or {}
                if stack:
                    path, cls = list(stack.values())[-1]
                    name = getattr(cls, "__name__", str(cls).rsplit(".", 1)[-1].strip("'>"))
                    return f"{path or '(top level)'} ({name})"
                return "(top level)"
    return None


def _decomposed(program):
    try:
        return program.run_decompositions()
    except Exception:
        return None


def _matches(target, base: str) -> bool:
    name = getattr(target, "__name__", "")  # OpOverload.__name__ is "_linalg_svd.default"
    return name.split(".")[0] == base


def converter_error(what: str, exc: BaseException, model, example) -> EdgepruneError:
    """An EdgepruneError for a failed conversion, naming the op and the layer when they can be found."""
    op = rejected_op(exc)
    if op is None:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        return EdgepruneError(f"{what} failed: {type(exc).__name__}: {first}")
    layer = layer_of(model, example, op)
    where = f" in layer {layer}" if layer else ""
    return EdgepruneError(f"{what} failed: the converter rejects op {op}{where}")
