"""edgeprune: prune networks physically (CPLR, CP, LTH, LTH-IF), export them, and measure them on the device.

Top-level names are imported lazily, so `import edgeprune.device_bench` never pulls in torch.
"""

__version__ = "0.1.0"

_LAZY = {
    "ChannelPruner": ("edgeprune.pruning", "ChannelPruner"),
    "PruneReport": ("edgeprune.pruning", "PruneReport"),
    "count": ("edgeprune.counting", "count"),
    "Counts": ("edgeprune.counting", "Counts"),
    "save": ("edgeprune.checkpoint", "save"),
    "load": ("edgeprune.checkpoint", "load"),
    "EdgepruneError": ("edgeprune.errors", "EdgepruneError"),
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'edgeprune' has no attribute {name!r}")
