"""docs/TRAINING.md documents every TrainConfig field with its current default."""

import dataclasses
from pathlib import Path

from edgeprune.train import TrainConfig

DOC = Path(__file__).resolve().parents[2] / "docs" / "TRAINING.md"


def test_every_field_is_documented_with_its_default():
    text = DOC.read_text()
    for f in dataclasses.fields(TrainConfig):
        assert f"| `{f.name}` | `{f.default!r}` |" in text, f"docs/TRAINING.md lacks or misstates {f.name}"
