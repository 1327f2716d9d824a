"""Staged audio-visual pruning (seed 001 2.2) on a tiny tv-av: the lip encoder is pruned alone first, then
it is frozen with its mask while the fusion back end is pruned."""

import json

import pytest
import torch
from safetensors.torch import load_file

from edgeprune.errors import EdgepruneError
from edgeprune.methods import run
from edgeprune.methods.config import SlimConfig

pytestmark = pytest.mark.slow

SMALL_AV = {"lip": {"width": 0.25, "embed_dim": 32, "stem_channels": 8}, "convs": [[32, 5, 2], [32, 5, 2]],
            "lstm_hidden": 16, "fc_hidden": 16}


def test_lip_encoder_first_then_backend_with_encoder_frozen(tmp_path):
    d = tmp_path / "av"
    run(SlimConfig(method="lth-if", model="tv-av", model_cfg=SMALL_AV, granularity="weight", per_round=0.3,
                   stage_target=0.3, target_wsr=0.25, data_size=12, epochs=1, first_epochs=1, batch_size=4,
                   lr=1e-3, out=str(d)))
    ms = [json.loads((d / f"round_{n:03d}" / "metrics.json").read_text()) for n in range(len(list(d.glob("round_*"))))]
    stages = [m["stage_name"] for m in ms]
    assert stages[0] == "lip_encoder" and "model" in stages
    first_backend = stages.index("model")
    assert all(s == "lip_encoder" for s in stages[1:first_backend])
    lip_done = ms[first_backend - 1]
    assert lip_done["part_wsr"]["lip_encoder"] == pytest.approx(0.3, abs=0.01)
    # stage 1 masked only lip encoder weights
    m1 = load_file(str(d / "round_001" / "masks.safetensors"))
    assert all(bool((m == 1).all()) for k, m in m1.items() if not k.startswith("lip_encoder."))
    assert any(not bool((m == 1).all()) for k, m in m1.items() if k.startswith("lip_encoder."))
    # stage 2: the lip encoder's weights and mask stay as stage 1 left them
    w_a = load_file(str(d / f"round_{first_backend - 1:03d}" / "model.safetensors"))
    w_b = load_file(str(d / "final" / "model.safetensors"))
    m_a = load_file(str(d / f"round_{first_backend - 1:03d}" / "masks.safetensors"))
    m_b = load_file(str(d / "final" / "masks.safetensors"))
    for k in w_a:
        if k.startswith("lip_encoder.") and not k.endswith("num_batches_tracked"):
            assert torch.equal(w_a[k], w_b[k]), k
    for k in m_a:
        if k.startswith("lip_encoder."):
            assert torch.equal(m_a[k], m_b[k]), k
    final = json.loads((d / "final" / "metrics.json").read_text())
    assert final["wsr"] >= 0.25 - 0.005
    assert any(not bool((m_b[k] == 1).all()) for k in m_b if k.startswith("backend."))


def test_staged_on_needs_a_lip_encoder(tmp_path):
    with pytest.raises(EdgepruneError, match="needs a model with a 'lip_encoder'"):
        run(SlimConfig(method="lth-if", staged="on", data_size=12, out=str(tmp_path / "x")))
