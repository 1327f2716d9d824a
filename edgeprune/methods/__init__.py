"""The pruning methods, one registry (methods/registry.py: each method's module registers itself): METHODS maps
a name to a schedule around ChannelPruner and the Trainer; run(config) runs, resumes or returns a slim run
directory. (Imported lazily: `--help` stays fast.)"""

from __future__ import annotations


def _registry() -> dict:
    from edgeprune.methods.registry import methods

    return methods()


def run(config, stop_after: int | None = None) -> dict:
    """Run the slim run `config` (a SlimConfig) describes -> {"out", "status", "final"}.

    `stop_after=k` returns after writing round k, as an interrupted run would (tests use it).
    """
    from edgeprune.methods.loop import run as _run

    return _run(config, _registry(), stop_after=stop_after)


def __getattr__(name):
    if name == "METHODS":
        return _registry()  # not cached: a user's method may register later
    if name == "SlimConfig":
        from edgeprune.methods.config import SlimConfig

        return SlimConfig
    raise AttributeError(f"module 'edgeprune.methods' has no attribute {name!r}")


__all__ = ["METHODS", "SlimConfig", "run"]
