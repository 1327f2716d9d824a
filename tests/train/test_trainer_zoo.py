"""The Trainer on the real pieces: open_data("synth") at a tiny size and the zoo's tv-audio model."""

import numpy as np
import pytest

from edgeprune import models
from edgeprune.data import open_data
from edgeprune.train import TrainConfig, Trainer


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return open_data("synth", inputs=("fbank",), seed=0, cache_dir=tmp_path_factory.mktemp("synth"), train=24, dev=12, test=6)


@pytest.mark.slow
def test_tv_audio_trains_and_evaluates_on_synth(synth):
    spec = models.spec("tv-audio")
    cfg = TrainConfig.for_model(spec, epochs=2, batch_size=8, progress=False)
    assert cfg.lr == spec.defaults["lr"]
    trainer = Trainer(models.build("tv-audio"), synth, spec.inputs, spec.task, cfg)
    fit = trainer.fit()
    assert fit.epochs_run == 2 and np.isfinite(fit.best_dev_loss)
    res = trainer.evaluate("test")
    _, labels, snrs = trainer.predict("test")
    assert res["n"] == len(synth.test) == labels.size
    assert set(res["per_snr"]) == {float(s) for s in np.unique(snrs)}
    assert 0.0 <= res["score"] <= 2.0 and 0.0 <= res["far_at_frr"] <= 1.0
    assert np.array_equal(labels, np.array([float(synth.test[i]["label"]) for i in range(len(synth.test))]))
