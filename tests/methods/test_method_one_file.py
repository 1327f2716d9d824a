"""A method is one file: this test file defines a toy method (its name, help, defaults, check and schedule),
registers it, and runs it through edgeprune.methods.run on tiny data; nothing in the package changes."""

import json

import pytest

from edgeprune.cli import build_parser
from edgeprune.commands.slim import config_from_args
from edgeprune.errors import EdgepruneError
from edgeprune.methods import METHODS, run
from edgeprune.methods.base import Method
from edgeprune.methods.config import SlimConfig
from edgeprune.methods.registry import register, unregister

pytestmark = pytest.mark.slow


class Toy(Method):
    """Train once, then cut a quarter of the params per round by L1 filter norm, with no retraining."""

    name = "toy"
    help = "toy: train once, cut by filter L1 norm with no retraining (a test's method)"
    defaults = dict(per_round=0.25, scope="global", importance="l1", max_step_share=1.0, finetune_epochs=0)

    @classmethod
    def check(cls, cfg):
        if cfg.target_wsr > 0.6:
            raise EdgepruneError(f"--method toy prunes at most 0.6, not {cfg.target_wsr}")

    def start(self):
        from edgeprune.methods.state import RoundState

        model = self.ctx.build()
        fit = self.ctx.fit(model, 0, epochs=self.cfg.train.epochs, lr=self.cfg.train.lr, desc="toy train")
        return RoundState(model=model, lr=self.cfg.train.lr, extra={"fit": fit}), None

    def retrain(self, state, n, stage):
        return state, None


@pytest.fixture()
def toy():
    register(Toy)
    yield Toy
    unregister("toy")
    assert "toy" not in METHODS


def test_a_method_defined_in_one_file_runs_end_to_end(toy, tmp_path):
    d = tmp_path / "toy"
    res = run(SlimConfig(method="toy", target_wsr=0.3, out=str(d), data_size=48, epochs=1, batch_size=16, lr=1e-3))
    assert res["status"] == "finished"
    rounds = [json.loads((d / r / "metrics.json").read_text()) for r in ("round_000", "round_001", "round_002")]
    assert [m["wsr"] for m in rounds][0] == 0 and rounds[1]["wsr"] == pytest.approx(0.25, abs=0.02)
    assert res["final"]["wsr"] == pytest.approx(0.3, abs=0.01) and not (d / "round_003").exists()
    assert rounds[1]["fit"] is None and res["final"]["fit"] is None  # its schedule: no retraining, no fine-tune
    cfg = json.loads((d / "config.json").read_text())
    assert cfg["per_round"] == 0.25 and cfg["resolved_from"]["per_round"] == "method:toy"
    assert cfg["importance"] == "l1" and cfg["finetune_epochs"] == 0
    assert json.loads((d / "final" / "report.json").read_text())["method"] == "toy"


def test_its_checks_and_the_command_line_know_it(toy):
    with pytest.raises(EdgepruneError, match="--method toy prunes at most 0.6, not 0.7"):
        SlimConfig(method="toy", target_wsr=0.7).validate()
    with pytest.raises(EdgepruneError, match="--granularity weight is for lth and lth-if, not toy"):
        SlimConfig(method="toy", granularity="weight").validate()
    with pytest.raises(EdgepruneError, match="--ticket is for --method lth"):
        SlimConfig(method="toy", ticket="elsewhere").validate()
    cfg = config_from_args(build_parser().parse_args(["slim", "--method", "toy", "--target-wsr", "0.4"]))
    assert cfg.method == "toy" and cfg.resolve({}).per_round == 0.25


def test_a_method_may_not_default_what_is_not_its_to_decide():
    class Greedy(Toy):
        name = "greedy"
        defaults = dict(target_wsr=0.9)

    with pytest.raises(EdgepruneError, match="method 'greedy': a default for 'target_wsr'"):
        register(Greedy)
    assert "greedy" not in METHODS
