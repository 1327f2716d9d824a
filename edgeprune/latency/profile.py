"""Build a latency table: every prunable group alone at a grid of widths, exported and measured on the target."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from edgeprune.errors import EdgepruneError
from edgeprune.latency.cache import PointCache, architecture_hash, cache_key, device_fingerprint
from edgeprune.latency.table import STATS, LatencyTable
from edgeprune.latency.target import Target

GRID = (0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1)


def load_source(spec: str):
    """A zoo name or a checkpoint path -> export.source.ExportSource (model in eval mode, example inputs)."""
    from edgeprune import models
    from edgeprune.export.source import resolve

    if spec in models.names():
        return resolve(models.build(spec))
    if not os.path.isfile(spec):
        raise EdgepruneError(f"{spec!r} is neither a zoo model ({', '.join(models.names())}) nor a checkpoint file")
    return resolve(spec)


def grid_widths(width: int, grid=GRID, align: int = 0) -> list[int]:
    """Widths below `width` for keep fractions `grid` (at least 1 channel), plus with `align` the multiples of
    `align` on either side of each (a fine sweep where kernels tend to step)."""
    out = {max(1, int(round(f * width))) for f in grid}
    if align:
        for w in list(out):
            low, high = (w // align) * align, -(-w // align) * align
            out.update(v for v in (low, high) if v >= 1)
    return sorted((w for w in out if w < width), reverse=True)


def _export(source, model, path: Path, fmt: str) -> None:
    from edgeprune.export import export_model

    export_model(model, fmt, path, example_inputs=source.example, input_names=source.input_names,
                 task=source.task, meta={"arch": source.meta.get("arch") or {}}, samples=3)


def profile(source, target: Target, grid=GRID, align: int = 0, max_seconds: float | None = None,
            cache_folder=None, clock=time.monotonic, joints=()) -> LatencyTable:
    """The latency table of `source` on `target`; points already in the cache are not measured again. Stops
    starting new groups once `max_seconds` have passed (the table says it is incomplete; a rerun resumes).
    `joints`: keep fractions of joint cuts to measure too (every group at once, e.g. edgeprune.latency.joint.KEEP;
    the `calibrated` prediction uses them). Joint points already cached are kept in the table either way."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # export and analysis only; measuring happens in device_bench's own process.
    try:  # On a loaded machine, torch's own thread pool made one export 18 s instead of 0.3 s (tv-audio).
        return _profile(source, target, grid, align, max_seconds, cache_folder, clock, joints)
    finally:
        torch.set_num_threads(threads)


def _profile(source, target, grid, align, max_seconds, cache_folder, clock, joints) -> LatencyTable:
    from edgeprune.data.progress import progress
    from edgeprune.latency import joint

    start = clock()
    probe = target.probe()
    model, example = source.model, source.example
    device = device_fingerprint(probe["machine"], target.label)
    arch = architecture_hash(model, example)
    cache = PointCache(cache_key(device, target.runtime, probe["runtime_version"], target.threads, arch), cache_folder)
    analysis = None
    if "groups" not in cache.meta:
        analysis = _analyse(source)
        from edgeprune.latency.predict import layer_macs

        cache.put(groups={r: g.to_dict() for r, g in analysis.groups.items()},
                  layer_macs=layer_macs(model, example))
    groups = cache.meta["groups"]
    plan = {r: [w for w in grid_widths(g["width"], grid, align) if cache.get(r, w) is None] for r, g in groups.items()}
    todo = [r for r in groups if plan[r]]
    measured, stopped = 0, []
    bar = progress(todo, desc=f"profile {source.name}", total=len(todo))
    for root in bar:
        if max_seconds is not None and clock() - start > max_seconds:
            stopped.append(root)
            continue
        analysis = analysis or _analyse(source)
        cache.put(_measure_group(source, analysis, root, plan[root], target))
        measured += len(plan[root])
    keeps = tuple(joints)
    todo_joints = [k for k in keeps if (cache.points.get(joint.label(k, align)) or {}).get("widths")
                   != joint.widths(cache.meta["groups"], k, align)]  # widths of an older rule: measured again
    if todo_joints and not stopped and (max_seconds is None or clock() - start <= max_seconds):
        analysis = analysis or _analyse(source)
        cache.put(_measure_joints(source, analysis, todo_joints, align, target))
        measured += len(todo_joints)
    elif todo_joints:
        stopped.append("joint cuts")
    table = _assemble(source, target, probe, device, arch, cache, grid, align)
    table.joints = [p for k, p in sorted(cache.points.items()) if k.startswith(joint.LABEL + "@")
                    and k.endswith(f"/{int(align)}")]
    table.meta["measured_now"] = measured
    table.meta["seconds"] = round(clock() - start, 1)
    if stopped:
        table.complete = False
        table.notes.append(f"--max-seconds {max_seconds:g} reached before groups {', '.join(stopped)}: rerun the "
                           f"same command to measure them (measured points are cached)")
    return table


