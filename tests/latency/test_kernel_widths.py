"""Widths the kernels like: candidate widths, the joint choice over groups (with a fake layer timer: the choice,
not timings), and the one-layer models and input shapes the real timer uses."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torch.nn as nn

from edgeprune.errors import EdgepruneError
from edgeprune.latency import kernel_widths as kw
from edgeprune.latency.groups import GroupInfo
from edgeprune.latency.nodes import session


def test_candidates_run_from_the_wanted_width_to_the_next_block():
    assert kw.candidates(17, 64) == [17, 20, 24, 28, 32]
    assert kw.candidates(32, 64) == [32]
    assert kw.candidates(30, 31) == [30, 31]  # the full width caps the range
    assert kw.candidates(5, 64, block=8, step=2) == [5, 6, 8]
    with pytest.raises(EdgepruneError, match="wanted width must be an integer from 1 to 8"):
        kw.candidates(0, 8)


class FakeTimer:
    """Layers l1 (3 -> A), l2 (A -> B), l3 (B -> 5); l2 is fast only with both sides multiples of 16."""

    def __init__(self, l2):
        self.l2, self.measured = l2, 0

    def widths(self, name):
        return {"l1": (3, 64), "l2": (64, 64), "l3": (64, 5)}[name]

    def ms(self, name, cin, cout):
        self.measured += 1
        if name == "l1":
            return 0.01 * cout
        if name == "l3":
            return 0.01 * cin
        return self.l2(cin, cout)


GROUPS = {"A": GroupInfo("A", 64, ("l1",), ("l2",)), "B": GroupInfo("B", 64, ("l2",), ("l3",))}


def test_choose_finds_widths_that_are_only_fast_together():
    aligned = lambda cin, cout: cin * cout * (0.4 if cin % 16 == 0 and cout % 16 == 0 else 1.0)  # noqa: E731
    widths, info = kw.choose(GROUPS, {"A": 17, "B": 37}, FakeTimer(aligned))
    assert widths == {"A": 32, "B": 48}  # neither move alone is faster (32x37, 17x48 > 17x37)
    assert info["ms_chosen"] < info["ms_wanted"]
    assert info["ms_wanted"] == pytest.approx(0.17 + 17 * 37 + 0.37)
    assert [r["chosen"] for r in info["groups"]] == [32, 48]


def test_choose_keeps_the_wanted_widths_when_wider_is_slower_and_widens_where_it_is_free():
    proportional = lambda cin, cout: float(cin * cout)  # noqa: E731
    widths, info = kw.choose(GROUPS, {"A": 17, "B": 37}, FakeTimer(proportional))
    assert widths == {"A": 17, "B": 37} and info["ms_chosen"] == pytest.approx(info["ms_wanted"])
    step = lambda cin, cout: float(-(-cin // 16) * -(-cout // 16))  # noqa: E731  blocks of 16 cost the same
    free = FakeTimer(step)
    free.ms = lambda name, cin, cout: step(cin, cout) if name == "l2" else 0.0
    widths, info = kw.choose(GROUPS, {"A": 17, "B": 37}, free)
    assert widths == {"A": 32, "B": 48} and info["ms_chosen"] == info["ms_wanted"]


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.lstm = nn.LSTM(8 * 6, 10, batch_first=True)
        self.fc = nn.Linear(10, 2)

    def forward(self, x):
        y = torch.relu(self.conv(x))  # (B, 8, 6, T)
        seq, _ = self.lstm(y.permute(0, 3, 1, 2).flatten(2))
        return self.fc(seq)


def test_layer_inputs_records_shapes_and_leaves_the_outputs_alone():
    torch.manual_seed(0)
    model = Tiny().eval()
    x = torch.randn(2, 3, 6, 5)
    before = model(x)
    shapes = kw.layer_inputs(model, (x,))
    assert shapes == {"conv": (2, 3, 6, 5), "lstm": (2, 5, 48), "fc": (2, 5, 10)}
    assert torch.equal(model(x), before) and before.std() > 0  # no hook left behind, and outputs vary


@pytest.mark.parametrize("name, cin, cout, out_shape", [("conv", 3, 12, (2, 12, 6, 5)), ("lstm", 48, 16, (5, 1, 2, 16)),
                                                        ("fc", 10, 7, (10, 7))])
def test_layer_model_runs_the_layer_at_the_asked_widths(name, cin, cout, out_shape):
    model = Tiny().eval()
    shapes = kw.layer_inputs(model, (torch.randn(2, 3, 6, 5),))
    blob = kw.layer_model(dict(model.named_modules())[name], shapes[name], cin, cout)
    sess = ort.InferenceSession(blob, providers=["CPUExecutionProvider"])
    arg = sess.get_inputs()[0]
    (y,) = sess.run(None, {arg.name: np.random.default_rng(0).standard_normal(arg.shape).astype(np.float32)})[:1]
    assert y.shape == out_shape


def test_layer_model_times_depthwise_convs_skips_other_grouped_ones_and_the_timer_memoises():
    depthwise = nn.Conv2d(6, 6, 3, padding=1, groups=6)
    blob = kw.layer_model(depthwise, (2, 6, 8, 8), 4, 4)  # a depthwise layer of a group cut to 4 channels
    sess = session(blob, 1)
    conv = onnx.load_from_string(blob).graph.node[0]
    assert onnx.helper.get_attribute_value(next(a for a in conv.attribute if a.name == "group")) == 4
    (y,) = sess.run(None, {"x": np.zeros((2, 4, 8, 8), np.float32)})
    assert y.shape == (2, 4, 8, 8)
    # depthwise: in and out are one width; a group that sets one side leaves the other at the uncut 6
    assert kw.layer_model(depthwise, (2, 6, 8, 8), 6, 4) == kw.layer_model(depthwise, (2, 6, 8, 8), 4, 6) == blob
    assert kw.layer_model(nn.Conv2d(4, 8, 3, groups=2), (1, 4, 8, 8), 4, 8) is None  # grouped, not depthwise
    model = Tiny().eval()
    timer = kw.LayerTimer(model, (torch.randn(1, 3, 6, 5),), runs=2)
    assert timer.widths("lstm") == (48, 10) and timer.widths("conv") == (3, 8)
    first = timer.ms("conv", 3, 8)
    assert first > 0 and timer.ms("conv", 3, 8) == first and timer.measured == 1
