"""The pruning methods, one registry: METHODS maps a name to a schedule around ChannelPruner and the
Trainer; run(config) runs, resumes or returns a slim run directory. (Imported lazily: `--help` stays fast.)"""

from __future__ import annotations


def _registry() -> dict:
    from edgeprune.methods.cp import CP
    from edgeprune.methods.cplr import CPLR
    from edgeprune.methods.lth import LTH
    from edgeprune.methods.lthif import LTHIF

    return {m.name: m for m in (CPLR, CP, LTH, LTHIF)}


def run(config, stop_after: int | None = None) -> dict:
    """Run the slim run `config` (a SlimConfig) describes -> {"out", "status", "final"}.

    `stop_after=k` returns after writing round k, as an interrupted run would (tests use it).
    """
    from edgeprune.methods.loop import run as _run

    return _run(config, _registry(), stop_after=stop_after)


def __getattr__(name):
    if name == "METHODS":
        value = _registry()
        globals()[name] = value
        return value
    if name == "SlimConfig":
        from edgeprune.methods.config import SlimConfig

        return SlimConfig
    raise AttributeError(f"module 'edgeprune.methods' has no attribute {name!r}")


__all__ = ["METHODS", "SlimConfig", "run"]
