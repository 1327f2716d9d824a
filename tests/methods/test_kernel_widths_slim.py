"""slim --kernel-widths: each cut moved up to the widths a layer timer likes, checked exactly with a fake timer
whose layers cost the same at every width up to the next multiple of 4 (a kernel step); refused settings."""

import json
import math

import pytest

import edgeprune.latency.kernel_widths as kernel_widths
from edgeprune.errors import EdgepruneError
from edgeprune.latency.groups import Analysis
from edgeprune.methods import run
from edgeprune.methods.config import SlimConfig
from edgeprune.methods.state import read_state

TINY = dict(data_size=48, epochs=1, pretrain_epochs=1, batch_size=16, lr=1e-3)


def _up4(w: int) -> int:
    return 4 * math.ceil(w / 4)


class StepTimer(kernel_widths.LayerTimer):
    """Each layer costs (in rounded up to 4) x (out rounded up to 4): a width past a multiple of 4 costs the next one."""

    def _measure(self, name, cin, cout):
        if name not in self.shapes:
            return 0.0
        self.measured += 1
        return float(_up4(cin) * _up4(cout))


def test_cp_cut_lands_on_the_widest_width_that_is_no_slower(tmp_path, monkeypatch):
    monkeypatch.setattr(kernel_widths, "LayerTimer", StepTimer)
    result = run(SlimConfig(method="cp", target_wsr=0.5, kernel_widths=True, out=str(tmp_path / "r"), **TINY))
    assert result["status"] == "finished"
    cut_round = json.loads((tmp_path / "r" / "round_001" / "metrics.json").read_text())
    info = cut_round["kernel_widths"]
    pruner, chosen = info["widths_pruner"], info["widths_chosen"]
    assert "fallback" not in info and pruner and set(pruner) == set(chosen)
    dense = Analysis(read_state(tmp_path / "r" / "round_000").model.eval(), _example())
    for root, wanted in pruner.items():
        full = dense.groups[root].width
        # every step of 4 costs more, so the widest no-slower width is the next multiple of 4 (never above full)
        assert chosen[root] == min(full, _up4(wanted)), root
    assert any(chosen[r] > pruner[r] for r in pruner), "no group moved: the test does not test the move"
    slim = Analysis(read_state(tmp_path / "r" / "round_001").model.eval(), _example())
    assert {r: slim.groups[r].width for r in chosen} == chosen  # the model has the chosen widths
    assert cut_round["cut"]["max_diff"] <= 1e-4  # the cut is the zeroed unpruned model (the pruner's own check)
    assert cut_round["cut"]["unit"] == "params, widths the kernels like"
    assert 0.4 < result["final"]["wsr"] <= 0.5 + 0.005  # moved up: a little short of the target, never past it


def _example():
    from edgeprune import models

    return models.example_inputs("tv-audio", batch=2)


@pytest.mark.parametrize("kw", [dict(method="lth", granularity="weight"), dict(ratios="auto"),
                                dict(latency_budget=1.0)])
def test_kernel_widths_with_another_width_chooser_is_refused(kw):
    with pytest.raises(EdgepruneError, match="--kernel-widths moves channel cuts to widths the kernels like"):
        SlimConfig(kernel_widths=True, **kw).resolve()