def _analyse(source):
    from edgeprune.latency.groups import Analysis

    return Analysis(source.model, source.example)


def _measure_group(source, analysis, root: str, widths: list[int], target: Target) -> dict[str, dict]:
    """Export the dense model and one copy per width of `root`, measure them interleaved, return cache points."""
    from edgeprune.latency.predict import layer_macs

    info = analysis.groups[root]
    layers = set(info.out_layers) | set(info.in_layers)
    ext = "." + target.format
    with tempfile.TemporaryDirectory(prefix="edgeprune-profile.") as tmp:
        paths = [Path(tmp) / f"dense{ext}"]
        _export(source, source.model, paths[0], target.format)
        macs = []
        for w in widths:
            variant = analysis.cut({root: w})
            macs.append({k: v for k, v in layer_macs(variant, source.example).items() if k in layers})
            paths.append(Path(tmp) / f"w{w}{ext}")
            _export(source, variant, paths[-1], target.format)
        stats = target.measure([str(p) for p in paths])
    dense = stats[0]
    out = {}
    for w, s, m in zip(widths, stats[1:], macs):
        point = {"width": w, "layer_macs": m, **{k: s[k] for k in STATS}, **{f"dense_{k}": dense[k] for k in STATS}}
        out[PointCache.label(root, w)] = point
    return out


def _measure_joints(source, analysis, keeps, align: int, target: Target) -> dict[str, dict]:
    """Every group at once at each keep fraction, measured interleaved with the dense model (cache points)."""
    from edgeprune.latency import joint
    from edgeprune.latency.predict import layer_macs

    groups = {r: g.to_dict() for r, g in analysis.groups.items()}
    ext = "." + target.format
    with tempfile.TemporaryDirectory(prefix="edgeprune-profile.") as tmp:
        paths = [Path(tmp) / f"dense{ext}"]
        _export(source, source.model, paths[0], target.format)
        cuts, macs = [], []
        for k in keeps:
            cuts.append(joint.widths(groups, k, align))
            variant = analysis.cut({r: w for r, w in cuts[-1].items() if w < groups[r]["width"]})
            macs.append(layer_macs(variant, source.example))
            paths.append(Path(tmp) / f"joint{len(cuts)}{ext}")
            _export(source, variant, paths[-1], target.format)
        stats = target.measure([str(p) for p in paths])
    dense = stats[0]
    return {joint.label(k, align): {"keep": k, "widths": w, "layer_macs": m, **{s: st[s] for s in STATS},
                                    **{f"dense_{s}": dense[s] for s in STATS}}
            for k, w, m, st in zip(keeps, cuts, macs, stats[1:])}


def _assemble(source, target, probe, device, arch, cache, grid, align) -> LatencyTable:
    groups = {}
    dense_runs = {k: [] for k in STATS}
    for root, g in cache.meta["groups"].items():
        points = [p for w in grid_widths(g["width"], grid, align) if (p := cache.get(root, w)) is not None]
        for p in points:
            for k in STATS:
                dense_runs[k].append(p[f"dense_{k}"])
        groups[root] = {**g, "points": points}
    if not dense_runs["p50"]:
        raise EdgepruneError("nothing was measured: no prunable group, or --max-seconds too small for one group")
    dense = {k: statistics.median(v) for k, v in dense_runs.items()}
    meta = {"architecture": arch, "runtime": target.runtime, "runtime_version": probe["runtime_version"],
            "threads": target.threads, "target": target.spec, "clock": target.clock, "machine": probe["machine"],
            "device": device,
            "grid": list(grid), "align": align, "bench": dict(target.bench), "cache": str(cache.path)}
    return LatencyTable(source.name, meta, dense, cache.meta["layer_macs"], groups)
