"""`slim --no-progress` silences the data bars too (corpus generation and FBank), not only training's."""

import pytest

from edgeprune.methods.config import SlimConfig
from edgeprune.methods.context import Context, resolve


@pytest.mark.parametrize("progress", [True, False])
def test_no_progress_silences_data_bars(progress, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("EDGEPRUNE_NO_PROGRESS", raising=False)
    monkeypatch.setenv("EDGEPRUNE_CACHE", str(tmp_path / "cache"))
    cfg = resolve(SlimConfig(data_size=6, out=str(tmp_path / "run"), progress=progress))
    Context(cfg).data
    err = capsys.readouterr().err
    assert ("fbank train" in err) is progress
    assert ("synth train" in err) is progress
