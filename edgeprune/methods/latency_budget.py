"""--latency-budget in the round loop: the target probed and the latency table read or profiled before any
training, every round's model exported and its p50/p90 measured on the target, and the next round's cut planned
from the table (methods/latency_cut.py)."""

from __future__ import annotations

import copy
import sys
import tempfile
from pathlib import Path

from edgeprune.errors import EdgepruneError
from edgeprune.methods.latency_config import make_target

TABLE_FILE = "latency_table.json"  # the table the run used, in the run directory


class LatencyBudget:
    """The budget of one run: its target, the dense model's export source and the latency table."""

    def __init__(self, cfg, target, source, table):
        self.cfg, self.target, self.source, self.table = cfg, target, source, table
        self.budget_ms = float(cfg.latency_budget)

    @classmethod
    def open(cls, cfg) -> "LatencyBudget":
        """Check the target (reachable, runtime there), read or profile the table, refuse a budget the dense
        model already meets: all before round 0's training. Profiling needs the architecture only."""
        from edgeprune import models
        from edgeprune.data.progress import silenced
        from edgeprune.export.source import resolve
        from edgeprune.latency.profile import GRID, profile
        from edgeprune.latency.table import LatencyTable
        from edgeprune.methods.staged import staged_on

        if staged_on(cfg, models.spec(cfg.model)):
            raise EdgepruneError(f"--latency-budget prunes the whole model in one stage: add --staged off "
                                 f"(--method {cfg.method} stages {cfg.model} by default)")
        target = make_target(cfg)
        source = resolve(models.build(cfg.model, **(cfg.model_cfg or {})))
        opts = cfg.latency_options or {}
        if cfg.latency_table:
            probe = target.probe()  # reachable, runtime present: seconds, not after round 0
            table = LatencyTable.read(Path(cfg.latency_table).expanduser())
            _check_table(table, cfg, target, probe, source)
        else:
            with silenced(not cfg.progress):
                table = profile(source, target, tuple(opts.get("grid") or GRID), int(opts.get("align", 0)), None,
                                opts.get("cache_dir"))
            if table.meta.get("measured_now"):
                print(f"latency table of {cfg.model} on {target.label}: {table.meta['measured_now']} points measured "
                      f"now (cached in {table.meta['cache']})", file=sys.stderr)
        dense = float(table.dense["p90"])
        if dense <= cfg.latency_budget:
            raise EdgepruneError(f"the dense {cfg.model} already runs in p90 {dense:.4g} ms on {target.label} "
                                 f"(latency table), within --latency-budget {cfg.latency_budget:g} ms: nothing to "
                                 f"slim for latency; give a smaller budget")
        out = cls(cfg, target, source, table)
        best = out.best_predicted()
        if best > out.budget_ms:
            print(f"note: the latency table predicts p90 {best:.4g} ms at best for {cfg.model} (every group at its "
                  f"narrowest measured width), over the {out.budget_ms:g} ms budget: the run will likely stop with "
                  f"nothing left to cut", file=sys.stderr)
        return out

    def best_predicted(self) -> float:
        """The table's prediction for the dense model with every group at its narrowest measured width."""
        from edgeprune.latency.budget import model_predictor
        from edgeprune.latency.groups import Analysis

        analysis = Analysis(self.source.model, self.source.example)
        narrowest = {r: min(self.table.widths(r)) for r in self.table.groups if r in analysis.groups}
        return float(model_predictor(self.table, analysis, "p90")(narrowest))

    def save_table(self, folder: Path) -> None:
        from edgeprune import atomic

        path = Path(folder) / TABLE_FILE
        if not path.is_file():
            atomic.write_json(path, self.table.to_dict())

    # -- measuring --------------------------------------------------------------------------------------------
    def measure_p90(self, model) -> float:
        return float(self.measure(model, predicted=False)["p90"])

    def measure(self, model, predicted: bool = True) -> dict:
        """Export a copy of `model` as edgeprune export does and measure it on the target with device_bench ->
        the latency block of metrics.json (measured p50/p90/mean/min, the table's prediction, the budget)."""
        import torch

        from edgeprune.export import export_model
        from edgeprune.latency.predict import predict

        twin = copy.deepcopy(model).eval()
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # export only; device_bench measures in its own process (see latency/profile.py)
        try:
            with tempfile.TemporaryDirectory(prefix="edgeprune-budget.") as tmp:
                path = Path(tmp) / f"model.{self.target.format}"
                export_model(twin, self.target.format, path, example_inputs=self.source.example,
                             input_names=self.source.input_names, task=self.source.task,
                             meta={"arch": getattr(model, "edgeprune_arch", None) or {}}, samples=3)
                stats = self.target.measure([str(path)])[0]
            out = {k: float(stats[k]) for k in ("p50", "p90", "mean", "min")}
            if predicted:
                out["predicted_p90"] = float(predict(self.table, twin, self.source.example, "p90"))
        finally:
            torch.set_num_threads(threads)
        out.update(budget_ms=self.budget_ms, within=out["p90"] <= self.budget_ms, target=self.target.label,
                   runtime=self.target.runtime, threads=self.target.threads)
        return out

    # -- planning ---------------------------------------------------------------------------------------------
    def plan(self, ctx, method, state, stage, last: dict, n: int):
        """The cut of round `n` after the saved round `last` (None: nothing left that saves time). Each round
        aims at its measured p90 x (1 - per_round), not below the budget; the last allowed round (and a one-shot
        method) aims at the budget itself, and a cut predicted to meet it is measured before it is taken."""
        from edgeprune.methods.latency_cut import plan

        measured = float(last["latency"]["p90"])
        aim = max(self.budget_ms, measured * (1.0 - float(method.per_round())))
        if n >= method.max_rounds():
            aim = self.budget_ms
        return plan(ctx, method, state, stage, self.table, aim_ms=aim, budget_ms=self.budget_ms, measured_ms=measured,
                    example=self.source.example, measure_model=self.measure_p90)


def _check_table(table, cfg, target, probe, source) -> None:
    """A given table must be of this architecture, runtime and thread count; another machine is only noted."""
    from edgeprune.latency.cache import architecture_hash, device_fingerprint

    arch = architecture_hash(source.model, source.example)
    where = f"--latency-table {cfg.latency_table}"
    if table.meta.get("architecture") != arch:
        raise EdgepruneError(f"{where} was profiled on another architecture than {cfg.model}"
                             f"{' with this --model-cfg' if cfg.model_cfg else ''} (profile that model)")
    for key, want in (("runtime", target.runtime), ("threads", target.threads), ("clock", target.clock)):
        if table.meta.get(key, "wall" if key == "clock" else None) != want:
            raise EdgepruneError(f"{where} was measured with {key} {table.meta.get(key)!r}, this run uses {want!r}")
    if table.meta.get("device") != device_fingerprint(probe["machine"], target.label):
        print(f"note: {where} was measured on {table.meta.get('target')} ({table.meta.get('machine', {}).get('cpu_model')}),"
              f" this run measures on {target.label}: the cuts follow its predictions, the stop rule this target's "
              f"measurements", file=sys.stderr)
