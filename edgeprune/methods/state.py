"""What a round folder holds and how it is read back: the model (edgeprune.save), arch.json (widths, params
per layer type, the cumulative pruning history), masks, the method's state (learning rate, stage) and
metrics.json. A run always continues from what is on disk, so resuming equals never stopping."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from edgeprune.rundir import read_json, write_json

if TYPE_CHECKING:  # a method module (and so this one) loads without torch: the CLI lists methods before a run
    from torch import nn

MODEL = "model.safetensors"
MASKS = "masks.safetensors"
THETA0 = "theta0.safetensors"


@dataclass
class RoundState:
    """The method's position after a round: everything the next round needs."""

    model: nn.Module
    lr: float
    history: list = field(default_factory=list)  # cumulative ChannelPruner history (replayable on theta_0)
    masks: dict | None = None  # weight granularity: {param name: 0/1 tensor}
    stage: int = 0  # staged pruning: index of the current stage
    extra: dict = field(default_factory=dict)  # method-specific JSON values

    def replace(self, **changes) -> "RoundState":
        return dataclasses.replace(self, **changes)


def write_state(folder: Path, state: RoundState, metrics: dict, theta0: nn.Module | None = None, **meta) -> None:
    """Write a round (or final) folder's files into `folder` (a temp folder the caller renames)."""
    from safetensors.torch import save_file

    import edgeprune
    from edgeprune.architecture import capture_widths
    from edgeprune.methods.layers import params_by_type

    folder = Path(folder)
    edgeprune.save(state.model, folder / MODEL, metrics=_scalars(metrics), **meta)
    if theta0 is not None:
        edgeprune.save(theta0, folder / THETA0, theta0=True)
    if state.masks is not None:
        save_file({k: v.detach().cpu().contiguous() for k, v in state.masks.items()}, str(folder / MASKS))
    write_json(folder / "arch.json", {
        "arch": getattr(state.model, "edgeprune_arch", None),
        "widths": capture_widths(state.model),
        "params_by_type": params_by_type(state.model, state.masks),
        "history": state.history,
    })
    write_json(folder / "state.json", {"lr": state.lr, "stage": state.stage, "extra": state.extra})
    write_json(folder / "metrics.json", metrics)


def read_state(folder: Path, device: str = "cpu") -> RoundState:
    """Rebuild the RoundState saved in `folder`."""
    from safetensors.torch import load_file

    import edgeprune

    folder = Path(folder)
    model, _ = edgeprune.load(folder / MODEL)
    model.to(device)
    arch = read_json(folder / "arch.json")
    st = read_json(folder / "state.json")
    masks = None
    if (folder / MASKS).is_file():
        masks = {k: v.to(device) for k, v in load_file(str(folder / MASKS)).items()}
    return RoundState(model=model, lr=float(st["lr"]), history=list(arch.get("history") or []), masks=masks,
                      stage=int(st.get("stage", 0)), extra=dict(st.get("extra") or {}))


def read_theta0(folder: Path, device: str = "cpu") -> nn.Module:
    import edgeprune

    model, _ = edgeprune.load(Path(folder) / THETA0)
    return model.to(device)


def clone_model(model: nn.Module) -> nn.Module:
    """A deep copy that keeps the zoo tag (edgeprune_arch)."""
    import copy

    twin = copy.deepcopy(model)
    arch = getattr(model, "edgeprune_arch", None)
    if arch is not None:
        twin.edgeprune_arch = copy.deepcopy(arch)
    return twin


def _scalars(metrics: dict) -> dict:
    """The flat numeric part of a metrics dict (for the checkpoint's meta)."""
    keep = ("round", "params", "macs", "wsr", "cr", "method")
    out = {k: metrics[k] for k in keep if k in metrics}
    for split in ("dev", "test"):
        if isinstance(metrics.get(split), dict) and "score" in metrics[split]:
            out[f"{split}_score"] = metrics[split]["score"]
    return out


def to_device(masks: dict | None, device) -> dict | None:
    if masks is None:
        return None
    return {k: v.to(device) for k, v in masks.items()}

